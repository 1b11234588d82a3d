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
 * edges into a full-length contribution vector; a reduce('sum') brings the total to worker 0, which applies
 * the update, and a broadcast hands the new ranks to everyone. That is allReduce's own decomposition, with
 * the O(V) update done once instead of on every worker (on an oversubscribed machine that CPU is not free).
 *
 * Why not reduce-scatter (allToAll of vertex slices) + allGather: the BCM's reduce and broadcast are
 * pack-aware (mates combine in shared memory, one vector per pack crosses the boundary up the tree and one
 * comes back down), so an iteration moves 2·8V·(P−1) remote bytes for P packs. allToAll + allGather moves
 * 8V·(N−G) + 8V·(P−1): the same at G = 1, but far more as soon as packs hold several workers, because
 * allToAll ships every worker's slice separately instead of a pack's sum.
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

  let ranks: Float64Array<ArrayBufferLike> = new Float64Array(V).fill(1 / V);
  for (let it = 0; it < p.iterations; it++) {
    // Fresh shared memory each iteration: sending it to a pack mate hands over a reference, and a sent
    // buffer must not be written again (received ranks are read-only views shared by the pack).
    const contrib = ctx.allocArray(Float64Array, V);
    await clock.run('compute', () => accumulate(contrib, src, dst, ranks, inv));
    const total = await clock.run('exchange', () => ctx.reduce(contrib, 'sum', 0));
    let next: Float64Array | undefined;
    if (total !== undefined) {
      next = ctx.allocArray(Float64Array, V);
      next.set(ranks);
      await clock.run('compute', () => update(next!, total, outdeg, p.damping));
    }
    ranks = await clock.run('exchange', () => ctx.broadcast<Float64Array>(next, 0));
  }

  const from = partStart(V, n, me);
  return { offset: from, ranks: Array.from(ranks.subarray(from, partStart(V, n, me + 1))), edges: src.length, phases: clock.phases };
});
