import { UsageError } from './errors.js';
import { MsgKind } from './protocol/frame.js';
import type { Payload, TypedArray } from './protocol/dtype.js';
import { COLL_NAMES, CollOp, type ReduceOp } from './ops.js';
import { CollCall, type Group } from './collectives/call.js';
import * as algo from './collectives/algorithms.js';
import { PackLayout, type PackRange } from './topology.js';
import type { Endpoint } from './communicator/endpoint.js';
import type { TrafficCounters } from './communicator/stats.js';

/** Options every blocking call accepts. */
export interface CallOptions {
  /** Give up after this many milliseconds (default: the burst's operation timeout). */
  timeoutMs?: number;
}

export interface BurstInfo {
  readonly burstId: string;
  readonly burstSize: number;
  readonly workerId: number;
  readonly packId: number;
  readonly packCount: number;
  readonly isPackLeader: boolean;
  /** Worker ids [start, end) of pack `p`. */
  packRange(p: number): PackRange;
  packOf(worker: number): number;
}

/**
 * MPI-style collectives over a group of workers: the burst (`ctx`) or one pack (`ctx.pack`).
 *
 * @remarks
 * Rules every collective follows:
 *
 * - Every worker of the group calls the same collectives in the same order, with the same root. A
 *   mismatch (another op or root, an extra or a missing call) raises {@link CollectiveMismatchError}
 *   instead of hanging.
 * - Rooted calls: for `broadcast` and `scatter` only the root's data counts, and the others pass
 *   `undefined`; for `gather` and `reduce` everyone passes data, and only the root gets a result: the
 *   others get `undefined`. A root is a worker id.
 * - A received array keeps the type it was sent as: a Float64Array arrives as a Float64Array, and a
 *   DataView (or a Buffer) as a Uint8Array. The type parameter `T` only tells TypeScript what to expect;
 *   nothing checks it.
 * - What `broadcast`, `scatter`, `gather`, `allGather` and `allToAll` return may be memory shared with
 *   pack mates (one copy per pack), or your own input: treat it as read-only and copy it
 *   (`x.slice()`) to change it. `reduce` and `allReduce` results are yours to modify, and their inputs
 *   are never modified.
 * - Every call takes `{ timeoutMs }` and rejects with {@link CollectiveTimeoutError} past it (default:
 *   the burst's operation timeout); when any worker fails, pending and later calls reject with
 *   {@link BurstAbortedError}.
 * - Bad arguments (a root out of range, the wrong number of parts, a non-array payload) throw
 *   {@link UsageError}.
 */
