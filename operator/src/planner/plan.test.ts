import { BROKER_FINALIZER } from '@kubeburst/api';
import type { GangDemand } from './capacity.js';
import { plan, SECRET_DELETE_RETRY_MS } from './plan.js';
import { burstJob, condition, GI, kinds, node, nodes, T0, termination, TEST_POLICY, World } from '../testing/planner.js';
import type { Action } from './types.js';

const act = <K extends Action['kind']>(p: { actions: Action[] }, kind: K) => p.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);
/** createPods actions without the layout details. */
const creates = (p: { actions: Action[] }) => act(p, 'createPods').map(({ attempt, packs }) => ({ kind: 'createPods', attempt, packs }));
const eventReasons = (w: World) => w.events.map((e) => e.reason);

describe('packing: ceil(N / G) pods of contiguous workers', () => {
  it.each([
    [960, 48, 20, '20x48'],
    [960, 1, 960, '960x1'],
    [100, 48, 3, '2x48,1x4'],
    [7, undefined, 1, '1x7'],
  ])('size %d, granularity %s → %d gated pods (%s)', (size, g, pods, layout) => {
    const b = burstJob('j').size(size);
    const w = new World((g ? b.granularity(g) : b).obj(), nodes(20, 48));
    const p = w.reconcile();
    expect(creates(p)).toEqual([{ kind: 'createPods', attempt: 0, packs: Array.from({ length: pods }, (_, i) => i) }]);
    expect(kinds(p).slice(0, 2)).toEqual(['ensureService', 'ensureParams']);
    expect(w.status.attempt).toMatchObject({ index: 0, layout, startTime: new Date(T0).toISOString() });
    expect(w.status.packs).toEqual({ total: pods, gated: 0, pending: 0, running: 0, ready: 0, succeeded: 0, failed: 0 });
    expect(w.status.phase).toBe('Pending');
    expect(w.podList().every((x) => x.gated)).toBe(true);
  });

  it('Auto packing sizes packs to the room on the nodes', () => {
    const w = new World(burstJob('j').size(100).auto().obj(), [node('a').cpu(48).obj(), node('b').cpu(48).free(8).obj(), node('c').cpu(48).obj()]);
    w.reconcile();
    expect(w.status.attempt!.layout).toBe('2x48,1x4');
  });
});

