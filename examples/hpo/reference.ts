import { best, cvScore, grid, type CvSpec, type Dataset, type GridSpec } from './model.js';

/** Exhaustive sequential search: every configuration scored in order; the one the flare must find. */
export function hpoReference(data: Dataset, g: GridSpec, cv: CvSpec): { index: number; score: number; scores: number[] } {
  const scores = grid(g).map((h) => cvScore(data, h, cv));
  const top = best(scores.map((score, index) => ({ index, score })))!;
  return { ...top, scores };
}
