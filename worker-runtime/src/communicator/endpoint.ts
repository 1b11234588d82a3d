import { performance } from 'node:perf_hooks';
import { BurstAbortedError, CollectiveMismatchError, CollectiveTimeoutError, UsageError, type KubeburstError, type TimeoutContext } from '../errors.js';
import { decodeBatch, encodeBatch } from '../protocol/batch.js';
import { bytesOf, dtypeOf, isShared, sharedCopy, viewAs, type Payload, type TypedArray } from '../protocol/dtype.js';
import { chunkCount, encodeFrames, FRAME_TRAILER_BYTES, HEADER_BYTES } from '../protocol/frame.js';
import { SIGNAL, type Ring } from '../shm/ring.js';
import type { PackLayout } from '../topology.js';
import type { AbortInfo, FromWorker } from './messages.js';
import { envelopeOf, headOf, messageHeaderOf, readRingEnvelope, ringBodyBytes, writeRingEnvelope, type Envelope, type EnvelopeHead } from './envelope.js';
import { Matcher } from './matcher.js';
import { describeCall, doingOf, fewestDetail, ProgressBoard, ProgressSlot, whatItDoes, type WorkerState } from './progress.js';
import { emptyCounters, type TrafficCounters } from './stats.js';

export interface PortLike {
  postMessage(msg: FromWorker, transfer?: ArrayBuffer[]): void;
}

export interface EndpointOptions {
  me: number;
  layout: PackLayout;
  /** Mailbox rings of this pack's workers, by worker id (this worker's own included). */
  rings: ReadonlyMap<number, Ring>;
  port: PortLike;
  /** Payloads up to this size are copied into the receiver's ring; larger ones go by reference. */
  inlineMaxBytes: number;
  /** Poll the mailbox up to this long before sleeping (0 = never spin; used when threads outnumber cores). */
  spinMicros: number;
  /**
   * Pack-wide counters in shared memory: [MSG_ID] the next message id (keys chunk reassembly at the
   * receiving pack), [INFLIGHT_KIB] KiB handed to the transport and not yet accepted by it.
   */
  packCounters: Int32Array;
  /** A send waits while the pack has more than this many KiB in flight to other packs. */
  sendBudgetKiB: number;
  defaultTimeoutMs: number;
  /** Most a sender may have delivered to this worker and not yet received (see Matcher). */
  unreceived?: { maxMessages: number; maxBytes: number };
  /** The pack's progress board (communicator/progress.ts); a board of its own if not given (tests). */
  board?: ProgressBoard;
}

/** Where a blocking call is waiting, for timeout messages. */
export interface WaitSite {
  op: string;
  peer?: number;
  /** A collective's step: its communicator, call index and op code. */
  comm?: number;
  seq?: number;
  code?: number;
}

/** How long a blocking call may take: its own timeout, and (for a collective's steps) one deadline for all. */
export interface WaitLimit {
  timeoutMs?: number;
  /** performance.now() by which the whole call must be done (a collective waits several times). */
  deadline?: number;
}

/**
 * A worker's view of the wire: routes each message to itself, to a pack mate (ring or shared-memory
 * reference) or to another pack (frames handed to the pack's main thread), and waits for messages.
 * Collectives and point-to-point calls are built on top of this; it knows nothing about their semantics.
 */
export class Endpoint {
  readonly me: number;
  readonly layout: PackLayout;
  /** The burst's matcher (p2p and burst-wide collectives). */
  readonly matcher: Matcher;
  /** Matchers by communicator id: 0 = the burst, 1 = this worker's pack. */
  private readonly matchers: Matcher[];
  readonly counters: TrafficCounters = emptyCounters();
  readonly myPack: number;
  /** Where this worker is in its collectives, for its pack's main thread (a few stores per call). */
  readonly progress: ProgressSlot;
  readonly board: ProgressBoard;
  chunkBytes = 1 << 20;
  /** The pack's transport writes shared payloads without copying them (set when the burst starts). */
  gatherWrite = false;
  private readonly ring: Ring;
  private readonly p2pNext = new Map<number, number>();
  private abortError: KubeburstError | undefined;
  private spinning: boolean;
  private portReceived = 0;
  private spinFailures = 0;
  private spinPause = 0;

