import { COLL_NAMES, CollOp } from '../ops.js';

/**
 * Where each worker of a pack is in its collectives, in shared memory (one board per pack): the worker
 * writes it as it goes (a few Int32 stores per collective call, no message, no clock), the pack's main
 * thread reads it (liveness, diagnosis) and writes what the pack learned from elsewhere (workers that
 * returned, the burst's laggard). That is how a burst tells a hang it can prove from one it cannot:
 *
 *  - Order: pack mates must call pack and burst collectives in the same relative order. Worker A stuck in
 *    pack collective j having called no burst collective #k, while pack mate B is stuck in burst
 *    collective #k having called no pack collective #j, wait for each other forever (`findDivergence`).
 *  - Count: a worker that returned after N collectives never calls collective #N: a worker waiting in
 *    collective #k ≥ N waits forever ("fewest": the board holds the fewest any returned worker made).
 *  - Blame: a collective that times out names a worker that has not called it (a pack mate from the
 *    board, any other from the burst's laggard, which packs pass around on their heartbeats).
 *
 * Communicators: 0 = the burst, 1 = the worker's pack (ctx.pack).
 */

/** What a worker is doing, as far as the runtime can tell. */
export interface Doing {
  /** 0: its own code (in no kubeburst call); 1: waiting in recv; 2: in a collective. */
  kind: 0 | 1 | 2;
  comm: number;
  /** Collective call index (kind 2). */
  seq: number;
  op: number;
  /** recv: the sender; collective: the worker it waits for (or -1). */
  peer: number;
}

/** The burst worker furthest behind: fewest burst collectives called, of those still running. */
export interface Laggard {
  worker: number;
  /** Burst collectives it has called. */
  called: number;
  doing: Doing;
  /** When it started doing that (ms since the epoch, this pack's clock; 0 = unknown). */
  since: number;
}

export interface CommState {
  /** Collectives called on this communicator (the next call index). */
  called: number;
  /** Call index of the collective running (entered), or -1. */
  active: number;
  op: number;
  /** Root worker id of the running collective, or -1. */
  root: number;
}

export interface WorkerState {
  worker: number;
  /** By communicator: [burst, pack]. */
  comm: [CommState, CommState];
  /** 0: not waiting; 1: in recv; 2: in a collective's step. */
  waitKind: number;
  waitComm: number;
  waitPeer: number;
  /** Its function returned (or failed): its report is in. */
  done: boolean;
}

/** No returned worker known (the fewest collectives a returned worker made). */
export const NONE = 0x7fffffff;

// Int32 words: a header, then one slot per worker of the pack; then Float64s: `since` per slot, the laggard's.
const H_FEWEST = 0; // per comm c: [2c] count (NONE), [2c + 1] worker
const H_LAG_VER = 4; // seqlock: odd while the laggard is being written
const H_LAG = 5; // worker (-1: none), called, kind, comm, seq, op, peer
const HEADER = 16;
const SLOT = 12;
const CALLED = 0;
const ACTIVE = 1;
const OP = 2;
const ROOT = 3;
const WAIT_KIND = 8;
const WAIT_COMM = 9;
const WAIT_PEER = 10;
const DONE = 11;

export class ProgressBoard {
  readonly i32: Int32Array;
  private readonly f64: Float64Array;

  constructor(
    readonly sab: SharedArrayBuffer,
    /** Worker id of slot 0. */
    readonly first: number,
    readonly count: number,
  ) {
    const words = HEADER + SLOT * count;
    this.i32 = new Int32Array(sab, 0, words);
    this.f64 = new Float64Array(sab, Math.ceil((words * 4) / 8) * 8, count + 1);
  }

  static create(first: number, count: number): ProgressBoard {
    const words = HEADER + SLOT * count;
    const b = new ProgressBoard(new SharedArrayBuffer(Math.ceil((words * 4) / 8) * 8 + (count + 1) * 8), first, count);
    b.i32.fill(0);
    for (let w = first; w < first + count; w++) {
      const at = b.at(w);
      for (const c of [0, 1]) {
        b.i32[at + c * 4 + ACTIVE] = -1;
        b.i32[at + c * 4 + ROOT] = -1;
      }
    }
    b.i32[H_FEWEST] = NONE;
    b.i32[H_FEWEST + 2] = NONE;
    b.i32[H_LAG] = -1;
    return b;
  }

  has(w: number): boolean {
    return w >= this.first && w < this.first + this.count;
  }

  /** First word of worker w's slot. */
  at(w: number): number {
    return HEADER + (w - this.first) * SLOT;
  }

