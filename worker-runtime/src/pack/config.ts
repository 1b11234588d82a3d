import { readFileSync } from 'node:fs';
import { availableParallelism, hostname } from 'node:os';
import { pathToFileURL } from 'node:url';
import { ConfigError } from '../errors.js';
import { readHandoff } from '../security/handoff.js';
import { parseSecret } from '../security/keys.js';
import { PackLayout } from '../topology.js';
import { parseDirectUrl } from '../transport/direct-address.js';
import { parseNatsCreds } from '../transport/nats-users.js';
import { TRANSPORT_KINDS, type TransportKind } from '../transport/types.js';

/**
 * Everything a pack process needs, parsed once at start (from the environment, for a pod or a local
 * child process) and passed down; nothing below reads the environment.
 */
export interface PackConfig {
  /** Unique per flare attempt: namespaces broker keys and subjects. */
  burstId: string;
  layout: PackLayout;
  packId: number;
  /** `encrypt`: seal frames through a broker with encryption, not only a MAC (KB_TRANSPORT_ENCRYPT). */
  /** `urlSource`: where the URL came from, for messages (KB_TRANSPORT_URL_SOURCE). */
  /** `natsUser`: the burst's NATS user, from the `.creds` file KB_TRANSPORT_CREDS_FILE names. */
  transport: { kind: TransportKind; url: string; urlSource: string; chunkBytes: number; encrypt: boolean; natsUser?: { jwt: string; seed: string; source: string } };
  /** The attempt's secret (KB_SECRET_FILE): required when the burst has more than one pack. */
  secret?: Buffer;
  /** Where each pack's liveness-link listener is (KB_LINK_URL): required with more than one pack. */
  linkUrl?: string;
  /** Path of the worker module (its default export is defineWorker(...)). */
  modulePath: string;
  /**
   * What the worker threads import, when it is not the module itself: a TypeScript module compiled once
   * for every pack by its launcher (KB_FUNCTION_COMPILED, a file URL), or by the pack (a data: URL).
   */
  moduleUrl?: string;
  /** Params of this pack's workers, by worker id. */
  params: ReadonlyMap<number, unknown>;
  joinTimeoutMs: number;
  operationTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  helloTimeoutMs: number;
  /** After an abort, how long workers get to wind down before their threads are terminated. */
  abortGraceMs: number;
  ringBytes: number;
  inlineMaxBytes: number;
  spinMicros: number;
  /** A worker's next send waits while the pack has more than this in flight to other packs. */
  sendBudgetBytes: number;
  /** Most messages / bytes one sender may have delivered to a worker that it has not received. */
  maxUnreceivedMessages: number;
  maxUnreceivedBytes: number;
  /** Largest result (JSON bytes) a worker may return; the pack's results together at most 4× this. */
  maxResultBytes: number;
  resultFile?: string;
  /** Pod termination message file (KB_TERMINATION_LOG). */
  terminationLog?: string;
  /** The local launcher's temp dir (KB_LAUNCH_DIR). */
  launchDir?: string;
  /** Readiness endpoint (/readyz turns 200 once every pack has joined) and /healthz. */
  http?: { host: string; port: number };
}

