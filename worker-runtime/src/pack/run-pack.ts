import { readFileSync } from 'node:fs';
import { addCounters, emptyCounters } from '../communicator/stats.js';
import { findDivergence, laggardOf, ProgressWatch, sameLaggard, type Laggard } from '../communicator/progress.js';
import { CollectiveMismatchError, describeError, KubeburstError, PeerLostError } from '../errors.js';
import { deriveKeys } from '../security/keys.js';
import { defaultTransportFactory, type Transport, type TransportFactory } from '../transport/index.js';
import { SealedTransport } from '../transport/sealed.js';
import { redactUrl } from '../redact.js';
import type { PackConfig } from './config.js';
import { Coordinator, type CoordinatorEvent, type CoordinatorInput, type Effect } from './coordinator.js';
import { Health } from './health.js';
import { PackLinks } from './links.js';
import type { PackEvent, PackReport } from './reports.js';
import type { AbortInfo, WorkerReport } from '../communicator/messages.js';
import { Relay } from './relay.js';
import { PackThreads } from './threads.js';

export interface RunPackOptions {
  processStart?: number;
  transportFactory?: TransportFactory;
  onEvent?: (e: PackEvent) => void;
  log?: (level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>) => void;
  /** Worker thread entry (defaults to the compiled thread.js next to this file). */
  threadEntry?: URL;
  /** Aborting it aborts the burst with `signal.reason` (an AbortInfo): the launcher's news of a dead pack, SIGTERM. */
  signal?: AbortSignal;
  /**
   * `false`: frames through a broker go unsealed (no MAC, no counter). Only for a benchmark that measures
   * what sealing costs next to the same flare sealed; no environment variable or manifest field reaches it.
   */
  sealBrokerFrames?: boolean;
}

/** How often the coordinator is ticked (join retries, heartbeats, deadlines) and the progress board read. */
const TICK_MS = 100;
/**
 * A worker whose collective state has not changed for this long counts as stuck (pack mates stuck in
 * collectives called in different orders fail the burst): well above the time a call takes to start
 * another that it did not await, well below a heartbeat.
 */
const STUCK_MS = 400;
/** Deleting broker keys at the end gets this long; then the pack exits anyway (the operator sweeps). */
const CLEANUP_TIMEOUT_MS = 5_000;

/**
 * Runs one pack: its worker threads, its transport and liveness links, and the coordinator that decides
 * (pack/coordinator.ts). This file only wires them: events in, effects out.
 */
export async function runPack(cfg: PackConfig, opts: RunPackOptions = {}): Promise<PackReport> {
  return new Pack(cfg, opts).run();
}

class Pack {
  private readonly me: number;
  private readonly P: number;
  private readonly coordinator: Coordinator;
  /** Shared with the worker threads: message ids and the send budget in flight (see Endpoint). */
  private readonly packCounters = new Int32Array(new SharedArrayBuffer(8));
  private readonly threads: PackThreads;
  private readonly health = new Health();
  private relay: Relay | undefined;
  private transport: Transport | undefined;
  private links: PackLinks | undefined;
  private readonly processStart: number;
  private connectedAt = 0;
  private refused = 0;
  private rejected = 0;
  private tick: NodeJS.Timeout | undefined;
  private readonly queue: CoordinatorInput[] = [];
  private dispatching = false;
  private finished!: () => void;
  private readonly done = new Promise<void>((r) => (this.finished = r));
  private readonly log: NonNullable<RunPackOptions['log']>;
  private readonly watch: ProgressWatch;
  private lastLag: Laggard | undefined;
  private diverged = false;