describe('gang admission', () => {
  it('lifts every gate in one step once all pods exist and all fit', () => {
    const w = new World(burstJob('j').size(960).granularity(48).obj(), nodes(20, 48));
    w.reconcile();
    const p = w.reconcile();
    const ungate = act(p, 'ungatePods');
    expect(ungate).toHaveLength(1);
    expect(ungate[0]!.pods).toHaveLength(20);
    expect(w.status.phase).toBe('Starting');
    expect(condition(w.status, 'Admitted')).toMatchObject({ status: 'True', reason: 'GangAdmitted', observedGeneration: 1 });
    expect(p.admitted).toEqual({ key: 'ns/j', groups: [{ request: { cpu: 48_000, memory: 48 * 256 * 2 ** 20, pods: 1 }, count: 20 }] });
    expect(p.requeueAfterMs).toBe(60_000);
  });

  it('does not admit while some pods are missing', () => {
    const w = new World(burstJob('j').size(8).granularity(2).obj());
    w.reconcile();
    w.pods.delete('j-a0-3');
    const p = w.reconcile();
    expect(act(p, 'ungatePods')).toEqual([]);
    expect(creates(p)).toEqual([{ kind: 'createPods', attempt: 0, packs: [3] }]);
  });

  it('keeps every pod gated and says why when the cluster has no room for all of them', () => {
    const w = new World(burstJob('big').size(960).granularity(48).obj(), nodes(19, 48));
    w.reconcile();
    const p = w.reconcile();
    expect(act(p, 'ungatePods')).toEqual([]);
    expect(condition(w.status, 'Admitted')).toMatchObject({
      status: 'False',
      reason: 'InsufficientCapacity',
      message: 'needs 20 pack(s) of 48 CPU, 12Gi memory; the 19 eligible node(s) have room for 19 of 20 pack(s) now',
    });
    expect(act(p, 'event')).toEqual([{ kind: 'event', type: 'Warning', reason: 'InsufficientCapacity', message: expect.stringContaining('room for 19 of 20') }]);
    expect(p.requeueAfterMs).toBe(TEST_POLICY.admissionRecheckMs);
    // The explanation is not repeated as a new event every reconcile.
    expect(act(w.reconcile(), 'event')).toEqual([]);
    expect(w.status.packs!.gated).toBe(20);
  });

  it('counts only nodes the pods may use (selector, taints, cordon)', () => {
    const ns = [node('a').cpu(48).label('pool', 'x').obj(), node('b').cpu(48).obj(), node('c').cpu(48).label('pool', 'x').cordoned().obj()];
    const w = new World(burstJob('j').size(96).granularity(48).nodeSelector({ pool: 'x' }).obj(), ns);
    w.reconcile();
    w.reconcile();
    expect(condition(w.status, 'Admitted')!.message).toContain('the 1 eligible node(s) have room for 1 of 2');
  });

  it('says PackTooLarge when one pack is bigger than any node', () => {
    const w = new World(burstJob('j').size(96).granularity(96).obj(), nodes(4, 64));
    w.reconcile();
    w.reconcile();
    expect(condition(w.status, 'Admitted')).toMatchObject({
      reason: 'PackTooLarge',
      message: expect.stringContaining('a pack requests 96 CPU, 24Gi memory, more than any eligible node has'),
    });
  });

  it('leaves room for gangs already admitted but not yet bound', () => {
    const reserved: GangDemand = { key: 'ns/other', groups: [{ request: { cpu: 48_000, memory: GI, pods: 1 }, count: 2 }] };
    const w = new World(burstJob('j').size(96).granularity(48).obj(), nodes(3, 48));
    w.observed.reserved = [reserved];
    w.reconcile();
    w.reconcile();
    expect(condition(w.status, 'Admitted')).toMatchObject({
      reason: 'InsufficientCapacity',
      message: expect.stringContaining('room for 1 of 2 pack(s) now (1 admitted gang(s) hold room)'),
    });
  });

  it('admits competing gangs in order: an older waiting gang that fits keeps its room, one that cannot fit now is overtaken', () => {
    const older: GangDemand = { key: 'ns/older', groups: [{ request: { cpu: 48_000, memory: GI, pods: 1 }, count: 2 }] };
    const w = new World(burstJob('young').size(96).granularity(48).obj(), nodes(3, 48));
    w.observed.ahead = [older];
    w.reconcile();
    w.reconcile();
    expect(condition(w.status, 'Admitted')).toMatchObject({ reason: 'QueuedBehind', message: 'room is kept for older BurstJob(s) waiting to start: ns/older' });
    // An older gang that could never fit does not block the younger one.
    w.observed.ahead = [{ ...older, groups: [{ request: older.groups[0]!.request, count: 9 }] }];
    expect(act(w.reconcile(), 'ungatePods')).toHaveLength(1);
  });

  it('bounds overtaking: once an older gang has waited strictFifoAfterMs, younger gangs that could use its nodes wait behind it', () => {
    // 3 nodes of 48 CPU, one of them busy: the older gang (3 × 48 CPU) does not fit now, the younger (1 × 48) does.
    const ns = [node('n0').cpu(48).obj(), node('n1').cpu(48).obj(), node('n2').cpu(48).free(0).obj()];
    const older: GangDemand = { key: 'ns/older', groups: [{ request: { cpu: 48_000, memory: GI, pods: 1 }, count: 3 }], waitingSince: T0 };
    const young = (at: number): World => {
      const w = new World(burstJob('young').size(48).granularity(48).obj(), ns);
      w.now = at;
      w.observed.ahead = [older];
      w.reconcile();
      return w;
    };
    // Waited less than the limit: the younger gang overtakes it.
    const early = young(T0 + TEST_POLICY.strictFifoAfterMs - 1);
    expect(act(early.reconcile(), 'ungatePods')).toHaveLength(1);
    // Waited longer: no more overtaking, the room the older gang needs drains.
    const late = young(T0 + TEST_POLICY.strictFifoAfterMs);
    expect(act(late.reconcile(), 'ungatePods')).toEqual([]);
    expect(condition(late.status, 'Admitted')).toMatchObject({ reason: 'QueuedBehind', message: expect.stringContaining('ns/older has waited 600 s for room') });
    // An older gang that could not fit even into empty nodes blocks no one, however long it waits.
    const never = young(T0 + 10 * TEST_POLICY.strictFifoAfterMs);
    never.observed.ahead = [{ ...older, groups: [{ request: older.groups[0]!.request, count: 4 }] }];
    expect(act(never.reconcile(), 'ungatePods')).toHaveLength(1);
    // Nor does one that waits for other nodes than the younger gang can use.
    const elsewhere = young(T0 + 10 * TEST_POLICY.strictFifoAfterMs);
    elsewhere.observed.ahead = [{ ...older, nodeSelector: { pool: 'gpu' } }];
    expect(act(elsewhere.reconcile(), 'ungatePods')).toHaveLength(1);
  });

  it('an older gang that only non-burst pods keep from fitting (a DaemonSet on every node) blocks no one', () => {
    // Packs of the full 48 CPU; each node runs a 100m DaemonSet pod, which never ends: the older gang never fits.
    const ns = [node('n0').cpu(48).heldByOthers(0.1).obj(), node('n1').cpu(48).heldByOthers(0.1).obj()];
    const older: GangDemand = { key: 'ns/older', groups: [{ request: { cpu: 48_000, memory: GI, pods: 1 }, count: 2 }], waitingSince: T0 };
    const w = new World(burstJob('young').size(8).granularity(8).obj(), ns);
    w.now = T0 + 10 * TEST_POLICY.strictFifoAfterMs;
    w.observed.ahead = [older];
    w.reconcile();
    expect(act(w.reconcile(), 'ungatePods')).toHaveLength(1);
  });
});

