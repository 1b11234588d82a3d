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
  const none = { podGroup: false, kueue: false };
  const all = { podGroup: true, kueue: true };
  it.each([
    ['Auto', undefined, { podGroup: true, kueue: false }, { backend: 'PodGroup' }],
    ['Auto', undefined, none, { backend: 'SchedulingGates' }],
    ['Auto', undefined, all, { backend: 'PodGroup' }],
    ['Auto', 'team-a', all, { backend: 'Kueue' }],
    ['SchedulingGates', 'team-a', all, { backend: 'SchedulingGates' }],
    ['PodGroup', undefined, all, { backend: 'PodGroup' }],
    ['Kueue', 'team-a', { podGroup: false, kueue: true }, { backend: 'Kueue' }],
  ] as const)('%s with queue label %s where served=%j → %j', (backend, queue, served, want) => {
    expect(resolveGangBackend({ backend, maxScheduleRetries: 3 }, queue, served)).toEqual(want);
  });

  it('refuses PodGroup where it is not served, naming the gate, the runtime-config and the alternative', () => {
    const r = resolveGangBackend({ backend: 'PodGroup', maxScheduleRetries: 3 }, undefined, none);
    expect('error' in r && r.error).toMatch(/GenericWorkload.*--runtime-config=scheduling\.k8s\.io\/v1beta1=true.*Auto or SchedulingGates/);
  });

  it('refuses Kueue without a queue label, and a queue label where Kueue is not installed', () => {
    const noLabel = resolveGangBackend({ backend: 'Kueue', maxScheduleRetries: 3 }, undefined, all);
    expect('error' in noLabel && noLabel.error).toBe(
      'spec.gang.backend is Kueue, but the BurstJob has no label kueue.x-k8s.io/queue-name naming the LocalQueue to submit its packs to',
    );
    const noKueue = resolveGangBackend({ backend: 'Auto', maxScheduleRetries: 3 }, 'team-a', none);
    expect('error' in noKueue && noKueue.error).toMatch(
      /^the BurstJob's label kueue\.x-k8s\.io\/queue-name=team-a asks for Kueue, but the API server does not serve kueue\.x-k8s\.io\/v1beta2 workloads/,
    );
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

/** A World on a cluster with Kueue installed, the job labelled with a LocalQueue. */
function kueueWorld(b = burstJob('j').size(8).granularity(2)): World {
  const w = new World(b.queue('team-a', 'high').obj());
  w.observed.kueueApi = true;
  return w;
}

describe('gang backend Kueue', () => {
  it('creates every pod as one Kueue pod group: no gate of its own, no PodGroup; waits for Kueue, quoting its Workload', () => {
    const w = kueueWorld();
    const p = w.reconcile();
    expect(w.status.attempt!.gangBackend).toBe('Kueue');
    expect(act(p, 'createPods')[0]).toMatchObject({ backend: 'Kueue', packs: [0, 1, 2, 3] });
    expect(act(p, 'ensurePodGroup')).toEqual([]);
    w.observed.workload = { name: 'j-a0', pending: "couldn't assign flavors to pod set 1a2b: insufficient quota for cpu in flavor default, 8 more needed" };
    w.reconcile();
    expect(w.status.phase).toBe('Pending');
    expect(w.status.packs).toMatchObject({ gated: 4 });
    expect(condition(w.status, 'Admitted')).toMatchObject({
      status: 'False',
      reason: 'QueuedInKueue',
      message:
        "all 4 pack pod(s) exist as Kueue pod group j-a0 in LocalQueue team-a; 4 still gated by Kueue: couldn't assign flavors to pod set 1a2b: insufficient quota for cpu in flavor default, 8 more needed",
    });
    // Kueue's quota is the room model: the operator neither lifts a gate nor reserves room.
    expect(act(w.reconcile(), 'ungatePods')).toEqual([]);
    expect(w.events.filter((e) => e.reason === 'QueuedInKueue')).toHaveLength(1);
  });

  it('counts the gang admitted only once Kueue lifted every gate', () => {
    const w = kueueWorld();
    w.settle();
    w.kueueAdmit(3);
    w.reconcile();
    expect(w.status.attempt!.admittedTime).toBeUndefined();
    w.kueueAdmit();
    const p = w.reconcile();
    expect(p.admitted).toBeUndefined();
    expect(w.status.phase).toBe('Starting');
    expect(condition(w.status, 'Admitted')).toMatchObject({
      status: 'True',
      reason: 'AdmittedByKueue',
      message: 'Kueue admitted pod group j-a0 (4 pack pod(s)) from LocalQueue team-a and lifted its gates',
    });
    w.startAll().settle();
    expect(w.status.phase).toBe('Running');
    w.succeedAll().settle();
    expect(w.status.phase).toBe('Succeeded');
  });

  it('fails the job when Kueue does not take its pods (they would run unqueued)', () => {
    const w = kueueWorld();
    w.kueueTakesPods = false;
    w.settle();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({
      reason: 'GangBackendUnavailable',
      message: expect.stringContaining(
        "Kueue did not take pack pod j-a0-0 (no kueue.x-k8s.io/managed label from its webhook): the namespace ns is not selected by Kueue's managedJobsNamespaceSelector",
      ),
    });
    expect(w.podList().every((p) => p.deleting)).toBe(true);
  });

  it('a Kueue eviction or preemption is a whole-gang restart counted against maxRestarts, as a new pod group', () => {
    const w = kueueWorld(burstJob('j').size(4).granularity(2).maxRestarts(1));
    w.settle();
    w.kueueAdmit().startAll().settle();
    expect(w.status.phase).toBe('Running');
    w.kueueStop('Preempted: Preempted to accommodate a workload (UID: 42) due to prioritization in the ClusterQueue');
    w.reconcile();
    expect(w.status).toMatchObject({ phase: 'Restarting', restarts: 1 });
    expect(w.status.lastFailure).toMatchObject({
      attempt: 0,
      reason: 'PackLost',
      message: expect.stringContaining('pod is being deleted (Kueue stopped its pod group: Preempted: Preempted to accommodate a workload'),
    });
    w.finishDeletes().advance(10_000);
    w.settle();
    expect(w.status.attempt).toMatchObject({ index: 1, gangBackend: 'Kueue' });
    expect(condition(w.status, 'Admitted')).toMatchObject({ reason: 'QueuedInKueue', message: expect.stringContaining('Kueue pod group j-a1') });
    // Used up: the next preemption fails the job.
    w.kueueAdmit().startAll().settle();
    w.kueueStop('Preempted: again');
    w.reconcile();
    expect(w.status.phase).toBe('Failed');
    expect(condition(w.status, 'Failed')).toMatchObject({ reason: 'MaxRestartsExceeded' });
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

  it('a Kueue pack pod carries the queue, priority, group name and size, not retriable in its group', () => {
    const q = burstJob('j').size(4).granularity(2).queue('team-a', 'high').obj();
    const pod = packPod(q, 3, 'b', 1, [2, 2], { defaultImage: 'img' }, 'Kueue') as any;
    expect(pod.metadata.labels).toMatchObject({ 'kueue.x-k8s.io/queue-name': 'team-a', 'kueue.x-k8s.io/priority-class': 'high', 'kueue.x-k8s.io/pod-group-name': 'j-a3' });
    expect(pod.metadata.annotations).toMatchObject({ 'kueue.x-k8s.io/pod-group-total-count': '2', 'kueue.x-k8s.io/retriable-in-group': 'false' });
    expect(pod.spec.schedulingGates).toBeUndefined();
    expect(pod.spec.schedulingGroup).toBeUndefined();
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
