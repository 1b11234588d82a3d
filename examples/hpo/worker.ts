import { defineWorker, type WorkerContext } from '@kubeburst/worker-runtime';
import { PhaseClock, type Phases } from '../common/phases.js';
import { partStart } from '../common/random.js';
import { generateRows, readCsvPart, type DataSpec } from './data.js';
import { best, cvScore, grid, type CvSpec, type GridSpec } from './model.js';

export interface HpoParams extends DataSpec, CvSpec, GridSpec {
  /** Read the data set from this CSV file (byte ranges, one per pack mate); else generate the rows. */
  csv?: string;
}

export interface HpoResult {
  /** Rows this worker loaded itself (its part of its pack's single copy). */
  loadedRows: number;
  /** Rows of the data set as the pack assembled it. */
  datasetRows: number;
  /** Grid indices this worker scored. */
  evaluated: number[];
  /** Worker 0 only: the best configuration and every score, by grid index. */
  best?: { index: number; lambda: number; learningRate: number; score: number };
  scores?: number[];
  phases: Phases;
}

/**
 * Grid search with k-fold CV. The data set is loaded once per pack: each pack mate loads a disjoint part
 * (a byte range of the CSV, or a row range when generating) into shared memory and the mates exchange
 * them with ctx.pack.allGather, so every worker trains on the whole data set while the pack holds it twice
 * (the parts, and the leader's gathered batch) rather than once per worker.
 * Worker w scores grid points w, w + N, w + 2N, …; worker 0 gathers the scores and picks the best.
 */
export default defineWorker(async (ctx: WorkerContext, p: HpoParams): Promise<HpoResult> => {
  const { workerId: me, burstSize: n } = ctx.info;
  const clock = new PhaseClock();
  const pack = { size: ctx.pack.size, rank: ctx.info.workerId - ctx.pack.workers.start };
  const width = p.features + 1;

  const part = await clock.run('load', () => {
    if (p.csv !== undefined) {
      const values = readCsvPart(p.csv, p.features, pack.rank, pack.size);
      const shared = ctx.allocArray(Float64Array, values.length);
      shared.set(values);
      return shared;
    }
    const from = partStart(p.rows, pack.size, pack.rank);
    const to = partStart(p.rows, pack.size, pack.rank + 1);
    return generateRows(p, from, to, ctx.allocArray(Float64Array, (to - from) * width));
  });
  // Pack mates exchange their parts in shared memory (ctx.pack: nothing crosses the pack boundary, and a
  // part from ctx.alloc reaches every mate as a view of the same bytes).
  const blocks = await clock.run('share', () => ctx.pack.allGather<Float64Array>(part));
  const data = { features: p.features, blocks };

  const configs = grid(p);
  const evaluated: number[] = [];
  const mine: number[] = [];
  await clock.run('train', () => {
    for (let g = me; g < configs.length; g += n) {
      evaluated.push(g);
      mine.push(g, cvScore(data, configs[g]!, p));
    }
  });

  const all = await clock.run('select', () => ctx.gather<Float64Array>(Float64Array.from(mine), 0));
  const datasetRows = blocks.reduce((s, b) => s + b.length / width, 0);
  const out: HpoResult = { loadedRows: part.length / width, datasetRows, evaluated, phases: clock.phases };
  if (all !== undefined) {
    const scores = new Array<number>(configs.length).fill(Number.NaN);
    for (const a of all) for (let i = 0; i < a.length; i += 2) scores[a[i]!] = a[i + 1]!;
    const top = best(scores.map((score, index) => ({ index, score })))!;
    out.best = { index: top.index, ...configs[top.index]!, score: top.score };
    out.scores = scores;
  }
  return out;
});
