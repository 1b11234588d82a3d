import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import type { Flares } from '../integration/harness/flare.js';
import { operatorSuite } from '../integration/harness/suite.js';
import { runExampleFlare, type ExampleFlare } from './scenario.js';

/** The e2e scenario (scenario.ts) on the local control plane; `make e2e-kind` runs the same on kind. */
const suite = operatorSuite('e2e');
let flares: Flares;

beforeAll(async () => {
  flares = await suite.poolOf('pool', 2, 16);
});

/**
 * kwok runs no containers: the example's worker code runs here instead, with the local launcher (one process
 * per pack, the pack entrypoint a pod runs, the same size, granularity, params and transport), and what its
 * workers return is what the kwok packs report.
 */
async function computeLocally(ex: ExampleFlare): Promise<unknown[]> {
  const modulePath = resolve(import.meta.dirname, '../../examples/dist/hpo/worker.js');
  if (!existsSync(modulePath)) throw new Error(`${modulePath} is missing: build the examples first (npx tsc -b, or make build)`);
  const spec = ex.manifest.spec;
  const flare = await runLocalFlare({ size: spec.size, granularity: spec.granularity, transport: { kind: spec.transport.kind }, modulePath, params: spec.params, operationTimeoutMs: 60_000 });
  if (!flare.ok) throw new Error(`the hpo example failed locally: ${JSON.stringify(flare.workers.filter((w) => !w.ok).map((w) => w.error)).slice(0, 2000)}`);
  return flare.workers.map((w) => w.result);
}

test('the hpo example BurstJob succeeds and its results reach the submitter', async () => {
  const out = await runExampleFlare({
    kube: suite.kube,
    namespace: suite.ns,
    template: flares.pool.template,
    timeoutMs: 60_000,
    finishPacks: async (job, ex) => {
      const results = await computeLocally(ex);
      await flares.complete(job, (w) => results[w]);
    },
  });
  expect(out.job.status.results).toMatchObject({ workers: 16, missing: 0 });
  expect(out.results).toHaveLength(16);
  // The worker code's answer, carried by the operator into the results ConfigMap, is the sequential search's.
  expect(out.best).toBe(out.expectedBest);
  expect(out.job.status.attempt.layout).toBe('4x4');
});