  constructor(private readonly o: EndpointOptions) {
    this.me = o.me;
    this.layout = o.layout;
    this.myPack = o.layout.packOf(o.me);
    const limits = o.unreceived && {
      ...o.unreceived,
      onOverflow: (src: number, messages: number, bytes: number): void => {
        const info = {
          failedWorker: src,
          failedPack: o.layout.packOf(src),
          reason: `worker ${src} sent ${messages} messages (${bytes} bytes) to worker ${o.me} that it has not received, more than the ${o.unreceived!.maxMessages} messages or ${o.unreceived!.maxBytes} bytes a worker holds per sender (KB_MAX_UNRECEIVED_MESSAGES, KB_MAX_UNRECEIVED_BYTES): does worker ${o.me} receive them?`,
        };
        o.port.postMessage({ t: 'fail', info });
      },
    };
    const names = { name: this.name, pack: this.myPack };
    this.matcher = new Matcher(o.me, limits, { ...names, comm: 0 });
    this.matchers = [this.matcher, new Matcher(o.me, limits, { ...names, comm: 1 })];
    this.board = o.board ?? ProgressBoard.create(o.me, 1);
    this.progress = new ProgressSlot(this.board, o.me);
    const ring = o.rings.get(o.me);
    if (ring === undefined) throw new Error(`no mailbox ring for worker ${o.me}`);
    this.ring = ring;
    this.spinning = o.spinMicros > 0;
  }

  /** "worker 5 (pack 2)", as every message names a worker. */
  readonly name = (w: number): string => `worker ${w} (pack ${this.layout.packOf(w)})`;

  /** Collectives this worker has called on `comm` (0 = burst, 1 = pack). */
  collectivesCalled(comm: number): number {
    return this.board.called(this.me, comm);
  }

  matcherFor(comm: number): Matcher {
    const m = this.matchers[comm];
    if (m === undefined) throw new UsageError(`message for unknown communicator ${comm}`);
    return m;
  }

  get defaultTimeoutMs(): number {
    return this.o.defaultTimeoutMs;
  }

  /** Next sequence number of the p2p stream to `dst`. */
  nextP2PSeq(dst: number): number {
    const s = this.p2pNext.get(dst) ?? 0;
    this.p2pNext.set(dst, (s + 1) >>> 0);
    return s;
  }

  /**
   * Sends one payload to several workers. `userBytes` is what the traffic counters record per destination
   * (defaults to the payload size; batches pass the sum of their parts).
   */
  send(dsts: readonly number[], head: Omit<EnvelopeHead, 'dst' | 'dtype'>, payload: Payload, userBytes?: number): void {
    this.throwIfAborted();
    const bytes = bytesOf(payload);
    const dtype = dtypeOf(payload);
    const counted = userBytes ?? bytes.byteLength;
    let byRef: number[] | undefined;
    const inline = bytes.byteLength <= this.o.inlineMaxBytes;
    // One record writer for all pack mates; `to` names the current one.
    let to = 0;
    let write: ((data: Uint8Array, view: DataView, at: number) => void) | undefined;
    for (const dst of dsts) {
      if (this.layout.packOf(dst) !== this.myPack) {
        this.sendRemote(headOf(head, dst, dtype), bytes);
        this.counters.remoteMsgsSent++;
        this.counters.remoteBytesSent += counted;
        continue;
      }
      this.counters.localMsgsSent++;
      this.counters.localBytesSent += counted;
      if (dst === this.me) {
        this.matcherFor(head.comm).deliver(envelopeOf(headOf(head, dst, dtype), isShared(bytes) ? bytes : bytes.slice()));
        continue;
      }
      if (inline) {
        to = dst;
        write ??= (data, view, at) => writeRingEnvelope(data, view, at, head, to, dtype, bytes);
        if (this.o.rings.get(dst)!.tryWrite(ringBodyBytes(bytes.byteLength), write)) continue;
      }
      (byRef ??= []).push(dst);
    }
    if (byRef !== undefined) {
      // One post for all pack mates: the main thread hands every one of them the same shared memory.
      const shared = isShared(bytes) ? bytes : (sharedCopy(bytes) as Uint8Array);
      this.o.port.postMessage({ t: 'send', head: { ...head, dtype }, dsts: byRef, payload: shared });
    }
  }

