import fc from 'fast-check';
import { Coordinator, type CoordinatorConfig, type CoordinatorEvent, type CoordinatorInput, type Effect } from './coordinator.js';
import type { ControlMsg } from './control.js';

const base = (me: number, P: number, workers = [me * 2, me * 2 + 1]): CoordinatorConfig => ({
  me,
  packCount: P,
  workers,
  joinTimeoutMs: 10_000,
  heartbeatMs: 1_000,
  heartbeatTimeoutMs: 15_000,
  abortGraceMs: 1_000,
  tickMs: 100,
});

type Ev = CoordinatorInput;

/** One coordinator, a clock, and what it decided. */
class One {
  readonly c: Coordinator;
  now = 1_000_000;
  log: Effect[] = [];
  constructor(cfg: CoordinatorConfig) {
    this.c = new Coordinator(cfg);
  }
  on(ev: Ev, dt = 0): Effect[] {
    this.now += dt;
    const out = this.c.step({ ...ev, now: this.now } as CoordinatorEvent);
    this.log.push(...out);
    return out;
  }
  /** Ticks every 100 ms for `ms`. */
  run(ms: number): Effect[] {
    const out: Effect[] = [];
    for (let t = 0; t < ms; t += 100) out.push(...this.on({ e: 'tick' }, 100));
    return out;
  }
}

const kinds = (fx: Effect[]): string[] => fx.map((f) => (f.do === 'link' ? `${f.to}:${f.msg.type}` : f.do)).filter((k) => k !== 'emit' && k !== 'log');

describe('coordinator: joining and ending together', () => {
  test('a single pack starts once its threads load and ends when its workers are done', () => {
    const p = new One(base(0, 1));
    expect(kinds(p.on({ e: 'start' }))).toEqual([]);
    p.on({ e: 'threadLoaded', worker: 0 });
    expect(kinds(p.on({ e: 'threadLoaded', worker: 1 }))).toEqual(['ready', 'startWorkers']);
    p.on({ e: 'workerDone', worker: 0, ok: true });
    expect(kinds(p.on({ e: 'workerDone', worker: 1, ok: true }))).toEqual(['closeLinks', 'finish']);
    expect(p.c.abort).toBeUndefined();
  });

  test('pack 0 starts the burst once every pack said hello, and ends it once every pack is done', () => {
    const p = new One(base(0, 3));
    p.on({ e: 'start' });
    p.on({ e: 'threadLoaded', worker: 0 });
    p.on({ e: 'threadLoaded', worker: 1 });
    expect(kinds(p.on({ e: 'connected' }))).toEqual([]);
    p.on({ e: 'link', from: 2, msg: { type: 'hello', pack: 2 } });
    expect(kinds(p.on({ e: 'link', from: 1, msg: { type: 'hello', pack: 1 } }))).toEqual(['1:go', '2:go', 'ready', 'startWorkers']);
    // A hello on someone else's behalf, or a repeat, changes nothing.
    expect(kinds(p.on({ e: 'link', from: 2, msg: { type: 'hello', pack: 1 } }))).toEqual([]);
    expect(kinds(p.on({ e: 'link', from: 2, msg: { type: 'hello', pack: 2 } }))).toEqual([]);
    p.on({ e: 'workerDone', worker: 0, ok: true });
    expect(kinds(p.on({ e: 'workerDone', worker: 1, ok: true }))).toEqual([]);
    p.on({ e: 'link', from: 1, msg: { type: 'done', pack: 1 } });
    expect(kinds(p.on({ e: 'link', from: 2, msg: { type: 'done', pack: 2 } }))).toEqual(['1:bye', '2:bye', 'closeLinks', 'finish']);
  });

  test('another pack says hello once its transport is up, waits for its threads, tells pack 0 it is done and ends on BYE', () => {
    const p = new One(base(1, 3));
    p.on({ e: 'start' });
    expect(kinds(p.on({ e: 'connected' }))).toEqual(['0:hello']);
    expect(kinds(p.run(300))).toEqual([]); // links are reliable: no repeats
    expect(kinds(p.on({ e: 'link', from: 0, msg: { type: 'go' } }))).toEqual([]); // threads not loaded yet
    p.on({ e: 'threadLoaded', worker: 2 });
    expect(kinds(p.on({ e: 'threadLoaded', worker: 3 }))).toEqual(['ready', 'startWorkers']);
    p.on({ e: 'workerDone', worker: 2, ok: true });
    expect(kinds(p.on({ e: 'workerDone', worker: 3, ok: true }))).toEqual(['0:done']);
    expect(p.c.stage).toBe('finishing');
    // GO or BYE from anyone but pack 0 means nothing.
    expect(kinds(p.on({ e: 'link', from: 2, msg: { type: 'bye' } }))).toEqual([]);
    expect(kinds(p.on({ e: 'link', from: 0, msg: { type: 'bye' } }))).toEqual(['closeLinks', 'finish']);
  });

  test('the join deadline names the packs that never joined (pack 0) or pack 0 (the others)', () => {
    const p0 = new One(base(0, 4));
    p0.on({ e: 'start' });
    p0.on({ e: 'connected' });
    p0.on({ e: 'link', from: 2, msg: { type: 'hello', pack: 2 } });
    p0.run(10_100);
    expect(p0.c.abort?.info).toEqual({ failedPack: 1, reason: 'join timed out after 10000 ms: packs 1, 3 never joined' });
    expect(kinds(p0.log)).toContain('terminateWorkers');
    const p2 = new One(base(2, 4));
    p2.on({ e: 'start' });
    p2.on({ e: 'connected' });
    p2.run(10_100);
    expect(p2.c.abort?.info).toEqual({ failedPack: 0, reason: 'join timed out after 10000 ms: pack 0 (the coordinator) never started the burst' });
  });
});

