import { burstIdOf, packPod } from '../planner/pods.js';
import { burstJob } from '../testing/planner.js';
import { controllerOf, jobView, observePod, observeService, observeWorkload, podRequests, slimPackPod } from './observe.js';

describe('what the planner sees of Kubernetes objects', () => {
  it('keeps a valid ttlSecondsAfterFinished of a spec that fails validation, so the failed job still expires', () => {
    const raw = { metadata: { name: 'j', namespace: 'ns', uid: 'u' }, spec: { size: 3, function: { module: '/w.js' }, params: { list: [1, 2] }, ttlSecondsAfterFinished: 30 } };
    const view = jobView(raw);
    expect(view.specError).toBe('spec.params.list: has 2 entries but size is 3 (one entry per worker)');
    expect(view.spec.ttlSecondsAfterFinished).toBe(30);
    expect(jobView({ ...raw, spec: { ...raw.spec, ttlSecondsAfterFinished: -1 } }).spec.ttlSecondsAfterFinished).toBeUndefined();
  });

  it('names an unknown spec field with its path (a CRD that kept one, or another version of it)', () => {
    const view = jobView({ metadata: { name: 'j', namespace: 'ns', uid: 'u' }, spec: { size: 3, granularty: 1, function: { module: '/w.js' } } });
    expect(view.specError).toBe('spec.granularty: unknown field (did you mean granularity?)');
  });

  it('reports why a pack container has not started', () => {
    const pod = {
      metadata: { name: 'j-a0-0', labels: { 'kubeburst.io/attempt': '0', 'kubeburst.io/pack-index': '0' } },
      spec: { nodeName: 'n1' },
      status: { phase: 'Pending', containerStatuses: [{ name: 'pack', state: { waiting: { reason: 'CreateContainerConfigError', message: 'secret "redis" not found' } } }] },
    };
    expect(observePod(pod)).toMatchObject({ phase: 'Pending', nodeName: 'n1', waiting: { reason: 'CreateContainerConfigError', message: 'secret "redis" not found' } });
  });

  it('reads a BurstJob’s Kueue labels, and a Kueue pod group’s pod as Kueue left it', () => {
    const job = jobView({
      metadata: { name: 'j', namespace: 'ns', uid: 'u', labels: { 'kueue.x-k8s.io/queue-name': 'team-a' } },
      spec: { size: 1, function: { module: '/w.js' } },
    });
    expect(job.kueue).toEqual({ queueName: 'team-a' });
    expect(jobView({ metadata: { name: 'j', namespace: 'ns', uid: 'u' }, spec: { size: 1, function: { module: '/w.js' } } }).kueue).toBeUndefined();
    const pod = (extra: { labels?: Record<string, string>; gates?: string[]; conditions?: unknown[] }) => ({
      metadata: { name: 'j-a0-0', labels: { 'kubeburst.io/attempt': '0', 'kubeburst.io/pack-index': '0', 'kueue.x-k8s.io/pod-group-name': 'j-a0', ...extra.labels } },
      spec: { schedulingGates: (extra.gates ?? []).map((name) => ({ name })) },
      status: { phase: 'Pending', conditions: extra.conditions ?? [] },
    });
    // Kueue's topology gate counts as Kueue holding the pod, like its admission gate.
    expect(observePod(pod({ labels: { 'kueue.x-k8s.io/managed': 'true' }, gates: ['kueue.x-k8s.io/topology'] })).kueue).toEqual({ managed: true, gated: true });
    expect(observePod(pod({})).kueue).toEqual({ managed: false, gated: false });
    const stopped = pod({
      labels: { 'kueue.x-k8s.io/managed': 'true' },
      conditions: [{ type: 'TerminationTarget', status: 'True', reason: 'Preempted', message: 'Preempted to accommodate a workload' }],
    });
    expect(observePod(stopped).kueue).toEqual({ managed: true, gated: false, stopped: 'Preempted: Preempted to accommodate a workload' });
    expect(observePod({ metadata: { name: 'p', labels: {} }, spec: {}, status: {} }).kueue).toBeUndefined();
  });

  it('quotes why Kueue has not admitted a Workload, only while it has not', () => {
    const wl = (status: string, message: string) => ({ metadata: { name: 'j-a0' }, status: { conditions: [{ type: 'QuotaReserved', status, message }] } });
    expect(observeWorkload(wl('False', 'insufficient quota for cpu in flavor f, 16 more needed'))).toEqual({
      name: 'j-a0',
      pending: 'insufficient quota for cpu in flavor f, 16 more needed',
    });
    expect(observeWorkload(wl('True', 'Quota reserved in ClusterQueue q'))).toEqual({ name: 'j-a0' });
  });

  it('reads which BurstJob owns a Service', () => {
    expect(observeService(undefined)).toBeUndefined();
    const svc = { metadata: { name: 'j', ownerReferences: [{ kind: 'BurstJob', uid: 'u1', controller: true }] } };
    expect(observeService(svc)).toEqual({ ownerUid: 'u1', deleting: false });
    expect(observeService({ metadata: { name: 'j', deletionTimestamp: '2026-01-01T00:00:00Z' } })).toEqual({ ownerUid: undefined, deleting: true });
  });
});

describe('the pack-pod cache', () => {
  it('keeps of a pod what the operator reads, and a fraction of its bytes', () => {
    const job = burstJob('j').size(8).granularity(4).transport('redis', 'redis://r:6379').obj();
    const pod = packPod(job, 0, burstIdOf(job.uid, 0), 1, [4, 4], { defaultImage: 'img' }) as Record<string, any>;
    pod.metadata.managedFields = Array.from({ length: 3 }, (_, i) => ({
      manager: `m${i}`,
      operation: 'Update',
      fieldsV1: { 'f:spec': { 'f:containers': { x: 'y'.repeat(800) } } },
    }));
    pod.spec.nodeName = 'n1';
    pod.status = {
      phase: 'Failed',
      conditions: [{ type: 'PodScheduled', status: 'True' }],
      containerStatuses: [{ name: 'pack', state: { terminated: { exitCode: 1, reason: 'Error', message: 'boom' } } }],
    };
    const slim = slimPackPod(pod);
    expect(observePod(slim)).toEqual(observePod(pod));
    expect(podRequests(slim)).toEqual(podRequests(pod));
    expect(controllerOf(slim)).toEqual(controllerOf(pod));
    expect(slim.spec.schedulingGates).toEqual(pod.spec.schedulingGates);
    expect(JSON.stringify(slim).length).toBeLessThan(JSON.stringify(pod).length / 3);
  });
});