export interface CollectiveOps {
  /**
   * The root's `data`, on every worker of the group. Others pass `undefined` (what they pass is ignored).
   * The root gets its own `data` back (a DataView as a Uint8Array over it).
   *
   * @example
   * ```ts
   * const v = await ctx.broadcast<Float64Array>(me === 0 ? new Float64Array([1.5, 2]) : undefined, 0);
   * // every worker: Float64Array [1.5, 2]
   * ```
   * @example
   * ```ts
   * const bytes = await ctx.broadcast(me === 1 ? view : undefined, 1);
   * // every worker: Uint8Array [7, 0] (a DataView travels as its bytes)
   * ```
   */
  broadcast<T extends TypedArray = Uint8Array>(data: Payload | undefined, root: number, opts?: CallOptions): Promise<T>;
  /**
   * Part `i` of the root's `parts` goes to the group's `i`-th worker: the root passes exactly one part per
   * worker (its own included), the others pass `undefined`.
   *
   * @example
   * ```ts
   * const parts = me === 0 ? [0, 1, 2, 3].map((w) => new Int32Array([w * 10])) : undefined;
   * const part = await ctx.scatter<Int32Array>(parts, 0);
   * // worker w: Int32Array [10 * w]
   * ```
   */
  scatter<T extends TypedArray = Uint8Array>(parts: readonly Payload[] | undefined, root: number, opts?: CallOptions): Promise<T>;
  /**
   * Every worker's `data`, at the root, in worker order; the other workers get `undefined`. Parts may
   * differ in length and type.
   *
   * @example
   * ```ts
   * const all = await ctx.gather<Int32Array>(new Int32Array([me]), 0);
   * // worker 0: [Int32Array [0], [1], [2], [3]]; the others: undefined
   * ```
   */
  gather<T extends TypedArray = Uint8Array>(data: Payload, root: number, opts?: CallOptions): Promise<T[] | undefined>;
  /**
   * Every worker's `data`, on every worker, in worker order.
   *
   * @example
   * ```ts
   * const squares = await ctx.allGather<Int32Array>(new Int32Array([me * me]));
   * // every worker: [Int32Array [0], [1], [4], [9]]
   * ```
   */
  allGather<T extends TypedArray = Uint8Array>(data: Payload, opts?: CallOptions): Promise<T[]>;
  /**
   * Each worker passes one part per worker of the group (its own included): part `j` goes to the `j`-th
   * worker, and entry `i` of the result came from the `i`-th.
   *
   * @example
   * ```ts
   * const got = await ctx.allToAll<Int32Array>([0, 1, 2, 3].map((to) => new Int32Array([me * 10 + to])));
   * // worker w: got[from] is Int32Array [from * 10 + w]
   * ```
   */
  allToAll<T extends TypedArray = Uint8Array>(parts: readonly Payload[], opts?: CallOptions): Promise<T[]>;
  /**
   * Combines every worker's `data` with `op`, in worker order, at the root; the other workers get
   * `undefined`. See {@link ReduceOp}: built-in ops need arrays of one length and type on every worker;
   * a function gets arrays of its own and must return a typed array.
   *
   * @example
   * ```ts
   * const sums = await ctx.reduce(new Float64Array([me, 1]), 'sum', 0);
   * // worker 0: Float64Array [6, 4]; the others: undefined
   * ```
   */
  reduce<T extends TypedArray>(data: T, op: ReduceOp<T>, root: number, opts?: CallOptions): Promise<T | undefined>;
  /**
   * {@link CollectiveOps.reduce | reduce}, with the result on every worker (each gets a private copy).
   *
   * @example
   * ```ts
   * const max = await ctx.allReduce(new Int32Array([me, -me]), 'max');
   * // every worker: Int32Array [3, 0]
   * ```
   * @example
   * ```ts
   * // [digits, 10 ** count]: appending b's digits to a's is associative, not commutative. The function gets
   * // arrays of its own, so writing into `a` and returning it is fine.
   * const append = (a: Float64Array, b: Float64Array) => {
   *   a[0] = a[0]! * b[1]! + b[0]!;
   *   a[1] = a[1]! * b[1]!;
   *   return a;
   * };
   * const digits = await ctx.allReduce(new Float64Array([me + 1, 10]), append);
   * // every worker: Float64Array [1234, 10000] (combined in worker order)
   * ```
   */
  allReduce<T extends TypedArray>(data: T, op: ReduceOp<T>, opts?: CallOptions): Promise<T>;
  /**
   * Resolves once every worker of the group has called it.
   *
   * @example
   * ```ts
   * await ctx.barrier({ timeoutMs: 10_000 });
   * ```
   */
  barrier(opts?: CallOptions): Promise<void>;
}

/**
 * The workers of this worker's pack as a group of their own (like MPI_Comm_split_type(SHARED)): its
 * collectives never leave the pack, so they run entirely in shared memory.
 *
 * @remarks
 * Roots are burst-wide worker ids (of this pack: `workers.start` to `workers.end - 1`), but arrays
 * (scatter, gather, allGather and allToAll parts and results) are indexed by position in the pack, i.e.
 * worker id − `workers.start`. Pack collectives are numbered apart from the burst's, and the two may
 * interleave, but pack mates must call them in the same relative order (as with two MPI communicators):
 * a worker in a pack collective that its pack mate will only call after a burst collective this worker
 * has not called yet waits forever, so the pack fails the burst with a CollectiveMismatchError naming both.
 * Every other rule of {@link CollectiveOps} holds as for the burst.
 *
 * @example
 * ```ts
 * const first = ctx.pack.workers.start; // a burst-wide worker id: 0 in pack 0, 2 in pack 1
 * const mates = await ctx.pack.gather<Int32Array>(new Int32Array([me]), first);
 * // worker 0: [Int32Array [0], [1]]; worker 2: [Int32Array [2], [3]] (index = position in the pack); 1 and 3: undefined
 * ```
 * @example
 * ```ts
 * const packSum = await ctx.pack.allReduce(new Float64Array([me]), 'sum');
 * // workers 0 and 1: Float64Array [1]; workers 2 and 3: Float64Array [5]
 * ```
 */
