import { createServer, type Server } from 'node:http';
import { Worker } from 'node:worker_threads';
import { envelopeFromHeader } from '../communicator/envelope.js';
import { RING_HEADER_BYTES, ringBodyBytes, writeRingEnvelope } from '../communicator/envelope.js';
import { INFLIGHT_KIB, inflightKiB } from '../communicator/endpoint.js';
import { addCounters, emptyCounters, type TrafficCounters } from '../communicator/stats.js';
import { describeError, PeerLostError, serializeError, TransportError } from '../errors.js';
import { chunkHeaders, HEADER_BYTES, MsgKind, Reassembler, readHeader, writeHeader, type MessageHeader } from '../protocol/frame.js';
import { createRingBuffer, Ring } from '../shm/ring.js';
import { defaultTransportFactory, type Transport, type TransportFactory } from '../transport/index.js';
import type { PackConfig } from './config.js';
import { controlFrames, parseControl, type ControlMsg } from './control.js';
import type { AbortInfo, FromWorker, ToWorker, WorkerReport } from './messages.js';
import type { ThreadData } from './thread.js';

/** Progress a pack reports while it runs (the local launcher shows these; in a pod they are log lines). */
export type PackEvent =
  | { event: 'started'; pack: number; at: number }
  | { event: 'connected'; pack: number; at: number }
  | { event: 'joined'; pack: number; at: number }
  | { event: 'worker-done'; pack: number; worker: number; ok: boolean; at: number }
  | { event: 'aborting'; pack: number; info: AbortInfo; at: number };

export interface WireCounters {
  framesSent: number;
  bytesSent: number;
  framesRecv: number;
  bytesRecv: number;
}

export interface PackReport {
  burstId: string;
  packId: number;
  packCount: number;
  burstSize: number;
  transport: string;
  ok: boolean;
  /** The first failure this pack learned of (its own or another pack's). */
  abort?: AbortInfo;
  workers: WorkerReport[];
  timings: { processStart: number; connected: number; joined: number; finished: number };
  /** Sum over this pack's workers, in payload bytes. */
  counters: TrafficCounters;
  /** Everything this pack put on / took off the transport: headers, batch tables and control included. */
  wire: WireCounters;
}

export interface RunPackOptions {
  processStart?: number;
  transportFactory?: TransportFactory;
  onEvent?: (e: PackEvent) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Worker thread entry (defaults to the compiled thread.js next to this file). */
  threadEntry?: URL;
  /** Aborting it aborts the burst with `signal.reason` (an AbortInfo): the launcher's news of a dead pack. */
  signal?: AbortSignal;
}

/**
 * Runs one pack: starts a thread per worker, joins the other packs, runs the function, relays messages,
 * watches for failures, ends together with every other pack, and cleans up what it created.
 */
export async function runPack(cfg: PackConfig, opts: RunPackOptions = {}): Promise<PackReport> {
  return new Pack(cfg, opts).run();
}

class Pack {
  private readonly me: number;
  private readonly P: number;
  private readonly start: number;
  private readonly end: number;
  private readonly threads = new Map<number, Worker>();
  /** Shared with the worker threads: message ids and the send budget in flight (see Endpoint). */
  private readonly packCounters = new Int32Array(new SharedArrayBuffer(8));
  private readonly rings = new Map<number, Ring>();
  private readonly reports = new Map<number, WorkerReport>();
  private readonly loaded = new Set<number>();
  private transport: Transport | undefined;
  private abortInfo: AbortInfo | undefined;
  private readonly wire: WireCounters = { framesSent: 0, bytesSent: 0, framesRecv: 0, bytesRecv: 0 };
  /** Chunks land in a buffer per message (no zero-filling: every byte is written) that then moves to its worker. */
  private readonly reassembler = new Reassembler((n) => Buffer.allocUnsafeSlow(n));
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly processStart: number;
  private connectedAt = 0;
  private joinedAt = 0;
  private chunkBytes: number;
  private ready = false;
  private http: Server | undefined;
  private lastHeard = 0;
  private readonly waiters = { go: deferred<void>(), allLoaded: deferred<void>(), allDone: deferred<void>(), bye: deferred<void>() };
  private readonly hellos = new Set<number>();
  private readonly dones = new Set<number>();
  private goSent = false;
  private finishing = false;
  private readonly log: NonNullable<RunPackOptions['log']>;

