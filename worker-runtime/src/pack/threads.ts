import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { headOf, RING_HEADER_BYTES, ringBodyBytes, writeRingEnvelope, type Envelope } from '../communicator/envelope.js';
import { inflightKiB } from '../communicator/endpoint.js';
import { ProgressBoard } from '../communicator/progress.js';
import { emptyCounters } from '../communicator/stats.js';
import { serializeError } from '../errors.js';
import type { MessageHeader } from '../protocol/frame.js';
import { createRingBuffer, Ring } from '../shm/ring.js';
import { ENV, type PackConfig } from './config.js';
import type { AbortInfo, FromWorker, ToWorker, WorkerReport } from '../communicator/messages.js';
import type { ThreadData } from './thread.js';

/** What the worker threads tell the pack. */
export interface ThreadHandlers {
  loaded(worker: number): void;
  /** A worker's final report (a thread that died or was terminated gets one made for it). */
  done(report: WorkerReport): void;
  /** Ready-made frames for another pack. */
  frames(pack: number, frames: Uint8Array[]): void;
  /** A message in shared memory for another pack, to be written without a copy. */
  remote(pack: number, header: MessageHeader, payload: Uint8Array, chunkBytes: number): void;
  /** A worker says the burst must fail. */
  failed(info: AbortInfo): void;
}

/**
 * The pack's worker threads: one per worker, each with a ring (shared memory) for small messages and its
 * port for large ones by reference. In-pack messages go thread to thread here; remote ones go to the
 * handlers. Knows threads and rings, not the transport or the burst's coordination.
 */
export class PackThreads {
  private readonly threads = new Map<number, Worker>();
  private readonly rings = new Map<number, Ring>();
  private readonly reports = new Map<number, WorkerReport>();
  private resultBytes = 0;
  /** Where each worker is in its collectives (written by the workers, read and annotated here). */
  readonly board: ProgressBoard;

  constructor(
    private readonly cfg: PackConfig,
    private readonly packCounters: Int32Array,
    private readonly processStart: number,
    private readonly handlers: ThreadHandlers,
    private readonly entry: URL = new URL('./thread.js', import.meta.url),
  ) {
    const { start, end } = cfg.layout.packRange(cfg.packId);
    this.board = ProgressBoard.create(start, end - start);
  }

  start(): void {
    const { start, end } = this.cfg.layout.packRange(this.cfg.packId);
    const ringSabs: Record<number, SharedArrayBuffer> = {};
    for (let w = start; w < end; w++) {
      const sab = createRingBuffer(this.cfg.ringBytes);
      ringSabs[w] = sab;
      this.rings.set(w, new Ring(sab));
    }
    const env = userEnv();
    for (let w = start; w < end; w++) {
      const data: ThreadData = {
        burstId: this.cfg.burstId,
        workerId: w,
        packSizes: this.cfg.layout.packSizes(),
        rings: ringSabs,
        board: this.board.sab,
        boardFirst: start,
        packCounters: this.packCounters.buffer as SharedArrayBuffer,
        sendBudgetKiB: inflightKiB(this.cfg.sendBudgetBytes),
        modulePath: this.cfg.modulePath,
        moduleUrl: this.cfg.moduleUrl ?? pathToFileURL(this.cfg.modulePath).href,
        compiled: this.cfg.moduleUrl !== undefined,
        params: this.cfg.params.get(w) ?? null,
        inlineMaxBytes: Math.min(this.cfg.inlineMaxBytes, this.rings.get(w)!.maxBody - RING_HEADER_BYTES),
        spinMicros: this.cfg.spinMicros,
        defaultTimeoutMs: this.cfg.operationTimeoutMs,
        processStart: this.processStart,
        unreceived: { maxMessages: this.cfg.maxUnreceivedMessages, maxBytes: this.cfg.maxUnreceivedBytes },
        maxResultBytes: this.cfg.maxResultBytes,
      };
      const t = new Worker(this.entry, { workerData: data, name: `kubeburst-worker-${w}`, env });
      t.on('message', (m: FromWorker) => this.onMessage(w, m));
      t.on('error', (err) => this.gone(w, err));
      t.on('exit', (code) => this.gone(w, new Error(`worker thread exited with code ${code} before reporting a result`)));
      this.threads.set(w, t);
    }
  }

  /** Posts to a worker thread and rings its mailbox, so a thread asleep in Atomics.wait wakes up for it. */
  post(w: number, m: ToWorker, transfer?: ArrayBuffer[]): void {
    const t = this.threads.get(w);
    if (t === undefined || this.reports.has(w)) return;
    const ring = this.rings.get(w)!;
    ring.notePortPost();
    t.postMessage(m, transfer);
    ring.signal();
  }

