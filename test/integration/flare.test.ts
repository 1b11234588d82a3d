import { LABELS } from '@kubeburst/api';
import { condition, PodRecorder } from './harness/flare.js';
import { createNamespace, deleteNamespace, list, paths, type Json } from './harness/kube.js';
import { operatorSuite } from './harness/suite.js';
import { sleep, waitFor } from './harness/wait.js';

/**
 * A flare's life on a real kube-apiserver, kube-scheduler, kube-controller-manager and kwok nodes, driven by
 * the operator running with the Helm chart's ServiceAccount token. Each test has its own node pool.
 */
const suite = operatorSuite('it-flare');
const { ns, poolOf } = suite;

describe('a BurstJob on the local control plane', () => {
  it('creates every pack gated, lifts the gates together, runs, succeeds, and stores the results', async () => {
    const flares = await poolOf('happy', 2, 16);
    const rec = new PodRecorder(suite.kube, ns, `${LABELS.jobName}=hello`);
    await rec.start();
    // The gates backend's own invariants (gated at creation, ungated together); gang.test.ts runs every backend.
    await flares.create('hello', { size: 16, granularity: 4, resources: { cpu: '1', memory: '1Gi' }, params: { value: { n: 7 } }, gang: { backend: 'SchedulingGates' } });

    const running = await flares.waitStatus('hello', 'every pack joined', (s) => s.phase === 'Running' && s.packs?.ready === 4);
    await rec.stop();
    // The gang invariant, seen from outside: every pod appeared gated; no gate went before the last pod existed.
    const records = [...rec.pods.values()];
    expect(records.map((r) => r.name).sort()).toEqual(['hello-a0-0', 'hello-a0-1', 'hello-a0-2', 'hello-a0-3']);
    expect(records.every((r) => r.gatedWhenCreated)).toBe(true);
    expect(Math.max(...records.map((r) => r.seen))).toBeLessThanOrEqual(Math.min(...records.map((r) => r.ungatedAt!)));
    expect(records.every((r) => r.boundAt !== undefined)).toBe(true);

    const s = running.status;
    expect(s.attempt).toMatchObject({ index: 0, layout: '4x4' });
    expect(s.packs).toEqual({ total: 4, gated: 0, pending: 0, running: 4, ready: 4, succeeded: 0, failed: 0 });
    expect(s.observedGeneration).toBe(1);
    for (const t of ['Admitted', 'PacksScheduled', 'Started']) expect(condition(running, t)).toMatchObject({ status: 'True', observedGeneration: 1 });
    expect(s.startupLatency.packsRunningSeconds).toBeGreaterThanOrEqual(0);
    expect(s.startupLatency.workersJoinedSeconds).toBeGreaterThanOrEqual(s.startupLatency.packsRunningSeconds);

    // What the packs get: owner, stable DNS name under the headless Service, params, identity in env.
    const pod = (await flares.pods('hello')).find((p) => p.metadata.name === 'hello-a0-2')!;
    expect(pod.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'BurstJob', name: 'hello', uid: running.metadata.uid, controller: true })]);
    expect([pod.spec.hostname, pod.spec.subdomain]).toEqual(['hello-a0-2', 'hello']);
    const env = Object.fromEntries(pod.spec.containers[0].env.map((e: Json) => [e.name, e.value]));
    expect(env).toMatchObject({
      KB_BURST_SIZE: '16',
      KB_GRANULARITY: '4',
      KB_PACK_INDEX: '2',
      KB_TRANSPORT: 'direct',
      KB_TRANSPORT_URL: 'tcp://hello-a0-{pack}.hello:7100',
      KB_BURST_ID: s.attempt.burstId,
    });
    expect(pod.spec.containers[0].resources.requests).toEqual({ cpu: '4', memory: '4Gi' });
    const svc = await suite.kube.get<Json>(paths.service(ns, 'hello'));
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true });
    const params = await suite.kube.get<Json>(paths.configmap(ns, 'hello-params'));
    expect(JSON.parse(params.data['params.json'])).toEqual({ value: { n: 7 } });

    await flares.complete('hello');
    const done = await flares.waitPhase('hello', 'Succeeded');
    expect(condition(done, 'Succeeded')).toMatchObject({ status: 'True', reason: 'AllPacksSucceeded' });
    expect(done.status.completionTime).toBeDefined();
    expect(done.status.results).toEqual({ configMap: 'hello-results', key: 'results.json', workers: 16, missing: 0 });
    const results = await suite.kube.get<Json>(paths.configmap(ns, 'hello-results'));
    expect(JSON.parse(results.data['results.json']).workers).toEqual(Array.from({ length: 16 }, (_, w) => ({ worker: w, square: w * w })));
    expect(results.metadata.ownerReferences[0]).toMatchObject({ kind: 'BurstJob', name: 'hello' });

    const reasons = (await flares.events('hello')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['GangAdmitted', 'Started', 'Succeeded']));
    const metrics = await suite.op.metrics();
    expect(metrics).toMatch(/kubeburst_pods_created_total [1-9]/);
    expect(metrics).toMatch(/kubeburst_flare_startup_seconds_count\{stage="joined"\} [1-9]/);
    expect(metrics).toMatch(/kubeburst_burstjobs\{phase="Succeeded"\} [1-9]/);
  });

  it('without room for every pack binds none, says why in a condition and an event, and starts once room appears', async () => {
    const flares = await poolOf('tight', 4, 32);
    await flares.create('big', { size: 5, granularity: 1, resources: { cpu: '32', memory: '1Gi' }, gang: { backend: 'SchedulingGates' } });
    const waiting = await flares.waitStatus('big', 'Admitted=False InsufficientCapacity', (_, j) => condition(j, 'Admitted')?.reason === 'InsufficientCapacity');
    expect(condition(waiting, 'Admitted')!.message).toContain('needs 5 pack(s) of 32 CPU, 1Gi memory; the 4 eligible node(s) have room for 4 of 5 pack(s)');
    expect(waiting.status.phase).toBe('Pending');
    await waitFor('the InsufficientCapacity event', async () => (await flares.events('big')).find((e) => e.reason === 'InsufficientCapacity' && e.type === 'Warning'));
    await sleep(1500);
    const pods = await flares.pods('big');
    expect(pods).toHaveLength(5);
    expect(pods.filter((p) => p.spec.nodeName)).toEqual([]);
    expect(pods.every((p) => p.spec.schedulingGates?.[0]?.name === 'kubeburst.io/gang')).toBe(true);

    await flares.pool.add(1, 32);
    await flares.waitPhase('big', 'Running');
    const nodes = (await flares.pods('big')).map((p) => p.spec.nodeName);
    expect(new Set(nodes).size).toBe(5);
    await flares.delete('big');
  });

  it('admits two gangs that cannot both fit one after the other, never both partly', async () => {
    const flares = await poolOf('duel', 2, 32);
    const rec = new PodRecorder(suite.kube, ns, `${LABELS.jobName} in (duel-a,duel-b)`);
    await rec.start();
    // Each needs 3 packs of 16 CPU; the pool has room for 4 such packs.
    const spec = { size: 3, granularity: 1, resources: { cpu: '16' }, gang: { backend: 'SchedulingGates' } };
    await Promise.all([flares.create('duel-a', spec), flares.create('duel-b', spec)]);
    const first = await waitFor('one gang running', async () => {
      for (const n of ['duel-a', 'duel-b']) if ((await flares.get(n)).status?.phase === 'Running') return n;
      return undefined;
    });
    const second = first === 'duel-a' ? 'duel-b' : 'duel-a';
    const waiting = await flares.waitStatus(second, 'waiting for room', (_, j) => ['QueuedBehind', 'InsufficientCapacity'].includes(condition(j, 'Admitted')?.reason));
    expect(waiting.status.phase).toBe('Pending');
    expect((await flares.pods(second)).every((p) => !p.spec.nodeName && p.spec.schedulingGates?.length === 1)).toBe(true);

    await flares.complete(first);
    await flares.waitPhase(first, 'Succeeded');
    await flares.waitPhase(second, 'Running');
    await rec.stop();
    // The second gang's gates went only after the first had finished: they never shared the pool.
    const byJob = (j: string) => [...rec.pods.values()].filter((r) => r.name.startsWith(`${j}-`));
    expect(Math.min(...byJob(second).map((r) => r.ungatedAt!))).toBeGreaterThan(Math.max(...byJob(first).map((r) => r.ungatedAt!)));
    await flares.complete(second);
    await flares.waitPhase(second, 'Succeeded');
  });

  it('keeps the headless Service its own: replaces one another BurstJob owns, re-creates one deleted mid-flare', async () => {
    const flares = await poolOf('svc', 1, 16);
    // What an earlier BurstJob of the same name leaves behind until the garbage collector gets to it: a
    // Service named after the job, owned by another BurstJob (here a live one, so the collector keeps it).
    const other = await flares.create('svc-other', { size: 1, suspend: true });
    await suite.kube.create(`/api/v1/namespaces/${ns}/services`, {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'svc',
        labels: { [LABELS.jobName]: 'svc', [LABELS.component]: 'peers' },
        ownerReferences: [{ apiVersion: 'kubeburst.io/v1alpha1', kind: 'BurstJob', name: 'svc-other', uid: other.metadata.uid, controller: true }],
      },
      spec: { clusterIP: 'None', selector: { nobody: 'x' }, ports: [{ name: 'kb-direct', port: 7100 }] },
    });
    const job = await flares.create('svc', { size: 2, granularity: 1 });
    const ownedByJob = async (): Promise<Json | undefined> => {
      const svc = await suite.kube.get<Json>(paths.service(ns, 'svc')).catch(() => undefined);
      return svc?.metadata.ownerReferences?.[0]?.uid === job.metadata.uid ? svc : undefined;
    };
    const replaced = await waitFor('the Service owned by the new BurstJob', ownedByJob, 30_000);
    expect(replaced.spec.selector).toEqual({ [LABELS.jobUid]: job.metadata.uid, [LABELS.component]: 'pack' });
    await flares.waitPhase('svc', 'Running');

    await suite.kube.delete(paths.service(ns, 'svc'));
    const again = await waitFor('the deleted Service re-created', ownedByJob, 30_000);
    expect(again.metadata.uid).not.toBe(replaced.metadata.uid);
    await flares.delete('svc');
    await flares.delete('svc-other');
  });

  it('a NetworkPolicy or ConfigMap of a job’s names that is not the job’s is left as it is, and the job waits until it goes', async () => {
    const flares = await poolOf('squat', 1, 16);
    // The namespace's own objects, which happen to have the names the operator gives a job's: before, the
    // operator's forced apply took them over (and made the job their owner, so they went with it).
    const policy = { apiVersion: 'networking.k8s.io/v1', kind: 'NetworkPolicy', metadata: { name: 'sq' }, spec: { podSelector: {}, policyTypes: ['Ingress'] } };
    const params = { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'sq-params' }, data: { theirs: 'yes' } };
    await suite.kube.create(`/apis/networking.k8s.io/v1/namespaces/${ns}/networkpolicies`, policy);
    await suite.kube.create(`/api/v1/namespaces/${ns}/configmaps`, params);
    const job = await flares.create('sq', { size: 2, granularity: 1 });
    const refused = await waitFor(
      'the operator saying the NetworkPolicy is not the job’s',
      async () => (await flares.events('sq')).find((e) => /NetworkPolicy .*\/sq exists and is not this BurstJob's/.test(e.message)),
      30_000,
    );
    expect(refused.type).toBe('Warning');
    await sleep(2_000);
    const policyNow = await suite.kube.get<Json>(paths.networkPolicy(ns, 'sq'));
    expect([policyNow.spec, policyNow.metadata.ownerReferences]).toEqual([policy.spec, undefined]);
    const paramsNow = await suite.kube.get<Json>(paths.configmap(ns, 'sq-params'));
    expect([paramsNow.data, paramsNow.metadata.ownerReferences]).toEqual([params.data, undefined]);
    expect(await flares.pods('sq')).toEqual([]);
    // Gone: the job makes its own and runs.
    await suite.kube.delete(paths.networkPolicy(ns, 'sq'));
    await suite.kube.delete(paths.configmap(ns, 'sq-params'));
    await flares.waitPhase('sq', 'Running', 60_000);
    const own = await suite.kube.get<Json>(paths.networkPolicy(ns, 'sq'));
    expect(own.metadata.ownerReferences?.[0]?.uid).toBe(job.metadata.uid);
    expect(JSON.parse((await suite.kube.get<Json>(paths.configmap(ns, 'sq-params'))).data['params.json'])).toEqual({ value: null });
    await flares.delete('sq');
  });

  it('a pod that only carries a job’s labels is not the job’s: one it does not own, or one in another namespace', async () => {
    const flares = await poolOf('imposter', 1, 16);
    const job = await flares.create('imp', { size: 2, granularity: 1 });
    await flares.waitPhase('imp', 'Running');
    const other = `${ns}-other`;
    await createNamespace(suite.kube, other);
    try {
      // Pack 0 of attempt 0 by its labels, held Pending by a gate: anyone who may create pods can make these.
      const imposter = (name: string, namespace: string): Json => ({
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: { name, namespace, labels: { [LABELS.jobUid]: job.metadata.uid, [LABELS.component]: 'pack', [LABELS.attempt]: '0', [LABELS.packIndex]: '0' } },
        spec: { schedulingGates: [{ name: 'test.kubeburst.io/hold' }], containers: [{ name: 'c', image: 'none' }] },
      });
      await suite.kube.create(`/api/v1/namespaces/${ns}/pods`, imposter('imp-copy', ns));
      await suite.kube.create(`/api/v1/namespaces/${other}/pods`, imposter('imp-stray', other));
      await flares.complete('imp');
      const done = await flares.waitPhase('imp', 'Succeeded');
      expect(done.status.packs).toMatchObject({ total: 2, succeeded: 2 });
      // A finished job's live pods are deleted: these are not its own, and stay.
      await sleep(3_000);
      for (const [namespace, name] of [
        [ns, 'imp-copy'],
        [other, 'imp-stray'],
      ] as const)
        expect((await suite.kube.get<Json>(paths.pod(namespace, name))).metadata.deletionTimestamp).toBeUndefined();
      expect((await flares.get('imp')).status.packs).toMatchObject({ total: 2, succeeded: 2 });
      await suite.kube.delete(paths.pod(ns, 'imp-copy'));
    } finally {
      await deleteNamespace(suite.kube, other);
    }
    await flares.delete('imp');
  });

  it('deleted and created again at once under the same name: the new job creates its pods once the old ones are gone', async () => {
    const flares = await poolOf('again', 1, 16);
    await flares.create('again', { size: 1 });
    await flares.waitPhase('again', 'Running');
    const podPath = paths.pod(ns, (await flares.pods('again'))[0]!.metadata.name);
    // A slow kubelet: the old pod stays Terminating until the test lets it go.
    await suite.kube.patch(podPath, { metadata: { finalizers: ['test.kubeburst.io/hold'] } });
    await flares.delete('again');
    await waitFor(
      'the old BurstJob gone',
      () =>
        flares.get('again').then(
          () => false,
          () => true,
        ),
      30_000,
    );
    const fresh = await flares.create('again', { size: 1 });
    // The new job's first pod has the old pod's name: its create meets AlreadyExists.
    await waitFor('the old pod terminating', async () => (await suite.kube.get<Json>(podPath)).metadata.deletionTimestamp !== undefined, 30_000);
    await new Promise((r) => setTimeout(r, 1_000));
    await suite.kube.patch(podPath, { metadata: { finalizers: null } });
    // Not a resync (5 min) later: the old pod's delete event frees the name.
    await flares.waitPhase('again', 'Running', 20_000);
    const pods = await flares.pods('again');
    expect(pods.map((p) => p.metadata.labels[LABELS.jobUid])).toEqual([fresh.metadata.uid]);
    await flares.delete('again');
  });

  it('garbage-collects pods, Service and ConfigMaps when the BurstJob is deleted', async () => {
    const flares = await poolOf('gc', 1, 16);
    await flares.create('gone', { size: 4, granularity: 2 });
    await flares.waitPhase('gone', 'Running');
    expect(await flares.pods('gone')).toHaveLength(2);
    await flares.delete('gone');
    await waitFor(
      'pods, Service and ConfigMaps of the deleted BurstJob to be gone',
      async () => {
        const left = [
          ...(await flares.pods('gone')),
          ...(await list(suite.kube, `/api/v1/namespaces/${ns}/services`, `${LABELS.jobName}=gone`)),
          ...(await list(suite.kube, `/api/v1/namespaces/${ns}/configmaps`, `${LABELS.jobName}=gone`)),
        ];
        return left.length === 0;
      },
      60_000,
    );
  });
});
