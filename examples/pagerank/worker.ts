import { defineWorker, type WorkerContext } from '@kubeburst/worker-runtime';
import { PhaseClock, type Phases } from '../common/phases.js';
import { partStart } from '../common/random.js';
import { edgeCount, rmatEdges, vertexCount, type GraphSpec } from './graph.js';
import { accumulate, inverseDegrees, update, type RankSpec } from './rank.js';

export interface PageRankParams extends GraphSpec, RankSpec {}

export interface PageRankResult {
  /** First vertex of `ranks`: worker w returns the ranks of vertices [offset, offset + ranks.length). */
  offset: number;
  ranks: number[];
  /** Edges this worker generated and processed. */
  edges: number;
  phases: Phases;
}

/**
 * Distributed PageRank. Worker w owns edges [w·E/N, (w+1)·E/N) of the R-MAT graph and generates them
 * itself (no input shipped through params). Every iteration each worker sums r[u]/outdeg[u] over its own
 * edges into a full-length contribution vector, and one allReduce('sum') gives every worker the total.
 *
 * Why allReduce and not reduce-scatter (allToAll of vertex slices) + allGather: the BCM's allReduce is
 * pack-aware (mates combine in shared memory, then one vector per pack crosses the boundary up a tree and
 * one comes back down), so an iteration moves 2·8V·(P−1) remote bytes for P packs. allToAll + allGather
 * moves 8V·(N−G) + 8V·(P−1): the same at G = 1, but far more as soon as packs hold several workers,
 * because allToAll ships every worker's slice separately instead of a pack's sum.
 */
export default defineWorker(async (ctx: WorkerContext, p: PageRankParams): Promise<PageRankResult> => {
  const { workerId: me, burstSize: n } = ctx.info;
  const clock = new PhaseClock();
  const V = vertexCount(p);
  const E = edgeCount(p);

  const { src, dst } = await clock.run('generate', () => rmatEdges(p, partStart(E, n, me), partStart(E, n, me + 1)));

  const outdeg = await clock.run('degrees', () => {
    const mine = ctx.allocArray(Int32Array, V);
    for (let e = 0; e < src.length; e++) mine[src[e]!]!++;
    return ctx.allReduce(mine, 'sum');
  });
  const inv = inverseDegrees(outdeg);

  const ranks = new Float64Array(V).fill(1 / V);
  for (let it = 0; it < p.iterations; it++) {
    // Fresh shared memory each iteration: sending it to a pack mate hands over a reference, and a sent
    // buffer must not be written again.
    const contrib = ctx.allocArray(Float64Array, V);
    await clock.run('compute', () => accumulate(contrib, src, dst, ranks, inv));
    const total = await clock.run('exchange', () => ctx.allReduce(contrib, 'sum'));
    await clock.run('compute', () => update(ranks, total, outdeg, p.damping));
  }

  const from = partStart(V, n, me);
  return { offset: from, ranks: Array.from(ranks.subarray(from, partStart(V, n, me + 1))), edges: src.length, phases: clock.phases };
});