  constructor(
    private readonly cfg: PackConfig,
    private readonly opts: RunPackOptions,
  ) {
    this.me = cfg.packId;
    this.P = cfg.layout.packCount;
    ({ start: this.start, end: this.end } = cfg.layout.packRange(cfg.packId));
    this.processStart = opts.processStart ?? Date.now();
    this.chunkBytes = cfg.transport.chunkBytes;
    this.log = opts.log ?? (() => {});
    for (const d of Object.values(this.waiters)) d.promise.catch(() => {});
  }

  async run(): Promise<PackReport> {
    this.emit({ event: 'started', pack: this.me, at: Date.now() });
    this.opts.signal?.addEventListener('abort', () => this.fail(this.opts.signal!.reason as AbortInfo), { once: true });
    await this.startHttp();
    this.startThreads();
    try {
      if (this.P > 1) {
        await this.connect();
        await this.join();
      }
      this.connectedAt ||= Date.now();
      await this.waiters.allLoaded.promise;
      if (this.abortInfo === undefined) {
        this.joinedAt = Date.now();
        this.ready = true;
        this.emit({ event: 'joined', pack: this.me, at: this.joinedAt });
        if (this.P > 1) this.startHeartbeats();
        const chunk = Math.max(1, Math.min(this.chunkBytes, (this.transport?.maxFrameBytes ?? Infinity) - HEADER_BYTES));
        this.chunkBytes = chunk;
        this.broadcastToThreads({ t: 'start', joined: this.joinedAt, chunkBytes: chunk, gatherWrite: this.transport?.sendParts !== undefined });
      }
    } catch (err) {
      this.fail({ failedPack: this.me, reason: describeError(err) });
    }
    await this.waiters.allDone.promise;
    if (this.abortInfo === undefined && this.P > 1) await this.finishTogether();
    return this.shutdown();
  }

  // ---- threads ------------------------------------------------------------------------------------

  private startThreads(): void {
    const ringSabs: Record<number, SharedArrayBuffer> = {};
    for (let w = this.start; w < this.end; w++) {
      const sab = createRingBuffer(this.cfg.ringBytes);
      ringSabs[w] = sab;
      this.rings.set(w, new Ring(sab));
    }
    const packCounters = this.packCounters;
    const entry = this.opts.threadEntry ?? new URL('./thread.js', import.meta.url);
    for (let w = this.start; w < this.end; w++) {
      const data: ThreadData = {
        burstId: this.cfg.burstId,
        workerId: w,
        packSizes: this.cfg.layout.packSizes(),
        rings: ringSabs,
        packCounters: packCounters.buffer as SharedArrayBuffer,
        sendBudgetKiB: inflightKiB(this.cfg.sendBudgetBytes),
        modulePath: this.cfg.modulePath,
        params: this.cfg.params.get(w) ?? null,
        inlineMaxBytes: Math.min(this.cfg.inlineMaxBytes, this.rings.get(w)!.maxBody - RING_HEADER_BYTES),
        spinMicros: this.cfg.spinMicros,
        defaultTimeoutMs: this.cfg.operationTimeoutMs,
        processStart: this.processStart,
      };
      const t = new Worker(entry, { workerData: data, name: `kubeburst-worker-${w}` });
      t.on('message', (m: FromWorker) => this.onThreadMessage(w, m));
      t.on('error', (err) => this.onThreadGone(w, err));
      t.on('exit', (code) => this.onThreadGone(w, new Error(`worker thread exited with code ${code} before reporting a result`)));
      this.threads.set(w, t);
    }
  }

