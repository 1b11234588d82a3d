import { behind, sameLaggard, type Laggard } from '../communicator/progress.js';
import type { ControlMsg, Fewest, LaggardWire } from './control.js';
import type { AbortInfo } from '../communicator/messages.js';
import type { PackEvent } from './reports.js';

/**
 * The pack's coordination as a pure state machine: `step(event) → effects`, no I/O, no clock, no timers.
 * run-pack.ts feeds it what happens (threads loading and finishing, control messages, links coming up and
 * going away, ticks) and carries out what it decides; every order of events can be tested here.
 *
 * Life of a pack:
 *
 *   loading/joining ──go + all threads loaded──▶ running ──all workers ok──▶ finishing ──bye──▶ done
 *         │                                        │                            │
 *         └────────────── any failure ─────────────┴────────────────────────────┴──▶ aborted ──grace──▶ done
 *
 * Links: coordination never rides the data transport (a broker may drop or delay what it carries). Every
 * pack holds an authenticated link (pack/links.ts) to pack 0, and pack 0 one to every pack: a star. All
 * control travels there: HELLO, GO, DONE, BYE, heartbeats and aborts.
 *
 * Joining: once its transport is connected, every pack tells pack 0 HELLO; once pack 0 has heard every
 * pack it sends GO. A pack starts its workers once it has GO and its own threads have loaded. Not joined
 * by the join deadline: the burst aborts.
 *
 * Finishing: a pack whose workers all succeeded tells pack 0 DONE; once pack 0 has every DONE it sends BYE
 * and everyone ends together. Until then a pack keeps watching its links, so a crash is still seen.
 *
 * Liveness: a link that closes without a goodbye means a dead pack at once: a process that dies or is
 * killed has its sockets closed by the kernel, so pack 0 sees any pack die, and every pack sees pack 0 die.
 * Heartbeats on the links only catch what closes nothing (a frozen process, a partition), so their timeout
 * is long enough that a saturated machine does not trip it; a pack whose own event loop stalled does not
 * count that stall as the others' silence.
 *
 * Aborts are flooded: a pack that learns of a failure (its own, a lost link, or news from a link) passes
 * it on over every other link, once per abort; pack 0 thus tells everyone. When failures race, every pack
 * settles on the same one (the earliest, ties to the lowest origin pack) before it ends: every pack reports
 * the same culprit and reason. Workers get abortGraceMs to wind down, then their threads are terminated.
 *
 * Diagnosis (communicator/progress.ts): a worker that returned after N burst collectives will never call
 * collective #N. The fewest any returned worker made is news worth spreading: its pack tells pack 0 (at
 * the next tick, or with its DONE), pack 0 tells the packs still running, and each writes it on its board,
 * where a worker waiting in collective #k ≥ N sees it and fails with a CollectiveMismatchError. Only a
 * lower count is news, so a burst whose workers agree costs one message per pack. Pack collectives: the
 * same within the pack, no link needed. And every heartbeat to pack 0 carries the pack's laggard (its
 * worker furthest behind in burst collectives), every heartbeat from pack 0 the burst's: a collective that
 * times out names a worker that never called it, not the pack mate it happened to wait for.
 */
export interface CoordinatorConfig {
  me: number;
  packCount: number;
  /** Workers of this pack. */
  workers: readonly number[];
  joinTimeoutMs: number;
  heartbeatMs: number;
  heartbeatTimeoutMs: number;
  abortGraceMs: number;
  /** How often the shell sends `tick` (own-stall detection counts gaps longer than this). */
  tickMs: number;
  /** After an abort, wait this long (at most the grace) for earlier aborts to arrive before ending. */
  settleMs?: number;
}

/** An abort as it travels: what failed, which pack first saw it, and when (ms since the epoch, its clock). */
export interface AbortRecord {
  info: AbortInfo;
  origin: number;
  at: number;
}