describe('a flare from creation to results', () => {
  it('goes Pending → Starting → Running → Succeeded, records startup latency and stores every worker result', () => {
    const w = new World(burstJob('j').size(10).granularity(4).obj());
    w.reconcile();
    w.advance(100).reconcile();
    expect(w.status.phase).toBe('Starting');

    w.advance(400).startAll({ ready: false }).reconcile();
    expect(w.status.phase).toBe('Running');
    expect(condition(w.status, 'PacksScheduled')).toMatchObject({ status: 'True', reason: 'AllPacksScheduled' });
    expect(condition(w.status, 'Started')).toMatchObject({ status: 'False', reason: 'WaitingForJoin', message: '0 of 3 pack(s) joined' });
    expect(w.status.startupLatency).toEqual({ packsRunningSeconds: 0.5 });

    for (const p of w.pods.values()) p.ready = true;
    w.advance(250).reconcile();
    expect(condition(w.status, 'Started')).toMatchObject({ status: 'True', reason: 'AllPacksJoined' });
    expect(w.status.startupLatency).toEqual({ packsRunningSeconds: 0.5, workersJoinedSeconds: 0.75 });
    expect(w.status.packs).toMatchObject({ total: 3, running: 3, ready: 3 });

    w.advance(1000).succeedAll().reconcile();
    expect(w.status.phase).toBe('Succeeded');
    expect(w.status.completionTime).toBe(new Date(T0 + 1750).toISOString());
    expect(condition(w.status, 'Succeeded')).toMatchObject({ status: 'True', reason: 'AllPacksSucceeded' });
    expect(w.status.results).toEqual({ configMap: 'j-results', key: 'results.json', workers: 10, missing: 0 });
    expect(JSON.parse(w.results!['results.json']!)).toEqual({ workers: [0, 10, 20, 30, 40, 50, 60, 70, 80, 90] });
    expect(eventReasons(w)).toEqual(['GangAdmitted', 'Started', 'Succeeded']);
    // Finished: nothing more to do, nothing deleted (pods stay for logs until the job goes); for ten minutes
    // the attempt's Secret is deleted again (a delete that failed as the attempt ended is retried).
    expect(w.reconcile().actions).toEqual([{ kind: 'deleteSecrets', attempts: [0] }]);
    expect(w.advance(SECRET_DELETE_RETRY_MS).reconcile().actions).toEqual([]);
  });

  it('warns, once, when spec.transport.url holds a password, and never quotes it', () => {
    const w = new World(burstJob('j').size(4).granularity(2).transport('redis', 'redis://app:hunter2-Pa55@redis:6379').maxRestarts(1).obj());
    w.reconcile();
    w.reconcile();
    const warned = w.events.filter((e) => e.reason === 'CredentialsInSpec');
    expect(warned).toEqual([expect.objectContaining({ type: 'Warning', message: expect.stringContaining('spec.transport.secretRef') })]);
    expect(JSON.stringify(w.events)).not.toContain('hunter2');
    // Not again for a restart's attempt, nor for a URL without one.
    w.startAll().reconcile();
    w.fail(0).reconcile();
    w.advance(60_000).reconcile();
    w.finishDeletes().reconcile();
    expect(w.status.attempt!.index).toBe(1);
    expect(w.events.filter((e) => e.reason === 'CredentialsInSpec')).toHaveLength(1);
    const plain = new World(burstJob('j').size(4).granularity(2).transport('redis', 'redis://redis:6379').obj());
    plain.reconcile();
    expect(plain.events.filter((e) => e.reason === 'CredentialsInSpec')).toEqual([]);
  });

  it('reports results it could not collect instead of inventing them', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.succeedAll();
    w.pods.get('j-a0-1')!.terminated = termination(0, 'Completed', '{"v":1,"burst":"b","pack":1,"first":2,"ok":true,"truncated":true,"fullBytes":5000,"joined":1,"finished":2}');
    w.reconcile();
    const why = 'results of 1 pack(s) were not collected: pack 1 (workers 2-3): its report with results takes 5000 bytes, over the 4096-byte termination message';
    expect(w.status.results).toMatchObject({ workers: 2, missing: 2, missingPacks: [1], message: expect.stringContaining(why) });
    expect(JSON.parse(w.results!['results.json']!)).toEqual({ workers: [0, 10, null, null] });
    expect(w.events.find((e) => e.reason === 'ResultsIncomplete')!.message).toContain(why);
  });

  it('says why each pack’s results are missing: too big, no report, or a report for other workers', () => {
    const w = new World(burstJob('j').size(6).granularity(2).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.succeedAll();
    w.pods.get('j-a0-0')!.terminated = termination(0, 'Completed', 'node: out of memory');
    w.pods.get('j-a0-2')!.terminated = termination(0, 'Completed', '{"v":1,"burst":"b","pack":2,"first":0,"ok":true,"results":[1,2],"joined":1,"finished":2}');
    w.reconcile();
    expect(w.status.results).toMatchObject({ workers: 2, missing: 4, missingPacks: [0, 2] });
    expect(w.status.results!.message).toBe(
      'results of 2 pack(s) were not collected: pack 0 (workers 0-1): it wrote no report to its termination message; pack 2 (workers 4-5): its report covers workers 0-1, not 4-5',
    );
  });
});