  private onThreadMessage(w: number, m: FromWorker): void {
    switch (m.t) {
      case 'loaded':
        this.loaded.add(w);
        if (this.loaded.size === this.end - this.start) this.waiters.allLoaded.resolve();
        break;
      case 'send':
        for (const dst of m.dsts) this.post(dst, { t: 'deliver', head: { ...m.head, dst }, payload: m.payload });
        break;
      case 'frames':
        this.sendFrames(m.pack, m.frames, false, true);
        break;
      case 'remote':
        this.sendGathered(m.pack, m.header, m.payload, m.chunkBytes);
        break;
      case 'done':
        this.recordReport({ ...m.report, packId: this.me });
        break;
    }
  }

  private onThreadGone(w: number, err: Error): void {
    if (this.reports.has(w)) return;
    const error = serializeError(err);
    this.recordReport({
      workerId: w,
      packId: this.me,
      ok: false,
      error,
      timings: { processStart: this.processStart, loaded: 0, joined: this.joinedAt, functionStart: 0, functionEnd: Date.now() },
      counters: emptyCounters(),
    });
  }

  private recordReport(r: WorkerReport): void {
    if (this.reports.has(r.workerId)) return;
    this.reports.set(r.workerId, r);
    this.emit({ event: 'worker-done', pack: this.me, worker: r.workerId, ok: r.ok, at: Date.now() });
    if (!r.ok) this.fail({ failedWorker: r.workerId, failedPack: this.me, reason: describeError(r.error) });
    // A thread that never loaded still counts as loaded for the start barrier: the burst is failing anyway.
    this.loaded.add(r.workerId);
    if (this.loaded.size === this.end - this.start) this.waiters.allLoaded.resolve();
    if (this.reports.size === this.end - this.start) this.waiters.allDone.resolve();
  }

  private broadcastToThreads(m: ToWorker): void {
    for (const w of this.threads.keys()) if (!this.reports.has(w)) this.post(w, m);
  }

  /** Posts to a worker thread and rings its mailbox, so a thread asleep in Atomics.wait wakes up for it. */
  private post(w: number, m: ToWorker, transfer?: ArrayBuffer[]): void {
    const t = this.threads.get(w);
    if (t === undefined) return;
    const ring = this.rings.get(w)!;
    ring.notePortPost();
    t.postMessage(m, transfer);
    ring.signal();
  }

  // ---- transport ----------------------------------------------------------------------------------

  private async connect(): Promise<void> {
    const factory = this.opts.transportFactory ?? defaultTransportFactory;
    this.transport = await factory(this.cfg.transport.kind, {
      burstId: this.cfg.burstId,
      packId: this.me,
      packCount: this.P,
      url: this.cfg.transport.url,
      connectTimeoutMs: this.cfg.joinTimeoutMs,
    });
    await this.transport.connect({
      frame: (f, owned) => this.onFrame(f, owned === true),
      // A lost peer (the direct transport sees its socket close) is the failed pack, not this one.
      error: (err) => this.fail({ failedPack: err instanceof PeerLostError ? err.pack : this.me, reason: `transport failed: ${err.message}` }),
    });
    this.connectedAt = Date.now();
    this.emit({ event: 'connected', pack: this.me, at: this.connectedAt });
  }

  /** `fromWorker`: the frames count against the pack's send budget until the transport accepts them. */
  private sendFrames(pack: number, frames: readonly Uint8Array[], urgent = false, fromWorker = false): void {
    if (this.transport === undefined) return;
    let bytes = 0;
    for (const f of frames) bytes += f.byteLength;
    this.wire.framesSent += frames.length;
    this.wire.bytesSent += bytes;
    const sent = this.transport.send(pack, frames, urgent);
    this.settle(sent, pack, fromWorker ? bytes : 0);
  }

