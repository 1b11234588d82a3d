import { runLocalFlare, type FlareResult } from '../../worker-runtime/src/launch/local.js';
import { fixture } from './helpers.js';

/**
 * Issue 10: a user reduce function that writes into its arguments (the natural in-place sum) must not
 * corrupt anyone's data: not a pack mate's (a broadcast array is one shared buffer per pack), not a
 * worker's own input. In one pack, across packs with G > 1, and across packs of one worker.
 */
const LARGE = 20_000; // 160 KB of float64: pack mates pass it by reference, as in the report

function failuresOf(r: FlareResult): string[] {
  return r.workers.flatMap((w) => (w.ok ? (w.result as { failures: string[] }).failures.map((f) => `worker ${w.workerId}: ${f}`) : [`worker ${w.workerId}: ${w.error?.message}`]));
}

describe('user reduce functions that write into their arguments', () => {
  test.each([
    [4, 4],
    [6, 3],
    [5, 2],
    [3, 1],
  ])('burst %i at granularity %i: right results, every input untouched', async (size, granularity) => {
    const r = await runLocalFlare({
      size,
      granularity,
      transport: { kind: 'direct' },
      modulePath: fixture('combiners'),
      params: { value: { large: LARGE } },
      operationTimeoutMs: 30_000,
    });
    expect(failuresOf(r)).toEqual([]);
    expect(r.ok).toBe(true);
  });

  test('a reduce function that returns no array fails the call and names the fix', async () => {
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct' },
      modulePath: fixture('combiners'),
      params: { value: { large: LARGE, mistake: 'undefined' } },
      operationTimeoutMs: 30_000,
    });
    expect(r.ok).toBe(false);
    const errors = r.workers.filter((w) => !w.ok && w.error?.name === 'UsageError').map((w) => w.error!.message);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]).toMatch(/allReduce: the reduce function returned undefined, not a typed array: return the combined array/);
  });
});
