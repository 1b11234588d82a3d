import type { Endpoint, WaitLimit, WaitSite } from '../communicator/endpoint.js';
import type { Matcher } from '../communicator/matcher.js';
import { MsgKind } from '../protocol/frame.js';
import type { Payload, TypedArray } from '../protocol/dtype.js';
import { COLL_NAMES, type CollOp } from '../ops.js';
import type { PackLayout } from '../topology.js';

/**
 * A group of workers that run collectives together: the whole burst, or one pack (ctx.pack). Members are
 * numbered 0..size-1 ("ranks") inside the group; rank r is worker `base + r`. `layout` splits the group
 * into packs (one pack for a pack group), which is all the algorithms need to stay pack-aware.
 */
export interface Group {
  /** Communicator id carried in every frame (0 = burst, 1 = pack). */
  readonly comm: number;
  readonly base: number;
  readonly layout: PackLayout;
}

/**
 * One collective call as seen by one worker: its call index, op and root travel in every message, so the
 * matcher keeps collectives apart from each other and from point-to-point traffic, and detects mismatches.
 * Everything here is in group ranks; only the endpoint sees worker ids.
 */
export class CollCall {
  /** This worker's rank in the group. */
  readonly me: number;
  readonly layout: PackLayout;
  private readonly matcher: Matcher;
  /** The whole call shares one deadline, however many steps it waits for. */
  private readonly limit: WaitLimit;

  constructor(
    readonly ep: Endpoint,
    private readonly group: Group,
    readonly seq: number,
    readonly op: CollOp,
    /** Root rank, or -1. */
    readonly root: number,
    /** The call's timeout and deadline, set when it started (its wait for send room included). */
    limit: WaitLimit,
  ) {
    this.limit = limit;
    this.me = ep.me - group.base;
    this.layout = group.layout;
    this.matcher = ep.matcherFor(group.comm);
  }

  get name(): string {
    return COLL_NAMES[this.op] ?? `op ${this.op}`;
  }

  /** The rank speaking for `pack`: the root in the root's pack, the leader elsewhere. */
  rep(pack: number): number {
    return this.root < 0 ? this.layout.leaderOf(pack) : this.layout.representative(pack, this.root);
  }

  send(dsts: readonly number[], tag: number, payload: Payload, userBytes?: number): void {
    if (dsts.length === 0) return;
    this.ep.send(this.workers(dsts), this.head(tag), payload, userBytes);
  }

  sendBatch(dsts: readonly number[], tag: number, parts: readonly Payload[]): void {
    if (dsts.length === 0) return;
    this.ep.sendBatch(this.workers(dsts), this.head(tag), parts);
  }

  recv(src: number, tag: number): Promise<TypedArray> {
    const w = src + this.group.base;
    return this.ep.recv(() => this.matcher.takeColl(this.seq, tag, w), this.site(w), this.limit);
  }

  recvBatch(src: number, tag: number): Promise<TypedArray[]> {
    const w = src + this.group.base;
    return this.ep.recvBatch(() => this.matcher.takeColl(this.seq, tag, w), this.site(w), this.limit);
  }

  /** Where a step waits (for timeouts, and for the pack's view of who waits in what). */
  private site(worker: number): WaitSite {
    return { op: this.name, peer: worker, comm: this.group.comm, seq: this.seq, code: this.op };
  }

  /** Worker id of a rank (for messages). */
  worker(rank: number): number {
    return rank + this.group.base;
  }

  private workers(ranks: readonly number[]): number[] {
    return this.group.base === 0 ? (ranks as number[]) : ranks.map((r) => r + this.group.base);
  }

  private head(tag: number) {
    return { kind: MsgKind.Coll as const, src: this.ep.me, seq: this.seq, tag, op: this.op, root: this.root, comm: this.group.comm };
  }
}
