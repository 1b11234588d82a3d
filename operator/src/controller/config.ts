import { hostname } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { urlSecrets } from '@kubeburst/worker-runtime';

/**
 * Operator configuration: parsed once in main.ts from flags (with environment fallbacks, which is what
 * the Helm chart sets) and passed down; nothing below reads process.env or argv.
 */
const DAY_MS = 86_400_000;
/**
 * A duration flag, in ms, within [minMs, 24h]. Every duration drives a timer: past 2^31 ms setTimeout and
 * setInterval fire at once (a hot loop), and a period of 0 is one too.
 */
const durationIn = (minMs: number) =>
  z
    .string()
    .regex(/^\d+(\.\d+)?(ms|s|m|h)$/, 'must be a duration such as 500ms, 10s, 5m or 1h')
    .transform((d) => {
      const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(d)!;
      return Number(m[1]) * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    })
    .refine((ms) => ms >= minMs && ms <= DAY_MS, `must be between ${minMs >= 1000 ? `${minMs / 1000}s` : `${minMs}ms`} and 24h`);
/** A period or timeout: at least 100 ms. */
const duration = durationIn(100);
const int = (min: number, max: number) => z.coerce.number().int().min(min).max(max);
const bool = z.enum(['true', 'false']).transform((b) => b === 'true');
const address = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]*):\d+$/, 'must be host:port (":8080" for every interface, "127.0.0.1:0" for a free local port)');

export const ConfigSchema = z.object({
  kubeconfig: z.string().optional(),
  namespaces: z
    .string()
    .default('')
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== ''),
    ),
  workerImage: z.string().min(1).default('ghcr.io/kubeburst/worker:0.1.0'),
  imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional(),
  workers: int(1, 256).default(8),
  podCreateConcurrency: int(1, 1024).default(32),
  /** A NetworkPolicy per BurstJob that opens its packs' ports to its own packs only. */
  networkPolicy: bool.default(true),
  /**
   * A Redis URL with an admin user (ACL SETUSER/DELUSER, SCAN, DEL): every Redis-transport attempt then
   * gets an ACL user limited to its own keys, and the operator cleans keys with it. From the chart's
   * brokers.redisAdmin Secret, as an environment variable (never a flag: flags show in `ps`).
   */
  redisAdminUrl: z.string().min(1).optional(),
  /**
   * An account nkey seed (`SA…`) of a nats-server in operator (JWT) mode: every NATS-transport attempt then
   * runs as a user of its own, minted by the operator, limited to the burst's subjects. From the chart's
   * brokers.natsAccount Secret; environment only (ENV_ONLY). Checked in full (checksum, key type) in main.ts.
   */
  natsAccountSeed: z
    .string()
    .trim()
    .regex(/^SA[A-Z2-7]{56}$/, 'must be an account nkey seed: SA followed by 56 base32 characters')
    .optional(),
  /** The account's public key (`A…`), when natsAccountSeed is one of its signing keys rather than its own key. */
  natsAccount: z
    .string()
    .trim()
    .regex(/^A[A-Z2-7]{55}$/, 'must be an account public key: A followed by 55 base32 characters')
    .optional(),
  kubeApiQps: int(1, 100_000).default(500),
  kubeApiBurst: int(1, 100_000).default(1000),
  metricsBindAddress: address.default(':8080'),
  leaderElect: bool.default(true),
  leaderElectionNamespace: z.string().min(1).default('kubeburst-system'),
  leaderElectionId: z.string().min(1).default('kubeburst-operator'),
  leaseDuration: duration.default(15_000),
  renewDeadline: duration.default(10_000),
  retryPeriod: duration.default(2_000),
  identity: z.string().min(1).default(`${hostname()}_${process.pid}`),
  restartBackoff: durationIn(0).default(10_000),
  restartBackoffMax: duration.default(300_000),
  admissionRecheck: duration.default(30_000),
  strictFifoAfter: durationIn(0).default(300_000),
  brokerCleanupTimeout: duration.default(300_000),
  resyncPeriod: durationIn(1000).default(300_000),
  watchdog: duration.default(300_000),
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});
export type Config = z.output<typeof ConfigSchema>;