/** What happens to a pack; the shell stamps each with `now` (CoordinatorEvent). */
export type CoordinatorInput =
  | { e: 'start' }
  | { e: 'threadLoaded'; worker: number }
  /**
   * `collectives`: how many it called (burst, pack). `blame`: the worker its failure names instead of it
   * (a collective that timed out because another worker never called it).
   */
  | { e: 'workerDone'; worker: number; ok: boolean; reason?: string; collectives?: { burst: number; pack: number }; blame?: { worker: number; pack: number } }
  /** This pack's worker furthest behind in burst collectives changed (the shell polls the board). */
  | { e: 'progress'; lag: Laggard | undefined }
  /** The transport is connected (frames sent to this pack will be received); links are being dialed. */
  | { e: 'connected' }
  /** A message on the link from another pack. */
  | { e: 'link'; from: number; msg: ControlMsg }
  /** A link, or a direct-transport connection, to a pack closed without a goodbye. */
  | { e: 'peerLost'; pack: number; reason: string }
  /** A pack closed its link on purpose (it finished). */
  | { e: 'peerLeft'; pack: number }
  /** This pack's own part failed (its transport, a bad frame, a send). */
  | { e: 'failed'; info: AbortInfo }
  /** From outside the burst: the launcher saw a pack die, SIGTERM, the parent process went away. */
  | { e: 'external'; info: AbortInfo }
  | { e: 'tick' };

export type CoordinatorEvent = { now: number } & CoordinatorInput;

export type Effect =
  | { do: 'link'; to: number; msg: ControlMsg }
  | { do: 'startWorkers'; joined: number }
  | { do: 'abortWorkers'; info: AbortInfo }
  /** Write on the board: a worker that returned had called only `fewest.count` collectives on `comm` (0 burst, 1 pack). */
  | { do: 'fewest'; comm: 0 | 1; fewest: Fewest }
  /** Write on the board: the burst's laggard, as this pack knows it. */
  | { do: 'laggard'; lag: Laggard | undefined }
  | { do: 'terminateWorkers'; reason: string }
  | { do: 'ready' }
  | { do: 'closeLinks' }
  | { do: 'finish' }
  | { do: 'emit'; event: PackEvent }
  | { do: 'log'; level: 'info' | 'warn' | 'error'; msg: string; fields?: Record<string, unknown> };

export type Stage = 'joining' | 'running' | 'finishing' | 'aborted' | 'done';

export class Coordinator {
  stage: Stage = 'joining';
  /** The abort this pack settled on. */
  abort: AbortRecord | undefined;
  joinedAt = 0;
  private readonly P: number;
  private readonly me: number;
  private readonly loaded = new Set<number>();
  private readonly results = new Map<number, boolean>();
  private connected = false;
  private go = false;
  private started = false;
  private readonly hellos = new Set<number>();
  private readonly dones = new Set<number>();
  private goSent = false;
  private joinDeadline = Infinity;
  private graceDeadline = Infinity;
  private settleUntil = 0;
  private terminated = false;
  /** Neighbours whose link is watched, and when each was last heard. */
  private readonly lastHeard = new Map<number, number>();
  private readonly left = new Set<number>();
  /** Packs whose link closed without a goodbye: nothing is sent to them any more. */
  private readonly lost = new Set<number>();
  private lastTick = 0;
  private nextBeat = 0;
  /** Aborts already passed on over the links (origin@at). */
  private readonly forwarded = new Set<string>();
  /** The fewest burst collectives a returned worker made (as known here), the pack that told us, and whether to pass it on. */
  private fewest: Fewest | undefined;
  private fewestFrom = -1;
  private fewestPending = false;
  private packFewest = Infinity;
  /** This pack's laggard; pack 0: every pack's (its own clock); the burst's as last written on the board. */
  private ownLag: Laggard | undefined;
  private readonly lags = new Map<number, Laggard>();
  private burstLag: Laggard | undefined;
  private out: Effect[] = [];

  constructor(private readonly c: CoordinatorConfig) {
    this.P = c.packCount;
    this.me = c.me;
  }

  /** The packs this one holds links to: pack 0 to every pack, every other pack to pack 0. */
  get neighbours(): number[] {
    if (this.P < 2) return [];
    return this.me === 0 ? Array.from({ length: this.P - 1 }, (_, i) => i + 1) : [0];
  }

