import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse } from 'yaml';
import { PACK_POD, terminationReport, TERMINATION_MESSAGE_MAX_BYTES, type PackReport } from '../../worker-runtime/src/index.js';
import { generateRows } from '../../examples/hpo/data.js';
import { hpoReference } from '../../examples/hpo/reference.js';
import type { HpoParams } from '../../examples/hpo/worker.js';
import { pagerankReference } from '../../examples/pagerank/reference.js';
import { checkRanks } from '../../examples/pagerank/verify.js';
import type { PageRankParams, PageRankResult } from '../../examples/pagerank/worker.js';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { ANNOTATIONS, COMPONENTS, LABELS } from '../../api/src/constants.js';
import { paths, type Json } from '../../operator/src/controller/kube.js';
import { decodeLayout } from '../../operator/src/planner/layout.js';
import { attemptSecretName } from '../../operator/src/planner/pods.js';
import { findLeaks, secretForms, type Output, type SecretForm } from './secrets.js';

/**
 * The end-to-end scenarios, written once and run by two drivers:
 *   - test/e2e/node.test.ts (`make test`): the local control plane with a real node (test/cluster/node-up.sh:
 *     kubelet, containerd, CNI bridge, CoreDNS), images built from the Dockerfiles with buildah;
 *   - test/e2e/kind/flare.kind.ts (`make e2e-kind`): a kind cluster, images built with docker.
 *
 * Everything runs the way a user runs it: the operator is `helm install`ed from the chart as its
 * Deployment (its image, its ServiceAccount, the chart's RBAC only), BurstJobs go in with `kubectl apply`,
 * packs are real containers of the worker image, and every namespace enforces Pod Security Standards
 * "restricted". Results are checked against the apps' sequential references, which neither the worker
 * image nor the driver feeds.
 */
export interface E2EDriver {
  readonly name: string;
  /** Admin client. */
  readonly kube: KubeClient;
  /** Runs kubectl against the cluster (admin); throws with its output when it fails. */
  kubectl(args: string[], input?: string): string;
  /** Runs helm against the cluster. */
  helm(args: string[]): string;
  /** Images built from operator/Dockerfile and worker-runtime/Dockerfile, present on the nodes. */
  readonly images: { operator: string; worker: string; pullPolicy: 'Never' | 'IfNotPresent' };
  /** Pod placement onto the driver's node(s): the chart's values and the BurstJobs' template. */
  readonly placement: { nodeSelector?: Record<string, string>; tolerations?: Json[] };
  /**
   * Broker URLs as pods see them. With `natsAccount`, the NATS server runs in operator (JWT) mode and trusts
   * users signed by that key (an account's signing key, and the account's public key): the chart gets it as
   * brokers.natsAccount, and every NATS flare runs as a user of its own. Without it (the kind driver, whose
   * NATS is a plain `nats` image), NATS flares use the URL as it is.
   */
  readonly brokers: { redis: string; nats: string; natsAccount?: { seed: string; account: string } };
  /** Keys of that Redis matching a glob pattern. */
  redisKeys(pattern: string): Promise<string[]>;
  /** That Redis' ACL users. */
  redisUsers(): Promise<string[]>;
  /** Runs a command on that Redis as its default user (the scenarios' own ACL users). */
  redis(args: string[]): Promise<unknown>;
  /** Flags that point `kubeburst status | results | logs` at the cluster (--kubeconfig, --context). */
  readonly cliCluster: string[];
  /**
   * Builds the Dockerfile of a worker project (in `dir`) on the worker image, given as its build argument
   * WORKER_IMAGE, makes the image present on the nodes, and returns its reference.
   */
  buildWorkerProject(dir: string): Promise<string>;
  /** SIGKILLs a pack pod's container from outside (containerd on its node), as an OOM kill or crash would. */
  killContainer(pod: Json): Promise<void>;
  /** Scales every wait (a slow node or a cold kind cluster). */
  readonly timeScale: number;
  /** Closes the driver's clients (and stops what it started). */
  close(): Promise<void> | void;
}

/** Where the worker image (worker-runtime/Dockerfile) keeps the compiled examples. */
export const IMAGE_EXAMPLES = '/opt/kubeburst/examples/dist';
const REPO = resolve(import.meta.dirname, '../..');
/** The CLI as a user runs it (built by `npm run build`). */
const CLI = resolve(REPO, 'cli/bin/kubeburst.js');
const RESTRICTED = { 'pod-security.kubernetes.io/enforce': 'restricted', 'pod-security.kubernetes.io/enforce-version': 'latest' };

export interface E2EContext {
  readonly d: E2EDriver;
  readonly release: string;
  /** The operator's namespace (restricted, like every other). */
  readonly system: string;
  /** Namespaces the operator watches; each scenario takes its own. */
  readonly ns: { examples: string; failures: string; results: string; operator: string };
  /**
   * The Redis ACL users of the run, each with a random password: `admin` is the operator's (chart value
   * brokers.redisAdmin), `job` the one in the examples' redis-url Secret. Deleted at teardown.
   */
  readonly redisUsers: { admin: RedisUser; job: RedisUser };
}

export interface RedisUser {
  readonly name: string;
  readonly password: string;
  /** The driver's Redis URL as pods see it, with this user's credentials. */
  readonly url: string;
}

// ---- set-up ---------------------------------------------------------------------------------------

