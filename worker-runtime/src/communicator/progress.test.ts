import { CollectiveMismatchError, CollectiveTimeoutError } from '../errors.js';
import { CollOp } from '../ops.js';
import { createRingBuffer, Ring } from '../shm/ring.js';
import { PackLayout } from '../topology.js';
import { Endpoint } from './endpoint.js';
import { behind, describeCall, fewestDetail, findDivergence, laggardOf, NONE, ProgressBoard, ProgressSlot, ProgressWatch, whatItDoes, type WorkerState } from './progress.js';

const name = (w: number): string => `worker ${w} (pack ${w >> 2})`;

/** A worker's state: `burst`/`pack` = [called, active (-1: none), op]. */
function st(worker: number, burst: [number, number, number?], pack: [number, number, number?], done = false): WorkerState {
  const c = ([called, active, op]: [number, number, number?]) => ({ called, active, op: op ?? CollOp.Barrier, root: -1 });
  return { worker, comm: [c(burst), c(pack)], waitKind: 0, waitComm: 0, waitPeer: -1, done };
}
const always = (): boolean => true;

describe('progress board', () => {
  test('a worker’s slot, the fewest a returned worker made, and the laggard round-trip through shared memory', () => {
    const b = ProgressBoard.create(4, 3);
    const again = new ProgressBoard(b.sab, 4, 3); // as a worker thread sees it
    const s = new ProgressSlot(again, 5);
    s.called(0, 3);
    s.enter(0, 2, CollOp.Broadcast, 6);
    s.called(1, 1);
    again.waiting(5, 2, 0, 4);
    expect(b.state(5)).toEqual({
      worker: 5,
      comm: [
        { called: 3, active: 2, op: CollOp.Broadcast, root: 6 },
        { called: 1, active: -1, op: 0, root: -1 },
      ],
      waitKind: 2,
      waitComm: 0,
      waitPeer: 4,
      done: false,
    });
    s.leave(0);
    again.notWaiting(5);
    b.setDone(5);
    expect(b.state(5)).toMatchObject({ comm: [{ called: 3, active: -1 }, { called: 1 }], waitKind: 0, done: true });
    expect(b.state(4)).toMatchObject({
      comm: [
        { called: 0, active: -1 },
        { called: 0, active: -1 },
      ],
      done: false,
    });

    expect([again.fewest(0), again.fewest(1)]).toEqual([NONE, NONE]);
    b.setFewest(0, 7, 11);
    b.setFewest(1, 2, 6);
    expect([again.fewest(0), again.fewestWorker(0), again.fewest(1), again.fewestWorker(1)]).toEqual([7, 11, 2, 6]);

    expect(again.laggard()).toBeUndefined();
    const lag = { worker: 9, called: 4, doing: { kind: 1 as const, comm: 0, seq: -1, op: 0, peer: 3 }, since: 1234 };
    b.setLaggard(lag);
    expect(again.laggard()).toEqual(lag);
    b.setLaggard(undefined);
    expect(again.laggard()).toBeUndefined();
  });

  test('the watch counts a state as stuck once it is unchanged for stuckMs, and notes since when on the board', () => {
    const b = ProgressBoard.create(0, 2);
    const s = new ProgressSlot(b, 1);
    const watch = new ProgressWatch(b, 400);
    watch.poll(1000);
    expect(watch.stuck(1, 1000)).toBe(false);
    s.enter(1, 0, CollOp.Barrier, -1);
    watch.poll(1100);
    watch.poll(1400);
    expect(watch.stuck(1, 1400)).toBe(false);
    watch.poll(1500);
    expect([watch.stuck(0, 1500), watch.stuck(1, 1500), b.since(1)]).toEqual([true, true, 1100]);
    // Any change (a collective done, another begun) starts over.
    s.leave(1);
    s.enter(1, 1, CollOp.Barrier, -1);
    watch.poll(1600);
    expect(watch.stuck(1, 1600)).toBe(false);
  });
});