  step(ev: CoordinatorEvent): Effect[] {
    this.out = [];
    const now = ev.now;
    switch (ev.e) {
      case 'start':
        this.emit({ event: 'started', pack: this.me, at: now });
        if (this.P === 1) {
          this.connected = true;
          this.go = true;
        }
        break;
      case 'threadLoaded':
        this.loaded.add(ev.worker);
        break;
      case 'workerDone':
        if (this.results.has(ev.worker)) break;
        this.results.set(ev.worker, ev.ok);
        this.loaded.add(ev.worker); // a thread that never loaded counts as loaded: the burst is failing anyway
        this.emit({ event: 'worker-done', pack: this.me, worker: ev.worker, ok: ev.ok, at: now });
        if (ev.ok && ev.collectives !== undefined) this.returned(ev.worker, ev.collectives);
        if (!ev.ok) this.fail({ failedWorker: ev.blame?.worker ?? ev.worker, failedPack: ev.blame?.pack ?? this.me, reason: ev.reason ?? 'failed' }, now, 'own');
        break;
      case 'progress':
        this.ownLag = ev.lag;
        break;
      case 'connected':
        if (this.connected || this.stage !== 'joining') break;
        this.connected = true;
        this.joinDeadline = now + this.c.joinTimeoutMs;
        this.emit({ event: 'connected', pack: this.me, at: now });
        this.sayHello(now);
        break;
      case 'link':
        if (this.lastHeard.has(ev.from)) this.lastHeard.set(ev.from, now);
        this.onLink(ev.from, ev.msg, now);
        break;
      case 'peerLost':
        if (this.left.has(ev.pack)) break;
        this.lost.add(ev.pack);
        this.lags.delete(ev.pack);
        this.fail({ failedPack: ev.pack, reason: ev.reason }, now, 'own');
        break;
      case 'peerLeft':
        this.left.add(ev.pack);
        this.lastHeard.delete(ev.pack);
        this.lags.delete(ev.pack);
        break;
      case 'failed':
        this.fail(ev.info, now, 'own');
        break;
      case 'external':
        this.fail(ev.info, now, 'own');
        break;
      case 'tick':
        this.onTick(now);
        break;
    }
    this.advance(now);
    return this.out;
  }

  // ---- joining and finishing ------------------------------------------------------------------------

  private sayHello(now: number): void {
    if (this.me === 0) {
      this.hellos.add(0);
      this.maybeGo(now);
    } else this.link(0, { type: 'hello', pack: this.me });
  }

  private maybeGo(now: number): void {
    if (this.goSent || this.hellos.size < this.P) return;
    this.goSent = true;
    for (let p = 1; p < this.P; p++) this.link(p, { type: 'go' });
    this.onGo(now);
  }

  private onGo(now: number): void {
    if (this.go) return;
    this.go = true;
    // Every pack is up: from now on a silent neighbour is a dead one.
    for (const n of this.neighbours) if (!this.left.has(n)) this.lastHeard.set(n, now);
    this.nextBeat = now;
  }

  private onLink(from: number, m: ControlMsg, now: number): void {
    switch (m.type) {
      case 'hello':
        if (this.me !== 0 || m.pack !== from || this.hellos.has(from)) return;
        this.hellos.add(m.pack);
        if (this.goSent) this.link(m.pack, { type: 'go' });
        else this.maybeGo(now);
        return;
      case 'go':
        if (from === 0) this.onGo(now);
        return;
      case 'hb':
        this.heardLag(from, m.lag, now);
        return;
      case 'fewest':
        if (this.me === 0 || from === 0) this.noteFewest(m.fewest, from);
        return;
      case 'abort':
        this.fail(m.info, now, { from }, m.origin ?? from, m.at ?? now);
        return;
      case 'done':
        if (this.me !== 0 || m.pack !== from) return;
        this.dones.add(m.pack);
        this.lags.delete(m.pack);
        if (m.fewest !== undefined) this.noteFewest(m.fewest, from);
        this.maybeBye();
        return;
      case 'bye':
        if (from === 0 && this.stage === 'finishing') this.end();
        return;
    }
  }

  private maybeBye(): void {
    if (this.stage !== 'finishing' || this.dones.size < this.P) return;
    for (let p = 1; p < this.P; p++) this.link(p, { type: 'bye' });
    this.end();
  }

  private end(): void {
    this.stage = 'done';
    this.lastHeard.clear();
    this.out.push({ do: 'closeLinks' }, { do: 'finish' });
  }

  /** Moves the stages along after every event. */
  private advance(now: number): void {
    if (this.stage === 'joining' && this.go && this.loaded.size >= this.c.workers.length && this.abort === undefined) {
      this.stage = 'running';
      this.joinedAt = now;
      this.started = true;
      this.emit({ event: 'joined', pack: this.me, at: now });
      this.out.push({ do: 'ready' }, { do: 'startWorkers', joined: now });
    }
    const allDone = this.results.size >= this.c.workers.length;
    if (this.stage === 'running' && allDone && this.abort === undefined) {
      this.stage = 'finishing';
      if (this.P === 1) this.end();
      else if (this.me === 0) {
        this.dones.add(0);
        this.maybeBye();
      } else {
        // News of a worker that returned goes with the DONE (it would have gone at the next tick).
        const tell = this.fewestPending && this.fewestFrom === this.me && this.fewest !== undefined;
        this.fewestPending = false;
        this.link(0, { type: 'done', pack: this.me, ...(tell ? { fewest: this.fewest! } : {}) });
      }
    }
    if (this.stage === 'aborted' && allDone && now >= this.settleUntil) this.end();
  }

