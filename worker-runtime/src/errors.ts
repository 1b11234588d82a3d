import { inspect } from 'node:util';
/**
 * Every error the runtime raises is a KubeburstError: a stable `code`, a message that says what to change,
 * and structured fields a caller can branch on. Errors cross thread and process boundaries as plain
 * objects (see `serializeError` / `reviveError`), so each subclass keeps its fields JSON-friendly.
 */
export class KubeburstError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** A configuration value (environment, manifest, option) is missing or out of range. */
export class ConfigError extends KubeburstError {
  constructor(
    readonly field: string,
    readonly rule: string,
  ) {
    super('CONFIG', `${field}: ${rule}`);
  }
}

/** A frame on the wire does not decode: wrong magic/version, bad checksum, inconsistent lengths. */
export class FrameError extends KubeburstError {
  constructor(
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super('FRAME', `corrupt or unsupported frame: ${reason}`, options);
  }
}

/** Where a timed-out call was, and who is to blame (see CollectiveTimeoutError). */
export interface TimeoutContext {
  /** The pack of the worker that timed out. */
  pack?: number;
  /** The pack of the worker it waited for. */
  peerPack?: number;
  /** The call, when it is a collective: "collective #4 (barrier)". */
  call?: string;
  /** A worker that has not even called the collective (the one holding everyone up), and what it does instead ("it is …"). */
  blame?: { worker: number; pack: number; why: string };
}

/**
 * A blocking call did not complete within its timeout (`{ timeoutMs }` of the call, else
 * `spec.timeouts.operationSeconds`). The message names the worker it waited for and what that worker was
 * doing.
 */
export class CollectiveTimeoutError extends KubeburstError {
  /** The worker that held the call up, when the runtime could tell (a worker that never called the collective). */
  readonly blamedWorker: number | undefined;
  readonly blamedPack: number | undefined;

  constructor(
    readonly op: string,
    readonly workerId: number,
    readonly peer: number | undefined,
    readonly timeoutMs: number,
    more: TimeoutContext = {},
  ) {
    const who = (w: number, p: number | undefined): string => `worker ${w}${p === undefined ? '' : ` (pack ${p})`}`;
    super(
      'TIMEOUT',
      `${who(workerId, more.pack)}: ${more.call ?? op} timed out after ${timeoutMs} ms` +
        (peer === undefined ? '' : ` waiting for ${who(peer, more.peerPack)}`) +
        (more.blame === undefined ? '' : `: ${who(more.blame.worker, more.blame.pack)} has not called it; ${more.blame.why}`) +
        ' (pass { timeoutMs } to the call, or raise spec.timeouts.operationSeconds)',
    );
    this.blamedWorker = more.blame?.worker;
    this.blamedPack = more.blame?.pack;
  }
}

/**
 * Workers called collectives in a different order (or with different roots, or different numbers of them),
 * as MPI forbids; also pack mates interleaving `ctx.pack` and burst collectives in different orders. Raised
 * within about a second instead of a hang, naming the workers and what each called.
 */
export class CollectiveMismatchError extends KubeburstError {
  constructor(
    readonly workerId: number,
    readonly detail: string,
    /** The pack of the worker that raised it. */
    readonly packId?: number,
  ) {
    super(
      'MISMATCH',
      `worker ${workerId}${packId === undefined ? '' : ` (pack ${packId})`}: collective mismatch: ${detail}; every worker must call the same collectives in the same order with the same root`,
    );
  }
}

/**
 * Another worker failed (threw, or its pack died): every pending and later call rejects with this,
 * within about 2 s. `failedWorker` (or `failedPack`) and `reason` say who and why.
 */
export class BurstAbortedError extends KubeburstError {
  constructor(
    readonly failedWorker: number | undefined,
    readonly failedPack: number | undefined,
    readonly reason: string,
  ) {
    super('ABORTED', `burst aborted: ${failedWorker !== undefined ? `worker ${failedWorker}` : `pack ${failedPack ?? '?'}`} failed: ${reason}`);
  }
}

/** A pack stopped answering (process died, network partition). */
export class PeerLostError extends KubeburstError {
  constructor(
    readonly pack: number,
    readonly detail: string,
  ) {
    super('PEER_LOST', `pack ${pack} lost: ${detail}`);
  }
}

/** The transport (broker or socket) failed in a way the runtime cannot hide. */
export class TransportError extends KubeburstError {
  constructor(
    readonly transport: string,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super('TRANSPORT', `${transport} transport: ${detail}`, options);
  }
}

/** A call was made with arguments that can never work (bad rank, wrong part count, mismatched lengths). */
export class UsageError extends KubeburstError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export interface SerializedError {
  name: string;
  code?: string;
  message: string;
  stack?: string;
  fields?: Record<string, unknown>;
}

/** Plain-object form of any thrown value, for postMessage and JSON reports. */
export function serializeError(err: unknown): SerializedError {
  if (err instanceof Error) {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(err)) {
      if (k !== 'code' && (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean')) fields[k] = v;
    }
    const out: SerializedError = { name: err.name, message: err.message };
    if (err.stack !== undefined) out.stack = err.stack;
    if (err instanceof KubeburstError) out.code = err.code;
    if (Object.keys(fields).length > 0) out.fields = fields;
    return out;
  }
  return { name: 'Error', message: typeof err === 'string' ? err : thrownValue(err) };
}

/** A thrown value that is no Error, as text: JSON where it is JSON, else what inspect makes of it (a cycle, a BigInt). */
function thrownValue(v: unknown): string {
  try {
    const json = JSON.stringify(v);
    if (json !== undefined) return json;
  } catch {
    // A cycle, a BigInt: not the thrown value's fault to be reported as a TypeError of JSON's.
  }
  return inspect(v, { depth: 2, breakLength: Infinity }).slice(0, 1000);
}

/** One line naming the error, for logs and abort reasons. */
export function describeError(err: SerializedError | unknown): string {
  const e = isSerializedError(err) ? err : serializeError(err);
  return e.message.startsWith(e.name) ? e.message : `${e.name}: ${e.message}`;
}

function isSerializedError(x: unknown): x is SerializedError {
  return typeof x === 'object' && x !== null && 'message' in x && 'name' in x && !(x instanceof Error);
}
