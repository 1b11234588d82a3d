import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { appendFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { PATCH } from '../../operator/src/controller/kube.js';
import { jobView, observePod } from '../../operator/src/controller/observe.js';
import { fixedLayout, encodeLayout } from '../../operator/src/planner/layout.js';
import { burstIdOf, packPod, resultsConfigMap } from '../../operator/src/planner/pods.js';
import { collectResults, failureMessage } from '../../operator/src/planner/results.js';
import type { BurstJobStatus, Condition } from '../../api/src/status.js';
import { clusterEnv, REPO } from './harness/env.js';
import { Flares } from './harness/flare.js';
import { adminClient, createNamespace, deleteNamespace, paths, type Json } from './harness/kube.js';
import { NodePool, POOL_KEY } from './harness/pool.js';
import { waitFor } from './harness/wait.js';

/**
 * `kubeburst status | results | logs` as a user runs them: the CLI as a child process against the real
 * API server, with a kubeconfig of each kind (client certificate, bearer token + CA file, a second
 * context), asserting stdout, stderr and the exit code.
 *
 * No operator runs: the test makes what the operator would, with the operator's own builders (packPod,
 * collectResults, resultsConfigMap, failureMessage), so the CLI reads exactly the objects the operator
 * writes; the status is written through the status subresource, validated by the CRD's schema. Pods run
 * on kwok nodes (the scheduler binds them, kwok runs and ends them). For logs, the test runs a kwok of its
 * own that serves pod logs from files, as a kubelet would, over TLS to the API server.
 */
const ns = `it-cli-${randomBytes(3).toString('hex')}`;
const CLI = resolve(REPO, 'cli/dist/main.js');
const dir = resolve(tmpdir(), `kubeburst-${ns}`);
const SECRET = 'hunter2pass';
let kube: KubeClient;
let pool: NodePool;
let flares: Flares;
let readerConfig: string;
const cleanups: (() => unknown)[] = [];

interface Ran {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI to completion (killed after 60 s). HOME is empty: only what the test passes is used. */
function cli(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Ran> {
  return new Promise((done) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [CLI, ...args], { env: { PATH: process.env.PATH, HOME: resolve(dir, 'home'), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), 60_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      done({ code, stdout, stderr, ms: Date.now() - t0 });
    });
  });
}

const admin = (): string[] => ['--kubeconfig', clusterEnv().kubeconfig, '-n', ns];

async function writeStatus(name: string, status: BurstJobStatus): Promise<void> {
  await kube.patch(`${paths.burstjob(ns, name)}/status`, { status }, PATCH.merge);
}

const now = (): string => new Date().toISOString();
const cond = (type: string, reason: string, message = '', status: 'True' | 'False' = 'True'): Condition => ({ type, status, reason, message, lastTransitionTime: now() });

/** A BurstJob and the pods of its attempt 0 as the operator creates them (gated), for the packs given. */
async function flare(name: string, size: number, granularity: number, packs: number[], on: Flares = flares): Promise<{ job: Json; sizes: number[]; burstId: string }> {
  const job = await on.create(name, { size, granularity });
  const sizes = fixedLayout(size, granularity);
  const burstId = burstIdOf(job.metadata.uid, 0);
  const view = jobView(job);
  for (const p of packs) await kube.create(paths.pods(ns), packPod(view, 0, burstId, p, sizes, { defaultImage: 'kubeburst/worker:test' }));
  return { job, sizes, burstId };
}

/** Lifts the gang gate, as the operator does once the whole gang fits. */
const ungate = (pod: string): Promise<Json> => kube.patch(paths.pod(ns, pod), [{ op: 'remove', path: '/spec/schedulingGates' }], PATCH.json);

const podPhase = (pod: string, phase: string): Promise<Json> =>
  waitFor(`pod ${pod} ${phase}`, async () => {
    const p = await kube.get<Json>(paths.pod(ns, pod));
    return p.status?.phase === phase ? p : undefined;
  });

const attempt0 = (sizes: number[], burstId: string): BurstJobStatus['attempt'] => ({ index: 0, burstId, layout: encodeLayout(sizes), startTime: now() });

beforeAll(async () => {
  mkdirSync(resolve(dir, 'home'), { recursive: true });
  kube = await adminClient();
  await createNamespace(kube, ns);
  pool = new NodePool(kube, `${ns}-p`);
  await pool.add(2, 16);
  flares = new Flares(kube, ns, pool);

  // A reader with a bearer token, limited by RBAC to what the CLI reads; its kubeconfig's current context
  // points at nothing (the test picks `reader` with --context, or relies on it for the namespace).
  await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'reader' } });
  await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
    metadata: { name: 'cli-reader' },
    rules: [
      { apiGroups: ['kubeburst.io'], resources: ['burstjobs'], verbs: ['get'] },
      { apiGroups: [''], resources: ['pods', 'pods/log', 'configmaps'], verbs: ['get', 'list'] },
    ],
  });
  await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
    metadata: { name: 'cli-reader' },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'cli-reader' },
    subjects: [{ kind: 'ServiceAccount', name: 'reader', namespace: ns }],
  });
  await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'nobody' } });
  const token = async (sa: string): Promise<string> =>
    (
      await kube.create<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/${sa}/token`, {
        apiVersion: 'authentication.k8s.io/v1',
        kind: 'TokenRequest',
        spec: { expirationSeconds: 3600 },
      })
    ).status.token;
  writeFileSync(resolve(dir, 'ca.crt'), readFileSync(resolve(clusterEnv().stateDir, 'pki/ca.crt')));
  const server = clusterEnv().apiServer;
  const tokenConfig = (file: string, user: string, tok: string): string => {
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [
          { name: 'local', cluster: { server, 'certificate-authority': resolve(dir, 'ca.crt') } },
          { name: 'gone', cluster: { server: 'https://127.0.0.1:1' } },
        ],
        users: [{ name: user, user: { token: tok } }],
        contexts: [
          { name: user, context: { cluster: 'local', user, namespace: ns } },
          { name: 'gone', context: { cluster: 'gone', user } },
        ],
        'current-context': 'gone',
      }),
      { mode: 0o600 },
    );
    return file;
  };
  readerConfig = tokenConfig(resolve(dir, 'reader.kubeconfig'), 'reader', await token('reader'));
  tokenConfig(resolve(dir, 'nobody.kubeconfig'), 'nobody', await token('nobody'));
}, 120_000);

afterAll(async () => {
  // Pods first, at once: once their kwok nodes are gone nobody would confirm a graceful delete.
  await kube?.request('DELETE', `/api/v1/namespaces/${ns}/pods`, { apiVersion: 'v1', kind: 'DeleteOptions', gracePeriodSeconds: 0 }).catch(() => undefined);
  for (const c of cleanups.reverse()) await c();
  if (kube !== undefined) {
    await deleteNamespace(kube, ns);
    await pool?.delete();
    kube.close();
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('kubeburst status', () => {
  it('a running flare: per-pack state from the pods (running, gated, missing), conditions; exit 4', async () => {
    const { sizes, burstId } = await flare('run', 6, 2, [0, 1]);
    await ungate('run-a0-0');
    const running = await podPhase('run-a0-0', 'Running');
    await writeStatus('run', {
      phase: 'Starting',
      attempt: attempt0(sizes, burstId),
      packs: { total: 3, gated: 1, pending: 0, running: 1, ready: 0, succeeded: 0, failed: 0 },
      conditions: [cond('Admitted', 'GangAdmitted', 'the gang fits'), cond('PacksScheduled', 'WaitingForScheduler', '1 of 3 packs bound', 'False')],
      startTime: now(),
    });

    const json = await cli(['status', 'run', ...admin(), '-o', 'json']);
    expect(json).toMatchObject({ code: 4, stderr: '' });
    const v = JSON.parse(json.stdout);
    expect(v).toMatchObject({
      kind: 'BurstJobStatus',
      version: 1,
      name: 'run',
      namespace: ns,
      phase: 'Starting',
      finished: false,
      attempt: 0,
      burstId,
      layout: '3x2',
      packCount: 3,
      missingPacks: [2],
    });
    expect(v.packs).toEqual([
      { pack: 0, pod: 'run-a0-0', workers: '0-1', state: 'Running', ready: expect.any(Boolean), restarts: 0, node: running.spec.nodeName },
      { pack: 1, pod: 'run-a0-1', workers: '2-3', state: 'Gated', ready: false, restarts: 0, node: null },
      { pack: 2, pod: null, workers: '4-5', state: 'Missing', ready: false, restarts: 0, node: null },
    ]);
    expect(pool.names).toContain(running.spec.nodeName);
    expect(v.conditions.map((c: Json) => [c.type, c.status, c.reason])).toEqual([
      ['Admitted', 'True', 'GangAdmitted'],
      ['PacksScheduled', 'False', 'WaitingForScheduler'],
    ]);

    const yaml = await cli(['status', 'run', ...admin(), '-o', 'yaml']);
    expect(yaml.code).toBe(4);
    expect(parseYaml(yaml.stdout)).toEqual(v);

    const text = await cli(['status', 'run', ...admin()]);
    expect(text.code).toBe(4);
    expect(text.stdout).toContain(`BurstJob ${ns}/run: Starting (attempt 0, 0 restarts)`);
    expect(text.stdout).toMatch(new RegExp(`^0\\s+run-a0-0\\s+0-1\\s+Running\\s+(yes|no)\\s+0\\s+${running.spec.nodeName}`, 'm'));
    expect(text.stdout).toMatch(/^1\s+run-a0-1\s+2-3\s+Gated\s+no\s+0\s+-/m);
    expect(text.stdout).toContain('Missing: attempt 0 has no pod for pack 2');
    expect(text.stdout).toMatch(/^PacksScheduled\s+False\s+WaitingForScheduler\s+\d+s\s+1 of 3 packs bound$/m);

    const results = await cli(['results', 'run', ...admin()]);
    expect(results).toMatchObject({ code: 4, stdout: '' });
    expect(results.stderr).toContain('BurstJob run is Starting: results come once it Succeeded');
  });

  it('a job that does not exist exits 3 naming it and the namespace; a bad flag exits 2', async () => {
    for (const cmd of ['status', 'results', 'logs']) {
      const r = await cli([cmd, 'nope', ...admin()]);
      expect(r).toMatchObject({ code: 3, stdout: '' });
      expect(r.stderr).toContain(`BurstJob 'nope' not found in namespace '${ns}' (context kubeburst`);
    }
    const other = await cli(['status', 'run', '--kubeconfig', clusterEnv().kubeconfig]); // the context's namespace: default
    expect(other.code).toBe(3);
    expect(other.stderr).toContain("not found in namespace 'default'");
    const bad = await cli(['status', 'run', ...admin(), '-o', 'wide']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('-o wide: use -o json or -o yaml');
  });
});

describe('kubeburst results', () => {
  it('a succeeded flare: results in worker order from the ConfigMap the operator writes; exit 0', async () => {
    const { job, sizes, burstId } = await flare('done', 4, 2, [0, 1]);
    await Promise.all(['done-a0-0', 'done-a0-1'].map(ungate));
    await Promise.all(['done-a0-0', 'done-a0-1'].map((p) => podPhase(p, 'Running')));
    await writeStatus('done', { phase: 'Running', attempt: attempt0(sizes, burstId) });
    await flares.complete('done', (w) => ({ worker: w, square: w * w }));
    const pods = await Promise.all(['done-a0-0', 'done-a0-1'].map((p) => podPhase(p, 'Succeeded')));
    const collected = collectResults(
      'done',
      0,
      burstId,
      pods.map((p) => observePod(p)),
      sizes,
    );
    await kube.create(`/api/v1/namespaces/${ns}/configmaps`, resultsConfigMap(jobView(job), collected.data));
    await writeStatus('done', { phase: 'Succeeded', results: collected.ref, completionTime: now(), conditions: [cond('Succeeded', 'AllPacksSucceeded', 'every pack exited 0')] });

    const json = await cli(['results', 'done', ...admin(), '-o', 'json']);
    expect(json).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(json.stdout)).toEqual({
      kind: 'BurstJobResults',
      version: 1,
      name: 'done',
      namespace: ns,
      attempt: 0,
      configMap: 'done-results',
      workers: 4,
      collected: 4,
      missing: 0,
      missingPacks: [],
      message: null,
      results: [0, 1, 2, 3].map((w) => ({ worker: w, square: w * w })),
    });
    const text = await cli(['results', 'done', ...admin()]);
    expect(text.code).toBe(0);
    expect(text.stdout.split('\n').slice(0, 3)).toEqual(['WORKER  PACK  RESULT', '0       0     {"worker":0,"square":0}', '1       0     {"worker":1,"square":1}']);
    expect(text.stdout).toContain('3       1     {"worker":3,"square":9}');

    const status = await cli(['status', 'done', ...admin()]);
    expect(status.code).toBe(0);
    expect(status.stdout).toContain(`BurstJob ${ns}/done: Succeeded`);
    expect(status.stdout).toMatch(/^1\s+done-a0-1\s+2-3\s+Succeeded\s+no\s+0\s+\S+\s+Completed$/m);
    expect(status.stdout).toContain('Results: 4 of 4 workers in ConfigMap done-results (kubeburst results done)');
  });

  it('results a pack could not report are null, and exit 6 names the pack and why', async () => {
    const { job, sizes, burstId } = await flare('part', 4, 2, [0, 1]);
    await Promise.all(['part-a0-0', 'part-a0-1'].map(ungate));
    await Promise.all(['part-a0-0', 'part-a0-1'].map((p) => podPhase(p, 'Running')));
    await writeStatus('part', { phase: 'Running', attempt: attempt0(sizes, burstId) });
    // Pack 0 reports its results; pack 1's report was over the termination message limit, so the runtime
    // wrote it without them (worker-runtime/src/pack/termination.ts).
    const report = (pack: number, extra: Json): string => JSON.stringify({ v: 1, burst: burstId, pack, ok: true, first: pack * 2, joined: 1, finished: 2, ...extra });
    await flares.annotate('part-a0-0', { 'kubeburst.io/kwok-phase': 'Succeeded', 'kubeburst.io/kwok-message': report(0, { results: [0, 10] }) });
    await flares.annotate('part-a0-1', { 'kubeburst.io/kwok-phase': 'Succeeded', 'kubeburst.io/kwok-message': report(1, { truncated: true, fullBytes: 9000 }) });
    const pods = await Promise.all(['part-a0-0', 'part-a0-1'].map((p) => podPhase(p, 'Succeeded')));
    const collected = collectResults(
      'part',
      0,
      burstId,
      pods.map((p) => observePod(p)),
      sizes,
    );
    await kube.create(`/api/v1/namespaces/${ns}/configmaps`, resultsConfigMap(jobView(job), collected.data));
    await writeStatus('part', { phase: 'Succeeded', results: collected.ref, completionTime: now() });

    const r = await cli(['results', 'part', ...admin(), '-o', 'json']);
    expect(r.code).toBe(6);
    expect(JSON.parse(r.stdout)).toMatchObject({ workers: 4, collected: 2, missing: 2, missingPacks: [1], results: [0, 10, null, null] });
    expect(r.stderr).toContain(
      "kubeburst results: 2 of 4 workers' results were not collected (pack 1): results of 1 pack(s) were not collected: pack 1 (workers 2-3): its report with results takes 9000 bytes",
    );
    const text = await cli(['results', 'part', ...admin()]);
    expect(text.code).toBe(6);
    expect(text.stdout).toMatch(/^2\s+1\s+\(not collected\)$/m);
  });

  it('a failed flare: status exits 1 with the failed pack and its reason, results exits 1; no password printed', async () => {
    const { sizes, burstId } = await flare('bad', 4, 2, [0, 1]);
    await Promise.all(['bad-a0-0', 'bad-a0-1'].map(ungate));
    await Promise.all(['bad-a0-0', 'bad-a0-1'].map((p) => podPhase(p, 'Running')));
    await writeStatus('bad', { phase: 'Running', attempt: attempt0(sizes, burstId) });
    await flares.fail('bad-a0-1', `worker 3 threw: cannot connect to redis://kb:${SECRET}@redis.infra:6379`, 3);
    const failed = await podPhase('bad-a0-1', 'Failed');
    const message = failureMessage(observePod(failed));
    expect(message).toContain(SECRET); // what the pack wrote; the CLI must not print it
    await writeStatus('bad', {
      phase: 'Failed',
      completionTime: now(),
      lastFailure: { attempt: 0, pack: 1, reason: 'PackFailed', message },
      conditions: [cond('Failed', 'PackFailed', `pack 1 failed: ${message}`)],
    });

    const json = await cli(['status', 'bad', ...admin(), '-o', 'json']);
    expect(json.code).toBe(1);
    const v = JSON.parse(json.stdout);
    expect(v).toMatchObject({ phase: 'Failed', finished: true, lastFailure: { attempt: 0, pack: 1, reason: 'PackFailed' } });
    expect(v.packs[1]).toMatchObject({
      pack: 1,
      state: 'Failed',
      exitCode: 1,
      reason: 'Error',
      message: 'worker 3: worker 3 threw: cannot connect to redis://kb:***@redis.infra:6379',
    });
    expect(v.packs[0]).toMatchObject({ pack: 0, state: 'Running' });
    const text = await cli(['status', 'bad', ...admin()]);
    expect(text.code).toBe(1);
    expect(text.stdout).toContain('Last failure: attempt 0, pack 1: PackFailed: worker 3: worker 3 threw: cannot connect to redis://kb:***@redis.infra:6379');
    const yaml = await cli(['status', 'bad', ...admin(), '-o', 'yaml']);
    const results = await cli(['results', 'bad', ...admin()]);
    expect(results).toMatchObject({ code: 1, stdout: '' });
    expect(results.stderr).toContain('BurstJob bad Failed, so it has no results: attempt 0, pack 1: PackFailed: worker 3:');
    for (const r of [json, text, yaml, results]) expect(r.stdout + r.stderr).not.toContain(SECRET);
  });
});