  // ---- liveness -------------------------------------------------------------------------------------

  private onTick(now: number): void {
    // This loop itself stalled (a long parse, a busy machine): frames may be waiting unread, so the
    // stall is not the neighbours' silence.
    const stall = this.lastTick === 0 ? 0 : now - this.lastTick - this.c.tickMs;
    if (stall > this.c.tickMs) for (const [n, t] of this.lastHeard) this.lastHeard.set(n, t + stall);
    this.lastTick = now;

    if (this.stage === 'joining' && this.connected && this.abort === undefined) {
      if (now >= this.joinDeadline) {
        const missing = [...Array(this.P).keys()].filter((p) => !this.hellos.has(p));
        this.fail(
          this.me === 0
            ? {
                failedPack: missing[0] ?? this.me,
                reason: `join timed out after ${this.c.joinTimeoutMs} ms: pack${missing.length === 1 ? '' : 's'} ${missing.join(', ')} never joined`,
              }
            : { failedPack: 0, reason: `join timed out after ${this.c.joinTimeoutMs} ms: pack 0 (the coordinator) never started the burst` },
          now,
          'own',
        );
      }
    }
    if (this.stage === 'running' || this.stage === 'finishing') this.passOnFewest();
    if (this.go && (this.stage === 'running' || this.stage === 'finishing' || this.stage === 'joining') && now >= this.nextBeat) {
      this.nextBeat = now + this.c.heartbeatMs;
      // To pack 0 this pack's laggard; from pack 0 the burst's.
      const lag = this.me === 0 ? this.refreshBurstLag() : this.ownLag;
      const msg: ControlMsg = lag === undefined ? { type: 'hb' } : { type: 'hb', lag: toWire(lag, now) };
      for (const n of this.lastHeard.keys()) this.link(n, msg);
    }
    if (this.abort === undefined && this.stage !== 'done') {
      for (const [n, t] of this.lastHeard) {
        const silent = now - t;
        if (silent > this.c.heartbeatTimeoutMs) {
          this.fail({ failedPack: n, reason: `pack ${n} sent nothing on its link for ${silent} ms (frozen, or cut off from the network)` }, now, 'own');
          break;
        }
      }
    }
    if (this.stage === 'aborted' && !this.terminated && now >= this.graceDeadline) {
      this.terminated = true;
      this.out.push({ do: 'terminateWorkers', reason: `terminated ${this.c.abortGraceMs} ms after the burst aborted (${this.abort!.info.reason})` });
    }
  }

  // ---- diagnosis ------------------------------------------------------------------------------------

  /** One of this pack's workers returned after calling `c` collectives. */
  private returned(worker: number, c: { burst: number; pack: number }): void {
    if (c.pack < this.packFewest) {
      this.packFewest = c.pack;
      this.out.push({ do: 'fewest', comm: 1, fewest: { worker, pack: this.me, count: c.pack } });
    }
    this.noteFewest({ worker, pack: this.me, count: c.burst }, this.me);
  }

  /** A returned worker's count of burst collectives: news if it is the fewest yet. */
  private noteFewest(f: Fewest | undefined, from: number): void {
    if (typeof f?.count !== 'number' || typeof f.worker !== 'number' || typeof f.pack !== 'number') return;
    if (this.stage === 'done' || this.stage === 'aborted') return;
    if (this.fewest !== undefined && f.count >= this.fewest.count) return;
    this.fewest = { worker: f.worker, pack: f.pack, count: f.count };
    this.fewestFrom = from;
    this.out.push({ do: 'fewest', comm: 0, fewest: this.fewest });
    // Passed on at the next tick: a pack whose workers all return by then says it with its DONE instead.
    if (this.P > 1) this.fewestPending = true;
  }

  /** Own news goes to pack 0; pack 0 passes news on to every pack still running (but the one it came from). */
  private passOnFewest(): void {
    if (!this.fewestPending || this.fewest === undefined) return;
    this.fewestPending = false;
    const msg: ControlMsg = { type: 'fewest', fewest: this.fewest };
    if (this.me !== 0) {
      if (this.fewestFrom === this.me) this.link(0, msg);
      return;
    }
    for (let p = 1; p < this.P; p++) {
      if (p !== this.fewestFrom && !this.dones.has(p) && !this.lost.has(p) && !this.left.has(p)) this.link(p, msg);
    }
  }