describe('schedule timeout', () => {
  it('tears a partially scheduled attempt down, retries after backoff with new pods, then fails after maxScheduleRetries', () => {
    const w = new World(burstJob('j').size(8).granularity(2).scheduleSeconds(30).maxScheduleRetries(1).obj());
    w.reconcile();
    w.reconcile();
    w.startAll({ bindOnly: 3 }).advance(29_999).reconcile();
    expect(w.status.phase).toBe('Starting');
    expect(condition(w.status, 'PacksScheduled')!.message).toBe('3 of 4 pack(s) bound; scheduler: 0/4 nodes are available: 4 Insufficient cpu.');

    const p = w.advance(1).reconcile();
    expect(act(p, 'deletePods')[0]!.pods.sort()).toEqual(['j-a0-0', 'j-a0-1', 'j-a0-2', 'j-a0-3']);
    expect(w.status).toMatchObject({ phase: 'Restarting', scheduleRetries: 1, nextAttemptTime: new Date(w.now + 10_000).toISOString() });
    expect(w.status.restarts).toBeUndefined();
    expect(condition(w.status, 'PacksScheduled')).toMatchObject({ reason: 'ScheduleTimeout' });
    expect(w.status.lastFailure).toMatchObject({ attempt: 0, reason: 'ScheduleTimeout' });

    // Backoff not over: nothing new; over, but old pods still terminating: still nothing new.
    expect(creates(w.advance(5_000).reconcile())).toEqual([]);
    expect(creates(w.advance(5_000).reconcile())).toEqual([]);
    expect(condition(w.status, 'Admitted')!.reason).toBe('WaitingForOldPods');
    w.finishDeletes();
    expect(creates(w.reconcile())).toEqual([{ kind: 'createPods', attempt: 1, packs: [0, 1, 2, 3] }]);
    expect(w.status.attempt).toMatchObject({ index: 1, burstId: 'uidj000000-a1' });
    expect(w.podList().map((x) => x.name)).toEqual(['j-a1-0', 'j-a1-1', 'j-a1-2', 'j-a1-3']);

    w.reconcile();
    w.startAll({ bindOnly: 0 }).advance(30_000).reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'MaxScheduleRetriesExceeded' });
    expect(w.podList().every((x) => x.deleting)).toBe(true);
  });
});

