import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parse } from 'yaml';
import { generateRows } from '../../examples/hpo/data.js';
import { hpoReference } from '../../examples/hpo/reference.js';
import type { HpoParams } from '../../examples/hpo/worker.js';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { paths, type Json } from '../../operator/src/controller/kube.js';

/**
 * The end-to-end scenario, written once and run twice:
 *   - here, by `make test` (test/e2e/local.test.ts), on the local control plane with kwok nodes, the
 *     operator running with the Helm chart's ServiceAccount token;
 *   - by `make e2e-kind` (test/e2e/kind/flare.kind.ts), on a kind cluster where the operator is the chart's
 *     Deployment and the packs really run the worker image.
 * It applies the hpo example (examples/hpo/burstjob.yaml) as a BurstJob, waits for Succeeded and checks the
 * results in the ConfigMap the operator wrote against an independent, sequential exhaustive search
 * (examples/hpo/reference.ts), which neither the driver nor the worker code feeds.
 *
 * The only difference is `finishPacks`: on kind the packs compute and exit by themselves; kwok runs no
 * containers, so the local driver runs the example's worker code with the local launcher (the same pack
 * entrypoint a pod runs) and ends each pack the way its runtime would, reporting what those workers
 * returned through the termination message (see test/integration/harness/flare.ts).
 */
export const EXAMPLE = 'examples/hpo/burstjob.yaml';
/** Where the worker image (worker-runtime/Dockerfile) keeps the compiled examples. */
export const IMAGE_EXAMPLES = '/opt/kubeburst/examples/dist';

export interface E2EDriver {
  kube: KubeClient;
  namespace: string;
  /** Worker image (kind); undefined: the operator's default. */
  image?: string;
  /** Extra pod template (node pool selector and toleration on kwok). */
  template?: Json;
  timeoutMs: number;
  /** Called once every pack runs; kwok drivers compute the example's results and end the packs with them. */
  finishPacks(job: string, example: ExampleFlare): Promise<void>;
}

export interface ExampleFlare {
  name: string;
  manifest: Json;
  params: HpoParams;
}

export function exampleFlare(d: Pick<E2EDriver, 'namespace' | 'image' | 'template'>): ExampleFlare {
  const repo = resolve(import.meta.dirname, '../..');
  const doc = parse(readFileSync(resolve(repo, EXAMPLE), 'utf8')) as Json;
  const name = `${doc.metadata.name}-e2e`;
  const manifest = {
    ...doc,
    metadata: { name, namespace: d.namespace },
    spec: {
      ...doc.spec,
      function: { ...doc.spec.function, module: `${IMAGE_EXAMPLES}/hpo/worker.js`, ...(d.image ? { image: d.image } : {}) },
      timeouts: { joinSeconds: 120, scheduleSeconds: 120 },
      // Small enough for a kind node on a laptop: 4 packs × 4 workers × 100m.
      resources: { cpu: '100m', memory: '128Mi' },
      ...(d.template ? { template: d.template } : {}),
    },
  };
  return { name, manifest, params: doc.spec.params.value as HpoParams };
}

/** What an honest run must produce: worker 0 reports the configuration the sequential exhaustive search picks. */
export function reference(params: HpoParams): { index: number; score: number; scores: number[] } {
  return hpoReference({ features: params.features, blocks: [generateRows(params, 0, params.rows)] }, params, params);
}

async function waitPhase(d: E2EDriver, name: string, phases: string[]): Promise<Json> {
  const deadline = Date.now() + d.timeoutMs;
  let job: Json | undefined;
  for (;;) {
    job = await d.kube.get<Json>(paths.burstjob(d.namespace, name));
    if (phases.includes(job.status?.phase)) return job;
    if (job.status?.phase === 'Failed') throw new Error(`${name} failed: ${JSON.stringify(job.status.conditions)}`);
    if (Date.now() > deadline) throw new Error(`${name} not ${phases.join('/')} after ${d.timeoutMs} ms: ${JSON.stringify(job.status)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export interface E2EOutcome {
  job: Json;
  results: unknown[];
  best: number;
  expectedBest: number;
}

/** Applies the example, waits for it to succeed, and returns its results next to the reference. */
export async function runExampleFlare(d: E2EDriver): Promise<E2EOutcome> {
  const ex = exampleFlare(d);
  const ref = reference(ex.params);
  await d.kube.create(paths.burstjobs(d.namespace), ex.manifest);
  const started = await waitPhase(d, ex.name, ['Running', 'Succeeded']);
  if (started.status.phase === 'Running') await d.finishPacks(ex.name, ex);
  const job = await waitPhase(d, ex.name, ['Succeeded']);
  const cm = await d.kube.get<Json>(paths.configmap(d.namespace, job.status.results.configMap));
  const results = JSON.parse(cm.data[job.status.results.key]).workers as unknown[];
  return { job, results, best: (results[0] as { best: { index: number } }).best.index, expectedBest: ref.index };
}