/** Environment variables a pack reads (the operator and `kubeburst run` set them). */
export const ENV = {
  burstId: 'KB_BURST_ID',
  burstSize: 'KB_BURST_SIZE',
  granularity: 'KB_GRANULARITY',
  packSizes: 'KB_PACK_SIZES',
  packIndex: 'KB_PACK_INDEX',
  transport: 'KB_TRANSPORT',
  /**
   * redis://…, nats://…, or for the direct transport where each pack listens (see transport/direct-address.ts):
   * `unix:///tmp/kb/p{pack}.sock`, `tcp://<job>-a<attempt>-{pack}.<headless-service>:7100` (a pod listens on
   * 0.0.0.0:7100), or `host:port,host:port,…` (one per pack); `?listen=host:port` overrides where this pack listens.
   */
  transportUrl: 'KB_TRANSPORT_URL',
  /** Instead of KB_TRANSPORT_URL: a file holding it (a Secret's key, as the operator mounts spec.transport.secretRef). */
  transportUrlFile: 'KB_TRANSPORT_URL_FILE',
  /**
   * Where KB_TRANSPORT_URL came from, in the words of whoever set it (`--transport`, `spec.transport.url`, a
   * Secret): an unreachable broker's message points there. Default: KB_TRANSPORT_URL, or the default URL.
   */
  transportUrlSource: 'KB_TRANSPORT_URL_SOURCE',
  /** A file holding the attempt's secret, base64 (the operator mounts it from the attempt Secret). */
  secretFile: 'KB_SECRET_FILE',
  /** Instead of KB_SECRET_FILE: a descriptor the local launcher hands the secret on (security/handoff.ts). */
  secretFd: 'KB_SECRET_FD',
  /**
   * Where each pack listens for its neighbours' liveness links, in the direct transport's grammar:
   * `tcp://<job>-a<attempt>-{pack}.<headless-service>:7101` in pods, `unix:///tmp/kb/l{pack}.sock` locally.
   */
  linkUrl: 'KB_LINK_URL',
  /** How long a pack-to-pack connection's handshake may take before it is dropped. */
  helloTimeoutMs: 'KB_HELLO_TIMEOUT_MS',
  /** A local launcher's temp dir: a pack whose launcher died removes it (pods have none). */
  launchDir: 'KB_LAUNCH_DIR',
  chunkBytes: 'KB_CHUNK_BYTES',
  /** `true`: frames through a broker are encrypted, not only authenticated. */
  transportEncrypt: 'KB_TRANSPORT_ENCRYPT',
  /** Credentials that replace the URL's own (the burst's Redis ACL user, from the attempt Secret). */
  transportUser: 'KB_TRANSPORT_USER',
  /** The burst user's password (with KB_TRANSPORT_USER): a file, as the operator mounts it, not a variable. */
  transportPasswordFile: 'KB_TRANSPORT_PASSWORD_FILE',
  /**
   * A NATS `.creds` file (user JWT + nkey seed): the burst's own NATS user, whatever the URL says. A file, not
   * a variable: the operator mounts it from the attempt Secret (POD.natsCredsKey).
   */
  transportCredsFile: 'KB_TRANSPORT_CREDS_FILE',
  /** Instead of KB_TRANSPORT_CREDS_FILE: a descriptor the local launcher hands the `.creds` on. */
  transportCredsFd: 'KB_TRANSPORT_CREDS_FD',
  function: 'KB_FUNCTION',
  functionCompiled: 'KB_FUNCTION_COMPILED',
  paramsFile: 'KB_PARAMS_FILE',
  params: 'KB_PARAMS',
  joinTimeoutMs: 'KB_JOIN_TIMEOUT_MS',
  operationTimeoutMs: 'KB_OPERATION_TIMEOUT_MS',
  heartbeatMs: 'KB_HEARTBEAT_MS',
  heartbeatTimeoutMs: 'KB_HEARTBEAT_TIMEOUT_MS',
  ringBytes: 'KB_RING_BYTES',
  inlineMaxBytes: 'KB_INLINE_MAX_BYTES',
  spinMicros: 'KB_SPIN_MICROS',
  sendBudgetBytes: 'KB_SEND_BUDGET_BYTES',
  maxUnreceivedMessages: 'KB_MAX_UNRECEIVED_MESSAGES',
  maxUnreceivedBytes: 'KB_MAX_UNRECEIVED_BYTES',
  maxResultBytes: 'KB_MAX_RESULT_BYTES',
  resultFile: 'KB_RESULT_FILE',
  httpPort: 'KB_HTTP_PORT',
  httpHost: 'KB_HTTP_HOST',
  /** Where to write the compact report that becomes the pod's termination message (pack/termination.ts). */
  terminationLog: 'KB_TERMINATION_LOG',
} as const;

export const DEFAULTS = {
  chunkBytes: 1024 * 1024,
  joinTimeoutMs: 120_000,
  operationTimeoutMs: 300_000,
  // Heartbeats only catch a frozen or cut-off pack (a dead one closes its links at once), so their timeout
  // is long enough that a saturated 2-core machine, where event loops stall for seconds, never trips it.
  heartbeatMs: 1_000,
  heartbeatTimeoutMs: 15_000,
  helloTimeoutMs: 10_000,
  abortGraceMs: 1_000,
  ringBytes: 1 << 20,
  // Copying through the ring beats a reference hop via the main thread up to ~64 KiB (bench/results/bcm.md:
  // in-pack latency by size); above that, shared memory by reference.
  inlineMaxBytes: 64 * 1024,
  sendBudgetBytes: 256 * 1024 * 1024,
  // Per (sender, receiver) pair, what arrived and was not received yet: far above any protocol's needs,
  // well below a pack running out of memory.
  maxUnreceivedMessages: 65_536,
  maxUnreceivedBytes: 256 * 1024 * 1024,
  // Node's strings stop at 512 MiB and a pack's report is one: 4 results of 64 MiB still fit.
  maxResultBytes: 64 * 1024 * 1024,
  // Longer than a futex wake-up (~50 µs here): then two threads that ping-pong settle into polling each
  // other instead of each just missing the other's reply and falling asleep.
  spinMicros: 200,
} as const;