  // ---- one worker's own slot (see ProgressSlot for the hot path) ---------------------------------------

  waiting(w: number, kind: 1 | 2, comm: number, peer: number): void {
    const at = this.at(w);
    this.i32[at + WAIT_COMM] = comm;
    this.i32[at + WAIT_PEER] = peer;
    this.i32[at + WAIT_KIND] = kind;
  }

  notWaiting(w: number): void {
    this.i32[this.at(w) + WAIT_KIND] = 0;
  }

  called(w: number, comm: number): number {
    return this.i32[this.at(w) + comm * 4 + CALLED]!;
  }

  // ---- written by the pack's main thread -------------------------------------------------------------

  setDone(w: number): void {
    if (this.has(w)) Atomics.store(this.i32, this.at(w) + DONE, 1);
  }

  /** When worker w started doing what it does now (ms since the epoch). */
  setSince(w: number, t: number): void {
    this.f64[w - this.first] = t;
  }

  since(w: number): number {
    return this.f64[w - this.first]!;
  }

  /** The fewest collectives on `comm` that a worker which returned had called, and which worker. */
  setFewest(comm: number, count: number, worker: number): void {
    this.i32[H_FEWEST + 2 * comm + 1] = worker;
    Atomics.store(this.i32, H_FEWEST + 2 * comm, count);
  }

  /** NONE if no worker is known to have returned. */
  fewest(comm: number): number {
    return Atomics.load(this.i32, H_FEWEST + 2 * comm);
  }

  fewestWorker(comm: number): number {
    return this.i32[H_FEWEST + 2 * comm + 1]!;
  }

  setLaggard(l: Laggard | undefined): void {
    const i = this.i32;
    Atomics.add(i, H_LAG_VER, 1);
    if (l === undefined) i[H_LAG] = -1;
    else {
      i[H_LAG] = l.worker;
      i[H_LAG + 1] = l.called;
      i[H_LAG + 2] = l.doing.kind;
      i[H_LAG + 3] = l.doing.comm;
      i[H_LAG + 4] = l.doing.seq;
      i[H_LAG + 5] = l.doing.op;
      i[H_LAG + 6] = l.doing.peer;
      this.f64[this.count] = l.since;
    }
    Atomics.add(i, H_LAG_VER, 1);
  }

  /** The burst's laggard as this pack last heard of it. */
  laggard(): Laggard | undefined {
    const i = this.i32;
    for (let tries = 0; tries < 100; tries++) {
      const v = Atomics.load(i, H_LAG_VER);
      if (v & 1) continue;
      const worker = i[H_LAG]!;
      const l: Laggard = {
        worker,
        called: i[H_LAG + 1]!,
        doing: { kind: i[H_LAG + 2]! as Doing['kind'], comm: i[H_LAG + 3]!, seq: i[H_LAG + 4]!, op: i[H_LAG + 5]!, peer: i[H_LAG + 6]! },
        since: this.f64[this.count]!,
      };
      if (Atomics.load(i, H_LAG_VER) === v) return worker < 0 ? undefined : l;
    }
    return undefined;
  }

  // ---- reading ---------------------------------------------------------------------------------------

  state(w: number): WorkerState {
    const i = this.i32;
    const at = this.at(w);
    const comm = (c: number): CommState => ({ called: i[at + c * 4 + CALLED]!, active: i[at + c * 4 + ACTIVE]!, op: i[at + c * 4 + OP]!, root: i[at + c * 4 + ROOT]! });
    return { worker: w, comm: [comm(0), comm(1)], waitKind: i[at + WAIT_KIND]!, waitComm: i[at + WAIT_COMM]!, waitPeer: i[at + WAIT_PEER]!, done: i[at + DONE] === 1 };
  }
}

/**
 * One worker's slot, for its own collectives: plain stores into shared memory (the main thread only
 * trusts a state it saw unchanged for a while, so no fences are needed).
 */
export class ProgressSlot {
  private readonly i32: Int32Array;
  private readonly at: number;

  constructor(
    readonly board: ProgressBoard,
    readonly worker: number,
  ) {
    this.i32 = board.i32;
    this.at = board.at(worker);
  }

  /** `n` collectives have been called on `comm` (the last one maybe still waiting its turn). */
  called(comm: number, n: number): void {
    this.i32[this.at + comm * 4 + CALLED] = n;
  }

  enter(comm: number, seq: number, op: number, root: number): void {
    const a = this.at + comm * 4;
    this.i32[a + OP] = op;
    this.i32[a + ROOT] = root;
    this.i32[a + ACTIVE] = seq;
  }