describe('failure policy', () => {
  it('restarts the whole flare after a pack fails, never mixing attempts, then fails after maxRestarts', () => {
    const w = new World(burstJob('j').size(6).granularity(2).maxRestarts(1).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    const msg = JSON.stringify({ v: 1, burst: 'b', pack: 1, ok: false, first: 2, abort: { failedWorker: 3, reason: 'TypeError: x is undefined' }, joined: 1, finished: 2 });
    w.fail(1, msg).reconcile();
    expect(w.status).toMatchObject({
      phase: 'Restarting',
      restarts: 1,
      lastFailure: { attempt: 0, pack: 1, reason: 'PackFailed', message: 'pack 1 (workers 2-3) failed: worker 3: TypeError: x is undefined' },
    });
    // Running packs are stopped at once; the failed one stays (logs) until the next attempt starts.
    expect(
      w
        .podList()
        .filter((x) => !x.deleting)
        .map((x) => x.name),
    ).toEqual(['j-a0-1']);
    expect(w.events.find((e) => e.reason === 'PackFailed')).toMatchObject({ type: 'Warning' });

    w.advance(10_000).reconcile();
    expect(w.podList().every((x) => x.deleting && x.attempt === 0)).toBe(true); // the new attempt waits for the old pods
    w.finishDeletes().reconcile();
    expect(w.podList().map((x) => `${x.name}:${x.attempt}`)).toEqual(['j-a1-0:1', 'j-a1-1:1', 'j-a1-2:1']);

    w.reconcile();
    w.startAll().reconcile();
    w.fail(0).reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({
      status: 'True',
      reason: 'MaxRestartsExceeded',
      message: expect.stringContaining('no restarts left (spec.maxRestarts: 1)'),
    });
    expect(w.status.restarts).toBe(1);
    // Running pods are stopped; the failed one stays for `kubectl logs`.
    expect(
      w
        .podList()
        .filter((x) => !x.deleting)
        .map((x) => x.name),
    ).toEqual(['j-a1-0']);
  });

  it('blames the pack that caused the failure, not the first failed pod it sees', () => {
    const w = new World(burstJob('j').size(8).granularity(2).maxRestarts(0).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    // Pack 2 was killed (no report); packs 0 and 3 aborted because of it and say so. Pack 0 ended first.
    const aborted = (pack: number): string =>
      JSON.stringify({ v: 1, burst: 'b', pack, ok: false, first: pack * 2, abort: { failedPack: 2, reason: 'pack 2 sent no heartbeat for 1300 ms' }, joined: 1, finished: 2 });
    w.fail(0, aborted(0));
    w.fail(3, aborted(3));
    w.fail(2, 'Killed');
    w.reconcile();
    expect(w.status.lastFailure).toMatchObject({ pack: 2, reason: 'PackFailed', message: expect.stringMatching(/^pack 2 \(workers 4-5\) failed: exit code 1/) });
  });

  it('blames a pack other packs name even while its own pod still runs (a hung pack)', () => {
    const w = new World(burstJob('j').size(6).granularity(2).maxRestarts(0).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.fail(0, JSON.stringify({ v: 1, burst: 'b', pack: 0, ok: false, first: 0, abort: { failedPack: 1, reason: 'pack 1 sent no heartbeat for 9000 ms' }, joined: 1, finished: 2 }));
    w.reconcile();
    expect(w.status.lastFailure).toMatchObject({ pack: 1, message: 'pack 1 (workers 2-3) failed: pack 0 reports pack 1: pack 1 sent no heartbeat for 9000 ms' });
  });

  it('gives every attempt a Secret of its own, made before its pods and deleted when the attempt ends', () => {
    const w = new World(burstJob('j').size(4).granularity(2).maxRestarts(1).obj());
    const first = w.reconcile();
    expect(first.actions.findIndex((a) => a.kind === 'ensureSecret')).toBeLessThan(first.actions.findIndex((a) => a.kind === 'createPods'));
    expect(first.actions.filter((a) => a.kind === 'ensureNetworkPolicy')).toHaveLength(1);
    // No pod of the attempt exists yet: a Secret already there is replaced (the executor's business).
    expect(act(first, 'ensureSecret')).toEqual([{ kind: 'ensureSecret', attempt: 0, fresh: true, packs: 2 }]);
    // A pod of the attempt gone before admission is made again; the Secret its sibling mounts is kept.
    const one = [...w.pods.keys()][0]!;
    w.pods.delete(one);
    expect(act(w.reconcile(), 'ensureSecret')).toEqual([{ kind: 'ensureSecret', attempt: 0, fresh: false, packs: 2 }]);
    expect([...w.secrets]).toEqual([0]);
    w.reconcile();
    w.startAll().reconcile();
    w.fail(1).reconcile();
    expect([...w.secrets]).toEqual([]);
    w.advance(10_000).reconcile();
    w.finishDeletes().reconcile();
    expect([...w.secrets]).toEqual([1]);
    w.reconcile();
    w.startAll().reconcile();
    w.succeedAll().reconcile();
    expect(w.status.phase).toBe('Succeeded');
    expect([...w.secrets]).toEqual([]);
  });

  it('treats a pack pod that disappears after admission as a lost pack', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.pods.delete('j-a0-1');
    w.reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'PackLost', message: 'pack 1 (workers 2-3) pod disappeared after the gang was admitted' });
  });

  it('re-creates a pod deleted before admission (nothing has started yet)', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj(), nodes(1, 1));
    w.reconcile();
    w.reconcile();
    w.pods.delete('j-a0-0');
    expect(creates(w.reconcile())).toEqual([{ kind: 'createPods', attempt: 0, packs: [0] }]);
    expect(w.status.phase).toBe('Pending');
  });

  it('tears down an attempt whose packs are bound but never start (image never pulls), saying why, and retries it', () => {
    const w = new World(
      burstJob('j')
        .size(4)
        .granularity(2)
        .scheduleSeconds(30)
        .with({ timeouts: { scheduleSeconds: 30, joinSeconds: 60 } })
        .maxScheduleRetries(1)
        .obj(),
    );
    w.reconcile();
    w.reconcile();
    // Bound, but the container waits for its image: Pending forever, holding the gang's room.
    for (const p of w.pods.values()) Object.assign(p, { nodeName: 'n0', phase: 'Pending', waiting: { reason: 'ContainerCreating' } });
    w.pods.get('j-a0-1')!.waiting = { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.local/nope:1"' };
    const p = w.advance(1000).reconcile();
    expect(condition(w.status, 'PacksScheduled')).toMatchObject({ status: 'True' });
    expect(condition(w.status, 'Started')).toMatchObject({
      status: 'False',
      reason: 'WaitingForJoin',
      message: '0 of 2 pack(s) joined; pack 1 (pod j-a0-1) is waiting: ImagePullBackOff: Back-off pulling image "registry.local/nope:1"',
    });
    expect(p.requeueAfterMs).toBe(89_000);

    w.advance(88_999).reconcile();
    expect(w.status.phase).toBe('Starting');
    const torn = w.advance(1).reconcile();
    expect(act(torn, 'deletePods')[0]!.pods.sort()).toEqual(['j-a0-0', 'j-a0-1']);
    expect(w.status).toMatchObject({ phase: 'Restarting', scheduleRetries: 1, lastFailure: { attempt: 0, reason: 'StartTimeout' } });
    expect(w.status.lastFailure!.message).toBe(
      'only 0 of 2 pack(s) joined within spec.timeouts.scheduleSeconds + joinSeconds (90 s) of admission; pack 1 (pod j-a0-1) is waiting: ImagePullBackOff: Back-off pulling image "registry.local/nope:1": attempt torn down so it holds no capacity',
    );
    expect(w.events.find((e) => e.reason === 'StartTimeout')).toMatchObject({ type: 'Warning' });

    // The retry gets the same deadline; then the job fails (retries exhausted).
    w.advance(10_000).finishDeletes().reconcile();
    w.reconcile();
    w.startAll({ ready: false }).advance(90_000).reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'MaxScheduleRetriesExceeded', message: expect.stringContaining('only 0 of 2 pack(s) joined') });
  });

  it('does not time out a flare whose packs all joined once', () => {
    const w = new World(burstJob('j').size(4).granularity(2).scheduleSeconds(30).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    for (const p of w.pods.values()) p.ready = false; // e.g. packs past the barrier that stopped serving /readyz
    w.advance(3_600_000).reconcile();
    expect(w.status.phase).toBe('Running');
  });

  it('fails at activeDeadlineSeconds, counting from the start, and stops the pods', () => {
    const w = new World(burstJob('j').size(4).granularity(2).deadline(60).maxRestarts(5).obj());
    w.reconcile();
    expect(w.last.requeueAfterMs).toBe(60_000);
    w.reconcile();
    w.startAll().advance(60_000).reconcile();
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'DeadlineExceeded', message: 'ran longer than spec.activeDeadlineSeconds (60 s)' });
    expect(w.podList().every((x) => x.deleting)).toBe(true);
  });

  it('fails a spec the API server could not check, with the reason', () => {
    const job = { ...burstJob('j').obj(), specError: 'spec.params.list: has 3 entries but size is 4 (one entry per worker)' };
    const p = plan(job, { pods: [], nodes: [], reserved: [], ahead: [] }, T0, TEST_POLICY);
    expect(p.status!.phase).toBe('Failed');
    expect(condition(p.status!, 'Failed')).toMatchObject({ reason: 'InvalidSpec', message: job.specError });
    expect(kinds(p)).toEqual(['event:Failed']);
  });

  it('deletes a job that failed on an invalid spec after its ttlSecondsAfterFinished', () => {
    const w = new World({ ...burstJob('j').ttl(60).obj(), specError: 'spec.params.list: has 3 entries but size is 4 (one entry per worker)' });
    w.reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(w.last.requeueAfterMs).toBe(60_000);
    expect(act(w.advance(59_999).reconcile(), 'deleteJob')).toEqual([]);
    expect(w.last.requeueAfterMs).toBe(1);
    expect(act(w.advance(1).reconcile(), 'deleteJob')).toEqual([{ kind: 'deleteJob', why: 'spec.ttlSecondsAfterFinished (60 s) passed' }]);
  });
});