  private heardLag(from: number, w: LaggardWire | undefined, now: number): void {
    const lag = fromWire(w, now);
    if (this.me === 0) {
      if (lag === undefined) this.lags.delete(from);
      else this.lags.set(from, lag);
    } else if (from === 0 && !sameLaggard(lag, this.burstLag)) {
      this.burstLag = lag;
      this.out.push({ do: 'laggard', lag });
    }
  }

  /** Pack 0: the burst's laggard, from every pack's latest; written on the board when it changed. */
  private refreshBurstLag(): Laggard | undefined {
    let best = this.ownLag;
    for (const l of this.lags.values()) if (best === undefined || behind(l, best)) best = l;
    if (!sameLaggard(best, this.burstLag)) {
      this.burstLag = best;
      this.out.push({ do: 'laggard', lag: best });
    }
    return best;
  }

  // ---- aborts ---------------------------------------------------------------------------------------

  /** `source`: 'own' (this pack detected it) or the link it came from (not passed back there). */
  private fail(info: AbortInfo, now: number, source: 'own' | { from: number }, origin = this.me, at = now): void {
    // Once BYE settled the burst nothing changes it; before that (even after DONE) an abort still counts.
    if (this.stage === 'done') return;
    // News of a worker that returned goes first, on the same links: workers that wait for it learn why.
    this.passOnFewest();
    const rec: AbortRecord = { info, origin, at };
    const key = `${origin}@${at}`;
    if (this.abort !== undefined) {
      if (!earlier(rec, this.abort)) return;
      this.log('info', 'an earlier abort arrived; settling on it', { from: origin, ...info });
    }
    const first = this.abort === undefined;
    this.abort = rec;
    if (this.forwarded.has(key)) return;
    this.forwarded.add(key);
    for (const n of this.neighbours) {
      if (typeof source === 'object' && source.from === n) continue;
      // A pack blamed for a failure may well be alive (its worker threw, it sent too much): only a pack
      // whose link is gone is not told.
      if (this.lost.has(n) || this.left.has(n)) continue;
      this.link(n, { type: 'abort', info, origin, at });
    }
    if (!first) return;
    this.stage = 'aborted';
    this.lastHeard.clear();
    this.graceDeadline = now + this.c.abortGraceMs;
    this.settleUntil = now + Math.min(this.c.settleMs ?? 250, this.c.abortGraceMs);
    this.log('error', 'burst aborting', { ...info });
    this.emit({ event: 'aborting', pack: this.me, info, at: now });
    this.out.push({ do: 'abortWorkers', info });
    if (!this.started) {
      // Workers that never started have nothing to wind down: their threads go at once.
      this.terminated = true;
      this.out.push({ do: 'terminateWorkers', reason: `the burst aborted before it started (${info.reason})` });
    }
  }

  // ---- output ---------------------------------------------------------------------------------------

  private link(to: number, msg: ControlMsg): void {
    this.out.push({ do: 'link', to, msg });
  }

  private emit(event: PackEvent): void {
    this.out.push({ do: 'emit', event });
  }

  private log(level: 'info' | 'warn' | 'error', msg: string, fields?: Record<string, unknown>): void {
    this.out.push({ do: 'log', level, msg, ...(fields ? { fields } : {}) });
  }
}

function toWire(l: Laggard, now: number): LaggardWire {
  return { worker: l.worker, called: l.called, doing: l.doing, forMs: l.since > 0 ? Math.max(0, now - l.since) : -1 };
}

function fromWire(w: LaggardWire | undefined, now: number): Laggard | undefined {
  if (typeof w?.worker !== 'number' || typeof w.called !== 'number' || typeof w.forMs !== 'number' || typeof w.doing?.kind !== 'number') return undefined;
  const d = w.doing;
  const doing = { kind: d.kind, comm: Number(d.comm) | 0, seq: Number(d.seq) | 0, op: Number(d.op) | 0, peer: Number(d.peer) | 0 };
  return { worker: w.worker, called: w.called, doing, since: w.forMs < 0 ? 0 : now - w.forMs };
}

/** The abort every pack settles on: the earliest, ties to the lowest origin pack. */
export function earlier(a: AbortRecord, b: AbortRecord): boolean {
  return a.at < b.at || (a.at === b.at && a.origin < b.origin);
}