  constructor(
    private readonly cfg: PackConfig,
    private readonly opts: RunPackOptions,
  ) {
    this.me = cfg.packId;
    this.P = cfg.layout.packCount;
    this.processStart = opts.processStart ?? Date.now();
    this.log = opts.log ?? (() => {});
    const { start, end } = cfg.layout.packRange(cfg.packId);
    this.coordinator = new Coordinator({
      me: this.me,
      packCount: this.P,
      workers: Array.from({ length: end - start }, (_, i) => start + i),
      joinTimeoutMs: cfg.joinTimeoutMs,
      heartbeatMs: cfg.heartbeatMs,
      heartbeatTimeoutMs: cfg.heartbeatTimeoutMs,
      abortGraceMs: cfg.abortGraceMs,
      tickMs: TICK_MS,
    });
    this.threads = new PackThreads(
      cfg,
      this.packCounters,
      this.processStart,
      {
        loaded: (worker) => this.dispatch({ e: 'threadLoaded', worker }),
        done: (r) =>
          this.dispatch({
            e: 'workerDone',
            worker: r.workerId,
            ok: r.ok,
            ...(r.ok ? {} : { reason: describeError(r.error) }),
            ...(r.collectives ? { collectives: r.collectives } : {}),
            ...blameOf(r),
          }),
        frames: (pack, frames) => this.relay?.sendFrames(pack, frames),
        remote: (pack, header, payload, chunk) => this.relay?.sendGathered(pack, header, payload, chunk),
        failed: (info) => this.dispatch({ e: 'failed', info }),
      },
      opts.threadEntry,
    );
    this.watch = new ProgressWatch(this.threads.board, STUCK_MS);
  }

  async run(): Promise<PackReport> {
    this.opts.signal?.addEventListener('abort', () => this.dispatch({ e: 'external', info: this.opts.signal!.reason as AbortInfo }), { once: true });
    if (this.cfg.http !== undefined) await this.health.listen(this.cfg.http.host, this.cfg.http.port);
    this.threads.start();
    this.dispatch({ e: 'start' });
    this.tick = setInterval(() => {
      this.watchProgress();
      this.dispatch({ e: 'tick' });
    }, TICK_MS);
    if (this.P > 1) {
      // An abort while connecting (SIGTERM, a lost launcher) ends the pack now, not at the join timeout.
      const connecting = this.connect().then(
        () => this.dispatch({ e: 'connected' }),
        (err: unknown) =>
          this.dispatch({
            e: 'failed',
            info: { failedPack: this.me, reason: `pack ${this.me} could not connect: ${err instanceof KubeburstError ? err.message : describeError(err)}` },
          }),
      );
      await Promise.race([connecting, this.done]);
    }
    await this.done;
    return this.shutdown();
  }

  /**
   * Reads the progress board (one pass over the pack's slots): the pack's laggard for the coordinator to
   * pass on, and pack mates stuck in collectives called in different orders, which fail the burst at once
   * (those workers' pending calls reject with the CollectiveMismatchError, everyone else's with the abort).
   */
  private watchProgress(): void {
    if (this.coordinator.stage !== 'running' && this.coordinator.stage !== 'finishing') return;
    const now = Date.now();
    const board = this.threads.board;
    const states = this.watch.poll(now);
    if (this.P > 1) {
      const lag = laggardOf(states, (w) => board.since(w));
      if (!sameLaggard(lag, this.lastLag)) {
        this.lastLag = lag;
        this.dispatch({ e: 'progress', lag });
      }
    }
    if (this.diverged || this.coordinator.stage !== 'running') return;
    const d = findDivergence(
      states,
      (w) => this.watch.stuck(w, now),
      (w) => `worker ${w} (pack ${this.cfg.layout.packOf(w)})`,
    );
    if (d === undefined) return;
    this.diverged = true;
    // Before the abort, so those workers' calls reject with the mismatch itself.
    for (const w of d.workers) this.threads.post(w, { t: 'mismatch', detail: d.detail });
    this.dispatch({ e: 'failed', info: { failedWorker: d.culprit, failedPack: this.me, reason: describeError(new CollectiveMismatchError(d.culprit, d.detail, this.me)) } });
  }