describe('the kube context', () => {
  it('a bearer token and a CA file, the context picked with --context, its namespace the default', async () => {
    const r = await cli(['status', 'done', '--kubeconfig', readerConfig, '--context', 'reader', '-o', 'json']);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(r.stdout)).toMatchObject({ name: 'done', namespace: ns, phase: 'Succeeded' });
    // $KUBECONFIG works like --kubeconfig.
    const env = await cli(['results', 'done', '--context', 'reader'], { KUBECONFIG: readerConfig });
    expect(env.code).toBe(0);
    // The current context's server refuses connections: exit 5, naming the server and the context.
    const gone = await cli(['status', 'done', '--kubeconfig', readerConfig]);
    expect(gone.code).toBe(5);
    expect(gone.stderr).toContain('cannot reach the API server https://127.0.0.1:1 (context gone)');
    const typo = await cli(['status', 'done', '--kubeconfig', readerConfig, '--context', 'raeder']);
    expect(typo.code).toBe(5);
    expect(typo.stderr).toContain("context 'raeder' is not in the kubeconfig (it has: reader, gone)");
  });

  it('RBAC that forbids reading BurstJobs exits 5 saying so', async () => {
    const r = await cli(['status', 'done', '--kubeconfig', resolve(dir, 'nobody.kubeconfig'), '--context', 'nobody']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('403 Forbidden');
    expect(r.stderr).toContain("(RBAC: the user of context 'nobody' may not read this)");
  });

  it('a server that accepts and never answers: exit 5 after --request-timeout', async () => {
    const sockets = new Set<Socket>();
    const server: Server = createServer((s) => void sockets.add(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          for (const s of sockets) s.destroy();
          server.close(() => r());
        }),
    );
    const port = (server.address() as { port: number }).port;
    const file = resolve(dir, 'silent.kubeconfig');
    writeFileSync(
      file,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: [{ name: 's', cluster: { server: `https://127.0.0.1:${port}`, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [{ name: 's', context: { cluster: 's', user: 'u' } }],
        'current-context': 's',
      }),
    );
    const r = await cli(['status', 'done', '--kubeconfig', file, '--request-timeout', '1s']);
    expect(r.code).toBe(5);
    expect(r.stderr).toContain('no answer to GET /apis/kubeburst.io/v1alpha1/namespaces/default/burstjobs/done in 1 s (--request-timeout)');
    expect(r.ms).toBeLessThan(15_000);
  });
});

