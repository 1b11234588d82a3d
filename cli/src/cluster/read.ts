import { COMPONENTS, LABELS } from '@kubeburst/api';
import { cliPaths, KubeApiError, type CliKube, type Json } from './kube.js';

/** Reading a BurstJob and what it owns, for the cluster commands. */

/** The BurstJob, or undefined when the namespace has none of that name. */
export async function getJob(kube: CliKube, name: string): Promise<Json | undefined> {
  try {
    return await kube.get(cliPaths.burstjob(kube.namespace, name));
  } catch (err) {
    // A 404 naming the resource type itself means the CRD is not installed: that is no "not found".
    if (err instanceof KubeApiError && err.status === 404 && err.reason === 'NotFound' && !/the server could not find the requested resource/.test(err.message)) return undefined;
    throw err;
  }
}

export const notFoundMessage = (kube: CliKube, name: string): string =>
  `BurstJob '${name}' not found in namespace '${kube.namespace}' (context ${kube.context}; another namespace: -n NS)`;

/** Pages of 500 pods, at most 200 pages: a job's pods, never the namespace's. */
const PAGE = 500;
const MAX_PAGES = 200;

/** The job's pack pods (by uid: a job re-created under the same name never sees its predecessor's). */
export async function jobPods(kube: CliKube, job: Json): Promise<Json[]> {
  const selector = `${LABELS.jobUid}=${job.metadata.uid},${LABELS.component}=${COMPONENTS.pack}`;
  const out: Json[] = [];
  let cont: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const r = await kube.get<{ items: Json[]; metadata?: { continue?: string } }>(cliPaths.pods(kube.namespace, selector, PAGE, cont));
    out.push(...r.items);
    cont = r.metadata?.continue || undefined;
    if (cont === undefined) break;
  }
  return out;
}

/** The ConfigMap, or undefined when it does not exist. */
export async function getConfigMap(kube: CliKube, name: string): Promise<Json | undefined> {
  try {
    return await kube.get(cliPaths.configmap(kube.namespace, name));
  } catch (err) {
    if (err instanceof KubeApiError && err.status === 404) return undefined;
    throw err;
  }
}