const DEFAULT_URLS: Record<TransportKind, string> = {
  redis: 'redis://127.0.0.1:6379',
  nats: 'nats://127.0.0.1:4222',
  direct: '',
};

export function packConfigFromEnv(env: NodeJS.ProcessEnv = process.env): PackConfig {
  const get = (k: string): string | undefined => (env[k] === undefined || env[k] === '' ? undefined : env[k]);
  const need = (k: string): string => {
    const v = get(k);
    if (v === undefined) throw new ConfigError(k, 'is required');
    return v;
  };
  const int = (k: string, dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER): number => {
    const v = get(k);
    if (v === undefined) return dflt;
    const n = Number(v);
    if (!Number.isInteger(n) || n < min || n > max) throw new ConfigError(k, `must be an integer >= ${min}${max < Number.MAX_SAFE_INTEGER ? ` and <= ${max}` : ''} (got '${v}')`);
    return n;
  };

  const bool = (k: string): boolean => {
    const v = get(k);
    if (v === undefined || v === 'false') return false;
    if (v === 'true') return true;
    throw new ConfigError(k, `must be true or false (got '${v}')`);
  };

  let layout: PackLayout;
  const sizes = get(ENV.packSizes);
  if (sizes !== undefined) {
    layout = PackLayout.parseSizes(sizes, ENV.packSizes);
    const n = get(ENV.burstSize);
    if (n !== undefined && Number(n) !== layout.burstSize) throw new ConfigError(ENV.packSizes, `pack sizes add up to ${layout.burstSize}, but ${ENV.burstSize} is ${n}`);
  } else {
    const n = int(ENV.burstSize, -1, 1);
    if (n < 0) throw new ConfigError(ENV.burstSize, `is required (or set ${ENV.packSizes})`);
    layout = PackLayout.fromGranularity(n, int(ENV.granularity, n, 1));
  }

  const packId = packIndexFrom(env, layout.packCount);
  const kind = (get(ENV.transport) ?? (layout.packCount === 1 ? 'direct' : undefined)) as TransportKind | undefined;
  if (kind === undefined) throw new ConfigError(ENV.transport, `is required when the burst has more than one pack: one of ${TRANSPORT_KINDS.join(', ')}`);
  if (!TRANSPORT_KINDS.includes(kind)) throw new ConfigError(ENV.transport, `must be one of ${TRANSPORT_KINDS.join(', ')} (got '${kind}')`);

  const urlFile = get(ENV.transportUrlFile);
  const urlSource =
    get(ENV.transportUrlSource) ??
    (urlFile !== undefined ? `${ENV.transportUrlFile} (${urlFile})` : get(ENV.transportUrl) !== undefined ? ENV.transportUrl : `the default (${ENV.transportUrl} is unset)`);
  // Whitespace around a URL from a file dropped (a URL holds none unencoded; --from-file adds a newline).
  let url = urlFile !== undefined ? readConfigFile(ENV.transportUrlFile, urlFile, `the broker URL (${urlSource})`).trim() : (get(ENV.transportUrl) ?? DEFAULT_URLS[kind]);
  const user = get(ENV.transportUser);
  if (user !== undefined && kind !== 'direct') {
    if (get(ENV.transportPasswordFile) === undefined && get('KB_TRANSPORT_PASSWORD') !== undefined) {
      throw new ConfigError(
        ENV.transportPasswordFile,
        'is required with KB_TRANSPORT_USER; this pod sets KB_TRANSPORT_PASSWORD instead, which packs of this version do not read: its operator is older than its pack image (upgrade them together)',
      );
    }
    // As written: no byte trimmed.
    url = withCredentials(
      url,
      user,
      readConfigFile(ENV.transportPasswordFile, need(ENV.transportPasswordFile), "the burst user's password"),
      urlFile !== undefined ? ENV.transportUrlFile : ENV.transportUrl,
    );
  }
  const credsFile = get(ENV.transportCredsFile);
  const credsFd = get(ENV.transportCredsFd);
  let natsUser: { jwt: string; seed: string; source: string } | undefined;
  if (credsFd !== undefined) {
    if (kind !== 'nats') throw new ConfigError(ENV.transportCredsFd, `is for the nats transport only (${ENV.transport} is ${kind})`);
    natsUser = { ...parseNatsCreds(readHandoff(credsFd, ENV.transportCredsFd), ENV.transportCredsFd), source: `the .creds its launcher handed it (${ENV.transportCredsFd})` };
  } else if (credsFile !== undefined) {
    if (kind !== 'nats') throw new ConfigError(ENV.transportCredsFile, `is for the nats transport only (${ENV.transport} is ${kind})`);
    const text = readConfigFile(ENV.transportCredsFile, credsFile, "the burst's NATS user");
    natsUser = { ...parseNatsCreds(text, ENV.transportCredsFile), source: `${ENV.transportCredsFile} (${credsFile})` };
  }
  // A bad direct-transport address list fails here, at start, not at the first send.
  if (kind === 'direct' && layout.packCount > 1) parseDirectUrl(url, layout.packCount, packId);
  let secret: Buffer | undefined;
  let linkUrl: string | undefined;
  if (layout.packCount > 1) {
    const file = get(ENV.secretFile);
    const fd = get(ENV.secretFd);
    if (fd !== undefined) secret = parseSecret(readHandoff(fd, ENV.secretFd), ENV.secretFd);
    else if (file !== undefined) secret = parseSecret(readConfigFile(ENV.secretFile, file, "the flare's secret"), ENV.secretFile);
    else throw new ConfigError(ENV.secretFile, 'is required when the burst has more than one pack: packs prove to each other that they belong to the flare with its secret');
    linkUrl = need(ENV.linkUrl);
    try {
      parseDirectUrl(linkUrl, layout.packCount, packId);
    } catch (err) {
      throw new ConfigError(ENV.linkUrl, (err as ConfigError).rule ?? (err as Error).message);
    }
  }

  const range = layout.packRange(packId);
  const params = loadParams(env, layout.burstSize, range.start, range.end);
  const port = get(ENV.httpPort);
  return {
    burstId: need(ENV.burstId),
    layout,
    packId,
    transport: {
      kind,
      url,
      urlSource,
      chunkBytes: int(ENV.chunkBytes, DEFAULTS.chunkBytes, 1),
      encrypt: bool(ENV.transportEncrypt),
      ...(natsUser !== undefined ? { natsUser } : {}),
    },
    ...(secret !== undefined ? { secret } : {}),
    ...(linkUrl !== undefined ? { linkUrl } : {}),
    modulePath: need(ENV.function),
    ...(get(ENV.functionCompiled) !== undefined ? { moduleUrl: pathToFileURL(get(ENV.functionCompiled)!).href } : {}),
    params,
    joinTimeoutMs: int(ENV.joinTimeoutMs, DEFAULTS.joinTimeoutMs, 1),
    operationTimeoutMs: int(ENV.operationTimeoutMs, DEFAULTS.operationTimeoutMs, 1),
    heartbeatMs: int(ENV.heartbeatMs, DEFAULTS.heartbeatMs, 10),
    heartbeatTimeoutMs: int(ENV.heartbeatTimeoutMs, DEFAULTS.heartbeatTimeoutMs, 100),
    helloTimeoutMs: int(ENV.helloTimeoutMs, DEFAULTS.helloTimeoutMs, 100, 600_000),
    abortGraceMs: DEFAULTS.abortGraceMs,
    ringBytes: pow2(int(ENV.ringBytes, DEFAULTS.ringBytes, 4096)),
    inlineMaxBytes: int(ENV.inlineMaxBytes, DEFAULTS.inlineMaxBytes, 0),
    spinMicros: int(ENV.spinMicros, defaultSpin(range.end - range.start), 0),
    // The pack counts bytes in flight in KiB in an Int32: 1 TiB leaves room for what is sent past the budget.
    sendBudgetBytes: int(ENV.sendBudgetBytes, DEFAULTS.sendBudgetBytes, 1024, 2 ** 40),
    maxUnreceivedMessages: int(ENV.maxUnreceivedMessages, DEFAULTS.maxUnreceivedMessages, 1),
    maxUnreceivedBytes: int(ENV.maxUnreceivedBytes, DEFAULTS.maxUnreceivedBytes, 1024),
    maxResultBytes: int(ENV.maxResultBytes, DEFAULTS.maxResultBytes, 1024, 128 * 1024 * 1024),
    ...(get(ENV.resultFile) !== undefined ? { resultFile: get(ENV.resultFile)! } : {}),
    ...(get(ENV.terminationLog) !== undefined ? { terminationLog: get(ENV.terminationLog)! } : {}),
    ...(get(ENV.launchDir) !== undefined ? { launchDir: get(ENV.launchDir)! } : {}),
    ...(port !== undefined ? { http: { host: get(ENV.httpHost) ?? '127.0.0.1', port: int(ENV.httpPort, 0, 0) } } : {}),
  };
}

