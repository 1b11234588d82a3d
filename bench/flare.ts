#!/usr/bin/env node
/**
 * npm run bench:flare — how fast a flare starts, by granularity, on the local cluster, in two settings
 * side by side in one report:
 *
 *   kwok       960 workers × 1 CPU on 20 kwok nodes of 48 CPUs (a dedicated, tainted pool), G ∈ {1, 6, 12,
 *              24, 48}, gang.backend SchedulingGates: the control-plane path only (kwok marks a bound pod
 *              Running and Ready at once).
 *   peers      the same 960 workers on the same kwok nodes and control plane, one pod per worker, as the
 *              peers run them: an Indexed batch/v1 Job (parallelism = completions = 960, created by
 *              kube-controller-manager's job controller with its default client QPS), next to kubeburst
 *              G=1 and G=48 on every gang backend the cluster serves (SchedulingGates, PodGroup, Kueue: a
 *              ClusterQueue whose quota is the pool, the namespace managed by the test cluster's Kueue), and
 *              a JobSet (20 Indexed Jobs × 48 pods; its controller, sigs.k8s.io/jobset, run as a process).
 *   real node  48 and 96 workers × 10m CPU on the real node (test/cluster/node-up.sh), G ∈ {1, 4, 12, 48}:
 *              real containers of the worker image running the hello example over the direct transport.
 *
 * The operator runs as a child process. A watch records, per pod, when it appeared and when it was
 * Running. Reported per G (median of --reps runs):
 *   create → all Running     from the client's create request to the last pod Running
 *   create → all joined      ... to the last pack through the start barrier: kwok, pod Ready; real node,
 *                            the `joined` time each pack reports in its termination message
 *   start spread             last − first pod Running
 *   pods created / s         pods ÷ (last − first pod appearing), as the watch saw them
 * Targets: kwok, G=48 at least 10× faster than G=1 to all Running and at least 250 pods/s created at G=1;
 * peers, kubeburst G=48 at least 10× sooner all Running than the Indexed Job, G=1 no slower than it;
 * real node, G=48 at least 5× faster than G=1 to all joined (the paper measured 3.6× at p50 on real nodes).
 * Output: bench/results/flare.json and flare.md; with --only X, flare-X.json and flare-X.md. Numbers are measured, never asserted.
 *
 *   npm run bench:flare -- [--reps 3] [--only kwok|peers|node] [--sizes 1,6,12,24,48] [--node-sizes 1,4,12,48]
 *                          [--node-workers 48,96] [--workers 960] [--peer-sizes 1,48]
 *                          [--backends SchedulingGates,PodGroup,Kueue] [--no-jobset] [--state .cache/cluster-state]
 * @module
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { KubeClient, loadKubeConfig, paths, type Json } from '@kubeburst/operator/controller';
import { KUEUE } from '@kubeburst/api';
import { parseTerminationReport } from '@kubeburst/worker-runtime';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const NODES = 20;
const NODE_CPUS = 48;
const NS = `bench-flare-${Date.now().toString(36)}`;
/** The Kueue rows' own namespace: Kueue's pod webhooks see every pod created in it, and no other row's. */
const KUEUE_NS = `${NS}-kueue`;
/** The JobSet peer's namespace, likewise for JobSet's pod webhooks. */
const JOBSET_NS = `${NS}-jobset`;
const JOBSET_NAMESPACE_LABEL = 'kubeburst.io/jobset=enabled';
/** The JobSet peer's shape: 20 Indexed Jobs of 48 pods (a Job per node's worth), 960 workers. */
const JOBSET_JOBS = 20;
const POOL = 'bench-flare';

const { values: args } = parseArgs({
  options: {
    reps: { type: 'string', default: '3' },
    only: { type: 'string' },
    sizes: { type: 'string', default: '1,6,12,24,48' },
    'node-sizes': { type: 'string', default: '1,4,12,48' },
    'node-workers': { type: 'string', default: '48,96' },
    state: { type: 'string', default: process.env.KUBEBURST_CLUSTER_DIR ?? resolve(REPO, '.cache/cluster-state') },
    qps: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '32' },
    workers: { type: 'string', default: '960' },
    'peer-sizes': { type: 'string', default: '1,48' },
    backends: { type: 'string', default: 'SchedulingGates,PodGroup,Kueue' },
    'no-jobset': { type: 'boolean', default: false },
  },
});
/** kwok and peers: workers × 1 CPU (960 fill the 20 × 48 CPUs exactly). */
const WORKERS = Number(args.workers);
const peerGranularities = args['peer-sizes']!.split(',').map(Number);
const reps = Number(args.reps);
const granularities = args.sizes!.split(',').map(Number);
const nodeGranularities = args['node-sizes']!.split(',').map(Number);
const nodeWorkerCounts = args['node-workers']!.split(',').map(Number);

/** Where a flare runs and what its packs do. */
interface Setting {
  name: 'kwok' | 'peers' | 'node';
  workers: number;
  spec: Json;
  /** Per pod, when its pack passed the start barrier (ms, epoch), once the flare ended; undefined: pod Ready. */
  joinedFromReports: boolean;
}