describe('the headless Service', () => {
  it('is ensured on every reconcile of a live attempt: re-created when deleted, replaced when an earlier job of the same name left it', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.service = { ownerUid: 'uid-of-an-earlier-j', deleting: false };
    expect(kinds(w.reconcile())).toContain('ensureService');
    expect(w.service).toEqual({ ownerUid: w.job.uid, deleting: false });
    expect(kinds(w.reconcile())).not.toContain('ensureService');
    w.startAll().reconcile();
    w.service = undefined; // deleted while the flare runs
    expect(kinds(w.reconcile())).toContain('ensureService');
    expect(kinds(w.reconcile())).not.toContain('ensureService');
    // Not while the job waits to restart, nor once it finished.
    w.service = undefined;
    w.succeedAll().reconcile();
    expect(w.status.phase).toBe('Succeeded');
    expect(kinds(w.reconcile())).not.toContain('ensureService');
  });
});

describe('restarts of the operator and stale pods', () => {
  it('plans the same pod names again from the same state (creation is idempotent, never duplicated)', () => {
    const job = burstJob('j').size(8).granularity(2).obj();
    const observed = { pods: [], nodes: nodes(2, 32), reserved: [], ahead: [] };
    expect(plan(job, observed, T0, TEST_POLICY)).toEqual(plan(job, observed, T0, TEST_POLICY));
  });

  it('recognises an admitted gang from ungated pods when the status write was lost', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    const before = w.job;
    w.reconcile(); // ungates
    w.job = before; // ...but the status write "failed"
    const p = w.reconcile();
    expect(act(p, 'ungatePods')).toEqual([]);
    expect(w.status.attempt!.admittedTime).toBeDefined();
    expect(w.status.phase).toBe('Starting');
  });

  it('deletes pods of another attempt', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    w.pods.set('j-a7-0', { name: 'j-a7-0', attempt: 7, pack: 0, gated: false, phase: 'Running', ready: true, deleting: false });
    expect(act(w.reconcile(), 'deletePods')).toEqual([{ kind: 'deletePods', pods: ['j-a7-0'], why: 'pod of an earlier attempt' }]);
  });
});

