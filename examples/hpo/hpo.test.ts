import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { appModule, BROKERS, loadManifest, NATS_URL, runOk } from '../testing/flares.js';
import { generateRows, readCsvPart, writeCsv, type DataSpec } from './data.js';
import { cvScore, grid } from './model.js';
import { hpoReference } from './reference.js';
import type { HpoParams, HpoResult } from './worker.js';

const SPEC: HpoParams = {
  rows: 600,
  features: 6,
  seed: 4,
  folds: 3,
  epochs: 15,
  lambdas: [0.001, 0.03, 1],
  learningRates: [0.3, 1],
};
const whole = { features: SPEC.features, blocks: [generateRows(SPEC, 0, SPEC.rows)] };
const reference = hpoReference(whole, SPEC, SPEC);
/** Scores as they come back through JSON (a diverged configuration's +Infinity becomes null). */
const asJson = (x: unknown): unknown => JSON.parse(JSON.stringify(x));

let dir: string;
let csv: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kubeburst-hpo-'));
  csv = join(dir, 'data.csv');
  writeCsv(csv, SPEC);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('data set and model', () => {
  test('CSV byte ranges split the rows disjointly and parse back to the exact generated values', () => {
    for (const parts of [1, 2, 3, 7, 64]) {
      const got = Array.from({ length: parts }, (_, k) => readCsvPart(csv, SPEC.features, k, parts)).flat();
      expect(got).toEqual(Array.from(whole.blocks[0]!));
    }
  });

  test('scores do not depend on how the rows are split into blocks', () => {
    const blocks = [generateRows(SPEC, 0, 1), generateRows(SPEC, 1, 250), new Float64Array(0), generateRows(SPEC, 250, SPEC.rows)];
    const h = grid(SPEC)[2]!;
    expect(cvScore({ features: SPEC.features, blocks }, h, SPEC)).toBe(cvScore(whole, h, SPEC));
  });

  test('the search is not degenerate: scores differ and the best beats the prior (log 2)', () => {
    expect(new Set(reference.scores).size).toBe(reference.scores.length);
    expect(reference.score).toBeLessThan(Math.log(2));
  });
});

describe.each(BROKERS)('hyperparameter search over $kind', ({ kind, url }) => {
  test.each([
    [4, 1, 'generated'],
    [4, 3, 'csv'],
  ])('burst %i at granularity %i (%s data) finds the exhaustive search’s best configuration', async (n, g, source) => {
    const params = source === 'csv' ? { ...SPEC, csv } : SPEC;
    const { results } = await runOk<HpoResult>({ size: n, granularity: g, transport: { kind, url }, modulePath: appModule('hpo'), params: { value: params } });
    const root = results[0]!;
    expect(root.best).toEqual({ index: reference.index, ...grid(SPEC)[reference.index]!, score: reference.score });
    expect(root.scores).toEqual(asJson(reference.scores));
    expect(results.flatMap((r) => r.evaluated).sort((a, b) => a - b)).toEqual(grid(SPEC).map((_, i) => i));
    // Loaded once per pack: the pack mates' parts add up to one copy of the data set per pack.
    for (const r of results) expect(r.datasetRows).toBe(SPEC.rows);
    expect(results.reduce((s, r) => s + r.loadedRows, 0)).toBe(Math.ceil(n / g) * SPEC.rows);
  });
});

test('the BurstJob manifest is valid and its flare finds the exhaustive search’s best configuration', async () => {
  const { manifest, modulePath } = loadManifest('hpo');
  const p = manifest.spec.params!.value as HpoParams;
  const { results } = await runOk<HpoResult>({
    size: manifest.spec.size,
    granularity: manifest.spec.granularity!,
    transport: { kind: 'nats', url: NATS_URL },
    modulePath,
    params: { value: p },
  });
  const ref = hpoReference({ features: p.features, blocks: [generateRows(p as DataSpec, 0, p.rows)] }, p, p);
  expect(results[0]!.best?.index).toBe(ref.index);
  expect(results[0]!.best?.score).toBe(ref.score);
});