/** flag name → [config key, environment variable]. */
const FLAGS: Record<string, [keyof Config, string]> = {
  kubeconfig: ['kubeconfig', 'KUBECONFIG'],
  namespaces: ['namespaces', 'KUBEBURST_NAMESPACES'],
  'worker-image': ['workerImage', 'KUBEBURST_WORKER_IMAGE'],
  'image-pull-policy': ['imagePullPolicy', 'KUBEBURST_IMAGE_PULL_POLICY'],
  workers: ['workers', 'KUBEBURST_WORKERS'],
  'pod-create-concurrency': ['podCreateConcurrency', 'KUBEBURST_POD_CREATE_CONCURRENCY'],
  'network-policy': ['networkPolicy', 'KUBEBURST_NETWORK_POLICY'],
  'redis-admin-url': ['redisAdminUrl', 'KUBEBURST_REDIS_ADMIN_URL'],
  'kube-api-qps': ['kubeApiQps', 'KUBEBURST_KUBE_API_QPS'],
  'kube-api-burst': ['kubeApiBurst', 'KUBEBURST_KUBE_API_BURST'],
  'metrics-bind-address': ['metricsBindAddress', 'KUBEBURST_METRICS_BIND_ADDRESS'],
  'leader-elect': ['leaderElect', 'KUBEBURST_LEADER_ELECT'],
  'leader-election-namespace': ['leaderElectionNamespace', 'POD_NAMESPACE'],
  'leader-election-id': ['leaderElectionId', 'KUBEBURST_LEADER_ELECTION_ID'],
  'lease-duration': ['leaseDuration', 'KUBEBURST_LEASE_DURATION'],
  'renew-deadline': ['renewDeadline', 'KUBEBURST_RENEW_DEADLINE'],
  'retry-period': ['retryPeriod', 'KUBEBURST_RETRY_PERIOD'],
  identity: ['identity', 'POD_NAME'],
  'restart-backoff': ['restartBackoff', 'KUBEBURST_RESTART_BACKOFF'],
  'restart-backoff-max': ['restartBackoffMax', 'KUBEBURST_RESTART_BACKOFF_MAX'],
  'admission-recheck': ['admissionRecheck', 'KUBEBURST_ADMISSION_RECHECK'],
  'strict-fifo-after': ['strictFifoAfter', 'KUBEBURST_STRICT_FIFO_AFTER'],
  'broker-cleanup-timeout': ['brokerCleanupTimeout', 'KUBEBURST_BROKER_CLEANUP_TIMEOUT'],
  'resync-period': ['resyncPeriod', 'KUBEBURST_RESYNC_PERIOD'],
  watchdog: ['watchdog', 'KUBEBURST_WATCHDOG'],
  'log-level': ['logLevel', 'KUBEBURST_LOG_LEVEL'],
};

/**
 * Read from the environment only, never from a flag: flags show in `ps` and in the pod spec's args. The
 * chart sets them from a Secret.
 */
const ENV_ONLY: Record<string, keyof Config> = {
  KUBEBURST_NATS_ACCOUNT_SEED: 'natsAccountSeed',
  KUBEBURST_NATS_ACCOUNT: 'natsAccount',
};

export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

export const USAGE = `kubeburst-operator [flags]\n${Object.entries(FLAGS)
  .map(([flag, [, env]]) => `  --${flag.padEnd(26)} (env ${env})`)
  .join('\n')}\n${Object.keys(ENV_ONLY)
  .map((env) => `  ${''.padEnd(28)} env ${env} (no flag)`)
  .join('\n')}`;

/** Flags win over environment variables; unknown flags and bad values fail with the flag's name. */
export function parseConfig(argv: string[], env: NodeJS.ProcessEnv): Config {
  let values: Record<string, string | boolean | undefined>;
  try {
    values = parseArgs({ args: argv, options: Object.fromEntries(Object.keys(FLAGS).map((f) => [f, { type: 'string' as const }])), strict: true, allowPositionals: false }).values;
  } catch (err) {
    throw new ConfigError(`${(err as Error).message}\n${USAGE}`);
  }
  const raw: Record<string, unknown> = {};
  for (const [flag, [key, envName]] of Object.entries(FLAGS)) {
    const v = values[flag] ?? (env[envName] === '' ? undefined : env[envName]);
    if (v !== undefined) raw[key] = v;
  }
  for (const [envName, key] of Object.entries(ENV_ONLY)) if (env[envName] !== undefined && env[envName] !== '') raw[key] = env[envName];
  const r = ConfigSchema.safeParse(raw);
  if (!r.success) {
    const byKey: Record<string, string> = {
      ...Object.fromEntries(Object.entries(FLAGS).map(([flag, [key, envName]]) => [key, `--${flag} (env ${envName})`])),
      ...Object.fromEntries(Object.entries(ENV_ONLY).map(([envName, key]) => [key, `env ${envName} (chart value brokers.natsAccount)`])),
    };
    throw new ConfigError(r.error.issues.map((i) => `${byKey[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('\n'));
  }
  if (r.data.renewDeadline >= r.data.leaseDuration) throw new ConfigError('--renew-deadline must be shorter than --lease-duration');
  if (r.data.natsAccount !== undefined && r.data.natsAccountSeed === undefined)
    throw new ConfigError('env KUBEBURST_NATS_ACCOUNT is set but KUBEBURST_NATS_ACCOUNT_SEED is not (chart value brokers.natsAccount: the Secret needs the seed)');
  return r.data;
}

/**
 * The operator's own credentials, for the Logger and the crash line to mask wherever they appear: the
 * Redis admin URL's password (even where it no longer looks like a URL) and the NATS account seed.
 */
export function credentialsOf(cfg: Partial<Pick<Config, 'redisAdminUrl' | 'natsAccountSeed'>>): string[] {
  const seed = cfg.natsAccountSeed?.trim();
  return [...urlSecrets(cfg.redisAdminUrl), ...(seed ? [seed] : [])];
}
