/**
 * The PageRank update, shared by the distributed worker and the sequential reference so both apply the
 * very same arithmetic; they differ only in the order contributions are summed.
 *
 *   r'[v] = (1 - d) / V  +  d · ( Σ_{u→v} r[u] / outdeg[u]  +  Σ_{u: outdeg[u] = 0} r[u] / V )
 *
 * Dangling vertices (no out-edges) spread their rank evenly, so ranks keep summing to 1.
 * @module
 */
/** How many rounds of the update to run, with damping factor d. */
export interface RankSpec {
  iterations: number;
  damping: number;
}

/** 1 / outdeg[u], or 0 for a dangling vertex. */
export function inverseDegrees(outdeg: Int32Array): Float64Array {
  const inv = new Float64Array(outdeg.length);
  for (let u = 0; u < outdeg.length; u++) inv[u] = outdeg[u]! > 0 ? 1 / outdeg[u]! : 0;
  return inv;
}

/** Adds r[u] / outdeg[u] into contrib[v] for every edge u → v of the given edge list. */
export function accumulate(contrib: Float64Array, src: Int32Array, dst: Int32Array, ranks: Float64Array, inv: Float64Array): void {
  for (let e = 0; e < src.length; e++) {
    const u = src[e]!;
    contrib[dst[e]!]! += ranks[u]! * inv[u]!;
  }
}

/** Writes the next rank vector into `ranks` from the summed contributions. */
export function update(ranks: Float64Array, contrib: Float64Array, outdeg: Int32Array, damping: number): void {
  const V = ranks.length;
  let dangling = 0;
  for (let u = 0; u < V; u++) if (outdeg[u] === 0) dangling += ranks[u]!;
  const base = (1 - damping) / V + (damping * dangling) / V;
  for (let v = 0; v < V; v++) ranks[v] = base + damping * contrib[v]!;
}
