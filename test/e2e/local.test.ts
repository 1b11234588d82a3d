import { randomBytes } from 'node:crypto';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { Flares } from '../integration/harness/flare.js';
import { adminClient, createNamespace, deleteNamespace } from '../integration/harness/kube.js';
import { OperatorUnderTest } from '../integration/harness/operator.js';
import { NodePool } from '../integration/harness/pool.js';
import { runExampleFlare } from './scenario.js';

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

test('the hpo example BurstJob succeeds and its results reach the submitter', async () => {
  const flares = new Flares(kube, ns, pool);
  const out = await runExampleFlare({ kube, namespace: ns, template: pool.template, timeoutMs: 60_000, finishPacks: (job, resultOf) => flares.complete(job, resultOf) });
  expect(out.job.status.results).toMatchObject({ workers: 16, missing: 0 });
  expect(out.results).toHaveLength(16);
  expect(out.best).toBe(out.expectedBest);
  expect(out.job.status.attempt.layout).toBe('4x4');
});