describe('kubeburst logs', () => {
  let kwok: ChildProcess | undefined;
  let logFlares: Flares;
  const logFile = (pack: number): string => resolve(dir, `talk-${pack}.log`);

  /**
   * A kwok of this test's own, managing one node of its own: it serves the pods' logs from files on
   * 127.0.0.1 over TLS, where the API server (which asks the node's InternalIP and kubelet port) fetches
   * them, as it does from a kubelet. The shared kwok of up.sh serves no logs.
   */
  beforeAll(async () => {
    const env = clusterEnv();
    // The kwok binary up.sh runs: next to the Kubernetes binaries in the cache, keyed by its version.
    const kubeBin = /^KUBEBURST_KUBE_BIN_DIR=(.*)$/m.exec(readFileSync(resolve(env.stateDir, 'env'), 'utf8'))![1]!;
    const kwokVersion = /^KWOK_VERSION=(.*)$/m.exec(readFileSync(resolve(REPO, 'test/cluster/versions.env'), 'utf8'))![1]!;
    const kwokBin = resolve(kubeBin, '../..', `kwok-${kwokVersion}`, 'bin/kwok');
    const port = await freePort();
    spawnSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-nodes',
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
        '-keyout',
        resolve(dir, 'kwok.key'),
        '-out',
        resolve(dir, 'kwok.crt'),
      ],
      { stdio: 'ignore' },
    );
    for (const p of [0, 1, 2])
      writeFileSync(
        logFile(p),
        `2026-01-01T00:00:00.000000000Z stdout F pack ${p} joined\n2026-01-01T00:00:01.000000000Z stdout F pack ${p} broker redis://kb:${SECRET}@redis:6379\n`,
      );
    const logs = [0, 1, 2].map(
      (p) =>
        `---\nkind: Logs\napiVersion: kwok.x-k8s.io/v1alpha1\nmetadata: { name: talk-a0-${p}, namespace: ${ns} }\nspec:\n  logs:\n  - containers: [pack]\n    logsFile: ${logFile(p)}\n    follow: true\n`,
    );
    // The stages up.sh gave the shared kwok (node and pod lifecycle, kubeburst's completions), plus the logs.
    writeFileSync(resolve(dir, 'kwok.yaml'), `${readFileSync(resolve(env.stateDir, 'kwok.yaml'), 'utf8')}\n${logs.join('')}`);
    const out = openSync(resolve(dir, 'kwok.log'), 'a');
    kwok = spawn(
      kwokBin,
      [
        `--kubeconfig=${env.kubeconfig}`,
        `--config=${resolve(dir, 'kwok.yaml')}`,
        '--manage-all-nodes=false',
        `--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=${ns}`,
        '--node-ip=127.0.0.1',
        `--node-port=${port}`,
        `--server-address=127.0.0.1:${port}`,
        `--tls-cert-file=${resolve(dir, 'kwok.crt')}`,
        `--tls-private-key-file=${resolve(dir, 'kwok.key')}`,
        '--cidr=10.251.0.1/24',
      ],
      { stdio: ['ignore', out, out] },
    );
    cleanups.push(
      () =>
        new Promise<void>((r) => {
          if (kwok === undefined || kwok.exitCode !== null) return r();
          kwok.once('exit', () => r());
          kwok.kill('SIGTERM');
        }),
    );
    const node = `${ns}-logs`;
    await kube.create('/api/v1/nodes', {
      metadata: {
        name: node,
        annotations: { 'kwok.x-k8s.io/node': ns, 'node.alpha.kubernetes.io/ttl': '0' },
        labels: { type: 'kwok', [POOL_KEY]: node, 'kubernetes.io/hostname': node },
      },
      spec: { taints: [{ key: POOL_KEY, value: node, effect: 'NoSchedule' }] },
      status: { allocatable: { cpu: '8', memory: '16Gi', pods: '110' }, capacity: { cpu: '8', memory: '16Gi', pods: '110' } },
    });
    cleanups.push(() => kube.delete(`/api/v1/nodes/${node}`).catch(() => undefined));
    await waitFor(`node ${node} ready (kwok log: ${resolve(dir, 'kwok.log')})`, async () => {
      const n = await kube.get<Json>(`/api/v1/nodes/${node}`);
      return (
        (n.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True') &&
        !(n.spec?.taints ?? []).some((t: Json) => t.key.startsWith('node.kubernetes.io/'))
      );
    });
    logFlares = new Flares(kube, ns, {
      template: { nodeSelector: { [POOL_KEY]: node }, tolerations: [{ key: POOL_KEY, operator: 'Equal', value: node, effect: 'NoSchedule' }] },
    } as unknown as NodePool);
    const { sizes, burstId } = await flare('talk', 6, 2, [0, 1, 2], logFlares);
    await Promise.all(['talk-a0-0', 'talk-a0-1'].map(ungate));
    await Promise.all(['talk-a0-0', 'talk-a0-1'].map((p) => podPhase(p, 'Running')));
    await writeStatus('talk', { phase: 'Starting', attempt: attempt0(sizes, burstId) });
  }, 120_000);

  it('every pack of the current attempt, prefixed by pack, passwords masked; a pack not started exits 4', async () => {
    const r = await cli(['logs', 'talk', ...admin()]);
    expect(r.stdout).toBe(
      ['[pack 0] pack 0 joined', '[pack 0] pack 0 broker redis://kb:***@redis:6379', '[pack 1] pack 1 joined', '[pack 1] pack 1 broker redis://kb:***@redis:6379', ''].join('\n'),
    );
    expect(r.stderr).toBe('kubeburst logs: pack 2 (pod talk-a0-2): not started yet: gated: the gang is not admitted yet\n');
    expect(r.code).toBe(4);
  });

  it('--pack P: that pack only, unprefixed, through a token with RBAC for pods/log; --tail', async () => {
    const r = await cli(['logs', 'talk', '--pack', '1', '--tail', '1', '--kubeconfig', readerConfig, '--context', 'reader']);
    expect(r).toMatchObject({ code: 0, stderr: '', stdout: 'pack 1 broker redis://kb:***@redis:6379\n' });
    const missing = await cli(['logs', 'talk', '--pack', '7', ...admin()]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--pack 7: BurstJob talk has packs 0-2');
  });

  it('--follow streams every pack, waits for one that starts meanwhile, and stops at --timeout with exit 4', async () => {
    const run = cli(['logs', 'talk', '-f', '--timeout', '10s', ...admin()]);
    await new Promise((r) => setTimeout(r, 2500));
    appendFileSync(logFile(0), '2026-01-01T00:00:02.000000000Z stdout F pack 0 iteration 1\n');
    await ungate('talk-a0-2');
    const r = await run;
    expect(r.stdout).toContain('[pack 0] pack 0 joined\n');
    expect(r.stdout).toContain('[pack 1] pack 1 joined\n');
    expect(r.stdout).toContain('[pack 0] pack 0 iteration 1\n');
    expect(r.stdout).toContain('[pack 2] pack 2 joined\n');
    expect(r.stdout).not.toContain(SECRET);
    expect(r.stderr).toBe('kubeburst logs: stopped following after 10 s (--timeout)\n');
    expect(r.code).toBe(4);
  });
});

function freePort(): Promise<number> {
  return new Promise((done, fail) => {
    const s = createServer();
    s.on('error', fail);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}
