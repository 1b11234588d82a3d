import type { PageRankResult } from './worker.js';

/** The ranks of all workers, stitched in vertex order. */
export function collectRanks(results: readonly PageRankResult[], vertices: number): Float64Array {
  const out = new Float64Array(vertices).fill(Number.NaN);
  for (const r of results) out.set(r.ranks, r.offset);
  return out;
}

/** Largest |a[i] − b[i]| (Infinity when lengths differ or a value is missing). */
export function maxAbsDiff(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (!(d <= m)) m = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
  }
  return m;
}

/** Why the flare's ranks do not match the reference, or null when they agree within `tolerance`. */
export function checkRanks(results: readonly PageRankResult[], reference: Float64Array, tolerance = 1e-9): string | null {
  const diff = maxAbsDiff(collectRanks(results, reference.length), reference);
  return diff <= tolerance ? null : `max |rank − reference| = ${diff} exceeds ${tolerance}`;
}
