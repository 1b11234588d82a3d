import { edgeCount, rmatEdges, vertexCount, type GraphSpec } from './graph.js';
import { accumulate, inverseDegrees, update, type RankSpec } from './rank.js';

/** Sequential PageRank over the whole graph: the answer the flare must reproduce. */
export function pagerankReference(g: GraphSpec, r: RankSpec): Float64Array {
  const V = vertexCount(g);
  const { src, dst } = rmatEdges(g, 0, edgeCount(g));
  const outdeg = new Int32Array(V);
  for (let e = 0; e < src.length; e++) outdeg[src[e]!]!++;
  const inv = inverseDegrees(outdeg);
  const ranks = new Float64Array(V).fill(1 / V);
  const contrib = new Float64Array(V);
  for (let it = 0; it < r.iterations; it++) {
    contrib.fill(0);
    accumulate(contrib, src, dst, ranks, inv);
    update(ranks, contrib, outdeg, r.damping);
  }
  return ranks;
}
