import type { BurstJobStatus } from '@kubeburst/api';
import { redactedStatus } from './controller.js';
import { EventRecorder } from './events.js';
import type { Json, KubeClient } from './kube.js';
import { Logger } from './log.js';
import { credentialsOf } from './config.js';
import { clipRedacted, failureMessage } from '../planner/results.js';
import { observePod } from './observe.js';
import { LABELS } from '@kubeburst/api';

/** What the operator writes (log lines, Events, status) never holds a broker password. */
const PASSWORD = 'Op-S3cret!pw';
const URL = `redis://kbuser:${PASSWORD}@redis.brokers:6379`;
const TERMINATION = `pack 2 could not connect: redis transport: cannot connect to ${URL}: WRONGPASS (is Redis running there? the URL came from spec.transport.url)`;

function capture(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  return { log: new Logger('debug', { controller: 'burstjob' }, (l) => void lines.push(l)), lines };
}

describe('Logger', () => {
  test('redacts the message, every field (nested too) and a child’s fields', () => {
    const { log, lines } = capture();
    log
      .child({ source: `nats://tok3n-secret-x@n1:4222,u:${PASSWORD}@n2:4222` })
      .error(`reconcile failed: ${TERMINATION}`, { error: TERMINATION, detail: { packs: [{ message: URL }] }, retryInMs: 50 });
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).not.toContain(PASSWORD);
    expect(line).not.toContain('tok3n-secret-x');
    expect(JSON.parse(line)).toMatchObject({
      level: 'error',
      msg: expect.stringContaining('redis://kbuser:***@redis.brokers:6379'),
      controller: 'burstjob',
      source: 'nats://***@n1:4222,u:***@n2:4222',
      error: expect.stringContaining('kbuser:***@'),
      detail: { packs: [{ message: 'redis://kbuser:***@redis.brokers:6379' }] },
      retryInMs: 50,
    });
  });
});

describe('EventRecorder', () => {
  function fakeKube(fail = false): { kube: KubeClient; bodies: Json[] } {
    const bodies: Json[] = [];
    const kube = {
      create: async (_path: string, body: Json) => {
        if (fail) throw new Error(`admission webhook quoted ${URL}`);
        bodies.push(body);
        return { metadata: { name: `ev-${bodies.length}` } };
      },
      patch: async (_path: string, body: Json) => void bodies.push(body),
    } as unknown as KubeClient;
    return { kube, bodies };
  }
  const target = { name: 'job', namespace: 'ns', uid: 'u1' };

  test('an Event’s message is redacted, and a repeat still bumps the same Event', async () => {
    const { kube, bodies } = fakeKube();
    const recorder = new EventRecorder(kube, 'op-1', capture().log);
    await recorder.record(target, 'Warning', 'PackFailed', `attempt 0: ${TERMINATION}`);
    await recorder.record(target, 'Warning', 'PackFailed', `attempt 0: ${TERMINATION}`);
    expect(bodies).toHaveLength(2);
    expect(bodies[0]!.message).toBe(`attempt 0: ${TERMINATION.replace(PASSWORD, '***')}`);
    expect(bodies[1]).toMatchObject({ count: 2 });
    expect(JSON.stringify(bodies)).not.toContain(PASSWORD);
  });

  test('the operator’s own credentials are masked in an Event even where they stand alone, not in a URL', async () => {
    const { kube, bodies } = fakeKube();
    const admin = 'Adm1n-pw/with?slash';
    const log = new Logger('debug', {}, () => {}, credentialsOf({ redisAdminUrl: `redis://admin:${encodeURIComponent(admin)}@redis:6379` }));
    await new EventRecorder(kube, 'op-1', log).record(target, 'Warning', 'ReconcileError', `ACL SETUSER failed: WRONGPASS for ${admin}`);
    expect(bodies[0]!.message).toBe('ACL SETUSER failed: WRONGPASS for ***');
  });

  test('a failed recording is logged redacted', async () => {
    const { log, lines } = capture();
    await new EventRecorder(fakeKube(true).kube, 'op-1', log).record(target, 'Warning', 'PackFailed', TERMINATION);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('cannot record event');
    expect(lines[0]).toContain('kbuser:***@');
    expect(lines[0]).not.toContain(PASSWORD);
  });
});

