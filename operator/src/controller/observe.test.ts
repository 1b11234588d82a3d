import { jobView, observePod, observeService } from './observe.js';

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

  it('reads which BurstJob owns a Service', () => {
    expect(observeService(undefined)).toBeUndefined();
    const svc = { metadata: { name: 'j', ownerReferences: [{ kind: 'BurstJob', uid: 'u1', controller: true }] } };
    expect(observeService(svc)).toEqual({ ownerUid: 'u1', deleting: false });
    expect(observeService({ metadata: { name: 'j', deletionTimestamp: '2026-01-01T00:00:00Z' } })).toEqual({ ownerUid: undefined, deleting: true });
  });
});
