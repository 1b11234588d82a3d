import { runLocalFlare, type FlareResult } from '../../worker-runtime/src/launch/local.js';
import { listRedisBurstKeys } from '../../worker-runtime/src/transport/redis.js';
import { BROKERS, fixture, REDIS_URL } from './helpers.js';

/**
 * The BCM conformance suite: every operation, for several burst sizes and granularities, on every
 * transport, against a sequential reference. Chunks are made tiny (1000 bytes) so that chunking and
 * reassembly run on most remote messages.
 */
const SIZES = [1, 2, 5, 7, 16];
const granularities = (n: number): number[] => [...new Set([1, 3, n])];

function expectAllPassed(r: FlareResult): void {
  const bad = r.workers.filter((w) => !w.ok || (w.result as { failures: string[] }).failures.length > 0);
  if (bad.length > 0) {
    throw new Error(
      `flare ${r.burstId} failed:\n` +
        bad.map((w) => `worker ${w.workerId}: ${w.ok ? (w.result as { failures: string[] }).failures.slice(0, 5).join('; ') : w.error?.message}`).join('\n') +
        `\nstderr: ${JSON.stringify(r.stderr).slice(0, 2000)}`,
    );
  }
  expect(r.ok).toBe(true);
  for (const w of r.workers) expect((w.result as { checks: number }).checks).toBeGreaterThan(20);
}

describe.each(BROKERS)('BCM conformance over $kind', ({ kind, url }) => {
  const cases = SIZES.flatMap((n) => granularities(n).map((g) => [n, g] as const));
  test.each(cases)('burst %i at granularity %i matches the sequential reference', async (n, g) => {
    const r = await runLocalFlare({
      // The packs' own cleanup is under test: no sweep by the launcher afterwards.
      sweepBrokerKeys: false,
      size: n,
      granularity: g,
      transport: { kind, url, chunkBytes: 1000 },
      modulePath: fixture('conformance'),
      params: { value: { base: 24, large: 10000 } },
      // 10000 float64 = 80 KB: above the 64 KiB inline threshold, so in-pack sends go by reference.
      operationTimeoutMs: 30_000,
    });
    expectAllPassed(r);
    const packs = Math.ceil(n / g);
    if (packs > 1) expect(r.counters.remoteBytesSent).toBeGreaterThan(0);
    else expect(r.counters.remoteBytesSent).toBe(0);
    // Sent and received payload bytes balance, locally and remotely.
    expect(r.counters.remoteBytesRecv).toBe(r.counters.remoteBytesSent);
    expect(r.counters.localBytesRecv).toBe(r.counters.localBytesSent);
    if (kind === 'redis') expect(await listRedisBurstKeys(REDIS_URL, r.burstId)).toEqual([]);
  });
});
