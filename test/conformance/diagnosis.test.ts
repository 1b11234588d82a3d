import type { ChildProcess } from 'node:child_process';
import { runLocalFlare, type FlareResult } from '../../worker-runtime/src/launch/local.js';
import type { WorkerReport } from '../../worker-runtime/src/communicator/messages.js';
import { formatSummary, summarize } from '../../cli/src/summary.js';
import { BROKERS, fixture } from './helpers.js';

/**
 * Fast, right diagnosis: a hang the runtime can prove (pack mates calling pack and burst collectives in
 * different orders, a worker calling one collective more or fewer than the others) fails the burst with a
 * CollectiveMismatchError within about a second, not after the operation timeout; a hang it cannot prove
 * (a worker that never calls the collective the others wait in) times out naming that worker, with its
 * own pack. The operation timeout here is 60 s: a regression shows as a wait that long.
 */
const scenarios = fixture('scenarios');
const NO_TIMEOUT = 60_000;

/** How long a worker's call waited before it rejected (the scenario appends "[after N ms]"). */
const waited = (w: WorkerReport): number => Number(/\[after (\d+) ms\]/.exec(w.error?.message ?? '')?.[1] ?? NaN);
const failed = (r: FlareResult, ids: number[]): WorkerReport[] => r.workers.filter((w) => ids.includes(w.workerId));

describe.each(BROKERS)('diagnosis over $kind', ({ kind, url }) => {
  const transport = { kind, url };

  test('pack mates calling a pack and a burst collective in different orders raise CollectiveMismatchError within 2 s, naming both', async () => {
    // Packs of 3; worker 4 (pack 1) calls ctx.pack.barrier() then ctx.barrier(), its mates the other way round.
    const r = await runLocalFlare({
      size: 6,
      granularity: 3,
      transport,
      modulePath: scenarios,
      params: { value: { scenario: 'pack-vs-burst', odd: 4 } },
      operationTimeoutMs: NO_TIMEOUT,
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 4, failedPack: 1 });
    expect(r.failure!.reason).toMatch(
      /^CollectiveMismatchError: worker 4 \(pack 1\): collective mismatch: pack mates called pack and burst collectives in different orders: worker 4 \(pack 1\) is in pack collective #0 \(pack\.barrier\) and has not called collective #1 yet, while worker [35] \(pack 1\) is in collective #1 \(barrier\) and has not called pack collective #0 yet \(so is worker [35], in a burst collective\); each waits for the other/,
    );
    // The stuck pack mates get the mismatch itself, the rest of the burst the abort that names it, quickly.
    for (const w of failed(r, [3, 4, 5])) {
      expect(w.error!.name).toBe('CollectiveMismatchError');
      expect(w.error!.message).toMatch(new RegExp(`^worker ${w.workerId} \\(pack 1\\): collective mismatch: pack mates called pack and burst collectives in different orders`));
    }
    for (const w of failed(r, [0, 1, 2])) {
      expect(w.error!.name).toBe('BurstAbortedError');
      expect(w.error!.message).toMatch(/burst aborted: worker 4 failed: CollectiveMismatchError: worker 4 \(pack 1\): collective mismatch/);
    }
    for (const w of r.workers) expect(waited(w)).toBeLessThan(2_000);
    expect(formatSummary(summarize('t', r, 0, r.wallMs)).split('\n')[1]).toMatch(
      /^ {2}failed: worker 4 \(pack 1\): CollectiveMismatchError: worker 4 \(pack 1\): collective mismatch/,
    );
  }, 30_000);

  test('one extra barrier raises CollectiveMismatchError at once on the worker that called it, naming a worker that returned', async () => {
    // One worker per pack: worker 3 learns that the others returned from the other packs, through pack 0.
    const r = await runLocalFlare({
      size: 4,
      granularity: 1,
      transport,
      modulePath: scenarios,
      params: { value: { scenario: 'extra-barrier', worker: 3, rounds: 3 } },
      operationTimeoutMs: NO_TIMEOUT,
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 3, failedPack: 3 });
    const detail =
      /worker ([012]) \(pack \1\) returned after 4 collectives, but worker 3 \(pack 3\) is in collective #4 \(barrier\): an extra collective here, or a missing one there/;
    expect(r.failure!.reason).toMatch(detail);
    const w3 = r.workers[3]!;
    expect(w3.error!.name).toBe('CollectiveMismatchError');
    expect(w3.error!.message).toMatch(/^worker 3 \(pack 3\): collective mismatch: /);
    expect(waited(w3)).toBeLessThan(2_000);
    expect(r.workers.filter((w) => w.ok).map((w) => w.workerId)).toEqual([0, 1, 2]);
  }, 30_000);

  test('one missing barrier: every worker stuck in it raises CollectiveMismatchError within 2 s, naming the worker that returned and its pack', async () => {
    const r = await runLocalFlare({
      size: 6,
      granularity: 2,
      transport,
      modulePath: scenarios,
      params: { value: { scenario: 'extra-barrier', worker: 0, rounds: 3, missing: true } },
      operationTimeoutMs: NO_TIMEOUT,
    });
    expect(r.ok).toBe(false);
    expect(r.workers[0]!.ok).toBe(true);
    expect(r.failure!.reason).toMatch(
      /^CollectiveMismatchError: worker [1-5] \(pack [0-2]\): collective mismatch: worker 0 \(pack 0\) returned after 3 collectives, but worker [1-5] \(pack [0-2]\) is in collective #3 \(barrier\)/,
    );
    // Each stuck worker raises the mismatch itself, unless the burst's abort (which carries the first
    // worker's mismatch) reaches it first, as it may on a busy machine: either way it says why, at once.
    const culprit = r.failure!.failedWorker;
    for (const w of failed(r, [1, 2, 3, 4, 5])) {
      const own = `worker ${w.workerId} (pack ${w.packId}): collective mismatch: worker 0 (pack 0) returned after 3 collectives, but worker ${w.workerId} (pack ${w.packId}) is in collective #3 (barrier): an extra collective here, or a missing one there`;
      if (w.workerId === culprit || w.error!.name !== 'BurstAbortedError') {
        expect(w.error!.name).toBe('CollectiveMismatchError');
        expect(w.error!.message).toContain(own);
      } else
        expect(w.error!.message).toMatch(
          /burst aborted: worker [1-5] failed: CollectiveMismatchError: .*returned after 3 collectives, but worker [1-5] \(pack [0-2]\) is in collective #3 \(barrier\)/,
        );
      expect(waited(w)).toBeLessThan(2_000);
    }
  }, 30_000);

  test('a hung worker is named, with its own pack, by every collective that times out waiting for it', async () => {
    // Worker 5 (pack 2) never calls the second barrier; its pack mate and the other packs time out in it.
    const r = await runLocalFlare({ size: 6, granularity: 2, transport, modulePath: scenarios, params: { value: { scenario: 'hung', hung: 5 } }, operationTimeoutMs: 4_000 });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 5, failedPack: 2 });
    const named =
      /: collective #1 \(barrier\) timed out after 4000 ms waiting for worker \d \(pack \d\): worker 5 \(pack 2\) has not called it; it has been running its own code \(no kubeburst call\) for \d+\.\d s/;
    expect(r.failure!.reason).toMatch(named);
    for (const w of failed(r, [0, 1, 2, 3, 4])) {
      expect(w.error!.name).toMatch(/^(CollectiveTimeoutError|BurstAbortedError)$/);
      expect(w.error!.message).toMatch(/worker 5 \(pack 2\) has not called it/);
      if (w.error!.name === 'CollectiveTimeoutError') expect(w.error!.message).toMatch(new RegExp(`^worker ${w.workerId} \\(pack ${w.packId}\\): collective #1`));
    }
    expect(formatSummary(summarize('t', r, 0, r.wallMs)).split('\n')[1]).toMatch(
      /^ {2}failed: worker 5 \(pack 2\): CollectiveTimeoutError: worker \d \(pack \d\): collective #1 \(barrier\) timed out/,
    );
  }, 30_000);
});

