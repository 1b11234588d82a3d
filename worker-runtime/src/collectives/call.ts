import type { Endpoint } from '../communicator/endpoint.js';
import { MsgKind } from '../protocol/frame.js';
import type { Payload, TypedArray } from '../protocol/dtype.js';
import { COLL_NAMES, type CollOp } from '../ops.js';

/**
 * One collective call as seen by one worker: its call index, op and root travel in every message, so the
 * matcher keeps collectives apart from each other and from point-to-point traffic, and detects mismatches.
 */
export class CollCall {
  readonly me: number;
  constructor(
    readonly ep: Endpoint,
    readonly seq: number,
    readonly op: CollOp,
    readonly root: number,
    readonly timeoutMs: number | undefined,
  ) {
    this.me = ep.me;
  }

  get layout() {
    return this.ep.layout;
  }

  get name(): string {
    return COLL_NAMES[this.op] ?? `op ${this.op}`;
  }

  /** The worker speaking for `pack`: the root in the root's pack, the leader elsewhere. */
  rep(pack: number): number {
    return this.root < 0 ? this.layout.leaderOf(pack) : this.layout.representative(pack, this.root);
  }

  send(dsts: readonly number[], tag: number, payload: Payload, userBytes?: number): void {
    if (dsts.length === 0) return;
    this.ep.send(dsts, this.head(tag), payload, userBytes);
  }

  sendBatch(dsts: readonly number[], tag: number, parts: readonly Payload[]): void {
    if (dsts.length === 0) return;
    this.ep.sendBatch(dsts, this.head(tag), parts);
  }

  recv(src: number, tag: number): Promise<TypedArray> {
    return this.ep.recv(() => this.ep.matcher.takeColl(this.seq, tag, src), { op: this.name, peer: src }, this.timeoutMs);
  }

  recvBatch(src: number, tag: number): Promise<TypedArray[]> {
    return this.ep.recvBatch(() => this.ep.matcher.takeColl(this.seq, tag, src), { op: this.name, peer: src }, this.timeoutMs);
  }

  private head(tag: number) {
    return { kind: MsgKind.Coll as const, src: this.me, seq: this.seq, tag, op: this.op, root: this.root };
  }
}
