import { stringify } from 'yaml';
import { redactText } from '@kubeburst/worker-runtime';
import { CliUsageError, type CliIO } from '../io.js';
import { CliKube, KubeApiError, KubeConnectError, type KubeTarget } from './kube.js';

/**
 * What `kubeburst status | results | logs` share: the kubectl-like flags that pick the cluster, the
 * output format, and the exit codes scripts branch on.
 */

/**
 * Exit codes of the cluster commands. 0, 1 and 2 mean what they mean for every command (success, the
 * flare failed, bad usage); the others are theirs alone.
 */
export const CLUSTER_EXIT = {
  /** status: Succeeded. results: every result collected. logs: every log read. */
  ok: 0,
  /** The BurstJob is Failed. */
  failed: 1,
  usage: 2,
  /** No such BurstJob in the namespace (logs: or no pod for --pack). */
  notFound: 3,
  /** Not finished yet: Pending, Starting, Running, Restarting, Suspended, or no status yet (logs: a pack has not started; --follow stopped at --timeout). */
  unfinished: 4,
  /** The API server could not be reached or refused the request (kubeconfig, credentials, RBAC, timeout). */
  apiError: 5,
  /** results: Succeeded, but some workers' results were not collected (the message names the packs). */
  incomplete: 6,
} as const;

export const EXIT_CODES_HELP = `Exit codes (status, results, logs):
  0  Succeeded (status), every result collected (results), every log read (logs)
  1  the BurstJob Failed
  2  bad usage
  3  no such BurstJob in the namespace (logs: no pod for --pack)
  4  not finished: Pending, Starting, Running, Restarting, Suspended (logs: a pack has not
     started; --follow stopped at --timeout)
  5  the API server could not be reached or refused (kubeconfig, credentials, RBAC, timeout)
  6  results: Succeeded, but some workers' results were not collected (stderr names the packs)
`;

export const CLUSTER_FLAGS_HELP = `Cluster flags (as kubectl):
  --kubeconfig FILE        kubeconfig to use (default: $KUBECONFIG, else ~/.kube/config)
  --context NAME           context of that kubeconfig (default: its current-context)
  -n, --namespace NS       namespace of the BurstJob (default: the context's, else "default")
  --request-timeout DUR    give up on a request without an answer after this long (default 30s; 1s-10m)
`;

export const CLUSTER_OPTIONS = {
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  namespace: { type: 'string', short: 'n' },
  'request-timeout': { type: 'string' },
} as const;

export const OUTPUT_OPTION = { output: { type: 'string', short: 'o' } } as const;

export type OutputFormat = 'text' | 'json' | 'yaml';

export function outputFormat(v: string | undefined, command: string): OutputFormat {
  if (v === undefined) return 'text';
  if (v === 'json' || v === 'yaml') return v;
  throw new CliUsageError(`${command}: -o ${v}: use -o json or -o yaml (or leave it out for a table)`, command);
}

/** Prints a view as JSON or YAML: the machine contract. */
export function printMachine(io: CliIO, format: 'json' | 'yaml', value: unknown): void {
  io.stdout.write(format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : stringify(value, { lineWidth: 0 }));
}

/** "30s", "2m", "500ms", "1h" or plain seconds → ms, within [minMs, maxMs]. */
export function parseDuration(v: string, flag: string, command: string, minMs: number, maxMs: number): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
  const ms = m === null ? NaN : Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[(m[2] ?? 's') as 'ms' | 's' | 'm' | 'h'];
  if (!Number.isFinite(ms) || ms < minMs || ms > maxMs) {
    throw new CliUsageError(`${command}: ${flag} ${v}: give a duration from ${fmtMs(minMs)} to ${fmtMs(maxMs)}, like 30s or 2m`, command);
  }
  return ms;
}

const fmtMs = (ms: number): string => (ms % 60_000 === 0 ? `${ms / 60_000}m` : ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`);

export function kubeTarget(values: { kubeconfig?: string; context?: string; namespace?: string; 'request-timeout'?: string }, command: string): KubeTarget {
  if (values.namespace !== undefined && !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(values.namespace)) {
    throw new CliUsageError(`${command}: -n ${values.namespace}: not a namespace name (lowercase letters, digits and -)`, command);
  }
  return {
    ...(values.kubeconfig !== undefined ? { kubeconfig: values.kubeconfig } : {}),
    ...(values.context !== undefined ? { context: values.context } : {}),
    ...(values.namespace !== undefined ? { namespace: values.namespace } : {}),
    requestTimeoutMs: values['request-timeout'] !== undefined ? parseDuration(values['request-timeout'], '--request-timeout', command, 1000, 600_000) : 30_000,
  };
}

export function jobName(positionals: string[], command: string, usage: string): string {
  if (positionals.length !== 1) throw new CliUsageError(`${command}: which BurstJob? (${usage})`, command);
  const name = positionals[0]!;
  if (!/^[a-z]([-a-z0-9]*[a-z0-9])?$/.test(name) || name.length > 63)
    throw new CliUsageError(`${command}: '${name}' is not a BurstJob name (lowercase letters, digits and -, starting with a letter)`, command);
  return name;
}

/**
 * Runs a cluster command: opens the client, and turns what the cluster said into an exit code and one
 * line on stderr that names what was missing or refused.
 */
export async function withCluster(io: CliIO, command: string, target: KubeTarget, body: (kube: CliKube) => Promise<number>): Promise<number> {
  let kube: CliKube;
  try {
    kube = CliKube.open(target);
  } catch (err) {
    if (err instanceof KubeConnectError) return fail(io, command, err.message, CLUSTER_EXIT.apiError);
    throw err;
  }
  try {
    return await body(kube);
  } catch (err) {
    if (err instanceof KubeApiError) {
      const hint =
        err.status === 401 ? ' (the credentials of the context were refused)' : err.status === 403 ? ` (RBAC: the user of context '${kube.context}' may not read this)` : '';
      return fail(io, command, `GET ${err.path.split('?')[0]}: ${err.status} ${err.reason}: ${err.message}${hint}`, CLUSTER_EXIT.apiError);
    }
    if (err instanceof KubeConnectError) return fail(io, command, err.message, CLUSTER_EXIT.apiError);
    throw err;
  }
}

export function fail(io: CliIO, command: string, message: string, code: number): number {
  io.stderr.write(`kubeburst ${command}: ${redactText(message)}\n`);
  return code;
}

/** Aligned columns, like kubectl get. */
export function table(rows: readonly (readonly string[])[]): string {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return (
    rows
      .map((r) =>
        r
          .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** "5s", "3m", "2h", "4d" since an RFC 3339 time. */
export function age(time: string | null | undefined, now: number): string {
  const t = Date.parse(time ?? '');
  if (!Number.isFinite(t)) return '-';
  const s = Math.max(0, Math.round((now - t) / 1000));
  return s < 120 ? `${s}s` : s < 7200 ? `${Math.round(s / 60)}m` : s < 172_800 ? `${Math.round(s / 3600)}h` : `${Math.round(s / 86_400)}d`;
}