  sendBatch(dsts: readonly number[], head: Omit<EnvelopeHead, 'dst' | 'dtype'>, parts: readonly Payload[]): void {
    let user = 0;
    for (const p of parts) user += p.byteLength;
    this.send(dsts, head, encodeBatch(parts, allocShared), user);
  }

  /** Payload of the next message matching `take`, as the typed array it was sent as. */
  async recv(take: () => Envelope | undefined, site: WaitSite, limit?: WaitLimit): Promise<TypedArray> {
    const e = await this.wait(take, site, limit);
    this.countRecv(e.src, e.payload.byteLength);
    return viewAs(e.dtype, e.payload);
  }

  async recvBatch(take: () => Envelope | undefined, site: WaitSite, limit?: WaitLimit): Promise<TypedArray[]> {
    const e = await this.wait(take, site, limit);
    const parts = decodeBatch(e.payload);
    let user = 0;
    for (const p of parts) user += p.byteLength;
    this.countRecv(e.src, user);
    return parts;
  }

  /** Waits until `take` yields a message, the call times out, or the burst aborts. */
  async wait(take: () => Envelope | undefined, site: WaitSite, limit: WaitLimit = {}): Promise<Envelope> {
    const timeoutMs = limit.timeoutMs ?? this.o.defaultTimeoutMs;
    const deadline = limit.deadline ?? performance.now() + timeoutMs;
    const ctrl = this.ring.ctrl;
    // Marked on the board as waiting (only once it has to wait: the fast path writes nothing).
    let marked = false;
    try {
      for (;;) {
        this.pump();
        const e = take();
        if (e !== undefined) return e;
        // A worker that returned before this collective never sends for it: say so rather than wait.
        if (site.comm !== undefined && this.board.fewest(site.comm) <= site.seq!) throw this.outnumbered(site);
        this.throwIfAborted();
        for (const m of this.matchers) m.throwIfMismatch();
        if (!marked) {
          marked = true;
          this.board.waiting(this.me, site.comm === undefined ? 1 : 2, site.comm ?? 0, site.peer ?? -1);
        }
        const left = deadline - performance.now();
        if (left <= 0) throw this.timedOut(site, timeoutMs);
        if (this.ring.portPosted() !== this.portReceived) {
          // A message is queued on the port: only the event loop can hand it over.
          await yieldToEventLoop();
          continue;
        }
        if (this.spinning) {
          const until = performance.now() + Math.min(left, this.o.spinMicros / 1000);
          while (!this.ring.hasData() && performance.now() < until) {
            /* poll: a pack mate's reply usually lands within a microsecond */
          }
          if (this.ring.hasData()) {
            this.spinFailures = 0;
            continue;
          }
          // Polling that keeps failing (peers busy for long, a loaded machine) stops for a few waits. Short
          // pauses matter: two threads only lock into polling each other when both poll at the same time.
          if (++this.spinFailures >= 32) {
            this.spinning = false;
            this.spinPause = 8;
          }
        } else if (this.o.spinMicros > 0 && --this.spinPause <= 0) {
          this.spinning = true;
          this.spinFailures = 0;
        }
        // Sleep until the mailbox is signalled (a ring record, a port post) with the event loop free, so the
        // user's own timers and I/O keep running while a call waits.
        const again = Atomics.load(ctrl, SIGNAL);
        if (this.ring.hasData()) continue;
        // The board may have changed (and signalled) since the check above: look again, after `again`.
        if (site.comm !== undefined && this.board.fewest(site.comm) <= site.seq!) continue;
        const w = Atomics.waitAsync(ctrl, SIGNAL, again, left);
        if (w.async) await w.value;
      }
    } finally {
      if (marked) this.board.notWaiting(this.me);
    }
  }