  leave(comm: number): void {
    this.i32[this.at + comm * 4 + ACTIVE] = -1;
  }
}

/** What a worker is doing, from its state. */
export function doingOf(s: WorkerState): Doing {
  if (s.waitKind === 1) return { kind: 1, comm: 0, seq: -1, op: 0, peer: s.waitPeer };
  // In a collective: the one it waits in, else the burst's, else the pack's.
  let c = -1;
  if (s.waitKind === 2 && (s.waitComm === 0 || s.waitComm === 1) && s.comm[s.waitComm].active >= 0) c = s.waitComm;
  else if (s.comm[0].active >= 0) c = 0;
  else if (s.comm[1].active >= 0) c = 1;
  if (c < 0) return { kind: 0, comm: 0, seq: -1, op: 0, peer: -1 };
  const cs = s.comm[c as 0 | 1];
  return { kind: 2, comm: c, seq: cs.active, op: cs.op, peer: s.waitKind === 2 && s.waitComm === c ? s.waitPeer : -1 };
}

/** How worker names read in messages: "worker 5 (pack 2)". */
export type Namer = (worker: number) => string;

const ROOTED = new Set<number>([CollOp.Broadcast, CollOp.Scatter, CollOp.Gather, CollOp.Reduce]);

/** "collective #4 (barrier)", "pack collective #2 (pack.broadcast, root 3)". */
export function describeCall(comm: number, seq: number, op: number, root = -1): string {
  const name = COLL_NAMES[op] ?? `op ${op}`;
  const r = root >= 0 && ROOTED.has(op) ? `, root ${root}` : '';
  return comm === 1 ? `pack collective #${seq} (pack.${name}${r})` : `collective #${seq} (${name}${r})`;
}

/** "collective #4", "pack collective #2". */
export function callIndex(comm: number, seq: number): string {
  return `${comm === 1 ? 'pack collective' : 'collective'} #${seq}`;
}

export function describeDoing(d: Doing, name: Namer): string {
  switch (d.kind) {
    case 0:
      return 'running its own code (no kubeburst call)';
    case 1:
      return `waiting in recv from ${name(d.peer)}`;
    default:
      return `in ${describeCall(d.comm, d.seq, d.op)}${d.peer >= 0 ? `, waiting for ${name(d.peer)}` : ''}`;
  }
}

/** "it has been running its own code (no kubeburst call) for 3.2 s" (or "it is …" when since is unknown). */
export function whatItDoes(d: Doing, since: number, now: number, name: Namer): string {
  const doing = describeDoing(d, name);
  return since > 0 && now >= since ? `it has been ${doing} for ${((now - since) / 1000).toFixed(1)} s` : `it is ${doing}`;
}

/**
 * Detail of a CollectiveMismatchError: worker `finished` returned after `count` collectives on `comm`,
 * and `waiting` is in collective #`seq` (≥ count) of it, which `finished` will thus never call.
 */
export function fewestDetail(comm: number, finished: number, count: number, waiting: number, seq: number, op: number, name: Namer): string {
  const what = comm === 1 ? 'pack collective' : 'collective';
  return `${name(finished)} returned after ${count} ${what}${count === 1 ? '' : 's'}, but ${name(waiting)} is in ${describeCall(comm, seq, op)}: an extra collective here, or a missing one there`;
}

/** Pack mates stuck in collectives called in different orders (see findDivergence). */
export interface Divergence {
  /** Stuck in a pack collective, not having called the burst collective the others are in. */
  inPack: WorkerState[];
  /** Stuck in a burst collective, not having called the pack collective the others are in. */
  inBurst: WorkerState[];
  /** The side to name first (the fewer; the pack side on a tie): its first worker. */
  culprit: number;
  /** Every worker of both sides (each gets the CollectiveMismatchError). */
  workers: number[];
  detail: string;
}

/**
 * Pack mates that wait for each other forever because they called pack and burst collectives in
 * different orders: A stuck in pack collective #j having called fewer than k+1 burst collectives, B stuck
 * in burst collective #k having called fewer than j+1 pack collectives (A called #j before #k, B #k before
 * #j: neither call can complete). Only workers `stuck` says have been in the same state for a while count,
 * so concurrent calls (a collective started without awaiting the previous one) never look like this.
 */
