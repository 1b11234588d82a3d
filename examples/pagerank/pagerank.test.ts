import { appModule, BROKERS, loadManifest, NATS_URL, runOk } from '../testing/flares.js';
import { edgeCount, rmatEdges, vertexCount, type GraphSpec } from './graph.js';
import { pagerankReference } from './reference.js';
import { collectRanks, checkRanks, maxAbsDiff } from './verify.js';
import type { PageRankParams, PageRankResult } from './worker.js';

const SPEC: PageRankParams = { scale: 10, edgeFactor: 8, seed: 3, iterations: 15, damping: 0.85 };
const reference = pagerankReference(SPEC, SPEC);

/** Remote payload bytes: one Int32 allReduce of degrees, then per iteration a Float64 reduce and a broadcast. */
function expectedRemoteBytes(p: PageRankParams, packs: number): number {
  return 2 * (packs - 1) * vertexCount(p) * (4 + 8 * p.iterations);
}

describe('R-MAT generator', () => {
  test('any split of the edge range reproduces the sequential edge list', () => {
    const g: GraphSpec = { scale: 10, edgeFactor: 16, seed: 9 };
    const all = rmatEdges(g, 0, edgeCount(g));
    // Cuts inside and on the boundaries of the generator's 4096-edge blocks.
    const cuts = [0, 1, 17, 4095, 4096, 4097, 9000, 12288, edgeCount(g)];
    for (let k = 0; k + 1 < cuts.length; k++) {
      const part = rmatEdges(g, cuts[k]!, cuts[k + 1]!);
      expect(Array.from(part.src)).toEqual(Array.from(all.src.subarray(cuts[k], cuts[k + 1])));
      expect(Array.from(part.dst)).toEqual(Array.from(all.dst.subarray(cuts[k], cuts[k + 1])));
    }
  });

  test('degrees follow a skewed (power-law-like) distribution', () => {
    const g: GraphSpec = { scale: 12, edgeFactor: 8, seed: 1 };
    const { dst } = rmatEdges(g, 0, edgeCount(g));
    const indeg = new Int32Array(vertexCount(g));
    for (const v of dst) indeg[v]!++;
    const max = Math.max(...indeg);
    const isolated = indeg.filter((d) => d === 0).length;
    expect(max).toBeGreaterThan(20 * g.edgeFactor);
    expect(isolated).toBeGreaterThan(vertexCount(g) / 10);
  });

  test('the reference keeps total rank at 1 (dangling mass is redistributed)', () => {
    expect(reference.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
  });
});

describe.each(BROKERS)('PageRank over $kind', ({ kind, url }) => {
  test.each([
    [6, 1],
    [6, 4],
  ])('burst %i at granularity %i equals the sequential reference within 1e-9', async (n, g) => {
    const { flare, results } = await runOk<PageRankResult>({ size: n, granularity: g, transport: { kind, url }, modulePath: appModule('pagerank'), params: { value: SPEC } });
    expect(checkRanks(results, reference)).toBeNull();
    expect(maxAbsDiff(collectRanks(results, vertexCount(SPEC)), reference)).toBeLessThanOrEqual(1e-9);
    expect(results.reduce((s, r) => s + r.edges, 0)).toBe(edgeCount(SPEC));
    // Pack-aware reduce and broadcast: exactly one vector per pack crosses the boundary each way.
    expect(flare.counters.remoteBytesSent).toBe(expectedRemoteBytes(SPEC, Math.ceil(n / g)));
  });
});

test('the BurstJob manifest is valid and its flare matches the reference', async () => {
  const { manifest, modulePath } = loadManifest('pagerank');
  const p = manifest.spec.params!.value as PageRankParams;
  const { flare, results } = await runOk<PageRankResult>({
    size: manifest.spec.size,
    granularity: manifest.spec.granularity!,
    transport: { kind: 'nats', url: NATS_URL },
    modulePath,
    params: { value: p },
  });
  expect(checkRanks(results, pagerankReference(p, p))).toBeNull();
  expect(flare.counters.remoteBytesSent).toBe(expectedRemoteBytes(p, manifest.spec.size / manifest.spec.granularity!));
});
