import { LABELS } from '@kubeburst/api';
import type { Flares } from './harness/flare.js';
import type { Json } from './harness/kube.js';
import { OperatorUnderTest } from './harness/operator.js';
import { operatorSuite } from './harness/suite.js';
import { waitFor } from './harness/wait.js';

/** The operator dies or hands over mid-flare: the flare carries on, with no pod created twice. */
// A slow client (20 QPS after a burst of 20) so a kill lands mid-creation.
const suite = operatorSuite('it-restart', { args: ['--kube-api-qps=100', '--kube-api-burst=20', '--pod-create-concurrency=4'] });
const { ns } = suite;
let flares: Flares;

beforeAll(async () => {
  flares = await suite.poolOf('pool', 4, 64, '256Gi', 110);
});

const podUids = async (name: string): Promise<Map<string, string>> => new Map((await flares.pods(name)).map((p: Json) => [p.metadata.name, p.metadata.uid]));

describe('operator restarts', () => {
  it('killed while creating a flare’s pods: the next operator finishes the job without duplicates', async () => {
    await flares.create('big', { size: 200, granularity: 1, resources: { cpu: '100m', memory: '64Mi' } });
    await waitFor('some but not all pods created', async () => {
      const n = (await flares.pods('big')).length;
      return n >= 20 && n < 200;
    });
    await suite.op.stop('SIGKILL');
    const before = await podUids('big');
    expect(before.size).toBeLessThan(200);

    await suite.op.start(); // waits out the dead operator's Lease first
    const running = await flares.waitPhase('big', 'Running', 120_000);
    expect(running.status.attempt.index).toBe(0);
    expect(running.status.restarts).toBeUndefined();
    const pods = await flares.pods('big');
    expect(pods).toHaveLength(200);
    expect(new Set(pods.map((p) => p.metadata.labels[LABELS.packIndex])).size).toBe(200);
    expect(pods.every((p) => p.metadata.labels[LABELS.attempt] === '0')).toBe(true);
    // The pods the first operator created are the same objects (not deleted and made again).
    const after = await podUids('big');
    for (const [name, uid] of before) expect(after.get(name)).toBe(uid);
    await flares.complete('big');
    await flares.waitPhase('big', 'Succeeded', 60_000);
    await flares.delete('big');
  });

  it('killed while a flare runs: the flare is not restarted and succeeds with its results', async () => {
    await flares.create('steady', { size: 8, granularity: 2 });
    await flares.waitPhase('steady', 'Running');
    const before = await podUids('steady');
    await suite.op.stop('SIGKILL');
    await suite.op.start();
    await flares.complete('steady');
    const done = await flares.waitPhase('steady', 'Succeeded');
    expect(done.status.attempt.index).toBe(0);
    expect(done.status.results).toMatchObject({ workers: 8, missing: 0 });
    expect(await podUids('steady')).toEqual(before);
  });

  it('a leader frozen past its renew deadline gives up at once when it wakes, and a fresh process leads', async () => {
    const frozen = suite.op.identity;
    const lossesBefore = suite.op.leaseLosses;
    process.kill(suite.op.pid!, 'SIGSTOP');
    await new Promise((r) => setTimeout(r, 6_000)); // > --renew-deadline (4 s) and --lease-duration (5 s)
    process.kill(suite.op.pid!, 'SIGCONT');
    await waitFor('the frozen leader to exit and be started again', () => suite.op.leaseLosses > lossesBefore && suite.op.identity !== frozen);
    expect(suite.op.logs()).toContain('"msg":"exiting: leadership lost"');
    await suite.op.waitLeading();
    await flares.create('after-freeze', { size: 4, granularity: 2 });
    await flares.waitPhase('after-freeze', 'Running');
    await flares.complete('after-freeze');
    await flares.waitPhase('after-freeze', 'Succeeded');
  });

  it('hands over to a standby at once when the leader stops gracefully (Lease released, not expired)', async () => {
    await suite.op.stop();
    // A long lease: a takeover by expiry would take 20 s; a released lease is taken at the next retry.
    const lease = ['--lease-duration=20s', '--renew-deadline=15s'];
    const leader = await OperatorUnderTest.install(suite.kube, { release: ns, namespace: ns, instance: 'leader', args: lease });
    await leader.start();
    const standby = await OperatorUnderTest.install(suite.kube, { release: ns, namespace: ns, instance: 'standby', args: lease });
    await standby.start(false); // running, caches warm, waiting for the Lease
    const t0 = Date.now();
    await leader.stop('SIGTERM');
    await standby.waitLeading(15_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(leader.logs()).toContain('released leadership');
    await flares.create('handover', { size: 2, granularity: 1 });
    await flares.waitPhase('handover', 'Running');
    await standby.stop();
  });
});