/** A pack of 3 that is running. */
function running(me: number, P = 3): One {
  const p = new One(base(me, P));
  p.on({ e: 'start' });
  p.on({ e: 'connected' });
  if (me === 0) for (let q = 1; q < P; q++) p.on({ e: 'link', from: q, msg: { type: 'hello', pack: q } });
  else p.on({ e: 'link', from: 0, msg: { type: 'go' } });
  for (const w of base(me, P).workers) p.on({ e: 'threadLoaded', worker: w });
  expect(p.c.stage).toBe('running');
  p.log = [];
  return p;
}

describe('coordinator: failures', () => {
  test('a worker that throws aborts the burst: its pack tells pack 0, pack 0 tells every other pack', () => {
    const p = running(2, 5);
    const fx = p.on({ e: 'workerDone', worker: 4, ok: false, reason: 'TypeError: x is undefined' });
    expect(kinds(fx)).toEqual(['0:abort', 'abortWorkers']);
    const hub = running(0, 5);
    const told = fx.find((f): f is Extract<Effect, { do: 'link' }> => f.do === 'link')!;
    expect(kinds(hub.on({ e: 'link', from: 2, msg: told.msg }))).toEqual(['1:abort', '3:abort', '4:abort', 'abortWorkers']);
    expect(p.c.abort?.info).toEqual({ failedWorker: 4, failedPack: 2, reason: 'TypeError: x is undefined' });
    // Its other worker gets the grace period to wind down, then its thread is terminated.
    expect(kinds(p.run(900))).toEqual([]);
    expect(kinds(p.run(200))).toEqual(['terminateWorkers']);
    expect(kinds(p.on({ e: 'workerDone', worker: 5, ok: false, reason: 'terminated' }))).toEqual(['closeLinks', 'finish']);
  });

  test('a pack whose link closes is dead at once; the abort is not sent to it', () => {
    const p = running(0, 4);
    const fx = p.on({ e: 'peerLost', pack: 2, reason: 'pack 2 is gone: its link closed without a goodbye' });
    expect(kinds(fx)).toEqual(['1:abort', '3:abort', 'abortWorkers']);
    expect(p.c.abort?.info).toEqual({ failedPack: 2, reason: 'pack 2 is gone: its link closed without a goodbye' });
    // Pack 0 itself gone: the others have no one to tell.
    expect(kinds(running(3, 4).on({ e: 'peerLost', pack: 0, reason: 'gone' }))).toEqual(['abortWorkers']);
  });

  test('a pack blamed for a failure is still told, if its link is up: it may be alive (its worker threw, or it sends too much)', () => {
    const p = running(1, 3);
    expect(kinds(p.on({ e: 'failed', info: { failedWorker: 0, failedPack: 0, reason: 'worker 0 sent too much' } }))).toEqual(['0:abort', 'abortWorkers']);
  });

  test('an abort is passed on over every other link, once', () => {
    const p = running(0, 4);
    const abort: ControlMsg = { type: 'abort', info: { failedPack: 3, reason: 'x' }, origin: 1, at: 5 };
    expect(kinds(p.on({ e: 'link', from: 1, msg: abort }))).toEqual(['2:abort', '3:abort', 'abortWorkers']);
    expect(kinds(p.on({ e: 'link', from: 2, msg: abort }))).toEqual([]);
  });

  test('racing aborts: the earliest wins (ties to the lower origin) and is passed on; later news of others is dropped', () => {
    const p = running(0, 4);
    p.on({ e: 'link', from: 3, msg: { type: 'abort', info: { failedPack: 3, reason: 'late' }, origin: 3, at: 100 } });
    expect(p.c.abort).toMatchObject({ origin: 3, at: 100 });
    // Pack 2 saw it first: it knows; the others hear it.
    expect(kinds(p.on({ e: 'link', from: 2, msg: { type: 'abort', info: { failedWorker: 5, failedPack: 2, reason: 'early' }, origin: 2, at: 90 } }))).toEqual([
      '1:abort',
      '3:abort',
    ]);
    expect(p.c.abort).toMatchObject({ origin: 2, at: 90, info: { reason: 'early' } });
    expect(kinds(p.on({ e: 'link', from: 3, msg: { type: 'abort', info: { reason: 'tie, higher origin' }, origin: 3, at: 90 } }))).toEqual([]);
    expect(p.c.abort!.info.reason).toBe('early');
  });

  test('a pack that sent DONE still aborts when another fails; after BYE nothing changes the outcome', () => {
    const p = running(1, 3);
    p.on({ e: 'workerDone', worker: 2, ok: true });
    p.on({ e: 'workerDone', worker: 3, ok: true });
    expect(p.c.stage).toBe('finishing');
    p.on({ e: 'peerLost', pack: 2, reason: 'gone' });
    expect(p.c.stage).toBe('aborted');
    p.run(300);
    expect(p.c.stage).toBe('done');
    const q = running(2, 3);
    q.on({ e: 'workerDone', worker: 4, ok: true });
    q.on({ e: 'workerDone', worker: 5, ok: true });
    q.on({ e: 'link', from: 0, msg: { type: 'bye' } });
    expect(kinds(q.on({ e: 'peerLost', pack: 1, reason: 'gone' }))).toEqual([]);
    expect(q.c.abort).toBeUndefined();
  });

  test('an abort before the start terminates the threads at once', () => {
    const p = new One(base(1, 3));
    p.on({ e: 'start' });
    p.on({ e: 'connected' });
    expect(kinds(p.on({ e: 'external', info: { failedPack: 2, reason: 'pack 2 process was killed by SIGKILL' } }))).toEqual(['0:abort', 'abortWorkers', 'terminateWorkers']);
  });
});

