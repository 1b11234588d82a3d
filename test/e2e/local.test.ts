import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import { Flares } from '../integration/harness/flare.js';
import { adminClient, createNamespace, deleteNamespace } from '../integration/harness/kube.js';
import { OperatorUnderTest } from '../integration/harness/operator.js';
import { NodePool } from '../integration/harness/pool.js';
import { runExampleFlare, type ExampleFlare } from './scenario.js';

/** The e2e scenario (scenario.ts) on the local control plane; `make e2e-kind` runs the same on kind. */
const ns = `e2e-${randomBytes(3).toString('hex')}`;
let kube: KubeClient;
let pool: NodePool;

beforeAll(async () => {
  kube = await adminClient();
  await createNamespace(kube, ns);
  pool = new NodePool(kube, ns);
  await pool.add(2, 16);
  const op = await OperatorUnderTest.install(kube, { release: ns, namespace: ns });
  await op.start();
});

afterAll(async () => {
  await OperatorUnderTest.stopAll();
  for (const op of OperatorUnderTest.all) op.uninstall();
  await deleteNamespace(kube, ns);
  await pool?.delete();
  kube?.close();
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
  const flares = new Flares(kube, ns, pool);
  const out = await runExampleFlare({
    kube,
    namespace: ns,
    template: pool.template,
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
