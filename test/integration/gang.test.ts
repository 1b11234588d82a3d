import { KUEUE, LABELS } from '../../api/src/constants.js';
import { clusterEnv } from './harness/env.js';
import { condition, PodRecorder, type Flares } from './harness/flare.js';
import { list, paths, type Json } from './harness/kube.js';
import { operatorSuite } from './harness/suite.js';
import { sleep, waitFor } from './harness/wait.js';

/**
 * Gang conformance: one suite, run on every gang backend, against the real kube-apiserver, kube-scheduler
 * and kube-controller-manager (1.37, GenericWorkload on) and kwok nodes. What a backend must do, whoever
 * enforces it (the operator's gates and room model, or kube-scheduler's PodGroup placement):
 *
 *   all or nothing     a gang that does not fit binds no pod; it starts whole once room appears
 *   no deadlock        two gangs, room for one: one runs, the other binds nothing until the first is done
 *   schedule timeout   an attempt not placed within scheduleSeconds is torn down whole and retried
 *   restart            a failed pack restarts the whole flare with fresh pods (and gang objects)
 *   deletion           deleting the BurstJob takes its pods and gang objects with it
 *   suspend / resume   suspend deletes everything; resume is a fresh attempt
 *
 * Kueue admits by quota, not by node room: each test gives its own ClusterQueue a quota equal to its node
 * pool (how a batch cluster's admin sizes one), and its LocalQueue is named by the BurstJob's label.
 *
 * A backend the cluster does not serve fails here (never skips): `make test` runs all three on the 1.37
 * control plane (Kueue v0.17 runs beside it, test/cluster/up.sh), and SchedulingGates again on the oldest
 * supported one (KUBEBURST_GANG_BACKENDS=SchedulingGates).
 */
const ALL_BACKENDS = ['SchedulingGates', 'PodGroup', 'Kueue'] as const;
type Backend = (typeof ALL_BACKENDS)[number];
/** KUBEBURST_GANG_BACKENDS narrows the list for a control plane older than 1.37 (scripts/test.sh). */
const BACKENDS = (process.env.KUBEBURST_GANG_BACKENDS?.split(',') ?? ALL_BACKENDS) as Backend[];

const suite = operatorSuite('it-gang');
const { ns } = suite;

// Kueue's pod webhook and managedJobsNamespaceSelector see only namespaces with this label (up.sh).
beforeAll(async () => {
  const [key, value] = clusterEnv().kueueNamespaceLabel.split('=') as [string, string];
  await suite.kube.patch(`/api/v1/namespaces/${ns}`, { metadata: { labels: { [key]: value } } });
  await kueue.flavor();
});
afterAll(() => kueue.cleanup());

/** Kueue objects of this suite: one ResourceFlavor for all, a ClusterQueue + LocalQueue per test. */
const kueue = {
  queues: [] as string[],
  async flavor(): Promise<void> {
    await suite.kube.create(KUEUE_PATHS.flavors, { apiVersion: KUEUE_V, kind: 'ResourceFlavor', metadata: { name: 'kubeburst-test' } }).catch((err: unknown) => {
      if ((err as { status?: number }).status !== 409) throw err;
    });
  },
  /** A LocalQueue `name` in the suite's namespace, on a ClusterQueue of `cpu` cores (the pool's size). */
  async queue(name: string, cpu: number, extra: Json = {}): Promise<void> {
    const cq = `${ns}-${name}`;
    this.queues.push(cq);
    await suite.kube.create(KUEUE_PATHS.clusterQueues, {
      apiVersion: KUEUE_V,
      kind: 'ClusterQueue',
      metadata: { name: cq },
      spec: {
        namespaceSelector: {},
        resourceGroups: [{ coveredResources: ['cpu', 'memory'], flavors: [{ name: 'kubeburst-test', resources: quota(cpu) }] }],
        ...extra,
      },
    });
    await suite.kube.create(KUEUE_PATHS.localQueues(ns), { apiVersion: KUEUE_V, kind: 'LocalQueue', metadata: { name, namespace: ns }, spec: { clusterQueue: cq } });
    await waitFor(
      `ClusterQueue ${cq} active`,
      async () => ((await suite.kube.get<Json>(`${KUEUE_PATHS.clusterQueues}/${cq}`)).status?.conditions ?? []).some((c: Json) => c.type === 'Active' && c.status === 'True'),
      30_000,
    );
  },
  /** The pool grew: so does the quota. */
  async resize(name: string, cpu: number): Promise<void> {
    const path = `${KUEUE_PATHS.clusterQueues}/${ns}-${name}`;
    const cq = await suite.kube.get<Json>(path);
    cq.spec.resourceGroups[0].flavors[0].resources = quota(cpu);
    await suite.kube.replace(path, cq);
  },
  async cleanup(): Promise<void> {
    await Promise.all(this.queues.map((cq) => suite.kube.delete(`${KUEUE_PATHS.clusterQueues}/${cq}`).catch(() => undefined)));
    await suite.kube.delete(`${KUEUE_PATHS.flavors}/kubeburst-test`).catch(() => undefined);
  },
};
const KUEUE_V = 'kueue.x-k8s.io/v1beta2';
const KUEUE_PATHS = {
  flavors: '/apis/kueue.x-k8s.io/v1beta2/resourceflavors',
  clusterQueues: '/apis/kueue.x-k8s.io/v1beta2/clusterqueues',
  localQueues: (n: string) => `/apis/kueue.x-k8s.io/v1beta2/namespaces/${n}/localqueues`,
  workloads: (n: string) => `/apis/kueue.x-k8s.io/v1beta2/namespaces/${n}/workloads`,
  priorityClasses: '/apis/kueue.x-k8s.io/v1beta2/workloadpriorityclasses',
};
const quota = (cpu: number): Json[] => [
  { name: 'cpu', nominalQuota: String(cpu) },
  { name: 'memory', nominalQuota: '1Ti' },
];