  /** Feeds the coordinator one event at a time (an effect may cause another event: it waits its turn). */
  private dispatch(ev: CoordinatorInput): void {
    this.queue.push(ev);
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      for (let next = this.queue.shift(); next !== undefined; next = this.queue.shift()) {
        for (const fx of this.coordinator.step({ ...next, now: Date.now() } as CoordinatorEvent)) this.apply(fx);
      }
    } finally {
      this.dispatching = false;
    }
  }

  private apply(fx: Effect): void {
    switch (fx.do) {
      case 'link':
        this.links?.send(fx.to, fx.msg);
        return;
      case 'startWorkers':
        this.threads.broadcast({
          t: 'start',
          joined: fx.joined,
          chunkBytes: this.relay?.chunkBytes ?? this.cfg.transport.chunkBytes,
          gatherWrite: this.transport?.sendParts !== undefined,
        });
        return;
      case 'abortWorkers':
        this.threads.broadcast({ t: 'abort', info: fx.info });
        return;
      case 'fewest':
        this.threads.board.setFewest(fx.comm, fx.fewest.count, fx.fewest.worker);
        this.threads.wakeAll();
        return;
      case 'laggard':
        this.threads.board.setLaggard(fx.lag);
        return;
      case 'terminateWorkers':
        this.threads.terminateUnfinished(fx.reason);
        return;
      case 'ready':
        this.health.ready = true;
        return;
      case 'closeLinks':
        return; // in shutdown, after the last message was queued
      case 'finish':
        this.finished();
        return;
      case 'emit':
        this.opts.onEvent?.(fx.event);
        return;
      case 'log':
        this.log(fx.level, fx.msg, fx.fields);
        return;
    }
  }

  /** The transport and the liveness links, within the join timeout (a silent broker must not hang the pack). */
  private async connect(): Promise<void> {
    const keys = deriveKeys(this.cfg.secret!, this.cfg.burstId);
    const onRefused = (reason: string): void => {
      if (this.refused++ < 5) this.log('warn', 'dropped a connection that did not authenticate', { reason });
    };
    this.links = new PackLinks(
      {
        burstId: this.cfg.burstId,
        packId: this.me,
        packCount: this.P,
        url: this.cfg.linkUrl!,
        keys,
        connectTimeoutMs: this.cfg.joinTimeoutMs,
        helloTimeoutMs: this.cfg.helloTimeoutMs,
      },
      {
        message: (from, msg) => this.dispatch({ e: 'link', from, msg }),
        lost: (pack, reason) => this.dispatch({ e: 'peerLost', pack, reason }),
        left: (pack) => this.dispatch({ e: 'peerLeft', pack }),
        refused: onRefused,
      },
    );
    const until = Date.now() + this.cfg.joinTimeoutMs;
    const within = async <T>(step: Promise<T> | T, what: string): Promise<T> => {
      const d = withDeadline(Math.max(0, until - Date.now()), `${what} within the join timeout (${this.cfg.joinTimeoutMs} ms)`);
      try {
        return await Promise.race([Promise.resolve(step), d.promise]);
      } finally {
        d.cancel();
      }
    };
    const where = `the ${this.cfg.transport.kind} transport${this.cfg.transport.kind === 'direct' ? '' : ` at ${redactUrl(this.cfg.transport.url)}`}`;
    await within(this.links.start(this.coordinator.neighbours), 'the links to the other packs did not open');
    const factory = this.opts.transportFactory ?? defaultTransportFactory;
    const inner = await within(
      factory(this.cfg.transport.kind, {
        burstId: this.cfg.burstId,
        packId: this.me,
        packCount: this.P,
        url: this.cfg.transport.url,
        urlSource: this.cfg.transport.urlSource,
        ...(this.cfg.transport.natsUser !== undefined ? { natsUser: this.cfg.transport.natsUser } : {}),
        connectTimeoutMs: this.cfg.joinTimeoutMs,
        keys,
        onRefused,
        helloTimeoutMs: this.cfg.helloTimeoutMs,
      }),
      `${where} could not be set up`,
    );
    // The direct transport authenticates its connections; through a broker every frame proves itself.
    const transport =
      inner.kind === 'direct' || this.opts.sealBrokerFrames === false
        ? inner
        : new SealedTransport(inner, {
            keys,
            packId: this.me,
            packCount: this.P,
            encrypt: this.cfg.transport.encrypt,
            onRejected: (reason) => {
              if (this.rejected++ < 5) this.log('warn', 'dropped a frame that did not prove itself', { reason });
            },
          });
    this.transport = transport;
    this.relay = new Relay(this.cfg, transport, this.threads, this.packCounters, { failed: (info) => this.dispatch({ e: 'failed', info }) });
    const relay = this.relay;
    await within(
      transport.connect({
        frame: (f, owned, fromPack) => relay.onFrame(f, owned === true, fromPack),
        // A lost peer (the direct transport sees its socket close) is the failed pack, not this one.
        error: (err) =>
          err instanceof PeerLostError
            ? this.dispatch({ e: 'peerLost', pack: err.pack, reason: err.message })
            : this.dispatch({ e: 'failed', info: { failedPack: this.me, reason: `pack ${this.me}'s ${transport.kind} transport failed: ${err.message}` } }),
      }),
      `${where} did not connect`,
    );
    this.connectedAt = Date.now();
  }

  private async shutdown(): Promise<PackReport> {
    clearInterval(this.tick);
    const finished = Date.now();
    await this.threads.terminateAll();
    // What the workers sent goes out before the transport closes (their last turn's frames may still wait).
    this.relay?.flushAll();
    await this.links?.close().catch(() => undefined);
    if (this.transport !== undefined) {
      const t = this.transport;
      const cleanup = withDeadline(CLEANUP_TIMEOUT_MS, `cleanup took longer than ${CLEANUP_TIMEOUT_MS} ms`);
      try {
        await Promise.race([t.cleanup(), cleanup.promise]);
      } catch (err) {
        this.log('warn', 'transport cleanup failed', { error: describeError(err) });
      } finally {
        cleanup.cancel();
      }
      const closing = withDeadline(CLEANUP_TIMEOUT_MS, 'close timed out');
      await Promise.race([t.close(), closing.promise]).catch(() => undefined);
      closing.cancel();
    }
    await this.health.close();
    const workers = this.threads.allReports();
    const abort = this.coordinator.abort?.info;
    const ok = abort === undefined && workers.every((w) => w.ok);
    return {
      burstId: this.cfg.burstId,
      packId: this.me,
      packCount: this.P,
      burstSize: this.cfg.layout.burstSize,
      transport: this.P > 1 ? this.cfg.transport.kind : 'none (single pack)',
      ok,
      ...(abort !== undefined ? { abort } : {}),
      workers,
      timings: { processStart: this.processStart, connected: this.connectedAt || (this.P === 1 ? this.processStart : 0), joined: this.coordinator.joinedAt, finished },
      counters: workers.reduce((acc, w) => addCounters(acc, w.counters), emptyCounters()),
      wire: this.relay?.wire ?? { framesSent: 0, bytesSent: 0, framesRecv: 0, bytesRecv: 0 },
      ...(this.refused > 0 ? { refused: this.refused } : {}),
      ...(this.rejected > 0 ? { rejected: this.rejected } : {}),
      maxRssBytes: peakRssBytes(),
    };
  }
}