describe('findDivergence: pack mates stuck in collectives called in different orders', () => {
  test('A in pack collective #j without burst #k, B in burst #k without pack #j: both named, with what each is in', () => {
    // Worker 5 did ctx.pack.barrier() first; workers 4 and 6 ctx.barrier() (their second burst collective).
    const d = findDivergence([st(4, [2, 1], [0, -1]), st(5, [1, -1], [1, 0]), st(6, [2, 1], [0, -1])], always, name)!;
    expect(d.workers).toEqual([4, 5, 6]);
    expect(d.culprit).toBe(5); // the fewer side
    expect(d.detail).toBe(
      'pack mates called pack and burst collectives in different orders: worker 5 (pack 1) is in pack collective #0 (pack.barrier) and has not called collective #1 yet, ' +
        'while worker 4 (pack 1) is in collective #1 (barrier) and has not called pack collective #0 yet (so is worker 6, in a burst collective); ' +
        'each waits for the other (pack mates must call ctx.pack.* and burst collectives in the same relative order)',
    );
  });

  test.each<[string, WorkerState[], ((w: number) => boolean)?]>([
    ['same order, one behind the other', [st(0, [2, 1], [0, -1]), st(1, [1, 0], [0, -1])]],
    // A has already called burst #1 (it was started without awaiting): no proof, it may well complete.
    ['concurrent calls: A called the burst collective too', [st(0, [2, -1], [1, 0]), st(1, [2, 1], [0, -1])]],
    ['concurrent calls: B called the pack collective too', [st(0, [1, -1], [1, 0]), st(1, [2, 1], [1, 0])]],
    ['not stuck for long enough', [st(0, [1, -1], [1, 0]), st(1, [2, 1], [0, -1])], (w) => w !== 1],
    ['a worker that returned', [st(0, [1, -1], [1, 0]), st(1, [2, 1], [0, -1], true)]],
    ['nobody in a pack collective', [st(0, [2, 1], [0, -1]), st(1, [2, 1], [0, -1])]],
  ])('no divergence: %s', (_what, states, stuck = always) => {
    expect(findDivergence(states, stuck, name)).toBeUndefined();
  });

  test('a later pack collective against an earlier burst one, with roots', () => {
    const d = findDivergence([st(8, [3, -1], [5, 4, CollOp.Broadcast]), st(9, [4, 3, CollOp.Reduce], [4, -1])], always, name)!;
    expect(d.detail).toContain(
      'worker 8 (pack 2) is in pack collective #4 (pack.broadcast) and has not called collective #3 yet, while worker 9 (pack 2) is in collective #3 (reduce) and has not called pack collective #4 yet;',
    );
  });
});

describe('laggards and messages', () => {
  test('the laggard is the running worker with the fewest burst collectives called (ties: the lowest id)', () => {
    const since = (w: number): number => 100 + w;
    expect(laggardOf([st(0, [3, 2], [0, -1]), st(1, [2, -1], [0, -1]), st(2, [2, -1], [0, -1]), st(3, [0, -1], [0, -1], true)], since)).toEqual({
      worker: 1,
      called: 2,
      doing: { kind: 0, comm: 0, seq: -1, op: 0, peer: -1 },
      since: 101,
    });
    expect(laggardOf([st(0, [1, -1], [0, -1], true)], since)).toBeUndefined();
    const l = (worker: number, called: number) => ({ worker, called, doing: { kind: 0 as const, comm: 0, seq: -1, op: 0, peer: -1 }, since: 0 });
    expect([behind(l(5, 1), l(2, 2)), behind(l(2, 2), l(5, 2)), behind(l(5, 2), l(2, 2))]).toEqual([true, true, false]);
  });

  test('calls, what a worker does, and the fewest-collectives detail read as the errors say them', () => {
    expect(describeCall(0, 4, CollOp.Barrier)).toBe('collective #4 (barrier)');
    expect(describeCall(1, 2, CollOp.Broadcast, 3)).toBe('pack collective #2 (pack.broadcast, root 3)');
    expect(describeCall(0, 0, CollOp.AllReduce, 0)).toBe('collective #0 (allReduce)');
    expect(whatItDoes({ kind: 0, comm: 0, seq: -1, op: 0, peer: -1 }, 1000, 4250, name)).toBe('it has been running its own code (no kubeburst call) for 3.3 s');
    expect(whatItDoes({ kind: 1, comm: 0, seq: -1, op: 0, peer: 9 }, 0, 4250, name)).toBe('it is waiting in recv from worker 9 (pack 2)');
    expect(whatItDoes({ kind: 2, comm: 1, seq: 3, op: CollOp.Gather, peer: 4 }, 0, 1, name)).toBe('it is in pack collective #3 (pack.gather), waiting for worker 4 (pack 1)');
    expect(fewestDetail(0, 7, 4, 0, 4, CollOp.Barrier, name)).toBe(
      'worker 7 (pack 1) returned after 4 collectives, but worker 0 (pack 0) is in collective #4 (barrier): an extra collective here, or a missing one there',
    );
    expect(fewestDetail(1, 5, 1, 6, 2, CollOp.AllGather, name)).toBe(
      'worker 5 (pack 1) returned after 1 pack collective, but worker 6 (pack 1) is in pack collective #2 (pack.allGather): an extra collective here, or a missing one there',
    );
  });
});

