import { KubeClient, loadKubeConfig, type Json } from '../../../operator/src/controller/kube.js';
import { runExampleFlare } from '../scenario.js';

/**
 * `make e2e-kind`: the e2e scenario on a kind cluster, where the chart's operator Deployment runs and the
 * packs really execute the worker image. Not part of `make test` (needs Docker and kind); run by
 * `npm test -- --config test/e2e/kind/jest.config.js`.
 */
const NS = process.env.KUBEBURST_E2E_NAMESPACE ?? 'kubeburst-e2e';
const IMAGE = process.env.KUBEBURST_E2E_WORKER_IMAGE ?? 'kubeburst/worker:e2e';
let kube: KubeClient;

beforeAll(async () => {
  const kc = loadKubeConfig(process.env.KUBECONFIG);
  if (process.env.KUBEBURST_E2E_CONTEXT) kc.setCurrentContext(process.env.KUBEBURST_E2E_CONTEXT);
  kube = await KubeClient.create(kc, { qps: 100, burst: 200 });
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name: NS } }).catch(() => undefined);
  await kube.delete(`/apis/kubeburst.io/v1alpha1/namespaces/${NS}/burstjobs/hpo-e2e`).catch(() => undefined);
});

afterAll(() => kube?.close());

test('the hpo example runs on kind, succeeds, and finds the reference search’s best configuration', async () => {
  const out = await runExampleFlare({ kube, namespace: NS, image: IMAGE, timeoutMs: 600_000, finishPacks: async () => undefined });
  expect(out.job.status.results).toMatchObject({ workers: 16, missing: 0 });
  expect(out.best).toBe(out.expectedBest);
  expect((out.job.status.conditions as Json[]).find((c) => c.type === 'Started')?.status).toBe('True');
}, 900_000);