/**
 * Polling only pays when every worker thread has a core (the pack's main thread mostly sleeps in I/O);
 * with more threads than cores it steals cycles from the threads doing work, so large packs sleep at
 * once (Atomics.waitAsync).
 */
export function defaultSpin(threads: number): number {
  return threads <= availableParallelism() ? DEFAULTS.spinMicros : 0;
}

/**
 * The pack index comes from KB_PACK_INDEX, else from an indexed Job's JOB_COMPLETION_INDEX, else from
 * a StatefulSet-style hostname suffix (`name-3`).
 */
function packIndexFrom(env: NodeJS.ProcessEnv, packCount: number): number {
  const raw = env[ENV.packIndex] ?? env.JOB_COMPLETION_INDEX ?? /-(\d+)$/.exec(env.HOSTNAME ?? hostname())?.[1];
  if (raw === undefined) throw new ConfigError(ENV.packIndex, 'is required (the index of this pack, 0-based)');
  const p = Number(raw);
  if (!Number.isInteger(p) || p < 0 || p >= packCount) throw new ConfigError(ENV.packIndex, `must be an integer in 0..${packCount - 1} (got '${raw}')`);
  return p;
}

/**
 * Params: a JSON file or inline JSON, either `{"list": [p0, p1, …]}` (one entry per worker) or
 * `{"value": v}` (every worker gets v; it knows its own id from ctx.info.workerId). A bare array is a list.
 */
