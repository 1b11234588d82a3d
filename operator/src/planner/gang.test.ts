import { resolveGangBackend } from './gang.js';
import { packPod, packPodGroup } from './pods.js';
import { burstJob, condition, kinds, node, nodes, World } from '../testing/planner.js';
import type { Action } from './types.js';

const act = <K extends Action['kind']>(p: { actions: Action[] }, kind: K) => p.actions.filter((a): a is Extract<Action, { kind: K }> => a.kind === kind);

/** A World on a cluster that serves scheduling.k8s.io/v1beta1 podgroups. */
function podGroupWorld(b = burstJob('j').size(8).granularity(2), nodeList = nodes(4, 64)): World {
  const w = new World(b.obj(), nodeList);
  w.observed.podGroupApi = true;
  return w;
}

describe('resolving spec.gang.backend', () => {
  it.each([
    ['Auto', true, { backend: 'PodGroup' }],
    ['Auto', false, { backend: 'SchedulingGates' }],
    ['SchedulingGates', true, { backend: 'SchedulingGates' }],
    ['PodGroup', true, { backend: 'PodGroup' }],
  ] as const)('%s where podgroups served=%s → %j', (backend, served, want) => {
    expect(resolveGangBackend({ backend, maxScheduleRetries: 3 }, served)).toEqual(want);
  });

  it('refuses PodGroup where it is not served, naming the gate, the runtime-config and the alternative', () => {
    const r = resolveGangBackend({ backend: 'PodGroup', maxScheduleRetries: 3 }, false);
    expect('error' in r && r.error).toMatch(/GenericWorkload.*--runtime-config=scheduling\.k8s\.io\/v1beta1=true.*Auto or SchedulingGates/);
  });

  it('records the backend an attempt uses in its status; Auto without the API is gates', () => {
    const w = new World(burstJob('j').size(4).granularity(2).obj());
    w.reconcile();
    expect(w.status.attempt!.gangBackend).toBe('SchedulingGates');
    expect(w.podList().every((p) => p.gated)).toBe(true);
    const pg = podGroupWorld();
    pg.reconcile();
    expect(pg.status.attempt!.gangBackend).toBe('PodGroup');
  });

  it('fails a job asking for PodGroup on a cluster without it, creating nothing', () => {
    const w = new World(burstJob('j').backend('PodGroup').obj());
    const p = w.reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'GangBackendUnavailable' });
    expect(kinds(p)).not.toContain('createPods');
  });
});