describe('the status written', () => {
  test('every string is redacted (conditions, lastFailure, results); the rest is kept', () => {
    const status: BurstJobStatus = {
      phase: 'Failed',
      conditions: [{ type: 'Failed', status: 'True', reason: 'PackFailed', message: TERMINATION, lastTransitionTime: '2026-01-01T00:00:00.000Z', observedGeneration: 2 }],
      lastFailure: { attempt: 1, pack: 2, reason: 'PackFailed', message: TERMINATION },
      results: { configMap: 'job-results', key: 'results.json', workers: 3, missing: 1, missingPacks: [1], message: `pack 1: ${URL}` },
      attempt: { index: 1, burstId: 'b-1', layout: '3x1', startTime: '2026-01-01T00:00:00.000Z' },
      restarts: 1,
    };
    const out = redactedStatus(status);
    expect(JSON.stringify(out)).not.toContain(PASSWORD);
    expect(out.lastFailure!.message).toContain('redis://kbuser:***@redis.brokers:6379');
    const masked = (s: string): string => s.replace(PASSWORD, '***');
    expect(out).toEqual({
      ...status,
      conditions: [{ ...status.conditions![0]!, message: masked(TERMINATION) }],
      lastFailure: { ...status.lastFailure!, message: masked(TERMINATION) },
      results: { ...status.results!, message: masked(status.results!.message!) },
    });
    // The planned status is not changed in place.
    expect(status.lastFailure!.message).toContain(PASSWORD);
    // With the operator's secrets (the controller passes its logger's): masked even outside a URL.
    const own = redactedStatus({ ...status, lastFailure: { ...status.lastFailure!, message: `AUTH ${PASSWORD} refused` } }, (t) =>
      new Logger('info', {}, () => {}, [PASSWORD]).redact(t),
    );
    expect(own.lastFailure!.message).toBe('AUTH *** refused');
  });

  test('a pod’s text that Kubernetes cut inside one of the operator’s credentials is masked where it was cut, before the planner quotes and cuts it again', () => {
    const admin = 'S3cr3t-Adm1n-Pa55word';
    const log = new Logger('info', {}, () => {}, credentialsOf({ redisAdminUrl: `redis://admin:${admin}@redis:6379` }));
    const pod = (message: string): Json => ({
      metadata: { name: 'j-a0-0', labels: { [LABELS.attempt]: '0', [LABELS.packIndex]: '0' } },
      status: { phase: 'Failed', containerStatuses: [{ name: 'pack', state: { terminated: { exitCode: 1, reason: 'Error', message } } }] },
    });
    for (const message of [
      // A log tail (FallbackToLogsOnError) that starts inside the password.
      `${admin.slice(5)} rejected by server\nError: AUTH failed`,
      // A message the kubelet cut at its limit inside the password, which the planner then cuts at 1024 characters.
      `${'x'.repeat(990)} AUTH ${admin.slice(0, 12)}`,
    ]) {
      const why = failureMessage(observePod(pod(message), (t) => log.redactCut(t)));
      expect(why).toMatch(/\*\*\*/);
      for (let i = 0; i + 6 <= admin.length; i++) expect(why).not.toContain(admin.slice(i, i + 6));
      // What a planner composes after it (", no restarts left") stays clean too: the cut was masked before.
      expect(log.redact(`${why}; no restarts left`)).toBe(`${why}; no restarts left`);
    }
  });

  test('a pack’s report is observed as written: results are data, however much they look like credentials', () => {
    const log = new Logger('info', {}, () => {}, credentialsOf({ redisAdminUrl: 'redis://admin:123456@redis:6379' }));
    const results = [{ site: 'https://example.com' }, { contact: 'ops@example.com' }, 'https://api.example.com/v1?token=abc123', 1234567];
    const report = JSON.stringify({ v: 1, burst: 'b', pack: 0, ok: true, first: 0, results, joined: 1, finished: 2 });
    const pod: Json = {
      metadata: { name: 'j-a0-0', labels: { [LABELS.attempt]: '0', [LABELS.packIndex]: '0' } },
      status: { phase: 'Succeeded', containerStatuses: [{ name: 'pack', state: { terminated: { exitCode: 0, reason: 'Completed', message: report } } }] },
    };
    expect(observePod(pod, (t) => log.redactCut(t)).terminated!.report!.results).toEqual(results);
  });

  test('a message is redacted before it is cut: a URL cut before its @ keeps no password', () => {
    const long = `pack 1 failed: ${'x'.repeat(4000)} cannot connect to ${URL}`;
    const at = long.indexOf('@');
    expect(clipRedacted(long, at - 2)).not.toContain(PASSWORD.slice(0, 4));
    expect(clipRedacted(long, 10_000)).toContain('kbuser:***@redis.brokers');
  });
});