  /** Reports a failed send, and gives back the send budget a worker's message took once it is done. */
  private settle(sent: Promise<void>, pack: number, workerBytes: number): void {
    sent.then(
      () => this.release(workerBytes),
      (err: unknown) => {
        this.release(workerBytes);
        this.sendFailed(pack, err);
      },
    );
  }

  private release(bytes: number): void {
    if (bytes === 0) return;
    Atomics.sub(this.packCounters, INFLIGHT_KIB, inflightKiB(bytes));
    Atomics.notify(this.packCounters, INFLIGHT_KIB);
  }

  /** Headers here, payload chunks as views of the worker's shared memory: written with no copy. */
  private sendGathered(pack: number, header: MessageHeader, payload: Uint8Array, chunk: number): void {
    const t = this.transport;
    if (t?.sendParts === undefined) return;
    const frames = chunkHeaders(header, payload.byteLength, chunk).map((c) => {
      const h = Buffer.allocUnsafe(HEADER_BYTES);
      writeHeader(h, c);
      return [h, payload.subarray(c.chunkOffset, c.chunkOffset + c.chunkBytes)];
    });
    this.wire.framesSent += frames.length;
    this.wire.bytesSent += payload.byteLength + frames.length * HEADER_BYTES;
    this.settle(t.sendParts(pack, frames), pack, payload.byteLength + frames.length * HEADER_BYTES);
  }


  /**
   * Over the direct transport a failed send means the destination is unreachable (it died, or never came
   * up): blame it. Through a broker it is this pack's connection that failed.
   */
  private sendFailed(pack: number, err: unknown): void {
    const blamed = this.transport?.kind === 'direct' ? pack : this.me;
    this.fail({ failedPack: blamed, reason: `sending to pack ${pack} failed: ${describeError(err)}` });
  }

  private sendControl(pack: number, msg: ControlMsg): void {
    this.sendFrames(pack, controlFrames(this.me, pack, msg), msg.type === 'hb' || msg.type === 'abort');
  }

  private onFrame(frame: Uint8Array, owned = false): void {
    this.wire.framesRecv++;
    this.wire.bytesRecv += frame.byteLength;
    let msg;
    try {
      const h = readHeader(frame);
      // Any frame from the watched pack proves it alive (its heartbeat may sit behind data on a stream).
      if ((h.kind === MsgKind.Control ? h.src : this.cfg.layout.packOf(h.src)) === this.prev()) this.lastHeard = Date.now();
      if (h.kind === MsgKind.Control) {
        this.onControl(h.src, parseControl(frame.subarray(HEADER_BYTES)));
        return;
      }
      msg = this.reassembler.push(this.cfg.layout.packOf(h.src), frame);
    } catch (err) {
      this.fail({ failedPack: this.me, reason: `received a bad frame: ${describeError(err)}` });
      return;
    }
    if (msg !== undefined) this.deliverRemote(envelopeFromHeader(msg.header, msg.payload), msg.reassembled || (owned && msg.payload.buffer === frame.buffer));
  }

  /** A message from another pack, for one of this pack's workers. */
  private deliverRemote(e: ReturnType<typeof envelopeFromHeader>, transferable = false): void {
    const t = this.threads.get(e.dst);
    if (t === undefined) {
      this.fail({ failedPack: this.me, reason: `received a message for worker ${e.dst}, which is not in pack ${this.me}` });
      return;
    }
    const ring = this.rings.get(e.dst)!;
    const inline = Math.min(this.cfg.inlineMaxBytes, ring.maxBody - RING_HEADER_BYTES);
    if (e.payload.byteLength <= inline && ring.tryWrite(ringBodyBytes(e.payload.byteLength), (data, view, at) => writeRingEnvelope(data, view, at, e, e.dst, e.dtype, e.payload))) return;
    // A payload in a buffer of its own (reassembled here, or handed over by the transport) moves to the
    // worker by transfer, with no copy; a worker that passes it on to pack mates puts it in shared memory
    // then. Any other payload sits in a reused receive buffer: copy it once, into memory that needs no
    // zero-filling (a fresh SharedArrayBuffer costs ~4× more per byte here: page faults plus zeroing).
    const { payload: _p, ...head } = e;
    let payload = e.payload;
    if (!transferable) {
      payload = Buffer.allocUnsafeSlow(e.payload.byteLength);
      payload.set(e.payload);
    }
    this.post(e.dst, { t: 'deliver', head, payload }, [payload.buffer as ArrayBuffer]);
  }