describe('gang backend PodGroup', () => {
  it('creates the PodGroup (minCount = packs) before any pod; pods name it and carry no gate', () => {
    const w = podGroupWorld();
    const p = w.reconcile();
    const k = kinds(p);
    expect(act(p, 'ensurePodGroup')).toEqual([{ kind: 'ensurePodGroup', attempt: 0, minCount: 4 }]);
    expect(k.indexOf('ensurePodGroup')).toBeLessThan(k.indexOf('createPods'));
    expect(act(p, 'createPods')[0]).toMatchObject({ backend: 'PodGroup', packs: [0, 1, 2, 3] });
    expect(w.podList().some((x) => x.gated)).toBe(false);
    expect(condition(w.status, 'Admitted')).toMatchObject({ status: 'False', reason: 'CreatingPods', message: '0 of 4 pack pod(s) of PodGroup j-a0 exist' });
  });

  it('hands the gang to kube-scheduler once every pod exists: no room arithmetic, no gate to lift, no ledger entry', () => {
    // The nodes have no room at all: gates would wait (InsufficientCapacity); a PodGroup waits in the scheduler.
    const w = podGroupWorld(burstJob('j').size(8).granularity(2), [node('full').cpu(4).free(0).obj()]);
    w.reconcile();
    const p = w.reconcile();
    expect(act(p, 'ungatePods')).toEqual([]);
    expect(p.admitted).toBeUndefined();
    expect(w.status.phase).toBe('Starting');
    expect(w.status.attempt!.admittedTime).toBeDefined();
    expect(condition(w.status, 'Admitted')).toMatchObject({ status: 'True', reason: 'HandedToScheduler' });
    expect(w.events.map((e) => e.reason)).toContain('HandedToScheduler');
    expect(p.requeueAfterMs).toBe(60_000);
  });

  it('does not hand over a gang whose PodGroup is missing; creates it again', () => {
    const w = podGroupWorld();
    w.reconcile();
    w.podGroups.clear();
    const p = w.reconcile();
    expect(act(p, 'ensurePodGroup')).toHaveLength(1);
    expect(w.status.attempt!.admittedTime).toBeUndefined();
  });

  it('runs and succeeds like any gang once the scheduler placed it', () => {
    const w = podGroupWorld();
    w.settle();
    w.startAll();
    w.settle();
    expect(w.status.phase).toBe('Running');
    expect(condition(w.status, 'PacksScheduled')).toMatchObject({ status: 'True' });
    w.succeedAll();
    w.settle();
    expect(w.status.phase).toBe('Succeeded');
  });

  it('enforces its own schedule timeout, quoting the PodGroup condition, and tears down pods and PodGroup', () => {
    const w = podGroupWorld(burstJob('j').size(8).granularity(2).scheduleSeconds(30).maxScheduleRetries(1));
    w.settle();
    w.podGroups.get('j-a0')!.scheduled = { status: 'False', reason: 'Unschedulable', message: '0/4 nodes are available: 4 Insufficient cpu.' };
    w.reconcile();
    expect(condition(w.status, 'PacksScheduled')!.message).toContain('PodGroup j-a0 Unschedulable: 0/4 nodes are available');
    w.advance(30_000);
    const p = w.reconcile();
    expect(w.status.lastFailure).toMatchObject({ attempt: 0, reason: 'ScheduleTimeout', message: expect.stringContaining('only 0 of 4 pack(s) were scheduled') });
    expect(act(p, 'deletePodGroups')).toEqual([expect.objectContaining({ names: ['j-a0'] })]);
    expect(act(p, 'deletePods')[0]!.pods).toHaveLength(4);
    expect(w.status.phase).toBe('Restarting');

    w.finishDeletes().advance(10_000);
    const next = w.reconcile();
    expect(act(next, 'ensurePodGroup')).toEqual([{ kind: 'ensurePodGroup', attempt: 1, minCount: 4 }]);
    expect([...w.podGroups.keys()]).toEqual(['j-a1']);
  });

  it('restarts after a pack fails with a fresh PodGroup, and deletes the old one', () => {
    const w = podGroupWorld(burstJob('j').size(4).granularity(2).maxRestarts(1));
    w.settle();
    w.startAll().settle();
    w.fail(1);
    const p = w.reconcile();
    expect(act(p, 'deletePodGroups')).toEqual([expect.objectContaining({ names: ['j-a0'] })]);
    w.finishDeletes().advance(10_000);
    w.reconcile(); // the failed pod, kept for `kubectl logs`, goes before the next attempt
    w.finishDeletes();
    w.settle();
    expect(w.status.attempt).toMatchObject({ index: 1, gangBackend: 'PodGroup' });
    expect([...w.podGroups.keys()]).toEqual(['j-a1']);
  });

  it('suspend deletes pods and PodGroup; resume starts a new attempt with a new PodGroup', () => {
    const w = podGroupWorld(burstJob('j').size(4).granularity(2));
    w.settle();
    w.startAll().settle();
    w.job = { ...w.job, spec: { ...w.job.spec, suspend: true } };
    const p = w.reconcile();
    expect(act(p, 'deletePodGroups')).toEqual([expect.objectContaining({ names: ['j-a0'] })]);
    w.finishDeletes();
    w.settle();
    expect(w.status.phase).toBe('Suspended');
    expect(w.podGroups.size).toBe(0);
    w.job = { ...w.job, spec: { ...w.job.spec, suspend: false } };
    w.settle();
    expect(w.status.attempt!.index).toBe(1);
    expect([...w.podGroups.keys()]).toEqual(['j-a1']);
  });
});

describe('pack objects for the PodGroup backend', () => {
  const job = burstJob('j').size(4).granularity(2).obj();
  it('a pod names the attempt PodGroup in spec.schedulingGroup and has no scheduling gate', () => {
    const pod = packPod(job, 3, 'b', 1, [2, 2], { defaultImage: 'img' }, 'PodGroup') as any;
    expect(pod.spec.schedulingGroup).toEqual({ podGroupName: 'j-a3' });
    expect(pod.spec.schedulingGates).toBeUndefined();
    const gated = packPod(job, 3, 'b', 1, [2, 2], { defaultImage: 'img' }, 'SchedulingGates') as any;
    expect(gated.spec.schedulingGates).toEqual([{ name: 'kubeburst.io/gang' }]);
    expect(gated.spec.schedulingGroup).toBeUndefined();
  });

  it('the PodGroup is a gang of every pack, owned by the BurstJob, labelled with its attempt', () => {
    expect(packPodGroup(job, 3, 2)).toMatchObject({
      apiVersion: 'scheduling.k8s.io/v1beta1',
      kind: 'PodGroup',
      metadata: {
        name: 'j-a3',
        namespace: 'ns',
        labels: { 'kubeburst.io/attempt': '3', 'kubeburst.io/job-uid': job.uid },
        ownerReferences: [expect.objectContaining({ kind: 'BurstJob', uid: job.uid, controller: true })],
      },
      spec: { schedulingPolicy: { gang: { minCount: 2 } } },
    });
  });
});
