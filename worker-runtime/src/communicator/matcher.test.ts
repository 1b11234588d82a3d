import { CollectiveMismatchError } from '../errors.js';
import { CollOp } from '../ops.js';
import { DType } from '../protocol/dtype.js';
import { MsgKind } from '../protocol/frame.js';
import type { Envelope } from './envelope.js';
import { Matcher } from './matcher.js';

const p2p = (src: number, seq: number): Envelope => ({ kind: MsgKind.P2P, src, dst: 0, seq, tag: 0, op: 0, root: -1, comm: 0, dtype: DType.Uint8, payload: new Uint8Array([seq]) });
const coll = (src: number, seq: number, op: number, tag = 0, root = 0): Envelope => ({
  kind: MsgKind.Coll,
  src,
  dst: 0,
  seq,
  tag,
  op,
  root,
  comm: 0,
  dtype: DType.Uint8,
  payload: new Uint8Array(0),
});

describe('Matcher', () => {
  test('p2p messages come out in send order per source, whatever order they arrive in', () => {
    const m = new Matcher(0);
    m.deliver(p2p(1, 2));
    m.deliver(p2p(1, 0));
    m.deliver(p2p(2, 0));
    expect(m.takeP2P(1)?.seq).toBe(0);
    expect(m.takeP2P(1)).toBeUndefined(); // seq 1 not here yet: seq 2 must wait
    m.deliver(p2p(1, 1));
    expect(m.takeP2P(1)?.seq).toBe(1);
    expect(m.takeP2P(1)?.seq).toBe(2);
    expect(m.takeP2P(2)?.seq).toBe(0);
    expect(m.buffered).toBe(0);
  });

  test('collective traffic never satisfies a p2p receive and vice versa', () => {
    const m = new Matcher(0);
    m.deliver(coll(1, 0, CollOp.Broadcast, 3));
    expect(m.takeP2P(1)).toBeUndefined();
    m.deliver(p2p(1, 0));
    m.enter(0, CollOp.Broadcast, 0);
    expect(m.takeColl(0, 3, 1)).toBeDefined();
    expect(m.takeColl(0, 3, 1)).toBeUndefined();
    m.leave(0);
    expect(m.takeP2P(1)?.seq).toBe(0);
  });

  test('messages for a later collective wait for it', () => {
    const m = new Matcher(0);
    m.deliver(coll(1, 1, CollOp.Reduce, 1));
    m.enter(0, CollOp.Barrier, -1);
    expect(m.takeColl(0, 1, 1)).toBeUndefined();
    m.leave(0);
    m.enter(1, CollOp.Reduce, 0);
    expect(m.takeColl(1, 1, 1)).toBeDefined();
  });

  test('a different op for the same call index is a mismatch, whether it arrives before or during the call', () => {
    const early = new Matcher(5);
    early.deliver(coll(2, 0, CollOp.Broadcast));
    expect(() => early.enter(0, CollOp.Reduce, 0)).toThrow(CollectiveMismatchError);
    expect(() => early.enter(0, CollOp.Reduce, 0)).toThrow(/worker 5: collective mismatch: collective #0 is reduce here but worker 2 called broadcast/);

    const during = new Matcher(1);
    during.enter(0, CollOp.Gather, 3);
    during.deliver(coll(0, 0, CollOp.Gather, 0, 2));
    expect(() => during.takeColl(0, 0, 0)).toThrow(/has root 3 here but worker 0 used root 2/);
  });

  test('two peers disagreeing with each other is caught before this worker even enters the call', () => {
    const m = new Matcher(0);
    m.deliver(coll(1, 4, CollOp.Barrier, 0, -1));
    m.deliver(coll(2, 4, CollOp.AllToAll, 0, -1));
    expect(() => m.throwIfMismatch()).toThrow(/workers 1 and 2 disagree on collective #4: barrier \(root -1\) vs allToAll/);
  });
});
