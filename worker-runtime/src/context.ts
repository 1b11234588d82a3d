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

/** MPI-style collectives over a group of workers; every member must make the same calls in the same order. */
export interface CollectiveOps {
  broadcast<T extends TypedArray = Uint8Array>(data: Payload | undefined, root: number, opts?: CallOptions): Promise<T>;
  scatter<T extends TypedArray = Uint8Array>(parts: readonly Payload[] | undefined, root: number, opts?: CallOptions): Promise<T>;
  gather<T extends TypedArray = Uint8Array>(data: Payload, root: number, opts?: CallOptions): Promise<T[] | undefined>;
  allGather<T extends TypedArray = Uint8Array>(data: Payload, opts?: CallOptions): Promise<T[]>;
  allToAll<T extends TypedArray = Uint8Array>(parts: readonly Payload[], opts?: CallOptions): Promise<T[]>;
  reduce<T extends TypedArray>(data: T, op: ReduceOp<T>, root: number, opts?: CallOptions): Promise<T | undefined>;
  allReduce<T extends TypedArray>(data: T, op: ReduceOp<T>, opts?: CallOptions): Promise<T>;
  barrier(opts?: CallOptions): Promise<void>;
}

/**
 * The workers of this worker's pack as a group of their own (like MPI_Comm_split_type(SHARED)): its
 * collectives never leave the pack, so they run entirely in shared memory. Roots are worker ids (of this
 * pack); arrays (gather, allGather, allToAll parts and results) are indexed by position in the pack,
 * i.e. worker id − `workers.start`. Pack collectives are numbered apart from the burst's, and the two may
 * interleave, but pack mates must call them in the same relative order (as with two MPI communicators):
 * a worker in a pack collective that its pack mate will only call after a burst collective this worker
 * has not called yet waits forever, so the pack fails the burst with a CollectiveMismatchError naming both.
 */
export interface PackCollectives extends CollectiveOps {
  /** Worker ids [start, end) of this pack. */
  readonly workers: PackRange;
  readonly size: number;
}

/**
 * What a worker function receives: its identity, MPI-style point-to-point calls and collectives, and
 * shared-memory allocation. All collectives must be called by every worker in the same order (as in MPI).
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
   * from alloc() is passed on by reference (see alloc).
   */
  send(dest: number, data: Payload, opts?: CallOptions): Promise<void>;
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