describe('coordinator: liveness', () => {
  test('heartbeats go over every link once a second after GO', () => {
    expect(kinds(running(1, 4).run(3_000)).filter((k) => k.endsWith(':hb'))).toEqual(['0:hb', '0:hb', '0:hb']);
    expect(kinds(running(0, 3).run(2_000)).filter((k) => k.endsWith(':hb'))).toEqual(['1:hb', '2:hb', '1:hb', '2:hb']);
  });

  test('a pack silent past the timeout is blamed; one that speaks is not (anything on its link counts)', () => {
    const p = running(0, 3);
    for (let s = 0; s < 14; s++) {
      p.run(1_000);
      p.on({ e: 'link', from: 2, msg: { type: 'hb' } });
    }
    expect(p.c.abort).toBeUndefined();
    p.run(1_200);
    expect(p.c.abort?.info).toEqual({ failedPack: 1, reason: expect.stringMatching(/^pack 1 sent nothing on its link for 15\d{3} ms/) });
  });

  test('its own stalled event loop is not the others’ silence', () => {
    const p = running(1, 4);
    p.run(5_000);
    p.on({ e: 'tick' }, 20_000); // this process was frozen for 20 s
    p.run(1_000);
    expect(p.c.abort).toBeUndefined();
  });

  test('a pack that left on purpose is never blamed', () => {
    const p = running(0, 3);
    p.on({ e: 'peerLeft', pack: 2 });
    p.on({ e: 'peerLost', pack: 2, reason: 'closed' });
    p.run(20_000);
    expect(p.c.abort?.info.failedPack).toBe(1); // pack 1 stayed silent; pack 2 is not blamed
  });

  test('links form a star around pack 0', () => {
    expect(new Coordinator(base(0, 2)).neighbours).toEqual([1]);
    expect(new Coordinator(base(1, 1)).neighbours).toEqual([]);
    expect(new Coordinator(base(0, 4)).neighbours).toEqual([1, 2, 3]);
    expect(new Coordinator(base(3, 4)).neighbours).toEqual([0]);
  });
});