export interface PackCollectives extends CollectiveOps {
  /** Worker ids [start, end) of this pack. */
  readonly workers: PackRange;
  readonly size: number;
}

/**
 * What a worker function receives: its identity, MPI-style point-to-point calls and collectives, and
 * shared-memory allocation.
 *
 * @remarks
 * The collectives follow the rules of {@link CollectiveOps}; all must be called by every worker in the
 * same order (as in MPI). The examples on each method assume `me = ctx.info.workerId` in a burst of 4
 * workers in packs of 2; `examples/collectives/worker.ts` runs every one of them.
 */
export interface WorkerContext extends CollectiveOps {
  readonly info: BurstInfo;
  /** Collectives among this pack's workers only (shared memory, nothing crosses the pack boundary). */
  readonly pack: PackCollectives;
  /**
   * Sends `data` to worker `dest`; messages of one (source, destination) pair arrive in send order. The
   * send is buffered: it resolves once the message is handed to shared memory or the transport, not when
   * `dest` receives it. Within the pack's send budget (KB_SEND_BUDGET_BYTES, 256 MiB in flight to other
   * packs) a plain array is read before send() returns; over it, the send waits for room (timeout as for
   * any call) and reads the array when it leaves: do not change it before the promise resolves. Memory
   * from alloc(), or any array over a SharedArrayBuffer, is passed on by reference: to pack mates, and
   * (large ones) onto the wire over the direct transport and unencrypted Redis; do not write to it after
   * sending it (see alloc).
   */
  send(dest: number, data: Payload, opts?: CallOptions): Promise<void>;
  /**
   * The next message from worker `src`, as the type of array it was sent as (a DataView arrives as a
   * Uint8Array). It may be memory a pack mate sent by reference: treat it as read-only. Rejects with
   * {@link CollectiveTimeoutError} after `timeoutMs`.
   */
  recv<T extends TypedArray = Uint8Array>(src: number, opts?: CallOptions): Promise<T>;
  /**
   * `bytes` of shared memory: sending it to a pack mate passes a reference, not a copy. Ownership moves
   * with the send: do not write to a buffer after sending it.
   */
  alloc(bytes: number): Uint8Array;
  /** A typed array over shared memory, e.g. `allocArray(Float64Array, n)`. */
  allocArray<T extends TypedArray>(kind: { new (buffer: SharedArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T;
  /** A snapshot of this worker's traffic so far (payload bytes and messages, local and remote). */
  traffic(): TrafficCounters;
}

export function burstInfo(burstId: string, layout: PackLayout, workerId: number): BurstInfo {
  const packId = layout.packOf(workerId);
  return Object.freeze({
    burstId,
    burstSize: layout.burstSize,
    workerId,
    packId,
    packCount: layout.packCount,
    isPackLeader: layout.leaderOf(packId) === workerId,
    packRange: (p: number) => layout.packRange(p),
    packOf: (w: number) => layout.packOf(w),
  });
}

/** Collectives over one group (the burst or a pack): numbering, argument checks, root translation. */
class Collectives implements CollectiveOps {
  private collSeq = 0;
  private previous: Promise<void> = Promise.resolve();

  constructor(
    protected readonly ep: Endpoint,
    private readonly group: Group,
    private readonly what: string,
  ) {}

  broadcast<T extends TypedArray = Uint8Array>(data: Payload | undefined, root: number, opts?: CallOptions): Promise<T> {
    if (root === this.ep.me && data !== undefined) checkPayload('broadcast', data);
    return this.collective(CollOp.Broadcast, root, opts, (c) => algo.broadcast(c, data)) as Promise<T>;
  }

  scatter<T extends TypedArray = Uint8Array>(parts: readonly Payload[] | undefined, root: number, opts?: CallOptions): Promise<T> {
    if (root === this.ep.me) parts?.forEach((p, i) => checkPayload(`scatter part ${i}`, p));
    return this.collective(CollOp.Scatter, root, opts, (c) => algo.scatter(c, parts)) as Promise<T>;
  }

  gather<T extends TypedArray = Uint8Array>(data: Payload, root: number, opts?: CallOptions): Promise<T[] | undefined> {
    checkPayload('gather', data);
    return this.collective(CollOp.Gather, root, opts, (c) => algo.gather(c, data)) as Promise<T[] | undefined>;
  }

  allGather<T extends TypedArray = Uint8Array>(data: Payload, opts?: CallOptions): Promise<T[]> {
    checkPayload('allGather', data);
    return this.collective(CollOp.AllGather, undefined, opts, (c) => algo.allGather(c, data)) as Promise<T[]>;
  }

  allToAll<T extends TypedArray = Uint8Array>(parts: readonly Payload[], opts?: CallOptions): Promise<T[]> {
    if (!Array.isArray(parts)) throw new UsageError(`${this.what}allToAll: parts must be an array with one payload per worker`);
    parts.forEach((p, i) => checkPayload(`allToAll part ${i}`, p));
    return this.collective(CollOp.AllToAll, undefined, opts, (c) => algo.allToAll(c, parts)) as Promise<T[]>;
  }

  reduce<T extends TypedArray>(data: T, op: ReduceOp<T>, root: number, opts?: CallOptions): Promise<T | undefined> {
    checkPayload('reduce', data);
    return this.collective(CollOp.Reduce, root, opts, (c) => algo.reduce(c, data, op));
  }

  allReduce<T extends TypedArray>(data: T, op: ReduceOp<T>, opts?: CallOptions): Promise<T> {
    checkPayload('allReduce', data);
    return this.collective(CollOp.AllReduce, this.group.base, opts, (c) => algo.allReduce(c, data, op));
  }

  barrier(opts?: CallOptions): Promise<void> {
    return this.collective(CollOp.Barrier, undefined, opts, (c) => algo.barrier(c));
  }

  /**
   * Runs one collective: numbers it within the group, checks the root (a worker id of the group), and keeps
   * its messages apart from every other call.
   */
  private collective<R>(op: CollOp, root: number | undefined, opts: CallOptions | undefined, body: (c: CollCall) => Promise<R>): Promise<R> {
    const { base, layout } = this.group;
    if (root !== undefined && (!Number.isInteger(root) || root < base || root >= base + layout.burstSize)) {
      throw new UsageError(`${this.what}${COLL_NAMES[op]}: root ${root} is out of range: the group has workers ${base}..${base + layout.burstSize - 1}`);
    }
    this.ep.throwIfAborted();
    // Calls are numbered in call order and run one at a time per group, so collectives started without
    // awaiting the previous one (Promise.all) still pair up across workers.
    const seq = this.collSeq++;
    const { comm } = this.group;
    // The pack's main thread reads these (communicator/progress.ts): stores into shared memory, no message.
    this.ep.progress.called(comm, this.collSeq);
    const rank = root === undefined ? -1 : root - base;
    const run = async (): Promise<R> => {
      // One deadline for the whole call, from when it starts running: its wait for send room included.
      const timeoutMs = opts?.timeoutMs ?? this.ep.defaultTimeoutMs;
      const limit = { timeoutMs, deadline: performance.now() + timeoutMs };
      if (this.group.layout.packCount > 1) await this.ep.waitForSendRoom({ op: COLL_NAMES[op] ?? 'collective' }, limit);
      const matcher = this.ep.matcherFor(comm);
      matcher.enter(seq, op, rank);
      this.ep.progress.enter(comm, seq, op, root ?? -1);
      try {
        return await body(new CollCall(this.ep, this.group, seq, op, rank, limit));
      } finally {
        matcher.leave(seq);
        this.ep.progress.leave(comm);
      }
    };
    const result = this.previous.then(run, run);
    this.previous = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }
}

class PackGroup extends Collectives implements PackCollectives {
  readonly workers: PackRange;
  readonly size: number;
  constructor(ep: Endpoint) {
    const workers = ep.layout.packRange(ep.myPack);
    super(ep, { comm: 1, base: workers.start, layout: PackLayout.fromSizes([workers.end - workers.start]) }, 'pack.');
    this.workers = workers;
    this.size = workers.end - workers.start;
  }
}

export class Communicator extends Collectives implements WorkerContext {
  readonly info: BurstInfo;
  readonly pack: PackCollectives;

  constructor(ep: Endpoint, burstId: string) {
    super(ep, { comm: 0, base: 0, layout: ep.layout }, '');
    this.info = burstInfo(burstId, ep.layout, ep.me);
    this.pack = new PackGroup(ep);
  }

  /**
   * Sends at once (the payload is read before this returns) unless the pack is over its send budget or
   * earlier sends of this worker still wait for room: then it queues behind them, so sends leave in call
   * order, and takes its sequence number only when it leaves (a send that times out leaves no gap).
   */
  send(dest: number, data: Payload, opts?: CallOptions): Promise<void> {
    try {
      this.ep.layout.checkWorker(dest, 'send: destination');
      checkPayload('send', data);
      this.ep.throwIfAborted();
      // Order is per (source, destination): a pack mate never waits for room, so never behind remote sends.
      if (this.ep.layout.isLocal(dest, this.ep.me) || (this.queuedSends === 0 && this.ep.hasSendRoom())) {
        this.sendNow(dest, data);
        return Promise.resolve();
      }
    } catch (err) {
      return Promise.reject(err);
    }
    this.queuedSends++;
    const run = async (): Promise<void> => {
      try {
        await this.ep.waitForSendRoom({ op: 'send', peer: dest }, { timeoutMs: opts?.timeoutMs });
        this.sendNow(dest, data);
      } finally {
        this.queuedSends--;
      }
    };
    const sent = this.sendTail.then(run, run);
    this.sendTail = sent.catch(() => undefined);
    return sent;
  }

  private sendNow(dest: number, data: Payload): void {
    const seq = this.ep.nextP2PSeq(dest);
    this.ep.send([dest], { kind: MsgKind.P2P, src: this.ep.me, seq, tag: 0, op: 0, root: -1, comm: 0 }, data);
  }

  /** Sends waiting for send room, and the last of them (see send). */
  private queuedSends = 0;
  private sendTail: Promise<void> = Promise.resolve();

  async recv<T extends TypedArray = Uint8Array>(src: number, opts?: CallOptions): Promise<T> {
    this.ep.layout.checkWorker(src, 'recv: source');
    return (await this.ep.recv(() => this.ep.matcher.takeP2P(src), { op: 'recv', peer: src }, { timeoutMs: opts?.timeoutMs })) as T;
  }

  alloc(bytes: number): Uint8Array {
    if (!Number.isInteger(bytes) || bytes < 0) throw new UsageError(`alloc: bytes must be a non-negative integer (got ${bytes})`);
    return this.ep.alloc(bytes);
  }

  allocArray<T extends TypedArray>(kind: { new (buffer: SharedArrayBuffer, offset: number, length: number): T; BYTES_PER_ELEMENT: number }, length: number): T {
    const bytes = this.alloc(length * kind.BYTES_PER_ELEMENT);
    return new kind(bytes.buffer as SharedArrayBuffer, 0, length);
  }

  traffic(): TrafficCounters {
    return { ...this.ep.counters };
  }
}

function checkPayload(what: string, p: unknown): void {
  if (!ArrayBuffer.isView(p)) {
    throw new UsageError(`${what}: payload must be a typed array or DataView (use encodeJson(value) for JSON values), got ${p === null ? 'null' : typeof p}`);
  }
}