describe('an endpoint waiting in a collective', () => {
  // Pack 1 of a burst [2, 3]: workers 2, 3, 4.
  const layout = PackLayout.fromSizes([2, 3]);
  const rings = new Map<number, Ring>();
  function endpoint(me: number, board: ProgressBoard): Endpoint {
    for (let w = 2; w < 5; w++) rings.set(w, new Ring(createRingBuffer(4096)));
    return new Endpoint({
      me,
      layout,
      rings,
      port: { postMessage: () => undefined },
      inlineMaxBytes: 1024,
      spinMicros: 0,
      packCounters: new Int32Array(new SharedArrayBuffer(8)),
      sendBudgetKiB: 1 << 20,
      defaultTimeoutMs: 60_000,
      board,
    });
  }
  const never = (): undefined => undefined;

  test('fails with CollectiveMismatchError as soon as the board says a worker returned before this collective', async () => {
    const board = ProgressBoard.create(2, 3);
    const ep = endpoint(3, board);
    const t0 = Date.now();
    const waiting = ep.wait(never, { op: 'barrier', peer: 2, comm: 0, seq: 4, code: CollOp.Barrier });
    // The pack's main thread writes it and wakes its workers (run-pack, on a 'fewest' effect).
    setTimeout(() => {
      board.setFewest(0, 4, 0);
      rings.get(3)!.signal();
    }, 50);
    await expect(waiting).rejects.toThrow(CollectiveMismatchError);
    await expect(waiting).rejects.toThrow(
      /^worker 3 \(pack 1\): collective mismatch: worker 0 \(pack 0\) returned after 4 collectives, but worker 3 \(pack 1\) is in collective #4 \(barrier\)/,
    );
    expect(Date.now() - t0).toBeLessThan(2_000);
  });

  test('a collective that times out names the pack mate that has not called it, not the one it waited for', async () => {
    const board = ProgressBoard.create(2, 3);
    for (const w of [2, 3]) new ProgressSlot(board, w).called(0, 2);
    new ProgressSlot(board, 4).called(0, 1); // worker 4 never called collective #1
    board.setSince(4, Date.now() - 2_000);
    const ep = endpoint(3, board);
    const err = await ep.wait(never, { op: 'barrier', peer: 2, comm: 0, seq: 1, code: CollOp.Barrier }, { timeoutMs: 30 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CollectiveTimeoutError);
    expect((err as CollectiveTimeoutError).message).toMatch(
      /^worker 3 \(pack 1\): collective #1 \(barrier\) timed out after 30 ms waiting for worker 2 \(pack 1\): worker 4 \(pack 1\) has not called it; it has been running its own code \(no kubeburst call\) for 2\.\d s \(pass \{ timeoutMs \}/,
    );
    expect(err).toMatchObject({ blamedWorker: 4, blamedPack: 1 });
  });

  test('… or, when every pack mate called it, the burst’s laggard in another pack', async () => {
    const board = ProgressBoard.create(2, 3);
    for (const w of [2, 3, 4]) new ProgressSlot(board, w).called(0, 6);
    board.setLaggard({ worker: 1, called: 5, doing: { kind: 1, comm: 0, seq: -1, op: 0, peer: 0 }, since: 0 });
    const ep = endpoint(3, board);
    const err = (await ep.wait(never, { op: 'allReduce', peer: 2, comm: 0, seq: 5, code: CollOp.AllReduce }, { timeoutMs: 30 }).catch((e: unknown) => e)) as CollectiveTimeoutError;
    expect(err.message).toContain(
      'collective #5 (allReduce) timed out after 30 ms waiting for worker 2 (pack 1): worker 1 (pack 0) has not called it; it is waiting in recv from worker 0 (pack 0)',
    );
    expect(err).toMatchObject({ blamedWorker: 1, blamedPack: 0 });
    // A laggard that did call it is no culprit: the timeout names only whom it waited for.
    const late = (await ep
      .wait(never, { op: 'allReduce', peer: 2, comm: 0, seq: 4, code: CollOp.AllReduce }, { timeoutMs: 30 })
      .catch((e: unknown) => e)) as CollectiveTimeoutError;
    expect(late.message).toMatch(/waiting for worker 2 \(pack 1\) \(pass/);
    expect(late.blamedWorker).toBeUndefined();
  });

  test('a p2p recv that times out names the sender and both packs', async () => {
    const ep = endpoint(3, ProgressBoard.create(2, 3));
    await expect(ep.wait(never, { op: 'recv', peer: 0 }, { timeoutMs: 20 })).rejects.toThrow(
      /^worker 3 \(pack 1\): recv timed out after 20 ms waiting for worker 0 \(pack 0\) \(pass \{ timeoutMs \}/,
    );
  });
});