  /** The CollectiveMismatchError of a collective that a worker which returned will never call. */
  private outnumbered(site: WaitSite): CollectiveMismatchError {
    const comm = site.comm!;
    const detail = fewestDetail(comm, this.board.fewestWorker(comm), this.board.fewest(comm), this.me, site.seq!, site.code ?? 0, this.name);
    return new CollectiveMismatchError(this.me, detail, this.myPack);
  }

  /**
   * A timeout that names who holds the call up: for a collective, a worker that has not called it (a
   * pack mate, from the board; another pack's, from the burst's laggard the packs pass around).
   */
  private timedOut(site: WaitSite, timeoutMs: number): CollectiveTimeoutError {
    const more: TimeoutContext = { pack: this.myPack };
    if (site.peer !== undefined) more.peerPack = this.layout.packOf(site.peer);
    if (site.comm !== undefined) {
      more.call = describeCall(site.comm, site.seq!, site.code ?? 0);
      const blame = this.behind(site.comm, site.seq!);
      if (blame !== undefined) more.blame = blame;
    }
    return new CollectiveTimeoutError(site.op, this.me, site.peer, timeoutMs, more);
  }

  /** A worker still running that has not called collective #seq of `comm`, and what it does instead. */
  private behind(comm: number, seq: number): TimeoutContext['blame'] {
    const b = this.board;
    const now = Date.now();
    let best: WorkerState | undefined;
    for (let w = b.first; w < b.first + b.count; w++) {
      if (w === this.me) continue;
      const s = b.state(w);
      const called = s.comm[comm as 0 | 1].called;
      if (s.done || called > seq) continue;
      if (best === undefined || called < best.comm[comm as 0 | 1].called) best = s;
    }
    if (best !== undefined) return { worker: best.worker, pack: this.myPack, why: whatItDoes(doingOf(best), b.since(best.worker), now, this.name) };
    if (comm !== 0) return undefined;
    // The pack's own workers are all past it (seen just now): the laggard elsewhere, as last heard.
    const l = b.laggard();
    if (l === undefined || b.has(l.worker) || l.called > seq) return undefined;
    return { worker: l.worker, pack: this.layout.packOf(l.worker), why: whatItDoes(l.doing, l.since, now, this.name) };
  }

  private readonly onRecord = (data: Uint8Array, view: DataView, at: number): void => {
    const e = readRingEnvelope(data, view, at);
    this.matcherFor(e.comm).deliver(e);
  };

  /** Moves everything in this worker's ring into the matcher. */
  pump(): void {
    this.ring.drain(this.onRecord);
  }

  /** Counts every message the port delivered (see Ring.notePortPost). */
  notePortMessage(): void {
    this.portReceived = (this.portReceived + 1) | 0;
  }

  /** A message that came through the port (large local payload or a message from another pack). */
  deliverFromPort(e: Envelope): void {
    this.matcherFor(e.comm).deliver(e);
    this.ring.signal();
  }

  abort(info: AbortInfo): void {
    this.abortError ??= new BurstAbortedError(info.failedWorker, info.failedPack, info.reason);
    this.ring.signal();
  }

  /**
   * The pack found this worker stuck in a collective that can never complete (pack mates called pack
   * and burst collectives in different orders): every pending and later call rejects with this.
   */
  imposeMismatch(detail: string): void {
    this.abortError ??= new CollectiveMismatchError(this.me, detail, this.myPack);
    this.ring.signal();
  }

  get aborted(): KubeburstError | undefined {
    return this.abortError;
  }

  throwIfAborted(): void {
    if (this.abortError !== undefined) throw this.abortError;
  }

