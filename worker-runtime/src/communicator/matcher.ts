import { CollectiveMismatchError } from '../errors.js';
import { MsgKind } from '../protocol/frame.js';
import { COLL_NAMES } from '../ops.js';
import type { Envelope } from './envelope.js';

/**
 * Per-worker message matching. Point-to-point and collective traffic live in separate spaces, so neither
 * can ever take the other's message:
 *
 *  - p2p: one FIFO stream per source, ordered by the sender's per-(src, dst) sequence number. Messages may
 *    arrive out of order (ring vs port path, chunked remote delivery); they wait here until their turn.
 *  - collectives: keyed by (call index, tag, source). Workers number their collective calls; a message for
 *    call k with a different op or root than the one this worker made for call k is a mismatch.
 *
 * What a worker holds but has not received yet is bounded per sender (messages and bytes): a sender that
 * runs that far ahead of its receiver (sends nobody receives) is reported through `onOverflow` once, and
 * the burst fails naming it, instead of the receiving pack running out of memory and taking the blame.
 */
export interface UnreceivedLimits {
  maxMessages: number;
  maxBytes: number;
  /** Called once per sender that passes a limit. */
  onOverflow(src: number, messages: number, bytes: number): void;
}

/** How a matcher names things in its errors (defaults: "worker 3", no pack, the burst's collectives). */
export interface MatcherNames {
  /** "worker 3 (pack 1)". */
  name?: (worker: number) => string;
  /** This worker's pack. */
  pack?: number;
  /** 1: the pack's collectives (ctx.pack). */
  comm?: number;
}

export class Matcher {
  /** Per sender: messages and payload bytes delivered here and not yet taken. */
  private readonly held = new Map<number, { messages: number; bytes: number; reported: boolean }>();
  private readonly p2p = new Map<number, { next: number; buffered: Map<number, Envelope> }>();
  private readonly coll = new Map<string, Envelope>();
  /** op and root of the first message seen for each collective call index not yet entered. */
  private readonly seenCalls = new Map<number, { op: number; root: number; src: number }>();
  private current: { seq: number; op: number; root: number } | undefined;
  private mismatch: CollectiveMismatchError | undefined;
  private completedThrough = -1;

  private readonly name: (worker: number) => string;
  private readonly what: string;

  constructor(
    private readonly me: number,
    private readonly limits?: UnreceivedLimits,
    private readonly names: MatcherNames = {},
  ) {
    this.name = names.name ?? ((w) => `worker ${w}`);
    this.what = names.comm === 1 ? 'pack collective' : 'collective';
  }

  deliver(e: Envelope): void {
    this.hold(e, 1);
    if (e.kind === MsgKind.P2P) {
      const s = this.stream(e.src);
      s.buffered.set(e.seq, e);
      return;
    }
    if (e.seq <= this.completedThrough) {
      this.fail(`received a ${opName(e.op)} message from ${this.name(e.src)} for ${this.what} #${e.seq}, which this worker already finished`);
      return;
    }
    const cur = this.current;
    if (cur !== undefined && cur.seq === e.seq) this.check(cur, e);
    else {
      const seen = this.seenCalls.get(e.seq);
      if (seen === undefined) this.seenCalls.set(e.seq, { op: e.op, root: e.root, src: e.src });
      else if (seen.op !== e.op || seen.root !== e.root) {
        const who = this.names.name === undefined ? `workers ${seen.src} and ${e.src}` : `${this.name(seen.src)} and ${this.name(e.src)}`;
        this.fail(`${who} disagree on ${this.what} #${e.seq}: ${opName(seen.op)} (root ${seen.root}) vs ${opName(e.op)} (root ${e.root})`);
      }
    }
    this.coll.set(collKey(e.seq, e.tag, e.src), e);
  }

  /** Next p2p message from `src`, if it has arrived. */
  takeP2P(src: number): Envelope | undefined {
    const s = this.stream(src);
    const e = s.buffered.get(s.next);
    if (e === undefined) return undefined;
    s.buffered.delete(s.next);
    s.next = (s.next + 1) >>> 0;
    this.hold(e, -1);
    return e;
  }

  takeColl(seq: number, tag: number, src: number): Envelope | undefined {
    this.throwIfMismatch();
    const k = collKey(seq, tag, src);
    const e = this.coll.get(k);
    if (e !== undefined) {
      this.coll.delete(k);
      this.hold(e, -1);
    }
    return e;
  }

  private hold(e: Envelope, sign: 1 | -1): void {
    if (this.limits === undefined) return;
    let h = this.held.get(e.src);
    if (h === undefined) {
      h = { messages: 0, bytes: 0, reported: false };
      this.held.set(e.src, h);
    }
    h.messages += sign;
    h.bytes += sign * e.payload.byteLength;
    if (sign > 0 && !h.reported && (h.messages > this.limits.maxMessages || h.bytes > this.limits.maxBytes)) {
      h.reported = true;
      this.limits.onOverflow(e.src, h.messages, h.bytes);
    }
  }

  /** Called when this worker starts collective `seq`: checks what peers already sent for it. */
  enter(seq: number, op: number, root: number): void {
    this.current = { seq, op, root };
    const seen = this.seenCalls.get(seq);
    if (seen !== undefined) {
      this.seenCalls.delete(seq);
      this.check(this.current, { op: seen.op, root: seen.root, src: seen.src, seq });
    }
    this.throwIfMismatch();
  }

  leave(seq: number): void {
    this.current = undefined;
    this.completedThrough = seq;
  }

  throwIfMismatch(): void {
    if (this.mismatch !== undefined) throw this.mismatch;
  }

  /** Messages buffered but not yet taken (leak check at the end of a run). */
  get buffered(): number {
    let n = this.coll.size;
    for (const s of this.p2p.values()) n += s.buffered.size;
    return n;
  }

  private check(cur: { seq: number; op: number; root: number }, e: { op: number; root: number; src: number; seq: number }): void {
    if (e.op !== cur.op) {
      this.fail(`${this.what} #${cur.seq} is ${opName(cur.op)} here but ${this.name(e.src)} called ${opName(e.op)}`);
    } else if (e.root !== cur.root) {
      this.fail(`${this.what} #${cur.seq} (${opName(cur.op)}) has root ${cur.root} here but ${this.name(e.src)} used root ${e.root}`);
    }
  }

  private fail(detail: string): void {
    this.mismatch ??= new CollectiveMismatchError(this.me, detail, this.names.pack);
  }

  private stream(src: number): { next: number; buffered: Map<number, Envelope> } {
    let s = this.p2p.get(src);
    if (s === undefined) {
      s = { next: 0, buffered: new Map() };
      this.p2p.set(src, s);
    }
    return s;
  }
}

const collKey = (seq: number, tag: number, src: number): string => `${seq}/${tag}/${src}`;
const opName = (op: number): string => COLL_NAMES[op] ?? `op ${op}`;
