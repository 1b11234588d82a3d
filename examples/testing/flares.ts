import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { parseBurstJob, type BurstJobManifest } from '@kubeburst/api';
import { runLocalFlare, type FlareResult, type LocalFlareOptions } from '../../worker-runtime/src/launch/local.js';

/** Helpers for the examples' tests (not compiled into examples/dist). */
export { BROKERS, NATS_URL, REDIS_URL } from '../../test/conformance/helpers.js';

export const EXAMPLES = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Compiled worker module of an app (`npx tsc -b` builds it before jest runs). */
export function appModule(app: string): string {
  return join(EXAMPLES, 'dist', app, 'worker.js');
}

/** An app's BurstJob manifest, validated with the operator's schema, and its module's absolute path. */
export function loadManifest(app: string): { manifest: BurstJobManifest; modulePath: string } {
  const file = join(EXAMPLES, app, 'burstjob.yaml');
  const manifest = parseBurstJob(parse(readFileSync(file, 'utf8')));
  return { manifest, modulePath: resolve(dirname(file), manifest.spec.function.module) };
}

/** Runs a flare and fails with every worker's error and the packs' stderr when it does not succeed. */
export async function runOk<R>(o: LocalFlareOptions): Promise<{ flare: FlareResult; results: R[] }> {
  const flare = await runLocalFlare({ operationTimeoutMs: 60_000, ...o });
  if (!flare.ok) {
    const errors = flare.workers.filter((w) => !w.ok).map((w) => `worker ${w.workerId}: ${w.error?.name}: ${w.error?.message}`);
    throw new Error(`flare ${flare.burstId} failed:\n${errors.slice(0, 8).join('\n')}\nstderr: ${JSON.stringify(flare.stderr).slice(0, 3000)}`);
  }
  return { flare, results: flare.workers.map((w) => w.result as R) };
}