export function loadParams(env: NodeJS.ProcessEnv, burstSize: number, start: number, end: number): Map<number, unknown> {
  const file = env[ENV.paramsFile];
  const inline = env[ENV.params];
  let doc: unknown = { value: null };
  if (file !== undefined && file !== '') {
    doc = parseJson(ENV.paramsFile, readConfigFile(ENV.paramsFile, file, 'the params'));
  } else if (inline !== undefined && inline !== '') {
    doc = parseJson(ENV.params, inline);
  }
  return paramsFor(doc, burstSize, start, end, file ? ENV.paramsFile : ENV.params);
}

export function paramsFor(doc: unknown, burstSize: number, start: number, end: number, field = 'params'): Map<number, unknown> {
  const out = new Map<number, unknown>();
  const list = Array.isArray(doc) ? doc : (doc as { list?: unknown })?.list;
  if (Array.isArray(list)) {
    if (list.length !== burstSize) throw new ConfigError(field, `has ${list.length} entries but the burst has ${burstSize} workers (one entry per worker)`);
    for (let w = start; w < end; w++) out.set(w, list[w]);
    return out;
  }
  if (typeof doc === 'object' && doc !== null && 'value' in doc) {
    for (let w = start; w < end; w++) out.set(w, (doc as { value: unknown }).value);
    return out;
  }
  throw new ConfigError(field, 'must be {"list": [...]} (one entry per worker), {"value": v} (the same for all) or a JSON array');
}

function parseJson(field: string, text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ConfigError(field, `is not valid JSON: ${(err as Error).message}`);
  }
}

/** `url` with its user and password replaced (both percent-encoded). */
export function withCredentials(url: string, user: string, password: string, field: string): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ConfigError(field, 'is not a URL, so the burst user cannot be put into it');
  }
  u.username = encodeURIComponent(user);
  u.password = encodeURIComponent(password);
  return u.toString().replace(/\/$/, '');
}

function pow2(n: number): number {
  return 2 ** Math.ceil(Math.log2(n));
}

/** The text of the file `path` that variable `field` names (`what` it holds, for the error); not empty. */
function readConfigFile(field: string, path: string, what: string): string {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError(field, `cannot read ${what} from ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  if (text === '') throw new ConfigError(field, `${path} is empty (${what})`);
  return text;
}