export function findDivergence(states: readonly WorkerState[], stuck: (w: number) => boolean, name: Namer): Divergence | undefined {
  const live = states.filter((s) => !s.done && stuck(s.worker));
  const inPack = new Map<number, WorkerState>();
  const inBurst = new Map<number, WorkerState>();
  let first: [WorkerState, WorkerState] | undefined;
  for (const a of live) {
    const j = a.comm[1].active;
    if (j < 0) continue;
    for (const b of live) {
      const k = b.comm[0].active;
      if (b === a || k < 0) continue;
      if (a.comm[0].called <= k && b.comm[1].called <= j) {
        inPack.set(a.worker, a);
        inBurst.set(b.worker, b);
        first ??= [a, b];
      }
    }
  }
  if (first === undefined) return undefined;
  const [a, b] = first;
  const packSide = [...inPack.values()];
  const burstSide = [...inBurst.values()];
  const culprit = packSide.length <= burstSide.length ? a.worker : b.worker;
  const j = a.comm[1];
  const k = b.comm[0];
  const sideA = `${name(a.worker)} is in ${describeCall(1, j.active, j.op, j.root)} and has not called ${callIndex(0, k.active)} yet`;
  const sideB = `${name(b.worker)} is in ${describeCall(0, k.active, k.op, k.root)} and has not called ${callIndex(1, j.active)} yet`;
  const others = (side: WorkerState[], except: number, what: string): string => {
    const ws = side.map((s) => s.worker).filter((w) => w !== except);
    return ws.length === 0 ? '' : ` (${ws.length === 1 ? `so is worker ${ws[0]}` : `so are workers ${ws.join(', ')}`}, in ${what})`;
  };
  const first1 = culprit === a.worker ? `${sideA}${others(packSide, a.worker, 'a pack collective')}` : `${sideB}${others(burstSide, b.worker, 'a burst collective')}`;
  const second = culprit === a.worker ? `${sideB}${others(burstSide, b.worker, 'a burst collective')}` : `${sideA}${others(packSide, a.worker, 'a pack collective')}`;
  const workers = [...new Set([...inPack.keys(), ...inBurst.keys()])].sort((x, y) => x - y);
  return {
    inPack: packSide,
    inBurst: burstSide,
    culprit,
    workers,
    detail: `pack mates called pack and burst collectives in different orders: ${first1}, while ${second}; each waits for the other (pack mates must call ctx.pack.* and burst collectives in the same relative order)`,
  };
}

/** The worker of `states` furthest behind in burst collectives (fewest called; ties: lowest id), if any is running. */
export function laggardOf(states: readonly WorkerState[], since: (w: number) => number): Laggard | undefined {
  let best: WorkerState | undefined;
  for (const s of states) {
    if (s.done) continue;
    if (best === undefined || s.comm[0].called < best.comm[0].called) best = s;
  }
  return best && { worker: best.worker, called: best.comm[0].called, doing: doingOf(best), since: since(best.worker) };
}

export function sameLaggard(a: Laggard | undefined, b: Laggard | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  const x = a.doing;
  const y = b.doing;
  return a.worker === b.worker && a.called === b.called && a.since === b.since && x.kind === y.kind && x.comm === y.comm && x.seq === y.seq && x.op === y.op && x.peer === y.peer;
}

/** Before `b` as a laggard: fewer burst collectives called, ties to the lower worker id. */
export function behind(a: Laggard, b: Laggard): boolean {
  return a.called < b.called || (a.called === b.called && a.worker < b.worker);
}

/**
 * The pack main thread's view of its board, poll by poll: when each worker's state last changed, so a
 * state seen unchanged for `stuckMs` counts as stuck. `poll` costs one pass over the slots.
 */
export class ProgressWatch {
  private readonly prev: Int32Array;
  private readonly changed: Float64Array;

  constructor(
    private readonly board: ProgressBoard,
    private readonly stuckMs: number,
  ) {
    this.prev = new Int32Array(SLOT * board.count).fill(-2);
    this.changed = new Float64Array(board.count);
  }

  /** Reads every slot at `now` (ms since the epoch); returns the states. */
  poll(now: number): WorkerState[] {
    const b = this.board;
    const out: WorkerState[] = [];
    for (let s = 0; s < b.count; s++) {
      const w = b.first + s;
      const at = b.at(w);
      let same = true;
      for (let k = 0; k < SLOT; k++) {
        const v = b.i32[at + k]!;
        if (this.prev[s * SLOT + k] !== v) {
          same = false;
          this.prev[s * SLOT + k] = v;
        }
      }
      if (!same) {
        this.changed[s] = now;
        b.setSince(w, now);
      }
      out.push(b.state(w));
    }
    return out;
  }

  /** Worker w's state has not changed for stuckMs (as of the last poll at `now`). */
  stuck(w: number, now: number): boolean {
    const t = this.changed[w - this.board.first]!;
    return t > 0 && now - t >= this.stuckMs;
  }
}