/** Namespaces (restricted), the Redis URL Secret, and the chart installed as a Deployment. */
export async function installOperator(d: E2EDriver): Promise<E2EContext> {
  const id = randomBytes(2).toString('hex');
  const ctx: E2EContext = {
    d,
    release: `kb-${id}`,
    system: `kb-system-${id}`,
    ns: { examples: `e2e-examples-${id}`, failures: `e2e-failures-${id}`, results: `e2e-results-${id}`, operator: `e2e-operator-${id}` },
    redisUsers: { admin: redisUser(d, `e2e-${id}-admin`), job: redisUser(d, `e2e-${id}-job`) },
  };
  for (const name of [ctx.system, ...Object.values(ctx.ns)]) {
    d.kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { ...RESTRICTED, 'kubeburst.io/test': 'e2e' } } }));
  }
  // Both with passwords, so the scenarios can search every output for them. The operator's admin may do what
  // the chart says it needs (ACL SETUSER/DELUSER, SCAN, DEL) and no more; the job's user what a transport does.
  const { admin, job } = ctx.redisUsers;
  const handshake = ['+ping', '+hello', '+auth', '+select', '+client|setname', '+client|getname', '+info'];
  await d.redis([
    'ACL',
    'SETUSER',
    admin.name,
    'reset',
    'on',
    `>${admin.password}`,
    '~kb:*',
    'resetchannels',
    '-@all',
    ...handshake,
    '+acl|setuser',
    '+acl|deluser',
    '+scan',
    '+del',
  ]);
  await d.redis(['ACL', 'SETUSER', job.name, 'reset', 'on', `>${job.password}`, '~kb:*', 'resetchannels', '-@all', ...handshake, '+rpush', '+blmpop', '+pexpire', '+del']);
  // In the failures' namespace too: flares that fail are searched for secrets like those that succeed.
  for (const ns of [ctx.ns.examples, ctx.ns.failures]) d.kubectl(['-n', ns, 'create', 'secret', 'generic', 'redis-url', `--from-literal=url=${job.url}`]);
  // The operator's Redis admin credential: every Redis attempt gets an ACL user limited to its own keys.
  d.kubectl(['-n', ctx.system, 'create', 'secret', 'generic', 'redis-admin', `--from-literal=url=${admin.url}`]);
  // And its NATS account key, where the driver's server has one: every NATS attempt gets a user of its own.
  const natsAccount = d.brokers.natsAccount;
  if (natsAccount !== undefined)
    d.kubectl(
      ['apply', '-f', '-'],
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'nats-account', namespace: ctx.system },
        stringData: { seed: natsAccount.seed, account: natsAccount.account },
      }),
    );
  const [opRepo, opTag] = splitImage(d.images.operator);
  const [wRepo, wTag] = splitImage(d.images.worker);
  const values = [
    `image.repository=${opRepo}`,
    `image.tag=${opTag}`,
    `image.pullPolicy=${d.images.pullPolicy}`,
    `workerImage.repository=${wRepo}`,
    `workerImage.tag=${wTag}`,
    `workerImage.pullPolicy=${d.images.pullPolicy}`,
    `watchNamespaces={${Object.values(ctx.ns).join(',')}}`,
    // Per-burst Redis users; the operator cleans keys with this credential, never reading job Secrets.
    'brokers.redisAdmin.secretName=redis-admin',
    ...(natsAccount !== undefined ? ['brokers.natsAccount.secretName=nats-account'] : []),
    'operator.restartBackoff=1s',
    'operator.restartBackoffMax=2s',
    'operator.logLevel=debug',
  ];
  const placement: string[] = [];
  for (const [k, v] of Object.entries(d.placement.nodeSelector ?? {})) placement.push('--set-string', `nodeSelector.${k.replaceAll('.', '\\.')}=${v}`);
  (d.placement.tolerations ?? []).forEach((t, i) => {
    for (const [k, v] of Object.entries(t)) placement.push('--set-string', `tolerations[${i}].${k}=${v}`);
  });
  d.helm([
    'install',
    ctx.release,
    resolve(REPO, 'helm/kubeburst'),
    '-n',
    ctx.system,
    '--wait',
    '--timeout',
    `${Math.round(180 * d.timeScale)}s`,
    ...values.flatMap((v) => ['--set', v]),
    ...placement,
  ]);
  return ctx;
}

export async function uninstallOperator(ctx: E2EContext | undefined): Promise<void> {
  if (ctx === undefined) return;
  const { d } = ctx;
  try {
    // The operator deletes the bursts' Redis users and keys as their BurstJobs go, with the admin user.
    for (const ns of Object.values(ctx.ns)) d.kubectl(['delete', 'burstjobs', '--all', '-n', ns, '--wait=true', '--timeout=60s'], undefined);
    d.helm(['uninstall', ctx.release, '-n', ctx.system, '--wait', '--timeout', '60s']);
    d.kubectl(['delete', 'namespace', ctx.system, ...Object.values(ctx.ns), '--wait=true', '--timeout=120s']);
  } finally {
    // Whatever failed above, the run's own users go: no broker user outlives its run.
    await d.redis(['ACL', 'DELUSER', ctx.redisUsers.admin.name, ctx.redisUsers.job.name]);
  }
}

/** A user of the driver's Redis with a random password that URLs must encode (`@`, `:`, `%`, `/`, `,`). */
function redisUser(d: E2EDriver, name: string): RedisUser {
  const password = `${randomBytes(12).toString('hex')}@:%/,${randomBytes(12).toString('hex')}`;
  const url = new URL(d.brokers.redis);
  url.username = name;
  url.password = encodeURIComponent(password);
  return { name, password, url: url.toString() };
}