/** What is started and measured: a BurstJob, or a peer's object that makes one pod per worker. */
interface Subject {
  /** Row label: "kubeburst G=48 PodGroup", "Indexed Job". */
  label: string;
  /** Object name prefix (made unique per rep). */
  name: string;
  g: number;
  create(kube: KubeClient, name: string): Promise<unknown>;
  /** Its namespace. */
  ns: string;
  /** Label selector of its pods. */
  selector(name: string): string;
  remove(kube: KubeClient, name: string): Promise<unknown>;
}

interface Run {
  setting: string;
  subject: string;
  workers: number;
  g: number;
  pods: number;
  allRunningS: number;
  allJoinedS: number;
  spreadS: number;
  creationS: number;
  podsPerSecond: number;
  firstRunningS: number;
  p50RunningS: number;
  p95RunningS: number;
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const quantile = (xs: number[], q: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const round = (x: number, d = 3): number => Math.round(x * 10 ** d) / 10 ** d;

function sh(cmd: string, a: string[], input?: string): string {
  const r = spawnSync(cmd, a, { cwd: REPO, input, encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`${cmd} ${a.join(' ')} exited ${r.status}`);
  return r.stdout;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false>, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined && v !== false) return v as T;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** The LocalQueue the Kueue rows submit to. */
const KUEUE_QUEUE = 'bench';

/**
 * Kueue for the peers: their namespace labelled so the cluster's Kueue manages it, a ResourceFlavor and a
 * ClusterQueue whose quota is exactly the kwok pool (how an admin sizes one), and a LocalQueue.
 */
async function kueueQueue(kube: KubeClient, namespaceLabel: string): Promise<void> {
  const [key, value] = namespaceLabel.split('=') as [string, string];
  await kube.patch(`/api/v1/namespaces/${KUEUE_NS}`, { metadata: { labels: { [key]: value } } });
  const v = 'kueue.x-k8s.io/v1beta2';
  const ignoreExists = (err: unknown): void => {
    if ((err as { status?: number }).status !== 409) throw err;
  };
  await kube.create(`/apis/${v}/resourceflavors`, { apiVersion: v, kind: 'ResourceFlavor', metadata: { name: 'kubeburst-bench' } }).catch(ignoreExists);
  await kube.create(`/apis/${v}/clusterqueues`, {
    apiVersion: v,
    kind: 'ClusterQueue',
    metadata: { name: NS },
    spec: {
      namespaceSelector: {},
      resourceGroups: [
        {
          coveredResources: ['cpu', 'memory'],
          flavors: [
            {
              name: 'kubeburst-bench',
              resources: [
                { name: 'cpu', nominalQuota: String(NODES * NODE_CPUS) },
                { name: 'memory', nominalQuota: `${NODES * 192}Gi` },
              ],
            },
          ],
        },
      ],
    },
  });
  await kube.create(`/apis/${v}/namespaces/${KUEUE_NS}/localqueues`, {
    apiVersion: v,
    kind: 'LocalQueue',
    metadata: { name: KUEUE_QUEUE, namespace: KUEUE_NS },
    spec: { clusterQueue: NS },
  });
}

function readEnvValue(env: string, key: string): string {
  const m = new RegExp(`^${key}=(.*)$`, 'm').exec(env);
  if (!m) throw new Error(`${key} missing from the cluster's env file (an up.sh from before Kueue? restart the cluster)`);
  return m[1]!;
}

async function setup(kube: KubeClient, kubectl: string, kubeconfig: string, kwokNodes: boolean): Promise<void> {
  sh(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', '-f', resolve(REPO, 'crds/kubeburst.io_burstjobs.yaml')]);
  sh(kubectl, ['--kubeconfig', kubeconfig, 'wait', '--for', 'condition=Established', 'crd/burstjobs.kubeburst.io']);
  for (const ns of [NS, KUEUE_NS, JOBSET_NS]) {
    await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: ns } }).catch(() => undefined);
    await waitFor(`default ServiceAccount in ${ns}`, () => kube.get(`/api/v1/namespaces/${ns}/serviceaccounts/default`).then(() => true));
  }
  if (!kwokNodes) return;
  for (let i = 0; i < NODES; i++) {
    const name = `${POOL}-${i}`;
    await kube
      .create('/api/v1/nodes', {
        apiVersion: 'v1',
        kind: 'Node',
        metadata: {
          name,
          annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
          labels: { type: 'kwok', pool: POOL, 'kubernetes.io/hostname': name },
        },
        spec: { taints: [{ key: 'pool', value: POOL, effect: 'NoSchedule' }] },
        status: { allocatable: { cpu: String(NODE_CPUS), memory: '192Gi', pods: '110' }, capacity: { cpu: String(NODE_CPUS), memory: '192Gi', pods: '110' } },
      })
      .catch(() => undefined);
  }
  await waitFor(
    `${NODES} nodes schedulable`,
    async () => {
      const nodes = (await kube.get<{ items: Json[] }>('/api/v1/nodes?labelSelector=pool%3D' + POOL)).items;
      return (
        nodes.length === NODES &&
        nodes.every(
          (n) =>
            (n.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True') &&
            !(n.spec?.taints ?? []).some((t: Json) => t.key.startsWith('node.kubernetes.io/')),
        )
      );
    },
    120_000,
  );
}

/** The operator under test; stopped with the benchmark, also when it is interrupted (Ctrl-C, SIGTERM). */
function startOperator(kubeconfig: string, log: string): ChildProcess {
  const out = openSync(log, 'w');
  const op = spawn(
    process.execPath,
    [
      resolve(REPO, 'operator/dist/controller/main.js'),
      `--kubeconfig=${kubeconfig}`,
      `--namespaces=${NS},${KUEUE_NS}`,
      '--leader-elect=false',
      '--metrics-bind-address=127.0.0.1:0',
      `--kube-api-qps=${args.qps}`,
      `--kube-api-burst=${Number(args.qps) * 2}`,
      `--pod-create-concurrency=${args.concurrency}`,
      '--log-level=info',
    ],
    { stdio: ['ignore', out, out] },
  );
  process.once('exit', () => op.kill('SIGTERM'));
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  return op;
}

/** kubeburst at granularity g, with the gang backend given (undefined: spec default). */
function kubeburstSubject(setting: Setting, g: number, backend?: string): Subject {
  return {
    label: `kubeburst G=${g}${backend ? ` ${backend}` : ''}`,
    name: `${setting.name}-w${setting.workers}-g${g}${backend ? `-${({ PodGroup: 'pg', Kueue: 'kq' } as Record<string, string>)[backend] ?? 'sg'}` : ''}`,
    g,
    ns: backend === 'Kueue' ? KUEUE_NS : NS,
    create: (kube, name) =>
      kube.create(paths.burstjobs(backend === 'Kueue' ? KUEUE_NS : NS), {
        apiVersion: 'kubeburst.io/v1alpha1',
        kind: 'BurstJob',
        metadata: { name, ...(backend === 'Kueue' ? { labels: { [KUEUE.queueLabel]: KUEUE_QUEUE } } : {}) },
        spec: { size: setting.workers, granularity: g, ...setting.spec, ...(backend ? { gang: { backend } } : {}) },
      }),
    selector: (name) => `kubeburst.io/job-name=${name}`,
    remove: (kube, name) => kube.delete(paths.burstjob(backend === 'Kueue' ? KUEUE_NS : NS, name)),
  };
}

/**
 * The JobSet controller (sigs.k8s.io/jobset, built by test/cluster/build.sh) as a host process for the
 * peers, like the test cluster's Kueue: its CRD, its webhooks pointed at 127.0.0.1 with the test CA's
 * serving certificate (the one up.sh signed for Kueue: SAN 127.0.0.1), its pod webhooks limited to the
 * JobSet row's namespace. Returns what stops it and removes what it installed.
 */
async function startJobSet(kube: KubeClient, kubectl: string, kubeconfig: string, state: string, env: string): Promise<() => Promise<void>> {
  sh(resolve(REPO, 'test/cluster/build.sh'), ['jobset']);
  const version = /^JOBSET_VERSION=(.*)$/m.exec(readFileSync(resolve(REPO, 'test/cluster/versions.env'), 'utf8'))![1]!;
  const dir = resolve(process.env.KUBEBURST_CACHE_DIR ?? resolve(REPO, '.cache'), 'cluster', `jobset-${version}`);
  const port = Number(readEnvValue(env, 'KUBEBURST_KUEUE_WEBHOOK_PORT')) + 1;
  const health = port + 1;
  sh(kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', '-f', resolve(dir, 'config/crd')]);
  // (kubectl wait errs out on a CRD whose status has no conditions yet.)
  await waitFor(
    'the JobSet CRD established',
    async () =>
      ((await kube.get<Json>('/apis/apiextensions.k8s.io/v1/customresourcedefinitions/jobsets.jobset.x-k8s.io')).status?.conditions ?? []).some(
        (c: Json) => c.type === 'Established' && c.status === 'True',
      ),
    60_000,
  );
  const [key, value] = JOBSET_NAMESPACE_LABEL.split('=') as [string, string];
  await kube.patch(`/api/v1/namespaces/${JOBSET_NS}`, { metadata: { labels: { [key]: value } } });
  const hooks = sh(process.execPath, [
    resolve(REPO, 'test/cluster/webhooks.mjs'),
    resolve(dir, 'config/webhooks.yaml'),
    String(port),
    resolve(state, 'pki/ca.crt'),
    JOBSET_NAMESPACE_LABEL,
    'jobset',
    'jobset.x-k8s.io',
  ]);
  sh(kubectl, ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], hooks);
  const config = resolve(state, 'jobset.yaml');
  writeFileSync(
    config,
    [
      'apiVersion: config.jobset.x-k8s.io/v1alpha1',
      'kind: Configuration',
      `webhook: {host: 127.0.0.1, port: ${port}, certDir: ${resolve(state, 'pki/kueue')}}`,
      `health: {healthProbeBindAddress: "127.0.0.1:${health}"}`,
      'metrics: {bindAddress: "0"}',
      'leaderElection: {leaderElect: false}',
      'internalCertManagement: {enable: false}',
      // Its own default: JobSet's manager is not the rate limit here (the job controller is).
      'clientConnection: {qps: 500, burst: 500}',
      '',
    ].join('\n'),
  );
  const out = openSync(resolve(state, 'logs/jobset.log'), 'w');
  const proc = spawn(resolve(dir, 'bin/jobset'), [`--config=${config}`, `--kubeconfig=${kubeconfig}`], { stdio: ['ignore', out, out] });
  process.once('exit', () => proc.kill('SIGTERM'));
  await waitFor(
    'JobSet controller ready',
    async () => {
      if (proc.exitCode !== null) throw new Error(`the JobSet controller exited ${proc.exitCode}; see ${resolve(state, 'logs/jobset.log')}`);
      return fetch(`http://127.0.0.1:${health}/readyz`).then((r) => r.ok);
    },
    60_000,
  );
  return async () => {
    proc.kill('SIGTERM');
    for (const kind of ['mutatingwebhookconfigurations', 'validatingwebhookconfigurations']) {
      const what = kind.startsWith('mutating') ? 'mutating' : 'validating';
      await kube.delete(`/apis/admissionregistration.k8s.io/v1/${kind}/jobset-${what}`).catch(() => undefined);
    }
  };
}

/** The JobSet peer: the same 960 workers as JOBSET_JOBS Indexed Jobs of one replicatedJob, one pod per worker. */
function jobSetSubject(setting: Setting): Subject {
  const perJob = setting.workers / JOBSET_JOBS;
  return {
    label: `JobSet (${JOBSET_JOBS} Jobs × ${perJob})`,
    name: `${setting.name}-w${setting.workers}-jobset`,
    g: 1,
    ns: JOBSET_NS,
    create: (kube, name) =>
      kube.create(`/apis/jobset.x-k8s.io/v1alpha2/namespaces/${JOBSET_NS}/jobsets`, {
        apiVersion: 'jobset.x-k8s.io/v1alpha2',
        kind: 'JobSet',
        metadata: { name },
        spec: {
          replicatedJobs: [
            {
              name: 'w',
              replicas: JOBSET_JOBS,
              template: {
                spec: indexedJobSpec(setting, perJob),
              },
            },
          ],
        },
      }),
    selector: (name) => `jobset.sigs.k8s.io/jobset-name=${name}`,
    remove: (kube, name) =>
      kube.delete(`/apis/jobset.x-k8s.io/v1alpha2/namespaces/${JOBSET_NS}/jobsets/${name}`, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' }),
  };
}

/** An Indexed Job's spec of `pods` pods at once (parallelism = completions), one worker each, on the pool. */
function indexedJobSpec(setting: Setting, pods: number): Json {
  const t = setting.spec.template as Json;
  return {
    completionMode: 'Indexed',
    completions: pods,
    parallelism: pods,
    backoffLimit: 0,
    template: {
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        enableServiceLinks: false,
        nodeSelector: t.nodeSelector,
        tolerations: t.tolerations,
        containers: [{ name: 'worker', image: 'kubeburst/worker:bench', resources: { requests: { cpu: '1', memory: '1Gi' }, limits: { memory: '1Gi' } } }],
      },
    },
  };
}

/**
 * The peer: an Indexed Job of one pod per worker, all at once (parallelism = completions), on the same pool
 * with the same requests. Its pods stay Running on kwok (no completion annotation), like a flare's.
 */
function indexedJobSubject(setting: Setting): Subject {
  return {
    label: 'Indexed Job (batch/v1)',
    name: `${setting.name}-w${setting.workers}-indexed`,
    g: 1,
    ns: NS,
    create: (kube, name) =>
      kube.create(`/apis/batch/v1/namespaces/${NS}/jobs`, {
        apiVersion: 'batch/v1',
        kind: 'Job',
        metadata: { name },
        spec: indexedJobSpec(setting, setting.workers),
      }),
    selector: (name) => `batch.kubernetes.io/job-name=${name}`,
    remove: (kube, name) => kube.delete(`/apis/batch/v1/namespaces/${NS}/jobs/${name}`, { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' }),
  };
}

async function runOnce(kube: KubeClient, setting: Setting, subject: Subject, rep: number): Promise<Run> {
  const g = subject.g;
  const name = `${subject.name}-r${rep}`;
  const selector = subject.selector(name);
  const ns = subject.ns;
  const appeared = new Map<string, number>();
  const running = new Map<string, number>();
  const ready = new Map<string, number>();
  const abort = new AbortController();
  const packs = Math.ceil(setting.workers / g);
  const see = (type: string, pod: Json, now: number): void => {
    const n = pod.metadata.name as string;
    if (!appeared.has(n)) appeared.set(n, now);
    if (type === 'DELETED') return;
    if (pod.status?.phase === 'Running' && !running.has(n)) running.set(n, now);
    if ((pod.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True') && !ready.has(n)) ready.set(n, now);
  };
  const list = async (): Promise<string> => {
    const l = await kube.get<{ items: Json[]; metadata: { resourceVersion: string } }>(`${paths.pods(ns)}?labelSelector=${encodeURIComponent(selector)}`);
    // After a re-list, what changed while no watch ran is stamped with the time it is seen: late, never lost.
    const now = performance.now();
    for (const pod of l.items) see('ADDED', pod, now);
    return l.metadata.resourceVersion;
  };
  let rv = await list();
  let watchError: number | undefined;
  const onEvent = (type: string, pod: Json): void => {
    if (type === 'ERROR') {
      // A Status: 410 Gone means the resourceVersion is too old to resume from.
      watchError = (pod?.code as number | undefined) ?? 500;
      return;
    }
    rv = pod.metadata?.resourceVersion ?? rv;
    if (type !== 'BOOKMARK') see(type, pod, performance.now());
  };
  // The API server may end a watch (timeout, a slow consumer on a loaded machine): resume from the last
  // event after a short pause (longer after failures); re-list when the server says the version is gone.
  const watching = (async () => {
    let failures = 0;
    let expired = false;
    while (!abort.signal.aborted) {
      let failed = false;
      watchError = undefined;
      if (expired) {
        try {
          rv = await list();
          expired = false;
        } catch {
          failed = true;
        }
      }
      if (!expired) {
        try {
          await kube.watch(paths.pods(ns), { labelSelector: selector, resourceVersion: rv, allowWatchBookmarks: 'true' }, onEvent, abort.signal);
        } catch (err) {
          watchError = (err as { status?: number }).status ?? 500;
        }
        if (watchError === 410) expired = true;
        else if (watchError !== undefined) failed = true;
      }
      if (abort.signal.aborted) break;
      failures = failed ? failures + 1 : 0;
      await new Promise((r) => setTimeout(r, Math.min(5000, 50 * 2 ** Math.min(failures, 7)) * (0.5 + Math.random() / 2)));
    }
  })();
  const t0 = performance.now();
  const t0Epoch = Date.now();
  await subject.create(kube, name);
  let joinedS: number;
  if (setting.joinedFromReports) {
    // Real packs: the flare ends by itself; each pack's report says when it passed the start barrier.
    const job = await waitFor(
      `${name} finished`,
      async () => {
        const j = await kube.get<Json>(paths.burstjob(ns, name));
        return ['Succeeded', 'Failed'].includes(j.status?.phase) ? j : undefined;
      },
      900_000,
    );
    if (job.status.phase !== 'Succeeded') throw new Error(`${name} failed: ${JSON.stringify(job.status.lastFailure ?? job.status.conditions)}`);
    const pods = (await kube.get<{ items: Json[] }>(`${paths.pods(ns)}?labelSelector=${encodeURIComponent(selector)}`)).items;
    const joined = pods.map((p) => {
      const report = parseTerminationReport(p.status?.containerStatuses?.[0]?.state?.terminated?.message);
      if (report === undefined) throw new Error(`pod ${p.metadata.name} of the succeeded ${name} has no pack report in its termination message`);
      return report.joined;
    });
    joinedS = (Math.max(...joined) - t0Epoch) / 1000;
  } else {
    await waitFor(`${packs} pods ready (G=${g})`, async () => ready.size >= packs, 600_000);
    joinedS = (Math.max(...ready.values()) - t0) / 1000;
  }
  abort.abort();
  await watching;
  const app = [...appeared.values()];
  const run = [...running.values()].map((t) => (t - t0) / 1000);
  const creationS = (Math.max(...app) - Math.min(...app)) / 1000;
  const result: Run = {
    setting: setting.name,
    subject: subject.label,
    workers: setting.workers,
    g,
    pods: packs,
    allRunningS: round(Math.max(...run)),
    allJoinedS: round(joinedS),
    spreadS: round(Math.max(...run) - Math.min(...run)),
    creationS: round(creationS),
    podsPerSecond: packs > 1 ? round((packs - 1) / Math.max(creationS, 1e-3), 1) : NaN,
    firstRunningS: round(Math.min(...run)),
    p50RunningS: round(quantile(run, 0.5)),
    p95RunningS: round(quantile(run, 0.95)),
  };
  await subject.remove(kube, name);
  await waitFor(
    `pods of ${name} gone`,
    async () => (await kube.get<{ items: Json[] }>(`${paths.pods(ns)}?labelSelector=${encodeURIComponent(selector)}`)).items.length === 0,
    300_000,
  );
  return result;
}

type Summary = Omit<Run, 'firstRunningS'>;

function summarize(runs: Run[]): Summary[] {
  const keyOf = (r: Run): string => `${r.setting}/${r.workers}/${r.subject}`;
  const keys = [...new Set(runs.map(keyOf))];
  return keys.map((k) => {
    const rs = runs.filter((r) => keyOf(r) === k);
    const m = (f: keyof Run): number => round(median(rs.map((r) => r[f] as number)), f === 'podsPerSecond' ? 1 : 3);
    const first = rs[0]!;
    return {
      setting: first.setting,
      subject: first.subject,
      workers: first.workers,
      g: first.g,
      pods: first.pods,
      allRunningS: m('allRunningS'),
      allJoinedS: m('allJoinedS'),
      spreadS: m('spreadS'),
      p50RunningS: m('p50RunningS'),
      p95RunningS: m('p95RunningS'),
      creationS: m('creationS'),
      podsPerSecond: m('podsPerSecond'),
    };
  });
}

function peerTable(rows: Summary[]): string[] {
  return [
    '| what | pods | create → all Running (s) | start spread (s) | p50 / p95 pod Running (s) | pods created / s |',
    '|---|---:|---:|---:|---:|---:|',
    ...rows.map(
      (s) => `| ${s.subject} | ${s.pods} | ${s.allRunningS} | ${s.spreadS} | ${s.p50RunningS} / ${s.p95RunningS} | ${Number.isNaN(s.podsPerSecond) ? '–' : s.podsPerSecond} |`,
    ),
  ];
}

function table(rows: Summary[]): string[] {
  return [
    '| workers | G | pods | create → all Running (s) | create → all joined (s) | start spread (s) | p50 / p95 pod Running (s) | pods created / s |',
    '|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (s) =>
        `| ${s.workers} | ${s.g} | ${s.pods} | ${s.allRunningS} | ${s.allJoinedS} | ${s.spreadS} | ${s.p50RunningS} / ${s.p95RunningS} | ${Number.isNaN(s.podsPerSecond) ? '–' : s.podsPerSecond} |`,
    ),
  ];
}

function nodeEnv(state: string): Record<string, string> {
  const up = spawnSync(resolve(REPO, 'test/cluster/node-up.sh'), [state], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  if (up.status !== 0) throw new Error(`test/cluster/node-up.sh exited ${up.status} (the real node needs root)`);
  return Object.fromEntries(
    readFileSync(resolve(state, 'node/env'), 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** The real node's kubelet version (test/cluster/versions.env; it may be older than the control plane). */
function kubeletVersion(): string | undefined {
  return /^KUBELET_VERSION=(.*)$/m.exec(readFileSync(resolve(REPO, 'test/cluster/versions.env'), 'utf8'))?.[1];
}

async function main(): Promise<void> {
  const state = resolve(args.state!);
  sh(resolve(REPO, 'test/cluster/up.sh'), [state]);
  const env = readFileSync(resolve(state, 'env'), 'utf8');
  const kubectl = resolve(/^KUBEBURST_KUBE_BIN_DIR=(.*)$/m.exec(env)![1]!, 'kubectl');
  const kubeconfig = resolve(state, 'kubeconfig');
  const kube = await KubeClient.create(loadKubeConfig(kubeconfig), { qps: 5000, burst: 5000, maxSockets: 16, userAgent: 'kubeburst-bench' });
  if (args.only !== undefined && !['kwok', 'peers', 'node'].includes(args.only)) throw new Error(`--only: one of kwok, peers, node (got '${args.only}')`);
  const runKwok = args.only === undefined || args.only === 'kwok';
  const runPeers = args.only === undefined || args.only === 'peers';
  const runNode = args.only === undefined || args.only === 'node';
  const settings: Array<{ setting: Setting; subjects: Subject[] }> = [];
  const kwokSpec = {
    function: { module: '/opt/kubeburst/app/worker.js' },
    resources: { cpu: '1', memory: '1Gi' },
    timeouts: { scheduleSeconds: 600 },
    template: { nodeSelector: { pool: POOL }, tolerations: [{ key: 'pool', operator: 'Equal', value: POOL, effect: 'NoSchedule' }] },
  };
  if (runKwok) {
    // The granularity sweep keeps to one backend (gates), so its rows compare with earlier runs.
    const setting: Setting = { name: 'kwok', workers: WORKERS, spec: kwokSpec, joinedFromReports: false };
    settings.push({ setting, subjects: granularities.map((g) => kubeburstSubject(setting, g, 'SchedulingGates')) });
  }
  const served = await kube.get<Json>('/apis/scheduling.k8s.io/v1beta1').then(
    (l) => (l.resources ?? []).some((r: Json) => r.name === 'podgroups'),
    () => false,
  );
  const kueueServed = await kube.get<Json>('/apis/kueue.x-k8s.io/v1beta2').then(
    (l) => (l.resources ?? []).some((r: Json) => r.name === 'workloads'),
    () => false,
  );
  const backends = args.backends!.split(',').filter((b) => (b !== 'PodGroup' || served) && (b !== 'Kueue' || kueueServed));
  if (runPeers) {
    const setting: Setting = { name: 'peers', workers: WORKERS, spec: kwokSpec, joinedFromReports: false };
    const subjects = [indexedJobSubject(setting), ...(args['no-jobset'] ? [] : [jobSetSubject(setting)])];
    for (const g of peerGranularities) for (const b of backends) subjects.push(kubeburstSubject(setting, g, b));
    settings.push({ setting, subjects });
  }
  let node: Record<string, string> | undefined;
  if (runNode) {
    node = nodeEnv(state);
    const [key, value] = node.KUBEBURST_NODE_LABEL!.split('=') as [string, string];
    for (const workers of nodeWorkerCounts) {
      const spec = {
        function: { module: '/opt/kubeburst/examples/dist/hello/worker.js', image: node.KUBEBURST_NODE_WORKER_IMAGE, imagePullPolicy: 'Never' },
        params: { value: { greeting: 'hello' } },
        transport: { kind: 'direct' },
        // 96 workers × 10m fit the 2-core node next to nothing else; memory per worker covers a 1-thread pack.
        resources: { cpu: '10m', memory: '128Mi' },
        timeouts: { scheduleSeconds: 600, joinSeconds: 600, operationSeconds: 300 },
        template: { nodeSelector: { [key]: value }, tolerations: [{ key, operator: 'Equal', value, effect: 'NoSchedule' }] },
      };
      const setting: Setting = { name: 'node', workers, spec, joinedFromReports: true };
      settings.push({ setting, subjects: nodeGranularities.map((g) => kubeburstSubject(setting, g)) });
    }
  }
  const runs: Run[] = [];
  let loadBefore = 0;
  let op: ChildProcess | undefined;
  let stopJobSet: (() => Promise<void>) | undefined;
  // Everything set up from here is undone in `finally`, also when a step of the set-up fails.
  try {
    await setup(kube, kubectl, kubeconfig, runKwok || runPeers);
    if (runPeers && backends.includes('Kueue')) await kueueQueue(kube, readEnvValue(env, 'KUBEBURST_KUEUE_NAMESPACE_LABEL'));
    if (runPeers && !args['no-jobset']) stopJobSet = await startJobSet(kube, kubectl, kubeconfig, state, env);
    mkdirSync(resolve(REPO, 'bench/results'), { recursive: true });
    const log = resolve(REPO, 'bench/results/flare-operator.log.tmp');
    op = startOperator(kubeconfig, log);
    await waitFor('operator reconciling', async () => readFileSync(log, 'utf8').includes('"msg":"reconciling"'), 60_000);
    loadBefore = loadavg()[0]!;
    for (const { setting, subjects } of settings) {
      for (let rep = 0; rep < reps; rep++) {
        for (const subject of subjects) {
          const r = await runOnce(kube, setting, subject, rep);
          runs.push(r);
          process.stderr.write(
            `${setting.name} ${setting.workers} workers ${subject.label} rep ${rep}: ${r.pods} pods, all Running ${r.allRunningS} s, joined ${r.allJoinedS} s, spread ${r.spreadS} s, ${r.podsPerSecond} pods/s\n`,
          );
        }
      }
    }
  } finally {
    op?.kill('SIGTERM');
    await stopJobSet?.();
    for (const ns of [NS, KUEUE_NS, JOBSET_NS]) await kube.delete(`/api/v1/namespaces/${ns}`).catch(() => undefined);
    await kube.delete(`/apis/kueue.x-k8s.io/v1beta2/clusterqueues/${NS}`).catch(() => undefined);
    await Promise.all(Array.from({ length: NODES }, (_, i) => kube.delete(`/api/v1/nodes/${POOL}-${i}`).catch(() => undefined)));
    kube.close();
  }

  const summary = summarize(runs);
  const at = (setting: string, workers: number, g: number) => summary.find((x) => x.setting === setting && x.workers === workers && x.g === g);
  const peer = (subject: string) => summary.find((x) => x.setting === 'peers' && x.subject === subject);
  const targets: Record<string, { target: string; measured: number | undefined; unit: string; met: boolean }> = {};
  if (runKwok) {
    const speedup = at('kwok', WORKERS, 1) && at('kwok', WORKERS, 48) ? round(at('kwok', WORKERS, 1)!.allRunningS / at('kwok', WORKERS, 48)!.allRunningS, 1) : undefined;
    targets.kwokSpeedupG48vsG1 = {
      target: 'G=48 ≥ 10× sooner all Running than G=1 (kwok, 960 workers)',
      measured: speedup,
      unit: '×',
      met: speedup !== undefined && speedup >= 10,
    };
    const pps = at('kwok', WORKERS, 1)?.podsPerSecond;
    targets.kwokPodsPerSecondG1 = { target: '≥ 250 pods/s created at G=1 (kwok)', measured: pps, unit: ' pods/s', met: (pps ?? 0) >= 250 };
  }
  if (runPeers) {
    const job = peer('Indexed Job (batch/v1)');
    for (const b of backends) {
      const g48 = peer(`kubeburst G=48 ${b}`);
      const g1 = peer(`kubeburst G=1 ${b}`);
      const speedup = job && g48 ? round(job.allRunningS / g48.allRunningS, 1) : undefined;
      targets[`peersG48vsIndexedJob_${b}`] = {
        target: `kubeburst G=48 (${b}) ≥ 10× sooner all Running than the Indexed Job (${WORKERS} workers)`,
        measured: speedup,
        unit: '×',
        met: speedup !== undefined && speedup >= 10,
      };
      const ratio = job && g1 ? round(job.allRunningS / g1.allRunningS, 2) : undefined;
      targets[`peersG1vsIndexedJob_${b}`] = {
        target: `kubeburst G=1 (${b}) no slower than the Indexed Job to all Running (Indexed Job ÷ kubeburst ≥ 1)`,
        measured: ratio,
        unit: '×',
        met: ratio !== undefined && ratio >= 1,
      };
    }
  }
  if (runNode) {
    for (const w of nodeWorkerCounts) {
      const a = at('node', w, 1);
      const b = at('node', w, 48);
      const speedup = a && b ? round(a.allJoinedS / b.allJoinedS, 1) : undefined;
      targets[`nodeJoinedSpeedupG48vsG1_${w}`] = {
        target: `G=48 ≥ 5× sooner all joined than G=1 (real containers, ${w} workers)`,
        measured: speedup,
        unit: '×',
        met: speedup !== undefined && speedup >= 5,
      };
      const running = a && b ? round(a.allRunningS / b.allRunningS, 1) : undefined;
      targets[`nodeRunningSpeedupG48vsG1_${w}`] = {
        target: `G=48 ≥ 5× sooner all Running than G=1 (real containers, ${w} workers)`,
        measured: running,
        unit: '×',
        met: running !== undefined && running >= 5,
      };
      const p50 = a && b ? round(a.p50RunningS / b.p50RunningS, 1) : undefined;
      targets[`nodeP50RunningG48vsG1_${w}`] = { target: `G=48 vs G=1, p50 pod Running (real containers, ${w} workers; the paper: 3.6×)`, measured: p50, unit: '×', met: true };
    }
  }
  const k8s = /^KUBEBURST_KUBE_VERSION=(.*)$/m.exec(env)?.[1];
  // Load average (1 min) around the runs: other work on the machine shares the cores with the cluster.
  const load = { before: round(loadBefore, 1), after: round(loadavg()[0]!, 1) };
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model, memoryGiB: round(totalmem() / 2 ** 30, 1), node: process.version, kubernetes: k8s, loadAverage1m: load };
  const doc = {
    benchmark: 'flare startup',
    date: new Date().toISOString(),
    machine,
    settings: {
      kwok: { workers: WORKERS, nodes: `${NODES} kwok nodes × ${NODE_CPUS} CPU`, sizes: granularities, backend: 'SchedulingGates' },
      peers: {
        workers: WORKERS,
        nodes: `the same ${NODES} kwok nodes`,
        peers: ['Indexed Job (batch/v1)'],
        jobset: 'not run: sigs.k8s.io/jobset is not served by the Go module proxy',
        sizes: peerGranularities,
        backends,
      },
      node: {
        workers: nodeWorkerCounts,
        node: node ? `real node ${node.KUBEBURST_NODE_NAME} (kubelet ${kubeletVersion() ?? k8s}, containerd, runc)` : undefined,
        image: node?.KUBEBURST_NODE_WORKER_IMAGE,
        sizes: nodeGranularities,
      },
    },
    reps,
    operator: { qps: Number(args.qps), podCreateConcurrency: Number(args.concurrency) },
    summary,
    targets,
    runs,
  };
  // A partial run (--only) writes files of its own, so it never drops another setting's tables.
  const base = resolve(REPO, 'bench/results', args.only === undefined ? 'flare' : `flare-${args.only}`);
  writeFileSync(`${base}.json`, JSON.stringify(doc, null, 2) + '\n');

  const md = [
    '# Flare startup on the local cluster (`npm run bench:flare`)',
    '',
    `Real kube-apiserver, etcd, kube-scheduler, kube-controller-manager (${k8s}); the operator as a process with qps ${args.qps} and ${args.concurrency} concurrent pod creations. Median of ${reps} run(s); ${doc.date}; ${machine.cpus} CPU(s) (${machine.cpuModel}), ${machine.memoryGiB} GiB, Node ${machine.node}. Every component, the containers and the benchmark share the same cores; 1-minute load average ${load.before} before and ${load.after} after the runs.`,
    '',
    ...(runKwok
      ? [
          `## kwok: ${WORKERS} workers × 1 CPU on ${NODES} nodes of ${NODE_CPUS} CPUs (gang.backend SchedulingGates)`,
          '',
          ...table(summary.filter((x) => x.setting === 'kwok')),
          '',
          'Pods are "Running" when kwok reports them so (no containers run), so this measures the control-plane path: operator → API server → scheduler → node agent. "Joined" is pod readiness, which kwok sets together with Running.',
          '',
        ]
      : []),
    ...(runPeers
      ? [
          `## Peers: ${WORKERS} workers × 1 CPU, one run, the same control plane and kwok nodes`,
          '',
          ...peerTable(summary.filter((x) => x.setting === 'peers')),
          '',
          "The Indexed Job is one pod per worker (parallelism = completions), created by kube-controller-manager's job controller with its default client rate limit (20 QPS, burst 30) and batching; kubeburst's operator runs with the qps above. Every pod goes through the same kube-scheduler (default client rate limit 50 QPS, burst 100, for bindings). PodGroup rows: the scheduler places the whole gang in one cycle, then binds it. Kueue rows: Kueue (v0.17, a host process) admits the pod group against a ClusterQueue whose quota is the pool, then lifts its gate from every pod; its webhook sees every pod created. The JobSet (v0.10.1, a host process with its webhooks) is one replicatedJob of 20 Indexed Jobs × 48 pods; its controller creates the Jobs, and the same job controller their pods.",
          '',
        ]
      : []),
    ...(runNode
      ? [
          `## Real containers: the hello example on one real node (2 cores), workers × 10m CPU, direct transport`,
          '',
          ...table(summary.filter((x) => x.setting === 'node')),
          '',
          'Pods are "Running" when the kubelet reports their container started (its status granularity is about 1 s). "Joined" is when the last pack passed the start barrier, from the `joined` time in each pack\'s termination report: every pack has its container running and its worker threads loaded, and has heard GO from pack 0 over its link (by headless-Service DNS name).',
          '',
        ]
      : []),
    '| target | measured | met |',
    '|---|---:|:-:|',
    ...Object.values(targets).map(
      (t) => `| ${t.target} | ${t.measured === undefined ? '–' : `${t.measured}${t.unit}`} | ${t.target.includes('paper') ? '–' : t.met ? 'yes' : 'no'} |`,
    ),
    '',
    'Pods created per second is the rate at which pods appeared in a watch, first to last.',
    '',
  ].join('\n');
  writeFileSync(`${base}.md`, md);
  process.stdout.write(md);
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:flare failed: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