  // ---- join, liveness, end ------------------------------------------------------------------------

  private onControl(_from: number, m: ControlMsg): void {
    switch (m.type) {
      case 'hello':
        if (this.me !== 0) return;
        this.hellos.add(m.pack);
        if (this.goSent) this.sendControl(m.pack, { type: 'go' });
        else this.maybeGo();
        return;
      case 'go':
        this.waiters.go.resolve();
        return;
      case 'hb':
        return;
      case 'abort':
        this.fail(m.info, false);
        return;
      case 'done':
        if (this.me !== 0) return;
        this.dones.add(m.pack);
        this.maybeBye();
        return;
      case 'bye':
        this.waiters.bye.resolve();
        return;
    }
  }

  private async join(): Promise<void> {
    const hello = (): void => {
      if (this.me === 0) {
        this.hellos.add(0);
        this.maybeGo();
      } else this.sendControl(0, { type: 'hello', pack: this.me });
    };
    hello();
    // Core NATS drops a hello sent before pack 0 subscribed: repeat until GO.
    const timer = setInterval(hello, 250);
    const deadline = setTimeout(() => {
      const missing = this.me === 0 ? [...Array(this.P).keys()].filter((p) => !this.hellos.has(p)) : undefined;
      this.waiters.go.reject(
        new Error(
          this.me === 0
            ? `join timed out after ${this.cfg.joinTimeoutMs} ms: packs ${missing!.join(', ')} never joined`
            : `join timed out after ${this.cfg.joinTimeoutMs} ms: pack 0 (the coordinator) never started the burst`,
        ),
      );
    }, this.cfg.joinTimeoutMs);
    try {
      await Promise.race([this.waiters.go.promise, this.abortPromise()]);
    } finally {
      clearInterval(timer);
      clearTimeout(deadline);
    }
  }

  private maybeGo(): void {
    if (this.goSent || this.hellos.size < this.P) return;
    this.goSent = true;
    for (let p = 1; p < this.P; p++) this.sendControl(p, { type: 'go' });
    this.waiters.go.resolve();
  }

  private maybeBye(): void {
    if (this.dones.size < this.P) return;
    for (let p = 1; p < this.P; p++) this.sendControl(p, { type: 'bye' });
    this.waiters.bye.resolve();
  }

  private prev(): number {
    return (this.me - 1 + this.P) % this.P;
  }

  /** Each pack heartbeats to the next one in a ring and watches the previous one. */
  private startHeartbeats(): void {
    const next = (this.me + 1) % this.P;
    this.lastHeard = Date.now();
    let lastTick = Date.now();
    this.timers.push(
      setInterval(() => {
        this.sendControl(next, { type: 'hb' });
        const now = Date.now();
        // If this event loop itself stalled (a long parse, a busy machine), frames may be waiting unread:
        // do not count our own stall as the peer's silence.
        const stall = now - lastTick - this.cfg.heartbeatMs;
        if (stall > this.cfg.heartbeatMs) this.lastHeard += stall;
        lastTick = now;
        const silent = now - this.lastHeard;
        if (silent > this.cfg.heartbeatTimeoutMs && !this.finishing) {
          this.fail({ failedPack: this.prev(), reason: `pack ${this.prev()} sent no heartbeat for ${silent} ms (process died, was killed, or lost its network)` });
        }
      }, this.cfg.heartbeatMs),
    );
  }

