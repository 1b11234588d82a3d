import { GANG_SCHEDULING_GATE, LABELS } from '../api/constants.js';
import { burstIdOf, gangDemand, headlessService, packEnv, packPod, paramsConfigMap } from './pods.js';
import { burstJob } from './testing.js';

const envOf = (env: Record<string, unknown>[]) => Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));

describe('pack pods', () => {
  const job = burstJob('pr').size(100).granularity(48).cpu('500m').memory('1Gi').obj();
  const pod = packPod(job, 2, burstIdOf(job.uid, 2), 2, [48, 48, 4], { defaultImage: 'kubeburst/worker:dev' }) as any;

  it('is created gated, owned by the job, labelled with its attempt and pack', () => {
    expect(pod.metadata.name).toBe('pr-a2-2');
    expect(pod.spec.schedulingGates).toEqual([{ name: GANG_SCHEDULING_GATE }]);
    expect(pod.metadata.labels).toMatchObject({ [LABELS.jobName]: 'pr', [LABELS.jobUid]: job.uid, [LABELS.attempt]: '2', [LABELS.packIndex]: '2', [LABELS.component]: 'pack' });
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: 'kubeburst.io/v1alpha1', kind: 'BurstJob', name: 'pr', uid: job.uid, controller: true, blockOwnerDeletion: true }]);
    expect(pod.metadata.annotations['kubeburst.io/workers']).toBe('96-99');
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  it('has a stable DNS name under the job’s headless Service, and the direct transport finds peers through it', () => {
    expect([pod.spec.hostname, pod.spec.subdomain]).toEqual(['pr-a2-2', 'pr']);
    const svc = headlessService(job) as any;
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: { [LABELS.jobUid]: job.uid, [LABELS.component]: 'pack' } });
    expect(envOf(pod.spec.containers[0].env).KB_TRANSPORT_URL).toBe('tcp://pr-a2-{pack}.pr:7100');
  });

  it('requests granularity × per-worker resources and reports joins through readiness', () => {
    const c = pod.spec.containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '4Gi' } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'kb-http' });
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.image).toBe('kubeburst/worker:dev');
  });

  it('tells the pack who it is through env', () => {
    expect(envOf(packEnv(job, 2, 'b-a2', 1, [48, 48, 4]))).toEqual({
      KB_BURST_ID: 'b-a2',
      KB_BURST_SIZE: '100',
      KB_GRANULARITY: '48',
      KB_PACK_INDEX: '1',
      KB_TRANSPORT: 'direct',
      KB_TRANSPORT_URL: 'tcp://pr-a2-{pack}.pr:7100',
      KB_CHUNK_BYTES: '1048576',
      KB_FUNCTION: '/app/worker.js',
      KB_PARAMS_FILE: '/etc/kubeburst/params/params.json',
      KB_JOIN_TIMEOUT_MS: '120000',
      KB_OPERATION_TIMEOUT_MS: '300000',
      KB_HTTP_HOST: '0.0.0.0',
      KB_HTTP_PORT: '8080',
      KB_TERMINATION_LOG: '/dev/termination-log',
    });
    expect(envOf(packEnv(job, 0, 'b', 0, [40, 48, 12])).KB_PACK_SIZES).toBe('40,48,12');
  });

  it('takes a broker URL from a Secret without the operator reading it', () => {
    const j = burstJob('r').with({ transport: { kind: 'redis', secretRef: { name: 'redis-cred', key: 'url' } } }).obj();
    expect(envOf(packEnv(j, 0, 'b', 0, [4])).KB_TRANSPORT_URL).toEqual({ secretKeyRef: { name: 'redis-cred', key: 'url' } });
  });

  it('mounts params as one JSON document', () => {
    const j = burstJob('p').size(3).params({ list: [1, 'a', { b: 2 }] }).obj();
    expect((paramsConfigMap(j) as any).data).toEqual({ 'params.json': '{"list":[1,"a",{"b":2}]}' });
  });

  it('groups identical packs in the gang demand', () => {
    expect(gangDemand(job, [48, 48, 4]).groups.map((g) => [g.count, g.request.cpu])).toEqual([
      [2, 24_000],
      [1, 2_000],
    ]);
  });
});