  /** The pack's bytes in flight to other packs are within its send budget. */
  hasSendRoom(): boolean {
    return Atomics.load(this.o.packCounters, INFLIGHT_KIB) <= this.o.sendBudgetKiB;
  }

  /**
   * Waits while this pack has more than its send budget in flight to other packs (the transport is slower
   * than the workers produce): the backpressure a send and each collective call start with.
   */
  async waitForSendRoom(site: WaitSite, limit: WaitLimit = {}): Promise<void> {
    if (this.hasSendRoom()) return;
    const c = this.o.packCounters;
    const timeoutMs = limit.timeoutMs ?? this.o.defaultTimeoutMs;
    const deadline = limit.deadline ?? performance.now() + timeoutMs;
    for (;;) {
      this.throwIfAborted();
      const now = Atomics.load(c, INFLIGHT_KIB);
      if (now <= this.o.sendBudgetKiB) return;
      const left = deadline - performance.now();
      if (left <= 0) throw new CollectiveTimeoutError(`${site.op} (waiting for the transport to accept ${now} KiB already in flight)`, this.me, site.peer, timeoutMs);
      const w = Atomics.waitAsync(c, INFLIGHT_KIB, now, Math.min(left, 100));
      if (w.async) await w.value;
    }
  }

  /** Allocates shared memory that pack mates can read without a copy. */
  alloc(bytes: number): Uint8Array {
    return allocShared(bytes);
  }

  private countRecv(src: number, bytes: number): void {
    if (this.layout.packOf(src) === this.myPack) {
      this.counters.localMsgsRecv++;
      this.counters.localBytesRecv += bytes;
    } else {
      this.counters.remoteMsgsRecv++;
      this.counters.remoteBytesRecv += bytes;
    }
  }

  /**
   * Builds this message's frames here (one copy) and hands them to the main thread by transfer; or, for a
   * large payload already in shared memory on a transport that gathers writes, hands over the reference.
   */
  private sendRemote(h: EnvelopeHead, bytes: Uint8Array): void {
    const total = bytes.byteLength;
    const chunk = this.chunkBytes;
    const count = chunkCount(total, chunk);
    const msgId = count > 1 ? Atomics.add(this.o.packCounters, MSG_ID, 1) >>> 0 : 0;
    const header = messageHeaderOf(h, msgId);
    const pack = this.layout.packOf(h.dst);
    // Counted before the hand-over (the main thread may release it at once), given back if that throws.
    const kib = inflightKiB(total + count * HEADER_BYTES);
    Atomics.add(this.o.packCounters, INFLIGHT_KIB, kib);
    try {
      if (this.gatherWrite && total > this.o.inlineMaxBytes && isShared(bytes)) {
        this.o.port.postMessage({ t: 'remote', pack, header, payload: bytes, chunkBytes: chunk });
        return;
      }
      // Every byte of a frame is written, so no zero-filling; each frame has a buffer of its own, transferred,
      // with room for a transport's trailer after it.
      const frames = encodeFrames(header, bytes, chunk, (n) => Buffer.allocUnsafeSlow(n + FRAME_TRAILER_BYTES).subarray(0, n));
      this.o.port.postMessage(
        { t: 'frames', pack, frames },
        frames.map((f) => f.buffer as ArrayBuffer),
      );
    } catch (err) {
      Atomics.sub(this.o.packCounters, INFLIGHT_KIB, kib);
      Atomics.notify(this.o.packCounters, INFLIGHT_KIB);
      throw err;
    }
  }
}

export const MSG_ID = 0;
export const INFLIGHT_KIB = 1;

/** In-flight accounting unit: whole KiB, so an Int32 counts up to 2 TiB. */
export function inflightKiB(bytes: number): number {
  return Math.ceil(bytes / 1024);
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((r) => setImmediate(r));
}

export function allocShared(bytes: number): Uint8Array {
  return new Uint8Array(new SharedArrayBuffer(bytes));
}
