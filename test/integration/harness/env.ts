import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** Where the local control plane of test/cluster lives, and how to reach it. */
export const REPO = resolve(import.meta.dirname, '../../..');

export interface ClusterEnv {
  stateDir: string;
  kubeconfig: string;
  kubectl: string;
  helm: string;
  apiServer: string;
  kubeVersion: string;
  /** etcd's client URL (plain HTTP on 127.0.0.1; its JSON gateway serves /v3/kv/…). */
  etcd: string;
  /** `key=value`: namespaces Kueue manages (its pod webhooks and managedJobsNamespaceSelector). */
  kueueNamespaceLabel: string;
}

export function stateDir(): string {
  return process.env.KUBEBURST_CLUSTER_DIR ?? resolve(REPO, '.cache/cluster-state');
}

export function clusterEnv(): ClusterEnv {
  const dir = stateDir();
  const file = resolve(dir, 'env');
  if (!existsSync(file)) throw new Error(`no local control plane in ${dir}: run test/cluster/up.sh (the jest globalSetup of the cluster project does)`);
  const env = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    stateDir: dir,
    kubeconfig: env.KUBECONFIG!,
    kubectl: resolve(env.KUBEBURST_KUBE_BIN_DIR!, 'kubectl'),
    helm: resolve(env.KUBEBURST_HELM_BIN_DIR!, 'helm'),
    apiServer: env.KUBEBURST_API_SERVER!,
    kubeVersion: env.KUBEBURST_KUBE_VERSION!,
    etcd: `http://127.0.0.1:${env.KUBEBURST_ETCD_PORT!}`,
    kueueNamespaceLabel: env.KUBEBURST_KUEUE_NAMESPACE_LABEL!,
  };
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion (killed after `timeoutMs`, if given); `check` throws with its output when it fails. */
export function run(cmd: string, args: string[], opts: { input?: string; check?: boolean; env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {}): RunResult {
  const r = spawnSync(cmd, args, {
    input: opts.input,
    encoding: 'utf8',
    cwd: opts.cwd ?? REPO,
    env: opts.env ?? process.env,
    maxBuffer: 64 * 1024 * 1024,
    ...(opts.timeoutMs !== undefined ? { timeout: opts.timeoutMs } : {}),
  });
  // A command killed at its timeout has an error (ETIMEDOUT) as well as the output it wrote.
  const res = { code: r.status ?? -1, stdout: r.stdout ?? '', stderr: `${r.stderr ?? ''}${r.error ? `\n${String(r.error)}` : ''}` };
  if ((opts.check ?? true) && res.code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${res.code}:\n${res.stderr}${res.stdout}`);
  return res;
}

export function kubectl(args: string[], opts: { input?: string; check?: boolean } = {}): RunResult {
  const c = clusterEnv();
  return run(c.kubectl, ['--kubeconfig', c.kubeconfig, ...args], opts);
}

export function helm(args: string[], opts: { input?: string; check?: boolean } = {}): RunResult {
  const c = clusterEnv();
  return run(c.helm, args, {
    ...opts,
    env: {
      ...process.env,
      KUBECONFIG: c.kubeconfig,
      HELM_CACHE_HOME: resolve(REPO, '.cache/helm'),
      HELM_CONFIG_HOME: resolve(REPO, '.cache/helm'),
      HELM_DATA_HOME: resolve(REPO, '.cache/helm'),
    },
  });
}