  /** All packs end together: DONE to pack 0, BYE back; heartbeats run until then, so a crash is still seen. */
  private async finishTogether(): Promise<void> {
    if (this.me === 0) {
      this.dones.add(0);
      this.maybeBye();
    } else this.sendControl(0, { type: 'done', pack: this.me });
    await Promise.race([this.waiters.bye.promise, this.abortPromise()]);
  }

  private abortWaiter = deferred<void>();
  private abortPromise(): Promise<void> {
    return this.abortWaiter.promise;
  }

  /**
   * The first failure wins: tell every other pack (unless the news came from one) and every local worker;
   * workers get `abortGraceMs` to finish, then their threads are terminated.
   */
  private fail(info: AbortInfo, tellOthers = true): void {
    if (this.abortInfo !== undefined || this.finishing) return;
    this.abortInfo = info;
    this.log('error', 'burst aborting', { ...info });
    this.emit({ event: 'aborting', pack: this.me, info, at: Date.now() });
    if (tellOthers && this.transport !== undefined) {
      for (let p = 0; p < this.P; p++) if (p !== this.me && p !== info.failedPack) this.sendControl(p, { type: 'abort', info });
    }
    this.broadcastToThreads({ t: 'abort', info });
    this.waiters.allLoaded.resolve();
    this.abortWaiter.resolve();
    const grace = setTimeout(() => {
      for (const [w, t] of this.threads) {
        if (!this.reports.has(w)) {
          this.onThreadGone(w, new Error(`terminated ${this.cfg.abortGraceMs} ms after the burst aborted (${info.reason})`));
          void t.terminate();
        }
      }
    }, this.cfg.abortGraceMs);
    this.timers.push(grace);
  }

  private async shutdown(): Promise<PackReport> {
    this.finishing = true;
    for (const t of this.timers) clearTimeout(t);
    const finished = Date.now();
    await Promise.all([...this.threads.values()].map((t) => t.terminate().catch(() => 0)));
    if (this.transport !== undefined) {
      try {
        await this.transport.cleanup();
      } catch (err) {
        this.log('warn', 'transport cleanup failed', { error: describeError(err) });
      }
      await this.transport.close().catch(() => {});
    }
    await new Promise<void>((r) => (this.http ? this.http.close(() => r()) : r()));
    const workers = [...this.reports.values()].sort((a, b) => a.workerId - b.workerId);
    const ok = this.abortInfo === undefined && workers.every((w) => w.ok);
    return {
      burstId: this.cfg.burstId,
      packId: this.me,
      packCount: this.P,
      burstSize: this.cfg.layout.burstSize,
      transport: this.P > 1 ? this.cfg.transport.kind : 'none (single pack)',
      ok,
      ...(this.abortInfo !== undefined ? { abort: this.abortInfo } : {}),
      workers,
      timings: { processStart: this.processStart, connected: this.connectedAt, joined: this.joinedAt, finished },
      counters: workers.reduce((acc, w) => addCounters(acc, w.counters), emptyCounters()),
      wire: { ...this.wire },
    };
  }

  private async startHttp(): Promise<void> {
    const h = this.cfg.http;
    if (h === undefined) return;
    this.http = createServer((req, res) => {
      const ok = req.url === '/healthz' || (req.url === '/readyz' && this.ready);
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'not joined\n');
    });
    await new Promise<void>((resolve, reject) => {
      this.http!.once('error', (err) => reject(new TransportError('http', `cannot listen on ${h.host}:${h.port}: ${err.message}`)));
      this.http!.listen(h.port, h.host, () => resolve());
    });
  }

  private emit(e: PackEvent): void {
    this.opts.onEvent?.(e);
  }
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve: (v: T) => void;
  reject: (e: unknown) => void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}
