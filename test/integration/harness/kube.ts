import { KubeClient, loadKubeConfig, paths, type Json } from '../../../operator/src/controller/kube.js';
import { clusterEnv } from './env.js';
import { waitFor } from './wait.js';

export { paths, type Json };

/** An admin client (system:masters) for the tests themselves; the operator runs with its own token. */
export async function adminClient(): Promise<KubeClient> {
  return KubeClient.create(loadKubeConfig(clusterEnv().kubeconfig), { qps: 2000, burst: 2000, maxSockets: 32, userAgent: 'kubeburst-tests' });
}

export async function createNamespace(kube: KubeClient, name: string): Promise<void> {
  await kube.create('/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name, labels: { 'kubeburst.io/test': 'true' } } });
  // Pods in a namespace need its default ServiceAccount (admission); the controller-manager makes it.
  await waitFor(`ServiceAccount default in ${name}`, () => kube.get(`/api/v1/namespaces/${name}/serviceaccounts/default`).then(() => true), 30_000);
}

export async function deleteNamespace(kube: KubeClient, name: string): Promise<void> {
  await kube.delete(`/api/v1/namespaces/${name}`).catch(() => undefined);
}

export async function list(kube: KubeClient, path: string, labelSelector?: string): Promise<Json[]> {
  const r = await kube.get<{ items: Json[] }>(`${path}${labelSelector ? `?labelSelector=${encodeURIComponent(labelSelector)}` : ''}`);
  return r.items;
}