/**
 * This program's own peak resident memory. Linux's getrusage maxRSS (process.resourceUsage) starts from
 * the resident size of the process that forked us (a 400 MB test runner makes every pack it spawns report
 * 400 MB), so read the peak of this program's address space, VmHWM, where /proc has it.
 */
function peakRssBytes(): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync('/proc/self/status', 'utf8'));
    if (m) return Number(m[1]) * 1024;
  } catch {
    // no /proc (macOS): the rusage figure, an upper bound
  }
  return process.resourceUsage().maxRSS * 1024;
}

/** A collective that timed out names the worker that never called it (CollectiveTimeoutError.blamedWorker). */
function blameOf(r: WorkerReport): { blame?: { worker: number; pack: number } } {
  const f = r.error?.fields;
  return typeof f?.blamedWorker === 'number' && typeof f.blamedPack === 'number' ? { blame: { worker: f.blamedWorker, pack: f.blamedPack } } : {};
}

/** A promise that rejects after `ms` (unless cancelled), for racing a step that may hang. */
function withDeadline(ms: number, what: string): { promise: Promise<never>; cancel: () => void } {
  let timer: NodeJS.Timeout | undefined;
  const promise = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new KubeburstError('TIMEOUT', what)), ms);
  });
  promise.catch(() => undefined);
  return { promise, cancel: () => clearTimeout(timer) };
}