/**
 * A whole burst of coordinators wired together, messages delivered in a random order: whatever fails,
 * every surviving pack ends aborted, on the same abort.
 */
describe('coordinator: a burst floods its aborts', () => {
  // With pack 0 alive, every pack settles on the very same abort. With pack 0 dead the others have no link
  // left between them; when its death is the only failure they all report it, in the same words.
  test('every surviving pack settles on the same culprit and reason, whatever the order of delivery', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 12 }),
        fc.array(fc.record({ pack: fc.nat(), kind: fc.constantFrom('crash', 'throw'), at: fc.integer({ min: 0, max: 50 }) }), { minLength: 1, maxLength: 3 }),
        fc.array(fc.nat(), { minLength: 400, maxLength: 400 }),
        (P, failures, order) => {
          const packs = Array.from({ length: P }, (_, me) => running(me, P));
          const dead = new Set<number>();
          type Msg = { to: number; from: number; msg: ControlMsg };
          const queue: Msg[] = [];
          const collect = (from: number, fx: Effect[]): void => {
            for (const f of fx) if (f.do === 'link' && f.msg.type === 'abort') queue.push({ to: f.to, from, msg: f.msg });
          };
          const fs = failures.map((f) => ({ ...f, pack: f.pack % P })).sort((a, b) => a.at - b.at);
          let r = 0;
          for (const f of fs) {
            if (dead.has(f.pack)) continue;
            if (f.kind === 'crash') {
              dead.add(f.pack);
              // Its neighbours see the link close.
              for (const n of packs[f.pack]!.c.neighbours) if (!dead.has(n)) collect(n, packs[n]!.on({ e: 'peerLost', pack: f.pack, reason: `pack ${f.pack} is gone` }, f.at));
            } else {
              collect(f.pack, packs[f.pack]!.on({ e: 'workerDone', worker: f.pack * 2, ok: false, reason: 'boom' }, f.at));
            }
            // Some deliveries interleave with the next failure.
            for (let k = 0; k < 3 && queue.length > 0; k++) {
              const m = queue.splice(order[r++ % order.length]! % queue.length, 1)[0]!;
              if (!dead.has(m.to)) collect(m.to, packs[m.to]!.on({ e: 'link', from: m.from, msg: m.msg }));
            }
          }
          while (queue.length > 0) {
            const m = queue.splice(order[r++ % order.length]! % queue.length, 1)[0]!;
            if (!dead.has(m.to)) collect(m.to, packs[m.to]!.on({ e: 'link', from: m.from, msg: m.msg }));
          }
          const alive = packs.filter((_, i) => !dead.has(i));
          if (alive.length === 0) return;
          for (const p of alive) expect(p.c.abort).toBeDefined();
          const hubDead = dead.has(0);
          if (hubDead && fs.some((f) => f.pack !== 0)) return;
          const settled = alive.map((p) => JSON.stringify(hubDead ? p.c.abort!.info : p.c.abort));
          expect(new Set(settled).size).toBe(1);
        },
      ),
      { numRuns: 300 },
    );
  });
});

