import { Sfc32 } from '../common/random.js';

/**
 * R-MAT power-law graph (Chakrabarti et al., 2004): each edge picks one quadrant of the adjacency matrix per
 * level, with probabilities a, b, c, d, down `scale` levels. Edge `i` depends only on (seed, i) (it is drawn
 * from the random stream of its block of edges), so a worker generates its edge range [from, to) alone and the
 * union over workers is exactly the sequential graph.
 */
export interface GraphSpec {
  /** 2^scale vertices. */
  scale: number;
  /** Edges per vertex on average: the graph has edgeFactor · 2^scale edges. */
  edgeFactor: number;
  seed: number;
}

const A = 0.57;
const B = 0.19;
const C = 0.19;
const U32 = 4294967296;
const TA = A * U32;
const TAB = (A + B) * U32;
const TABC = (A + B + C) * U32;

export function vertexCount(g: GraphSpec): number {
  return 2 ** g.scale;
}

export function edgeCount(g: GraphSpec): number {
  return g.edgeFactor * 2 ** g.scale;
}

/** Edges are drawn from one random stream per block of this many edges (a stream per edge costs more than the edge). */
const BLOCK = 4096;

/** Edges [from, to) as parallel arrays of source and destination vertex ids. */
export function rmatEdges(g: GraphSpec, from: number, to: number): { src: Int32Array; dst: Int32Array } {
  const n = Math.max(0, to - from);
  const src = new Int32Array(n);
  const dst = new Int32Array(n);
  let rng = new Sfc32(g.seed, Math.floor(from / BLOCK));
  // Skip the draws of the block's edges before `from`, so edge i is the same whoever generates it.
  for (let skip = (from % BLOCK) * g.scale; skip > 0; skip--) rng.next();
  for (let e = from; e < from + n; e++) {
    if (e % BLOCK === 0) rng = new Sfc32(g.seed, e / BLOCK);
    let s = 0;
    let d = 0;
    for (let l = 0; l < g.scale; l++) {
      const u = rng.next();
      s <<= 1;
      d <<= 1;
      if (u < TA) {
        /* top-left */
      } else if (u < TAB) d |= 1;
      else if (u < TABC) s |= 1;
      else {
        s |= 1;
        d |= 1;
      }
    }
    src[e - from] = s;
    dst[e - from] = d;
  }
  return { src, dst };
}