function splitImage(ref: string): [string, string] {
  const at = ref.lastIndexOf(':');
  return at > ref.lastIndexOf('/') ? [ref.slice(0, at), ref.slice(at + 1)] : [ref, 'latest'];
}

// ---- BurstJobs ------------------------------------------------------------------------------------

/** An example's manifest, pointed at its compiled worker in the image and placed on the driver's node. */
export function exampleManifest(ctx: E2EContext, app: string, ns: string, patch: { name?: string; spec?: Json } = {}): Json {
  const doc = parse(readFileSync(resolve(REPO, `examples/${app}/burstjob.yaml`), 'utf8')) as Json;
  return clusterManifest(ctx, doc, ns, { ...patch, spec: { function: { module: `${IMAGE_EXAMPLES}/${app}/worker.js` }, ...patch.spec } });
}

/** A BurstJob manifest for the cluster: in `ns`, sized and timed for the driver's node(s), placed there. */
export function clusterManifest(ctx: E2EContext, doc: Json, ns: string, patch: { name?: string; spec?: Json } = {}): Json {
  return {
    apiVersion: doc.apiVersion,
    kind: doc.kind,
    metadata: { name: patch.name ?? doc.metadata.name, namespace: ns },
    spec: {
      ...doc.spec,
      // Small enough that every scenario fits one 2-core node next to the others.
      resources: { cpu: '25m', memory: '192Mi' },
      timeouts: { joinSeconds: Math.round(120 * ctx.d.timeScale), scheduleSeconds: Math.round(120 * ctx.d.timeScale), operationSeconds: 120 },
      ...(Object.keys(ctx.d.placement).length > 0 ? { template: { ...ctx.d.placement } } : {}),
      ...patch.spec,
    },
  };
}

export function apply(ctx: E2EContext, manifest: Json): void {
  ctx.d.kubectl(['apply', '-f', '-'], JSON.stringify(manifest));
}

export async function burstJob(ctx: E2EContext, ns: string, name: string): Promise<Json> {
  return ctx.d.kube.get<Json>(paths.burstjob(ns, name));
}