const links = (fx: Effect[]): Extract<Effect, { do: 'link' }>[] => fx.filter((f): f is Extract<Effect, { do: 'link' }> => f.do === 'link');
/** Link messages but heartbeats (which go out every second anyway), and their kinds. */
const told = (fx: Effect[]) => links(fx).filter((l) => l.msg.type !== 'hb');
const hbs = (fx: Effect[]) => links(fx).filter((l) => l.msg.type === 'hb');
const news = (fx: Effect[]): string[] => kinds(fx).filter((k) => !k.endsWith(':hb'));
const own = (since: number) => ({ worker: 3, called: 1, doing: { kind: 0 as const, comm: 0, seq: -1, op: 0, peer: -1 }, since });

/**
 * A worker that returned after N burst collectives never calls #N: the fewest any returned worker made is
 * spread (its pack → pack 0 → the packs still running) and written on every board.
 */
describe('coordinator: diagnosis', () => {
  test('a worker that returned: its counts go on the board at once, to pack 0 at the next tick; only fewer is news', () => {
    const p = running(1, 3);
    const fx = p.on({ e: 'workerDone', worker: 2, ok: true, collectives: { burst: 4, pack: 2 } });
    expect(fx.filter((f) => f.do === 'fewest')).toEqual([
      { do: 'fewest', comm: 1, fewest: { worker: 2, pack: 1, count: 2 } },
      { do: 'fewest', comm: 0, fewest: { worker: 2, pack: 1, count: 4 } },
    ]);
    expect(news(fx)).toEqual(['fewest', 'fewest']);
    expect(told(p.run(300))).toEqual([{ do: 'link', to: 0, msg: { type: 'fewest', fewest: { worker: 2, pack: 1, count: 4 } } }]);
    // The same count again is no news; the DONE carries nothing more.
    const last = p.on({ e: 'workerDone', worker: 3, ok: true, collectives: { burst: 4, pack: 2 } });
    expect(news(last)).toEqual(['0:done']);
    expect(told(last)[0]!.msg).toEqual({ type: 'done', pack: 1 });
  });

  test('news not told yet goes with the DONE (a pack whose workers all return within a tick sends one message)', () => {
    const p = running(2, 3);
    p.on({ e: 'workerDone', worker: 4, ok: true, collectives: { burst: 3, pack: 0 } });
    const fx = p.on({ e: 'workerDone', worker: 5, ok: true, collectives: { burst: 2, pack: 0 } });
    expect(news(fx)).toEqual(['fewest', '0:done']);
    expect(told(fx)[0]!.msg).toEqual({ type: 'done', pack: 2, fewest: { worker: 5, pack: 2, count: 2 } });
    expect(news(p.run(300))).toEqual([]);
  });

  test('pack 0 passes news on to the packs still running: not back where it came from, not to packs done', () => {
    const hub = running(0, 5);
    hub.on({ e: 'link', from: 4, msg: { type: 'done', pack: 4 } });
    expect(news(hub.on({ e: 'link', from: 1, msg: { type: 'fewest', fewest: { worker: 2, pack: 1, count: 4 } } }))).toEqual(['fewest']);
    expect(news(hub.run(100))).toEqual(['2:fewest', '3:fewest']);
    // More collectives than that is no news; fewer is, also in a DONE.
    expect(news(hub.on({ e: 'link', from: 2, msg: { type: 'fewest', fewest: { worker: 4, pack: 2, count: 5 } } }))).toEqual([]);
    expect(news(hub.on({ e: 'link', from: 3, msg: { type: 'done', pack: 3, fewest: { worker: 7, pack: 3, count: 1 } } }))).toEqual(['fewest']);
    expect(told(hub.run(100))).toEqual([
      { do: 'link', to: 1, msg: { type: 'fewest', fewest: { worker: 7, pack: 3, count: 1 } } },
      { do: 'link', to: 2, msg: { type: 'fewest', fewest: { worker: 7, pack: 3, count: 1 } } },
    ]);
    // Pack 0's own workers: news for every pack still running.
    hub.on({ e: 'workerDone', worker: 0, ok: true, collectives: { burst: 0, pack: 0 } });
    expect(news(hub.run(100))).toEqual(['1:fewest', '2:fewest']);
  });

  test('news from pack 0 goes on the board and nowhere else; news from another pack is ignored', () => {
    const p = running(2, 3);
    expect(p.on({ e: 'link', from: 0, msg: { type: 'fewest', fewest: { worker: 0, pack: 0, count: 3 } } })).toEqual([
      { do: 'fewest', comm: 0, fewest: { worker: 0, pack: 0, count: 3 } },
    ]);
    expect(news(p.run(300))).toEqual([]);
    expect(news(p.on({ e: 'link', from: 1, msg: { type: 'fewest', fewest: { worker: 2, pack: 1, count: 1 } } }))).toEqual([]);
  });

  test('a pack that aborts tells its news first, on the same links: workers waiting elsewhere learn why', () => {
    const p = running(1, 3);
    p.on({ e: 'workerDone', worker: 2, ok: true, collectives: { burst: 3, pack: 0 } });
    const fx = p.on({ e: 'workerDone', worker: 3, ok: false, reason: 'CollectiveMismatchError: …' });
    expect(news(fx)).toEqual(['0:fewest', '0:abort', 'abortWorkers']);
    const hub = running(0, 3);
    expect(news(hub.on({ e: 'link', from: 1, msg: told(fx)[0]!.msg }))).toEqual(['fewest']);
    expect(news(hub.on({ e: 'link', from: 1, msg: told(fx)[1]!.msg }))).toEqual(['2:fewest', '2:abort', 'abortWorkers']);
    // Once aborted, nothing more is news.
    expect(news(hub.on({ e: 'link', from: 2, msg: { type: 'fewest', fewest: { worker: 4, pack: 2, count: 0 } } }))).toEqual([]);
  });

  test('a worker whose collective timed out because another never called it: the burst fails naming that one', () => {
    const p = running(2, 5);
    p.on({ e: 'workerDone', worker: 4, ok: false, reason: 'CollectiveTimeoutError: worker 4 (pack 2): … worker 9 (pack 4) has not called it', blame: { worker: 9, pack: 4 } });
    expect(p.c.abort?.info).toEqual({ failedWorker: 9, failedPack: 4, reason: 'CollectiveTimeoutError: worker 4 (pack 2): … worker 9 (pack 4) has not called it' });
  });

  test('heartbeats carry the laggard: each pack’s to pack 0, the burst’s from pack 0, in each receiver’s clock', () => {
    const p = running(1, 3);
    p.on({ e: 'progress', lag: own(p.now - 500) });
    const hb = hbs(p.run(100));
    expect(hb).toEqual([{ do: 'link', to: 0, msg: { type: 'hb', lag: { worker: 3, called: 1, doing: own(0).doing, forMs: 600 } } }]);

    const hub = running(0, 3);
    hub.on({ e: 'progress', lag: { ...own(hub.now), worker: 0, called: 2 } });
    hub.on({ e: 'link', from: 1, msg: hb[0]!.msg });
    const heardAt = hub.now;
    const fx = hub.run(100);
    // Pack 1's worker 3 is further behind than pack 0's own: it is the burst's laggard.
    expect(fx.filter((f) => f.do === 'laggard')).toEqual([{ do: 'laggard', lag: { ...own(heardAt - 600) } }]);
    const out = hbs(fx);
    expect(out.map((l) => l.to)).toEqual([1, 2]);
    expect(out[1]!.msg).toEqual({ type: 'hb', lag: { worker: 3, called: 1, doing: own(0).doing, forMs: 700 } });

    const q = running(2, 3);
    expect(q.on({ e: 'link', from: 0, msg: out[1]!.msg })).toEqual([{ do: 'laggard', lag: own(q.now - 700) }]);
    // A pack that has no laggard any more (its workers returned) is forgotten by pack 0.
    hub.on({ e: 'link', from: 1, msg: { type: 'hb' } });
    hub.log = [];
    hub.run(1_000);
    expect(hub.log.filter((f) => f.do === 'laggard')).toEqual([{ do: 'laggard', lag: { ...own(heardAt), worker: 0, called: 2, since: heardAt } }]);
  });

  // Whatever the order in which workers return and messages arrive, every pack with a worker still
  // running learns the fewest collectives any returned worker made, in O(packs) messages.
  test('every pack still running learns the fewest collectives a returned worker made, whatever the order', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 10 }),
        fc.array(fc.record({ worker: fc.nat(), count: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.nat(), { minLength: 300, maxLength: 300 }),
        (P, returns, order) => {
          const packs = Array.from({ length: P }, (_, me) => running(me, P));
          const known: (number | undefined)[] = Array.from({ length: P }, () => undefined);
          // Links are FIFO per pair.
          const queues = new Map<string, { to: number; from: number; msg: ControlMsg }[]>();
          let sent = 0;
          const collect = (from: number, fx: Effect[]): void => {
            for (const f of fx) {
              if (f.do === 'fewest' && f.comm === 0) known[from] = f.fewest.count;
              if (f.do !== 'link') continue;
              if (f.msg.type === 'fewest') sent++;
              const k = `${from}>${f.to}`;
              if (!queues.has(k)) queues.set(k, []);
              queues.get(k)!.push({ to: f.to, from, msg: f.msg });
            }
          };
          let r = 0;
          const deliverSome = (n: number): void => {
            for (let i = 0; i < n; i++) {
              const ready = [...queues.values()].filter((q) => q.length > 0);
              if (ready.length === 0) return;
              const m = ready[order[r++ % order.length]! % ready.length]!.shift()!;
              collect(m.to, packs[m.to]!.on({ e: 'link', from: m.from, msg: m.msg }));
            }
          };
          const returned = new Map<number, number>();
          for (const x of returns) {
            const w = x.worker % (2 * P);
            if (returned.has(w)) continue;
            returned.set(w, x.count);
            const pack = w >> 1;
            collect(pack, packs[pack]!.on({ e: 'workerDone', worker: w, ok: true, collectives: { burst: x.count, pack: 0 } }));
            if (order[r++ % order.length]! % 2 === 0) for (let q = 0; q < P; q++) collect(q, packs[q]!.on({ e: 'tick' }, 100));
            deliverSome(3);
          }
          for (let round = 0; round < 4; round++) {
            for (let q = 0; q < P; q++) collect(q, packs[q]!.on({ e: 'tick' }, 100));
            deliverSome(10_000);
          }
          const fewest = Math.min(...returned.values());
          for (let q = 0; q < P; q++) {
            const running = [2 * q, 2 * q + 1].some((w) => !returned.has(w));
            if (running) expect(known[q]).toBe(fewest);
          }
          // Each pack tells pack 0 only counts lower than it knew, pack 0 each pack only what is lower still.
          const distinct = new Set(returned.values()).size;
          expect(sent).toBeLessThanOrEqual(2 * P * distinct);
        },
      ),
      { numRuns: 300 },
    );
  });
});
