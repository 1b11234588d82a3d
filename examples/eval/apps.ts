import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generateRows, writeCsv } from '../hpo/data.js';
import { grid } from '../hpo/model.js';
import { hpoReference } from '../hpo/reference.js';
import type { HpoParams, HpoResult } from '../hpo/worker.js';
import { edgeCount, vertexCount } from '../pagerank/graph.js';
import { pagerankReference } from '../pagerank/reference.js';
import { checkRanks } from '../pagerank/verify.js';
import type { PageRankParams, PageRankResult } from '../pagerank/worker.js';
import { terasortChecksum } from '../terasort/reference.js';
import { teravalidate } from '../terasort/validate.js';
import type { TeraSortParams, TeraSortResult } from '../terasort/worker.js';

/** examples/dist: the compiled worker modules sit next to this file's directory. */
const DIST = fileURLToPath(new URL('..', import.meta.url));

export type AppName = 'pagerank' | 'terasort' | 'hpo';
export const APP_NAMES: readonly AppName[] = ['pagerank', 'terasort', 'hpo'];

/** One application at evaluation scale: its module, params, and how to check a flare's results. */
export interface EvalApp {
  name: AppName;
  title: string;
  /** What the app computes at this scale, for the report. */
  workload: string;
  modulePath: string;
  params: unknown;
  /** Why the results are wrong, or null (compares with the sequential reference computed once). */
  verify(results: unknown[]): string | null;
}

export type Scale = 'full' | 'quick';

export function pagerankApp(scale: Scale): EvalApp {
  const p: PageRankParams =
    scale === 'full' ? { scale: 16, edgeFactor: 16, seed: 42, iterations: 10, damping: 0.85 } : { scale: 12, edgeFactor: 8, seed: 42, iterations: 5, damping: 0.85 };
  const reference = pagerankReference(p, p);
  return {
    name: 'pagerank',
    title: 'PageRank',
    workload: `R-MAT graph, ${vertexCount(p).toLocaleString('en')} vertices, ${edgeCount(p).toLocaleString('en')} edges, ${p.iterations} iterations (rank vector ${(8 * vertexCount(p)) / 1024} KiB)`,
    modulePath: join(DIST, 'pagerank', 'worker.js'),
    params: p,
    verify: (results) => checkRanks(results as PageRankResult[], reference),
  };
}

export function terasortApp(scale: Scale): EvalApp {
  const p: TeraSortParams = { records: scale === 'full' ? 200_000 : 20_000, seed: 7, samplesPerWorker: 256 };
  const expected = { records: p.records, checksum: terasortChecksum(p.records, p.seed) };
  return {
    name: 'terasort',
    title: 'TeraSort',
    workload: `${p.records.toLocaleString('en')} records of 100 bytes (${(p.records * 100) / 1e6} MB)`,
    modulePath: join(DIST, 'terasort', 'worker.js'),
    params: p,
    verify: (results) => {
      const problems = teravalidate(results as TeraSortResult[], expected);
      return problems.length === 0 ? null : problems.slice(0, 3).join('; ');
    },
  };
}

/** The data set is written once as CSV under `workDir`; packs fetch byte ranges of it. */
export function hpoApp(scale: Scale, workDir: string): EvalApp {
  const base = scale === 'full' ? { rows: 5_000, features: 40, epochs: 10 } : { rows: 1_000, features: 10, epochs: 5 };
  mkdirSync(workDir, { recursive: true });
  const csv = join(workDir, `hpo-${base.rows}x${base.features}.csv`);
  const p: HpoParams = {
    ...base,
    seed: 11,
    folds: 4,
    lambdas: [0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3],
    learningRates: [0.25, 0.5, 1, 2],
    csv,
  };
  const bytes = writeCsv(csv, p);
  const reference = hpoReference({ features: p.features, blocks: [generateRows(p, 0, p.rows)] }, p, p);
  return {
    name: 'hpo',
    title: 'Hyperparameter search',
    workload: `${grid(p).length} configurations × ${p.folds}-fold CV, logistic regression (${p.epochs} epochs of gradient descent) on ${p.rows.toLocaleString('en')} rows × ${p.features} features, read from a ${(bytes / 1e6).toFixed(1)} MB CSV`,
    modulePath: join(DIST, 'hpo', 'worker.js'),
    params: p,
    verify: (results) => {
      const root = (results as HpoResult[])[0];
      if (root?.best === undefined) return 'worker 0 reported no best configuration';
      if (root.best.index !== reference.index || root.best.score !== reference.score) {
        return `best is #${root.best.index} (score ${root.best.score}), the exhaustive search found #${reference.index} (score ${reference.score})`;
      }
      return null;
    },
  };
}