export async function waitJob(ctx: E2EContext, ns: string, name: string, what: string, pred: (job: Json) => boolean, timeoutMs = 180_000): Promise<Json> {
  const deadline = Date.now() + timeoutMs * ctx.d.timeScale;
  let job: Json | undefined;
  for (;;) {
    job = await burstJob(ctx, ns, name).catch(() => undefined);
    if (job !== undefined && pred(job)) return job;
    if (Date.now() > deadline) throw new Error(`${ns}/${name}: not ${what} after ${timeoutMs} ms: ${JSON.stringify(job?.status)}\n${await diagnose(ctx, ns)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export const phase = (p: string) => (job: Json) => job.status?.phase === p;

/** Waits for a final phase and insists on the expected one. */
export async function waitFinished(ctx: E2EContext, ns: string, name: string, expected: 'Succeeded' | 'Failed', timeoutMs = 240_000): Promise<Json> {
  const job = await waitJob(ctx, ns, name, 'finished', (j) => ['Succeeded', 'Failed'].includes(j.status?.phase), timeoutMs);
  if (job.status.phase !== expected) throw new Error(`${ns}/${name} ended ${job.status.phase}, expected ${expected}: ${JSON.stringify(job.status)}\n${await diagnose(ctx, ns)}`);
  return job;
}

export async function results(ctx: E2EContext, ns: string, job: Json): Promise<unknown[]> {
  const cm = await ctx.d.kube.get<Json>(paths.configmap(ns, job.status.results.configMap));
  return JSON.parse(cm.data[job.status.results.key]).workers as unknown[];
}

export async function packPods(ctx: E2EContext, ns: string, job: string): Promise<Json[]> {
  const r = await ctx.d.kube.get<{ items: Json[] }>(`${paths.pods(ns)}?labelSelector=${encodeURIComponent(`kubeburst.io/job-name=${job}`)}`);
  return r.items;
}

/** What a failed wait prints: the namespace's pods, their states, the packs' and the operator's last log lines. */
export async function diagnose(ctx: E2EContext, ns: string): Promise<string> {
  const safe = (args: string[]): string => {
    try {
      return ctx.d.kubectl(args);
    } catch (err) {
      return String(err);
    }
  };
  return [
    safe(['get', 'pods', '-n', ns, '-o', 'wide']),
    safe(['get', 'events', '-n', ns, '--sort-by=.lastTimestamp']).split('\n').slice(-25).join('\n'),
    // (Pack logs are redacted by the packs, and searched for secrets by the scenarios themselves.)
    safe(['logs', '-n', ns, '-l', 'app.kubernetes.io/managed-by=kubeburst', '--prefix', '--tail=15', '--max-log-requests=64']),
    safe(['logs', '-n', ctx.system, '-l', 'app.kubernetes.io/component=operator', '--tail=40']),
  ].join('\n');
}

/** The attempt Secrets of a job that exist now (each lasts as long as its attempt), by name, values decoded. */
export async function secretsOf(ctx: E2EContext, ns: string, job: string): Promise<Map<string, Record<string, string>>> {
  const selector = `${LABELS.jobName}=${job},${LABELS.component}=${COMPONENTS.secret}`;
  const r = await ctx.d.kube.get<{ items: Json[] }>(`${paths.secrets(ns)}?labelSelector=${encodeURIComponent(selector)}`);
  return new Map(
    r.items.map((s) => [s.metadata.name as string, Object.fromEntries(Object.entries(s.data ?? {}).map(([k, v]) => [k, Buffer.from(String(v), 'base64').toString('utf8')]))]),
  );
}

/**
 * Everything a finished flare shows whoever may read pods, Events, BurstJobs and ConfigMaps, or runs the CLI:
 * each pack pod's log and its whole object (termination message included), the namespace's Events, the
 * BurstJob, the results ConfigMap, the operator's log (debug level), and `kubeburst status | results | logs`.
 * Each is checked to hold something of this flare, so a search through them cannot pass on empty text.
 * A failed flare (`job.status.phase` Failed): the pods of its last attempt that are left (a killed pack
 * has no termination message), its failure where the results would be (`status` and `results` exit 1).
 * `resultsHold`: a word the results of a flare that succeeded hold (pagerank's `ranks`).
 */
export async function flareOutputs(ctx: E2EContext, ns: string, job: Json, resultsHold = 'ranks'): Promise<Output[]> {
  const { d } = ctx;
  const name = job.metadata.name as string;
  const burstId = job.status.attempt.burstId as string;
  const failed = job.status.phase === 'Failed';
  const outputs: Output[] = [];
  const add = (what: string, text: string, mustHold: string): void => {
    if (!text.includes(mustHold)) throw new Error(`${what} does not mention ${mustHold}, so searching it proves nothing:\n${text.slice(0, 2000)}`);
    outputs.push({ what, text });
  };
  // Finished pods stay until their BurstJob goes (the operator deletes only live ones), so every pack's is here.
  const pods = (await packPods(ctx, ns, name)).filter((p) => p.metadata.annotations?.[ANNOTATIONS.burstId] === burstId);
  const packs = decodeLayout(job.status.attempt.layout).length;
  if (failed ? pods.length === 0 : pods.length !== packs) throw new Error(`burst ${burstId} had ${packs} packs, but ${pods.length} of their pods are left to read`);
  let logs = 0;
  for (const pod of pods) {
    const pn = pod.metadata.name as string;
    // A pack logs its events and prints its report (with its burst id) on stdout; a killed one has only
    // logged its start. When a flare fails, the operator deletes the pods still Running then (their packs
    // were about to stop on their own): those may be gone by now.
    let log: string;
    try {
      log = d.kubectl(['logs', '-n', ns, pn]);
    } catch (err) {
      if (failed && /NotFound/.test(String(err))) continue;
      throw err;
    }
    logs++;
    add(`the log of pod ${pn}`, log, failed ? '"event":"started"' : burstId);
    const message = pod.status?.containerStatuses?.[0]?.state?.terminated?.message as string | undefined;
    if (!message && !failed) throw new Error(`pod ${pn} has no termination message`);
    add(`pod ${pn} (spec, status, termination message)`, JSON.stringify(pod), burstId);
  }
  if (logs === 0) throw new Error(`no pod of burst ${burstId} is left to read a log from`);
  add('the Events of the namespace', d.kubectl(['get', 'events', '-n', ns, '-o', 'json']), name);
  add(`BurstJob ${name}`, JSON.stringify(await burstJob(ctx, ns, name)), burstId);
  const configMap = job.status.results?.configMap as string | undefined;
  if (configMap !== undefined) add(`ConfigMap ${configMap}`, JSON.stringify(await d.kube.get<Json>(paths.configmap(ns, configMap))), burstId);
  else if (!failed) throw new Error(`${ns}/${name} succeeded but names no results ConfigMap`);
  // --tail=-1: with a label selector kubectl prints only the last 10 lines of each pod otherwise.
  const operator = ['-n', ctx.system, '-l', 'app.kubernetes.io/component=operator'];
  add('the operator’s log', d.kubectl(['logs', ...operator, '--tail=-1', '--all-containers']), `"job":"${ns}/${name}"`);
  // Its admin URL reaches it by reference (secretKeyRef), never as a value in its pod.
  add('the operator’s pod', d.kubectl(['get', 'pods', ...operator, '-o', 'json']), 'KUBEBURST_REDIS_ADMIN_URL');
  // What each command shows of the flare: its name, its burst, PageRank's results.
  const reason = job.status.lastFailure?.reason as string | undefined;
  const cli: [string[], string][] = failed
    ? [
        [['status'], reason ?? name],
        [['status', '-o', 'json'], burstId],
        [['results'], name],
        [['results', '-o', 'json'], name],
        [['logs'], '"event":"started"'],
      ]
    : [
        [['status'], name],
        [['status', '-o', 'json'], burstId],
        [['results'], resultsHold],
        [['results', '-o', 'json'], resultsHold],
        [['logs'], burstId],
      ];
  for (const [args, mustHold] of cli) {
    const r = spawnSync(process.execPath, [CLI, ...args, name, '-n', ns, ...d.cliCluster], { encoding: 'utf8', timeout: 60_000 });
    // A failed flare: `status` and `results` say so with exit 1 (`kubeburst --help`); `logs` prints what is
    // left, and exits 3 if the operator has deleted some packs' pods by then (those it tore down).
    const expected = !failed ? [0] : args[0] !== 'logs' ? [1] : [0, 3];
    if (!expected.includes(r.status ?? -1))
      throw new Error(`kubeburst ${args.join(' ')} ${name} exited ${r.status}, expected ${expected.join(' or ')}: ${r.stderr}${r.error ?? ''}`);
    add(`kubeburst ${args.join(' ')}`, `${r.stdout}\n${r.stderr}`, mustHold);
  }
  return outputs;
}

// ---- references -----------------------------------------------------------------------------------

export function hpoExpectedBest(params: HpoParams): number {
  return hpoReference({ features: params.features, blocks: [generateRows(params, 0, params.rows)] }, params, params).index;
}

export function pagerankProblem(params: PageRankParams, workers: unknown[]): string | null {
  return checkRanks(workers as PageRankResult[], pagerankReference(params, params));
}

/**
 * The per-worker hello params that make pack 0's termination message exactly `bytes` long: worker 0's
 * greeting is padded (worker 0 of the hello example returns every worker's greeting; pack 0 holds workers
 * 0 and 1). Sized with the runtime's own report builder, with a burst id and timestamps of the real length.
 */
export function helloParamsForReport(bytes: number, size = 8, granularity = 2): { list: { greeting: string }[] } {
  const reportOf = (pad: number): number => {
    const greetings = Array.from({ length: size }, (_, w) => `${w === 0 ? 'x'.repeat(pad) : 'hello'} from worker ${w} in pack ${Math.floor(w / granularity)}`);
    const sum = (size * (size - 1)) / 2;
    const workers = Array.from({ length: granularity }, (_, w) => ({ workerId: w, ok: true, result: w === 0 ? { workerId: 0, sum, greetings } : { workerId: w, sum } }));
    const report = {
      burstId: '0123456789-a0',
      packId: 0,
      ok: true,
      workers,
      timings: { processStart: 0, connected: 0, joined: 1_700_000_000_000, finished: 1_700_000_000_000 },
    } as unknown as PackReport;
    return Buffer.byteLength(terminationReport(report, 0, Number.MAX_SAFE_INTEGER));
  };
  const pad = bytes - reportOf(0);
  if (pad < 1 || reportOf(pad) !== bytes) throw new Error(`cannot size a hello report to ${bytes} bytes`);
  return { list: Array.from({ length: size }, (_, w) => ({ greeting: w === 0 ? 'x'.repeat(pad) : 'hello' })) };
}

export const TERMINATION_LIMIT = TERMINATION_MESSAGE_MAX_BYTES;

// ---- the scenarios --------------------------------------------------------------------------------

/**
 * Registers the scenarios as Jest tests. `driver` is called in beforeAll (drivers are built once the
 * cluster is known).
 */
export function e2eScenarios(driver: () => Promise<E2EDriver>): void {
  let ctx: E2EContext | undefined;
  let d: E2EDriver | undefined;
  const c = (): E2EContext => {
    if (ctx === undefined) throw new Error('the operator was not installed (see beforeAll)');
    return ctx;
  };

  beforeAll(async () => {
    d = await driver();
    ctx = await installOperator(d);
  }, 300_000);

  afterAll(async () => {
    try {
      await uninstallOperator(ctx);
    } finally {
      await d?.close();
    }
  }, 300_000);

  test('the chart’s operator runs as a restricted, non-root pod and is ready', async () => {
    const pods = JSON.parse(c().d.kubectl(['get', 'pods', '-n', c().system, '-l', 'app.kubernetes.io/component=operator', '-o', 'json'])).items as Json[];
    expect(pods).toHaveLength(1);
    const pod = pods[0]!;
    expect(pod.status.conditions.find((x: Json) => x.type === 'Ready')?.status).toBe('True');
    expect(pod.spec.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec.containers[0].securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.spec.containers[0].image).toBe(c().d.images.operator);
  });

  test('hello (direct, pod to pod by Service DNS name), hpo (NATS, as a user of its own) and pagerank (Redis through a Secret) succeed with the sequential references’ answers, and no secret of the Redis or NATS flare reaches any output', async () => {
    const { ns } = c();
    const hello = exampleManifest(c(), 'hello', ns.examples);
    const hpo = exampleManifest(c(), 'hpo', ns.examples, { spec: { transport: { kind: 'nats', url: c().d.brokers.nats } } });
    // A graph small enough that a pack's ranks fit its 4 KiB termination message.
    const prParams: PageRankParams = { scale: 8, edgeFactor: 16, seed: 42, iterations: 20, damping: 0.85 };
    const pagerank = exampleManifest(c(), 'pagerank', ns.examples, {
      spec: { params: { value: prParams }, transport: { kind: 'redis', secretRef: { name: 'redis-url', key: 'url' } } },
    });
    // All three at once: twelve packs starting together on the node.
    for (const m of [hello, hpo, pagerank]) apply(c(), m);
    // While pagerank runs, its burst has a Redis user of its own (its packs connect as it), and its attempt
    // a Secret (the flare key, that user's password) that is gone once the attempt ends: kept for the search.
    const users = new Set<string>();
    const attemptSecrets = new Map<string, Record<string, string>>();
    const natsSecrets = new Map<string, Record<string, string>>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const u of await c()
          .d.redisUsers()
          .catch(() => []))
          users.add(u);
        for (const [name, data] of await secretsOf(c(), ns.examples, pagerank.metadata.name).catch(() => [])) attemptSecrets.set(name, data);
        for (const [name, data] of await secretsOf(c(), ns.examples, hpo.metadata.name).catch(() => [])) natsSecrets.set(name, data);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const finished = await Promise.all([hello, hpo, pagerank].map((m) => waitFinished(c(), ns.examples, m.metadata.name, 'Succeeded')));
    watching = false;
    await watch;
    const [h, p, r] = finished;
    for (const job of finished) expect(job.status.results).toMatchObject({ missing: 0, workers: job.spec.size });

    const helloOut = (await results(c(), ns.examples, h!)) as Json[];
    expect(helloOut.map((x) => x.sum)).toEqual(Array(8).fill(28));
    expect(helloOut[0]!.greetings).toEqual(Array.from({ length: 8 }, (_, w) => `hello from worker ${w} in pack ${Math.floor(w / 2)}`));
    expect(h!.status.attempt.layout).toBe('4x2');

    const hpoOut = (await results(c(), ns.examples, p!)) as Json[];
    expect(hpoOut[0]!.best.index).toBe(hpoExpectedBest(hpo.spec.params.value));

    expect(pagerankProblem(prParams, await results(c(), ns.examples, r!))).toBeNull();
    // The Redis flare's keys are gone once it ended (the packs delete them; the operator makes sure), and
    // so is the user its packs ran as: they got the rights they needed, and no more lasted.
    expect(await c().d.redisKeys(`kb:{${r!.status.attempt.burstId}}*`)).toEqual([]);
    expect([...users]).toContain(`kb-${r!.status.attempt.burstId}`);
    expect(await c().d.redisUsers()).not.toContain(`kb-${r!.status.attempt.burstId}`);

    // No secret in any output (docs/security.md): not the operator's admin password, not the password of the
    // job's redis-url Secret, not the attempt's flare key nor its burst user's password, in any form.
    const { admin, job } = c().redisUsers;
    const base64 = (secret: string, value: string): SecretForm => ({ secret, form: 'base64 (as a Secret holds it)', text: Buffer.from(value).toString('base64') });
    const forms = [
      ...secretForms('the admin password', admin.password),
      ...secretForms('the redis-url password', job.password),
      base64('the admin URL', admin.url),
      base64('the redis-url URL', job.url),
    ];
    expect([...attemptSecrets.keys()]).toContain(attemptSecretName(r!.metadata.name, r!.status.attempt.index));
    for (const [name, data] of attemptSecrets) {
      expect(Object.keys(data).sort()).toEqual([PACK_POD.brokerPasswordKey, PACK_POD.secretKey].sort());
      forms.push(...secretForms(`the flare key of ${name}`, data[PACK_POD.secretKey]!, { binary: true }));
      forms.push(...secretForms(`the burst user's password of ${name}`, data[PACK_POD.brokerPasswordKey]!));
    }
    const t0 = Date.now();
    const outputs = await flareOutputs(c(), ns.examples, r!);
    expect(findLeaks(outputs, forms)).toEqual([]);
    const kb = Math.round(outputs.reduce((n, o) => n + o.text.length, 0) / 1024);
    process.stderr.write(
      `[e2e] no secret in ${outputs.length} outputs (${kb} KiB): ${forms.length} forms of ${new Set(forms.map((f) => f.secret)).size} secrets, ${Date.now() - t0} ms\n`,
    );

    // The NATS flare: with an account key (brokers.natsAccount) its attempt Secret held a user of its own,
    // the only way into a server in operator mode, and neither that user's seed nor the account's shows.
    const natsAccount = c().d.brokers.natsAccount;
    if (natsAccount === undefined) return;
    expect([...natsSecrets.keys()]).toContain(attemptSecretName(p!.metadata.name, p!.status.attempt.index));
    const natsForms = secretForms('the NATS account seed', natsAccount.seed);
    for (const [name, data] of natsSecrets) {
      // The flare's URL (written into its spec) is there too: the packs read it from the Secret.
      expect(Object.keys(data).sort()).toEqual([PACK_POD.brokerUrlKey, PACK_POD.natsCredsKey, PACK_POD.secretKey].sort());
      const userSeed = /\bSU[A-Z2-7]{56}\b/.exec(data[PACK_POD.natsCredsKey]!)?.[0];
      expect(userSeed).toBeDefined();
      natsForms.push(...secretForms(`the burst user's seed of ${name}`, userSeed!), ...secretForms(`the flare key of ${name}`, data[PACK_POD.secretKey]!, { binary: true }));
    }
    const natsOutputs = await flareOutputs(c(), ns.examples, p!, 'best');
    expect(findLeaks([...natsOutputs, ...outputs], natsForms)).toEqual([]);
    process.stderr.write(`[e2e] NATS flare as its own user: no secret in ${natsOutputs.length} outputs (${natsForms.length} forms)\n`);
  }, 420_000);

  test('a worker project of a user’s own: the Dockerfile `kubeburst init` writes, built on the worker image, runs the project’s BurstJob to the right results', async () => {
    const { d } = c();
    const ns = c().ns.examples;
    const tmp = mkdtempSync(join(tmpdir(), 'kb-e2e-project-'));
    try {
      // A fresh project, as `kubeburst init` writes it, outside the repository; its Dockerfile as it is.
      const dir = join(tmp, 'my-flare');
      const init = spawnSync(process.execPath, [CLI, 'init', dir], { encoding: 'utf8', timeout: 60_000 });
      if (init.status !== 0) throw new Error(`kubeburst init exited ${init.status}: ${init.stderr}${init.error ?? ''}`);
      const t0 = Date.now();
      const image = await d.buildWorkerProject(dir);
      process.stderr.write(`[e2e] ${image}: built from the project's Dockerfile and on the node in ${Date.now() - t0} ms\n`);
      // The project's own manifest, run from the image: the worker is where the Dockerfile's WORKDIR put it.
      const workdir = /^WORKDIR\s+(\S+)\s*$/m.exec(readFileSync(join(dir, 'Dockerfile'), 'utf8'))?.[1];
      expect(workdir).toBe('/opt/kubeburst/functions/my-flare');
      const doc = parse(readFileSync(join(dir, 'burstjob.yaml'), 'utf8')) as Json;
      const manifest = clusterManifest(c(), doc, ns, { spec: { function: { image, module: `${workdir}/${doc.spec.function.module}` } } });
      apply(c(), manifest);
      const job = await waitFinished(c(), ns, manifest.metadata.name, 'Succeeded');
      expect(job.status.results).toMatchObject({ workers: 4, missing: 0 });
      const out = (await results(c(), ns, job)) as Json[];
      expect(out.map((w) => w.sum)).toEqual([6, 6, 6, 6]);
      expect(out[0]!.greetings).toEqual(Array.from({ length: 4 }, (_, w) => `hello from worker ${w} in pack ${Math.floor(w / 2)}`));
      const pods = await packPods(c(), ns, manifest.metadata.name);
      expect(pods.map((p) => p.spec.containers[0].image)).toEqual([image, image]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);

  test('a pack’s container killed mid-run: the others stop within 2 s, the attempt restarts, the job fails when restarts are used up, and nothing is left; neither that flare nor one whose broker refuses it puts a secret in any output', async () => {
    const ns = c().ns.failures;
    // Runs until killed: a large PageRank over Redis, its URL (with a password) from a Secret.
    const job = exampleManifest(c(), 'pagerank', ns, {
      name: 'killed',
      spec: {
        params: { value: { scale: 10, edgeFactor: 8, seed: 7, iterations: 1_000_000, damping: 0.85 } },
        transport: { kind: 'redis', secretRef: { name: 'redis-url', key: 'url' } },
        maxRestarts: 1,
      },
    });
    // Meanwhile a flare whose broker URL (a password in it) refuses every connection: its packs fail to
    // connect, and their errors, its Events and its status name the URL, so they must mask the password.
    const refused = { password: `${randomBytes(12).toString('hex')}@:%/${randomBytes(12).toString('hex')}` };
    const refusedUrl = new URL('redis://127.0.0.1:1');
    refusedUrl.username = 'someone';
    refusedUrl.password = encodeURIComponent(refused.password);
    c().d.kubectl(['-n', ns, 'create', 'secret', 'generic', 'redis-refused', `--from-literal=url=${refusedUrl}`]);
    const unreachable = exampleManifest(c(), 'hello', ns, {
      name: 'unreachable',
      spec: { size: 2, granularity: 1, transport: { kind: 'redis', secretRef: { name: 'redis-refused', key: 'url' } }, maxRestarts: 0 },
    });
    apply(c(), unreachable);
    apply(c(), job);
    // Every attempt's Secret (its flare key and burst user's password), read while it exists.
    const attemptSecrets = new Map<string, Record<string, string>>();
    let watching = true;
    const watch = (async () => {
      while (watching) {
        for (const name of ['killed', 'unreachable']) for (const [s, data] of await secretsOf(c(), ns, name).catch(() => [])) attemptSecrets.set(s, data);
        await new Promise((r) => setTimeout(r, 200));
      }
    })();
    const burstIds: string[] = [];
    for (const attempt of [0, 1]) {
      const running = await waitJob(
        c(),
        ns,
        'killed',
        `attempt ${attempt} started`,
        (j) => j.status?.attempt?.index === attempt && j.status.conditions?.some((x: Json) => x.type === 'Started' && x.status === 'True'),
      );
      burstIds.push(running.status.attempt.burstId);
      const pods = (await packPods(c(), ns, 'killed')).filter((p) => p.metadata.labels['kubeburst.io/attempt'] === String(attempt));
      expect(pods).toHaveLength(4);
      const victim = pods.find((p) => p.metadata.labels['kubeburst.io/pack-index'] === '1')!;
      const killedAt = Date.now();
      await c().d.killContainer(victim);
      // Every other pack of the attempt stops on its own or on the operator's word, and says so in its report.
      const others = pods.filter((p) => p !== victim).map((p) => p.metadata.name);
      const stopped = await waitFor(
        `the other packs of attempt ${attempt} to stop`,
        async () => {
          const now = await packPods(c(), ns, 'killed');
          const states = others.map((n) => now.find((p) => p.metadata.name === n)?.status?.containerStatuses?.[0]?.state?.terminated);
          return states.every((s) => s !== undefined) ? states : undefined;
        },
        30_000 * c().d.timeScale,
      );
      const delays = stopped.map((t) => {
        const report = JSON.parse(t.message);
        expect(report.ok).toBe(false);
        return report.finished - killedAt;
      });
      process.stderr.write(`[e2e] attempt ${attempt}: pack 1 killed; the other packs stopped after ${delays.join(', ')} ms\n`);
      for (const ms of delays) expect(ms).toBeLessThanOrEqual(2000 * c().d.timeScale);
    }
    const failed = await waitFinished(c(), ns, 'killed', 'Failed');
    expect(failed.status.restarts).toBe(1);
    expect(failed.status.conditions.find((x: Json) => x.type === 'Failed')).toMatchObject({ status: 'True', reason: 'MaxRestartsExceeded' });
    expect(failed.status.lastFailure).toMatchObject({ attempt: 1, pack: 1, reason: 'PackFailed' });
    // No pod keeps running, and neither attempt left a key in Redis.
    await waitFor('no pack pod running', async () => (await packPods(c(), ns, 'killed')).every((p) => ['Succeeded', 'Failed'].includes(p.status.phase)), 30_000);
    for (const id of burstIds) expect(await c().d.redisKeys(`kb:{${id}}*`)).toEqual([]);
    // Nor a Redis user: each attempt's went with it.
    await waitFor(
      'the attempts’ Redis users deleted',
      async () => ((await c().d.redisUsers()).some((u) => burstIds.some((id) => u === `kb-${id}`)) ? undefined : true),
      30_000 * c().d.timeScale,
    );

    const refusedJob = await waitFinished(c(), ns, 'unreachable', 'Failed');
    watching = false;
    await watch;
    // The failure names where it could not connect, masked: as the burst's own Redis user (brokers.redisAdmin),
    // which stands in for the URL's.
    expect(refusedJob.status.lastFailure.message).toMatch(/redis:\/\/kb-[0-9a-f]+-a0:\*\*\*@127\.0\.0\.1:1: /);
    const { admin, job: jobUser } = c().redisUsers;
    const forms = [
      ...secretForms('the admin password', admin.password),
      ...secretForms('the redis-url password', jobUser.password),
      ...secretForms('the refused URL’s password', refused.password),
      { secret: 'the refused URL', form: 'base64 (as a Secret holds it)', text: Buffer.from(refusedUrl.toString()).toString('base64') },
    ];
    expect(attemptSecrets.size).toBeGreaterThanOrEqual(3);
    for (const [name, data] of attemptSecrets) {
      forms.push(...secretForms(`the flare key of ${name}`, data[PACK_POD.secretKey]!, { binary: true }));
      const password = data[PACK_POD.brokerPasswordKey];
      if (password !== undefined) forms.push(...secretForms(`the burst user's password of ${name}`, password));
    }
    const outputs = [...(await flareOutputs(c(), ns, failed)), ...(await flareOutputs(c(), ns, refusedJob))];
    expect(findLeaks(outputs, forms)).toEqual([]);
    process.stderr.write(`[e2e] failed flares: no secret in ${outputs.length} outputs, ${forms.length} forms of ${new Set(forms.map((f) => f.secret)).size} secrets\n`);
  }, 420_000);

  test('results at the termination-message limit are kept; over it, the status says which pack lost them and why', async () => {
    const ns = c().ns.results;
    apply(c(), exampleManifest(c(), 'hello', ns, { name: 'at-limit', spec: { params: helloParamsForReport(TERMINATION_LIMIT) } }));
    apply(c(), exampleManifest(c(), 'hello', ns, { name: 'over-limit', spec: { params: helloParamsForReport(TERMINATION_LIMIT + 1) } }));
    const at = await waitFinished(c(), ns, 'at-limit', 'Succeeded');
    const over = await waitFinished(c(), ns, 'over-limit', 'Succeeded');

    expect(at.status.results).toMatchObject({ workers: 8, missing: 0 });
    const atPod = (await packPods(c(), ns, 'at-limit')).find((p) => p.metadata.labels['kubeburst.io/pack-index'] === '0')!;
    expect(Buffer.byteLength(atPod.status.containerStatuses[0].state.terminated.message)).toBe(TERMINATION_LIMIT);
    expect(((await results(c(), ns, at)) as Json[])[0]!.greetings[0]).toMatch(/^x+ from worker 0 in pack 0$/);

    expect(over.status.results).toMatchObject({ workers: 6, missing: 2, missingPacks: [0] });
    expect(over.status.results.message).toMatch(/pack 0 \(workers 0-1\).*4097 bytes.*4096-byte termination message/);
    const outOver = (await results(c(), ns, over)) as Json[];
    expect(outOver.slice(0, 2)).toEqual([null, null]);
    expect(outOver.slice(2).map((x) => x.sum)).toEqual(Array(6).fill(28));
  }, 300_000);

  test('the operator pod deleted mid-flare: its Deployment brings it back and the flare finishes with no pod created twice', async () => {
    const ns = c().ns.operator;
    const prParams: PageRankParams = { scale: 8, edgeFactor: 16, seed: 3, iterations: 4000, damping: 0.85 };
    apply(c(), exampleManifest(c(), 'pagerank', ns, { name: 'survivor', spec: { params: { value: prParams } } }));
    await waitJob(c(), ns, 'survivor', 'running', phase('Running'));
    const before = await packPods(c(), ns, 'survivor');
    const operatorPods = (): Json[] => JSON.parse(c().d.kubectl(['get', 'pods', '-n', c().system, '-l', 'app.kubernetes.io/component=operator', '-o', 'json'])).items;
    const old = operatorPods()[0]!.metadata.name as string;
    c().d.kubectl(['delete', 'pod', '-n', c().system, old, '--wait=false']);
    const job = await waitFinished(c(), ns, 'survivor', 'Succeeded');
    const replacement = operatorPods().filter((p) => p.metadata.name !== old && p.status.conditions?.some((x: Json) => x.type === 'Ready' && x.status === 'True'));
    expect(replacement).toHaveLength(1);
    const after = await packPods(c(), ns, 'survivor');
    expect(after.map((p) => p.metadata.uid).sort()).toEqual(before.map((p) => p.metadata.uid).sort());
    expect(after).toHaveLength(4);
    expect(job.status.restarts ?? 0).toBe(0);
    expect(pagerankProblem(prParams, await results(c(), ns, job))).toBeNull();
  }, 420_000);
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
