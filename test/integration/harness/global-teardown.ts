import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

/**
 * Jest globalTeardown of the `cluster` project: stops the control plane when this run started it, so a
 * test run leaves no processes behind. KUBEBURST_KEEP_CLUSTER=1 keeps it for the next run (a warm start
 * then takes ~0 s instead of ~9 s).
 */
const REPO = resolve(import.meta.dirname, '../../..');

export default async function globalTeardown(): Promise<void> {
  const state = process.env.KUBEBURST_STOP_CLUSTER;
  if (state === undefined || process.env.KUBEBURST_KEEP_CLUSTER === '1') return;
  const r = spawnSync(resolve(REPO, 'test/cluster/down.sh'), [state], { cwd: REPO, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) process.stderr.write(`[cluster] down.sh exited ${r.status}: stop it with test/cluster/down.sh ${state}\n`);
}