  broadcast(m: ToWorker): void {
    for (const w of this.threads.keys()) this.post(w, m);
  }

  /** Wakes every worker waiting in a call, to look at the board again (it changed). */
  wakeAll(): void {
    for (const r of this.rings.values()) r.signal();
  }

  has(w: number): boolean {
    return this.threads.has(w);
  }

  /**
   * A message from another pack for worker `e.dst`: small ones through its ring, large ones by transfer.
   * `transferable`: the payload has a buffer of its own (reassembled here, or handed over by the
   * transport) and moves with no copy; any other payload sits in a reused receive buffer and is copied
   * once, into memory that needs no zero-filling (a fresh SharedArrayBuffer costs ~4× more per byte here).
   */
  deliver(e: Envelope, transferable: boolean): void {
    const ring = this.rings.get(e.dst)!;
    const inline = Math.min(this.cfg.inlineMaxBytes, ring.maxBody - RING_HEADER_BYTES);
    if (e.payload.byteLength <= inline && ring.tryWrite(ringBodyBytes(e.payload.byteLength), (data, view, at) => writeRingEnvelope(data, view, at, e, e.dst, e.dtype, e.payload)))
      return;
    const head = headOf(e, e.dst, e.dtype);
    let payload = e.payload;
    if (!transferable) {
      payload = Buffer.allocUnsafeSlow(e.payload.byteLength);
      payload.set(e.payload);
    }
    this.post(e.dst, { t: 'deliver', head, payload }, [payload.buffer as ArrayBuffer]);
  }

  /** Threads still running get a report saying why they were stopped, then are terminated. */
  terminateUnfinished(reason: string): void {
    for (const [w, t] of this.threads) {
      if (this.reports.has(w)) continue;
      this.gone(w, new Error(reason));
      void t.terminate();
    }
  }

  async terminateAll(): Promise<void> {
    await Promise.all([...this.threads.values()].map((t) => t.terminate().catch(() => 0)));
  }

  /** Reports by worker id. */
  allReports(): WorkerReport[] {
    return [...this.reports.values()].sort((a, b) => a.workerId - b.workerId);
  }

  private onMessage(w: number, m: FromWorker): void {
    switch (m.t) {
      case 'loaded':
        this.handlers.loaded(w);
        break;
      case 'send':
        for (const dst of m.dsts) this.post(dst, { t: 'deliver', head: headOf(m.head, dst, m.head.dtype), payload: m.payload });
        break;
      case 'frames':
        this.handlers.frames(m.pack, m.frames);
        break;
      case 'remote':
        this.handlers.remote(m.pack, m.header, m.payload, m.chunkBytes);
        break;
      case 'done':
        this.record({ ...m.report, packId: this.cfg.packId });
        break;
      case 'fail':
        this.handlers.failed(m.info);
        break;
    }
  }

  private gone(w: number, err: Error): void {
    if (this.reports.has(w)) return;
    this.record({
      workerId: w,
      packId: this.cfg.packId,
      ok: false,
      error: serializeError(err),
      timings: { processStart: this.processStart, loaded: 0, joined: 0, functionStart: 0, functionEnd: Date.now() },
      counters: emptyCounters(),
    });
  }

  private record(r: WorkerReport): void {
    if (this.reports.has(r.workerId)) return;
    // The pack's report is one JSON string (Node's strings stop at 512 MiB): the results that would take
    // it past four results' worth fail their workers, and the others' results stay.
    const budget = 4 * this.cfg.maxResultBytes;
    if (r.ok && this.resultBytes + (r.resultBytes ?? 0) > budget) {
      const { result: _r, resultBytes: _b, ...rest } = r;
      r = {
        ...rest,
        ok: false,
        error: serializeError(
          new Error(
            `worker ${r.workerId}'s result (${r.resultBytes} bytes of JSON) would take this pack's results past ${budget} bytes (4 × KB_MAX_RESULT_BYTES): write large results to storage from the workers`,
          ),
        ),
      };
    } else this.resultBytes += r.resultBytes ?? 0;
    this.reports.set(r.workerId, r);
    this.board.setDone(r.workerId);
    this.handlers.done(r);
  }
}

/**
 * What user code's threads (and the processes they start) see of the pack's environment: all of it but
 * the variable that may hold a broker credential (a URL, from a Secret or not), so
 * printing the environment, or a child process that does, leaks none. (It hides, it does not protect: code
 * in the pack's process can still read /proc/self/environ, or the mounted Secret.)
 */
export function userEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  const out = { ...env };
  for (const k of CREDENTIAL_ENV) delete out[k];
  return out;
}

/** The URL, and the descriptors a launcher handed secrets on (read and closed by the pack: nothing there for a thread). */
const CREDENTIAL_ENV = [ENV.transportUrl, ENV.secretFd, ENV.transportCredsFd];