const attemptOf = (p: Json): string => p.metadata.labels[LABELS.attempt];
const bound = (pods: Json[]): Json[] => pods.filter((p) => p.spec.nodeName);
/** The job's PodGroups; none where the API server does not serve them (a control plane before 1.37). */
const podGroups = (name: string): Promise<Json[]> =>
  list(suite.kube, paths.podGroups(ns), `${LABELS.jobName}=${name}`).catch((err: unknown) => {
    if ((err as { status?: number }).status === 404) return [];
    throw err;
  });

describe.each(BACKENDS)('gang backend %s', (backend: Backend) => {
  const short = ({ SchedulingGates: 'sg', PodGroup: 'pg', Kueue: 'kq' } as const)[backend];
  const gang = (extra: Json = {}): Json => ({ gang: { backend, ...extra } });
  /**
   * A pool of nodes for one test; with Kueue also its queue (quota = the pool's cores), named after it.
   * create() submits a BurstJob to that queue.
   */
  const poolOf = async (name: string, nodes: number, cpu: number): Promise<Flares> => {
    const flares = await suite.poolOf(name, nodes, cpu);
    if (backend !== 'Kueue') return flares;
    await kueue.queue(name, nodes * cpu);
    const create = flares.create.bind(flares);
    flares.create = (job, spec, labels) => create(job, spec, { [KUEUE.queueLabel]: name, ...labels });
    return flares;
  };
  /** Pods of the attempt are held back the way the backend holds them. */
  const expectHeldBack = async (flares: Flares, name: string, attempt: number, packs: number): Promise<void> => {
    const pods = (await flares.pods(name)).filter((p) => attemptOf(p) === String(attempt));
    expect(pods).toHaveLength(packs);
    if (backend === 'SchedulingGates') {
      expect(pods.every((p) => p.spec.schedulingGates?.[0]?.name === 'kubeburst.io/gang')).toBe(true);
    } else if (backend === 'Kueue') {
      // Kueue's webhook took every pod of the group and gated it; no gate or PodGroup of kubeburst's.
      for (const p of pods) {
        expect(p.metadata.labels).toMatchObject({ [KUEUE.groupLabel]: `${name}-a${attempt}`, [KUEUE.managedLabel]: 'true' });
        expect(p.metadata.annotations).toMatchObject({ [KUEUE.totalCountAnnotation]: String(packs) });
        expect(p.spec.schedulingGates).toContainEqual({ name: KUEUE.gate });
        expect((p.spec.schedulingGates as Json[]).every((g) => g.name.startsWith(KUEUE.gatePrefix))).toBe(true);
      }
      expect(await podGroups(name)).toEqual([]);
    } else {
      expect(pods.every((p) => p.spec.schedulingGroup?.podGroupName === `${name}-a${attempt}` && !p.spec.schedulingGates?.length)).toBe(true);
      const [pg] = (await podGroups(name)).filter((g) => g.metadata.name === `${name}-a${attempt}`);
      expect(pg).toMatchObject({
        spec: { schedulingPolicy: { gang: { minCount: packs } } },
        metadata: { ownerReferences: [expect.objectContaining({ kind: 'BurstJob', name, controller: true })] },
      });
    }
  };

  it('all or nothing: a gang that does not fit binds no pod, and starts whole once room appears', async () => {
    const flares = await poolOf(`aon-${short}`, 2, 32);
    const name = `aon-${short}`;
    // 5 packs of 16 CPU; the pool has room for 4.
    await flares.create(name, { size: 5, granularity: 1, resources: { cpu: '16', memory: '1Gi' }, timeouts: { scheduleSeconds: 120 }, ...gang() });
    const waiting = await flares.waitStatus(name, 'every pod created', (s) => s.attempt !== undefined && (s.packs?.gated === 5 || s.packs?.pending === 5));
    expect(waiting.status.attempt.gangBackend).toBe(backend);
    await expectHeldBack(flares, name, 0, 5);
    if (backend === 'SchedulingGates') {
      await flares.waitStatus(name, 'Admitted=False InsufficientCapacity', (_, j) => condition(j, 'Admitted')?.reason === 'InsufficientCapacity');
    } else if (backend === 'Kueue') {
      // Kueue said why in its Workload (named after the group); the BurstJob quotes it.
      const queued = await flares.waitStatus(name, 'Admitted=False QueuedInKueue quoting the Workload', (_, j) =>
        /insufficient|quota/i.test(condition(j, 'Admitted')?.message ?? ''),
      );
      expect(condition(queued, 'Admitted')).toMatchObject({
        status: 'False',
        reason: 'QueuedInKueue',
        message: expect.stringContaining(`Kueue pod group ${name}-a0 in LocalQueue aon-kq`),
      });
    } else {
      // kube-scheduler tried the whole group and said why in the PodGroup; the BurstJob quotes it.
      const unschedulable = await waitFor(
        'PodGroup Unschedulable',
        async () => (await podGroups(name)).find((g) => (g.status?.conditions ?? []).some((c: Json) => c.type === 'PodGroupInitiallyScheduled' && c.status === 'False')),
        30_000,
      );
      expect(unschedulable.metadata.name).toBe(`${name}-a0`);
      await flares.waitStatus(name, 'PacksScheduled=False quoting the PodGroup', (_, j) => /PodGroup aon-pg-a0/.test(condition(j, 'PacksScheduled')?.message ?? ''));
      expect(condition(await flares.get(name), 'Admitted')).toMatchObject({ status: 'True', reason: 'HandedToScheduler' });
    }
    await sleep(1500);
    expect(bound(await flares.pods(name))).toEqual([]);

    await flares.pool.add(1, 32);
    if (backend === 'Kueue') await kueue.resize(`aon-${short}`, 96);
    await flares.waitPhase(name, 'Running', 60_000);
    if (backend === 'Kueue') expect(condition(await flares.get(name), 'Admitted')).toMatchObject({ status: 'True', reason: 'AdmittedByKueue' });
    expect(bound(await flares.pods(name))).toHaveLength(5);
    await flares.delete(name);
  });

  it('no deadlock: two gangs and room for one run one after the other, never both partly', async () => {
    const flares = await poolOf(`duel-${short}`, 2, 32);
    const [a, b] = [`duel-a-${short}`, `duel-b-${short}`];
    const rec = new PodRecorder(suite.kube, ns, `${LABELS.jobName} in (${a},${b})`);
    await rec.start();
    // Each needs 3 packs of 16 CPU; the pool has room for 4 such packs: either fits, both never.
    const spec = { size: 3, granularity: 1, resources: { cpu: '16' }, timeouts: { scheduleSeconds: 120 }, ...gang() };
    await Promise.all([flares.create(a, spec), flares.create(b, spec)]);
    const first = await waitFor(
      'one gang running',
      async () => {
        for (const n of [a, b]) if ((await flares.get(n)).status?.phase === 'Running') return n;
        return undefined;
      },
      60_000,
    );
    const second = first === a ? b : a;
    await sleep(2000);
    expect(bound(await flares.pods(second))).toEqual([]);
    expect((await flares.get(second)).status.phase).not.toBe('Running');
    if (backend === 'Kueue') expect(condition(await flares.get(second), 'Admitted')).toMatchObject({ status: 'False', reason: 'QueuedInKueue' });

    const finishedAt = Date.now();
    await flares.complete(first);
    await flares.waitPhase(first, 'Succeeded');
    await flares.waitPhase(second, 'Running', 60_000);
    await rec.stop();
    // The second gang bound nothing while the first held the pool.
    const boundAt = [...rec.pods.values()].filter((r) => r.name.startsWith(`${second}-`)).map((r) => r.boundAt!);
    expect(boundAt).toHaveLength(3);
    expect(Math.min(...boundAt)).toBeGreaterThanOrEqual(finishedAt);
    await flares.complete(second);
    await flares.waitPhase(second, 'Succeeded');
  });

  it('schedule timeout: an attempt not placed within scheduleSeconds is torn down whole, retried, then fails', async () => {
    const flares = await poolOf(`sched-${short}`, 2, 16);
    const name = `stuck-${short}`;
    // Pods name a scheduler that does not run; the test plays that scheduler for one pod only.
    await flares.create(name, {
      size: 2,
      granularity: 1,
      timeouts: { scheduleSeconds: 5 },
      ...gang({ maxScheduleRetries: 1 }),
      template: { schedulerName: 'kubeburst-test-absent-scheduler' },
    });
    await flares.waitStatus(name, 'handed over', (_, j) => condition(j, 'Admitted')?.status === 'True');
    await suite.kube.create(`${paths.pod(ns, `${name}-a0-0`)}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: `${name}-a0-0` },
      target: { apiVersion: 'v1', kind: 'Node', name: flares.pool.names[0] },
    });
    const retrying = await flares.waitStatus(name, 'torn down after the schedule timeout', (s) => s.scheduleRetries === 1, 30_000);
    expect(retrying.status.lastFailure).toMatchObject({
      attempt: 0,
      reason: 'ScheduleTimeout',
      message: expect.stringContaining('only 1 of 2 pack(s) were scheduled within spec.timeouts.scheduleSeconds (5 s)'),
    });
    // The half-placed attempt holds nothing: its bound pod goes too, and so does its PodGroup.
    await waitFor('attempt 0 pods gone', async () => (await flares.pods(name)).every((p) => attemptOf(p) !== '0'), 30_000);
    await waitFor('attempt 0 PodGroup gone', async () => (await podGroups(name)).every((g) => g.metadata.name !== `${name}-a0`), 30_000);
    const failed = await flares.waitPhase(name, 'Failed', 40_000);
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'MaxScheduleRetriesExceeded', message: expect.stringContaining('gave up after 1 retries') });
    expect(failed.status.attempt).toMatchObject({ index: 1, gangBackend: backend });
  });

  it('restart: a failed pack restarts the whole flare with fresh pods and gang objects', async () => {
    const flares = await poolOf(`restart-${short}`, 2, 16);
    const name = `flaky-${short}`;
    await flares.create(name, { size: 4, granularity: 2, maxRestarts: 1, ...gang() });
    await flares.waitPhase(name, 'Running');
    await flares.fail(`${name}-a0-1`, 'TypeError: cannot read x', 3);
    const second = await flares.waitStatus(name, 'attempt 1 running', (s) => s.attempt?.index === 1 && s.phase === 'Running', 60_000);
    expect(second.status).toMatchObject({ restarts: 1, attempt: { gangBackend: backend }, lastFailure: { attempt: 0, pack: 1, reason: 'PackFailed' } });
    const pods = await flares.pods(name);
    expect(pods.map((p) => p.metadata.name).sort()).toEqual([`${name}-a1-0`, `${name}-a1-1`]);
    if (backend === 'PodGroup') {
      expect(pods.every((p) => p.spec.schedulingGroup?.podGroupName === `${name}-a1`)).toBe(true);
      await waitFor('only PodGroup a1 left', async () => (await podGroups(name)).map((g) => g.metadata.name).join() === `${name}-a1`, 30_000);
    }
    await flares.complete(name);
    await flares.waitPhase(name, 'Succeeded');
  });

  it('deletion: the BurstJob takes its pods and gang objects with it', async () => {
    const flares = await poolOf(`gc-${short}`, 1, 16);
    const name = `gone-${short}`;
    await flares.create(name, { size: 4, granularity: 2, ...gang() });
    await flares.waitPhase(name, 'Running');
    if (backend === 'PodGroup') expect((await podGroups(name)).map((g) => g.metadata.name)).toEqual([`${name}-a0`]);
    await flares.delete(name);
    await waitFor(
      'pods, PodGroups and Service of the deleted BurstJob gone',
      async () => (await flares.pods(name)).length + (await podGroups(name)).length + (await list(suite.kube, paths.services(ns), `${LABELS.jobName}=${name}`)).length === 0,
      60_000,
    );
  });

  it('suspend deletes pods and gang objects; resume starts a fresh attempt', async () => {
    const flares = await poolOf(`nap-${short}`, 1, 16);
    const name = `nap-${short}`;
    await flares.create(name, { size: 2, granularity: 1, ...gang() });
    await flares.waitPhase(name, 'Running');
    await suite.kube.patch(paths.burstjob(ns, name), { spec: { suspend: true } });
    await flares.waitPhase(name, 'Suspended');
    await waitFor('pods and PodGroups gone on suspend', async () => (await flares.pods(name)).length + (await podGroups(name)).length === 0, 30_000);
    await suite.kube.patch(paths.burstjob(ns, name), { spec: { suspend: false } });
    const again = await flares.waitStatus(name, 'a new attempt running', (s) => s.phase === 'Running' && s.attempt.index === 1, 60_000);
    expect(again.status.attempt.gangBackend).toBe(backend);
    expect(again.status.restarts).toBeUndefined();
    if (backend === 'PodGroup') expect((await podGroups(name)).map((g) => g.metadata.name)).toEqual([`${name}-a1`]);
    await flares.complete(name);
    await flares.waitPhase(name, 'Succeeded');
  });
});

// What only Kueue does: priorities and preemption inside a ClusterQueue.
if (BACKENDS.includes('Kueue')) {
  describe('gang backend Kueue: preemption', () => {
    const priorities: string[] = [];
    afterAll(() => Promise.all(priorities.map((p) => suite.kube.delete(`${KUEUE_PATHS.priorityClasses}/${p}`).catch(() => undefined))));

    it('a gang preempted for a higher-priority one restarts whole (counted against maxRestarts) and runs once that one ends', async () => {
      const flares = await suite.poolOf('preempt-kq', 1, 32);
      await kueue.queue('preempt-kq', 32, { preemption: { withinClusterQueue: 'LowerPriority' } });
      for (const [name, value] of [
        [`${ns}-low`, 100],
        [`${ns}-high`, 1000],
      ] as const) {
        priorities.push(name);
        await suite.kube.create(KUEUE_PATHS.priorityClasses, { apiVersion: KUEUE_V, kind: 'WorkloadPriorityClass', metadata: { name }, value });
      }
      // Each gang takes the whole quota (2 packs of 16 CPU).
      const spec = { size: 2, granularity: 1, resources: { cpu: '16' }, maxRestarts: 1, gang: { backend: 'Kueue' } };
      const labels = (p: string): Record<string, string> => ({ [KUEUE.queueLabel]: 'preempt-kq', [KUEUE.priorityLabel]: `${ns}-${p}` });
      await flares.create('low-kq', spec, labels('low'));
      await flares.waitPhase('low-kq', 'Running');
      await flares.create('high-kq', spec, labels('high'));

      const preempted = await flares.waitStatus('low-kq', 'restarted after the preemption', (s) => s.restarts === 1, 60_000);
      expect(preempted.status.lastFailure).toMatchObject({ attempt: 0, reason: 'PackLost', message: expect.stringContaining('Kueue stopped its pod group') });
      await flares.waitPhase('high-kq', 'Running', 60_000);
      // The preempted gang waits in the queue as a new group, holding no node.
      const waiting = await flares.waitStatus('low-kq', 'attempt 1 queued', (s, j) => s.attempt?.index === 1 && condition(j, 'Admitted')?.reason === 'QueuedInKueue', 60_000);
      expect(condition(waiting, 'Admitted')!.message).toContain('Kueue pod group low-kq-a1');
      expect(bound(await flares.pods('low-kq'))).toEqual([]);

      await flares.complete('high-kq');
      await flares.waitPhase('high-kq', 'Succeeded');
      await flares.waitStatus('low-kq', 'attempt 1 running', (s) => s.attempt?.index === 1 && s.phase === 'Running', 60_000);
      await flares.complete('low-kq');
      const done = await flares.waitPhase('low-kq', 'Succeeded');
      expect(done.status).toMatchObject({ restarts: 1, attempt: { index: 1, gangBackend: 'Kueue' } });
    });
  });
}