describe('suspend, TTL and the broker finalizer', () => {
  /** A 2-pack job that ran and was then suspended: its pods are being deleted. */
  const suspendedWhileRunning = (): World => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.job = { ...w.job, spec: { ...w.job.spec, suspend: true } };
    w.reconcile();
    return w;
  };

  it('resumed before the suspended attempt’s pods are gone: waits for them, then starts a new attempt (no PackLost, no restart used)', () => {
    const w = suspendedWhileRunning();
    expect(w.podList().every((x) => x.deleting)).toBe(true);
    // Resumed at once: the old pods are still terminating.
    w.job = { ...w.job, spec: { ...w.job.spec, suspend: false } };
    expect(creates(w.reconcile())).toEqual([]);
    expect(w.status.phase).toBe('Restarting');
    expect(condition(w.status, 'Admitted')).toMatchObject({ reason: 'WaitingForOldPods' });
    expect(creates(w.advance(1000).reconcile())).toEqual([]);
    w.pods.delete('j-a0-0'); // one goes, the other still terminates
    expect(creates(w.reconcile())).toEqual([]);
    w.finishDeletes();
    expect(creates(w.reconcile())).toEqual([{ kind: 'createPods', attempt: 1, packs: [0, 1] }]);
    expect(w.status.phase).toBe('Pending');
    expect(w.status.restarts).toBeUndefined();
    expect(w.status.lastFailure).toBeUndefined();
    expect(eventReasons(w)).not.toContain('PackLost');
    w.reconcile();
    w.startAll().reconcile();
    expect(w.status.phase).toBe('Running');
  });

  it('suspend deletes the pods; resume starts a new attempt', () => {
    const w = suspendedWhileRunning();
    expect(w.status.phase).toBe('Suspended');
    expect(condition(w.status, 'Suspended')).toMatchObject({ status: 'True', reason: 'JobSuspended' });
    expect(w.podList().every((x) => x.deleting)).toBe(true);
    expect(w.status.startTime).toBeUndefined();
    w.finishDeletes();
    w.job = { ...w.job, spec: { ...w.job.spec, suspend: false } };
    expect(creates(w.reconcile())).toEqual([{ kind: 'createPods', attempt: 1, packs: [0, 1] }]);
    expect(condition(w.status, 'Suspended')).toMatchObject({ status: 'False', reason: 'JobResumed' });
    expect(eventReasons(w)).toEqual(['GangAdmitted', 'Started', 'Suspended', 'Resumed']);
  });

  it('a BurstJob created suspended creates nothing', () => {
    const w = new World(burstJob('j').suspended().obj());
    expect(w.reconcile().actions.filter((a) => a.kind !== 'event')).toEqual([]);
    expect(w.status.phase).toBe('Suspended');
  });

  it('deletes the BurstJob ttlSecondsAfterFinished after it finished', () => {
    const w = new World(burstJob('j').size(2).granularity(2).ttl(30).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.succeedAll().reconcile();
    expect(w.last.requeueAfterMs).toBe(30_000);
    expect(w.deleted).toBe(false);
    w.advance(30_000).reconcile();
    expect(act(w.last, 'deleteJob')).toEqual([{ kind: 'deleteJob', why: 'spec.ttlSecondsAfterFinished (30 s) passed' }]);
  });

  it('names the burst by the job’s uid and attempt, not by what the status says (whoever may write the status could aim the clean-up elsewhere)', () => {
    const w = new World(burstJob('r').size(4).granularity(2).transport('redis', 'redis://127.0.0.1:6379').maxRestarts(0).obj());
    w.reconcile();
    w.reconcile();
    w.startAll().reconcile();
    w.status.attempt!.burstId = 'otherjob00-a3';
    const cleanups = act(w.fail(0).reconcile(), 'cleanupBroker');
    expect(cleanups.length).toBeGreaterThan(0);
    expect(new Set(cleanups.flatMap((c) => c.burstIds))).toEqual(new Set(['uidr000000-a0']));
  });

  it('holds a finalizer only for a broker outside the cluster, and cleans every attempt’s keys on deletion', () => {
    expect(kinds(new World(burstJob('d').obj()).reconcile())).not.toContain('addFinalizer');
    const w = new World(burstJob('r').size(4).granularity(2).transport('redis', 'redis://127.0.0.1:6379').maxRestarts(1).obj());
    expect(kinds(w.reconcile())).toContain('addFinalizer');
    w.reconcile();
    w.startAll().reconcile();
    const p = w.fail(0).reconcile();
    expect(act(p, 'cleanupBroker')).toEqual([{ kind: 'cleanupBroker', burstIds: ['uidr000000-a0'] }]);
    w.advance(10_000).reconcile();
    w.finishDeletes().reconcile();
    expect(w.status.attempt!.index).toBe(1);
    w.job = { ...w.job, deletionTimestamp: w.now, finalizers: [BROKER_FINALIZER] };
    const del = w.reconcile();
    expect(del.status).toBeUndefined();
    expect(del.actions).toEqual([{ kind: 'finalize', burstIds: ['uidr000000-a0', 'uidr000000-a1'], giveUp: false }]);
    expect(w.advance(TEST_POLICY.brokerCleanupGiveUpMs).reconcile().actions).toEqual([{ kind: 'finalize', burstIds: ['uidr000000-a0', 'uidr000000-a1'], giveUp: true }]);
  });
});