describe('diagnosis: within one pack, and whole-pack failures', () => {
  test('an extra pack collective raises CollectiveMismatchError at once, naming a pack mate that returned', async () => {
    const r = await runLocalFlare({
      size: 6,
      granularity: 3,
      transport: { kind: 'direct' },
      modulePath: scenarios,
      params: { value: { scenario: 'extra-barrier', worker: 4, rounds: 3, comm: 'pack' } },
      operationTimeoutMs: NO_TIMEOUT,
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 4, failedPack: 1 });
    expect(r.failure!.reason).toMatch(
      /worker [35] \(pack 1\) returned after 3 pack collectives, but worker 4 \(pack 1\) is in pack collective #3 \(pack\.barrier\): an extra collective here, or a missing one there/,
    );
    expect(waited(r.workers[4]!)).toBeLessThan(2_000);
  }, 30_000);

  test('a worker spinning in its own code is named when the collective waiting for it times out', async () => {
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct' },
      modulePath: scenarios,
      params: { value: { scenario: 'hung', hung: 2, spin: true } },
      operationTimeoutMs: 3_000,
    });
    expect(r.failure).toMatchObject({ failedWorker: 2, failedPack: 1 });
    expect(r.failure!.reason).toMatch(/worker 2 \(pack 1\) has not called it; it has been running its own code \(no kubeburst call\)/);
    // Its thread never yields: it is terminated after the abort grace, with the same reason.
    expect(r.workers[2]!.error!.message).toMatch(/^terminated \d+ ms after the burst aborted \(CollectiveTimeoutError: /);
  }, 30_000);

  test('a whole pack that fails is named as the pack, not as a worker of another pack that went down with it', async () => {
    // Worker 3 (pack 1) spins (its thread is terminated after the abort grace, with an Error of its own);
    // pack 0 is stopped by SIGTERM while workers 0-2 wait in a barrier.
    let victim: ChildProcess | undefined;
    const joined = new Set<number>();
    let stopped = false;
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct' },
      modulePath: scenarios,
      params: { value: { scenario: 'hung', hung: 3, spin: true } },
      onSpawn: (p, child) => {
        if (p === 0) victim = child;
      },
      onEvent: (e) => {
        if (e.event === 'joined') joined.add(e.pack);
        if (joined.size === 2 && !stopped) {
          stopped = true;
          setTimeout(() => victim!.kill('SIGTERM'), 300);
        }
      },
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toEqual({ failedPack: 0, reason: expect.stringMatching(/^pack 0 was stopped by SIGTERM/) });
    expect(r.workers[3]!.error!.message).toMatch(/^terminated \d+ ms after the burst aborted/);
    const s = summarize('t', r, 0, r.wallMs);
    expect(s.failure).toMatchObject({ pack: 0, reason: expect.stringMatching(/^pack 0 was stopped by SIGTERM/) });
    expect(s.failure!.worker).toBeUndefined();
    expect(formatSummary(s).split('\n')[1]).toMatch(/^ {2}failed: pack 0: pack 0 was stopped by SIGTERM/);
  }, 30_000);
});
