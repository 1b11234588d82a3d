import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/**
 * Jest globalSetup of the `cluster` project: runs once per `npm test` when an integration or e2e test is
 * selected. Starts the local control plane (builds it first if the cache is cold; a no-op when it already
 * runs), makes sure helm is built, builds the operator the tests start as a child process, and installs the CRD.
 *
 * Jest loads this file outside its module mapper, so it imports only Node built-ins.
 */
const REPO = resolve(import.meta.dirname, '../../..');
const CRD_FILE = 'crds/kubeburst.io_burstjobs.yaml';

export default async function globalSetup(): Promise<void> {
  const t0 = Date.now();
  const state = process.env.KUBEBURST_CLUSTER_DIR ?? resolve(REPO, '.cache/cluster-state');
  const step = (what: string, cmd: string, args: string[]): void => {
    const r = spawnSync(cmd, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'inherit'], encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`${what} failed (${cmd} ${args.join(' ')} exited ${r.status}): see the output above`);
  };
  const up = spawnSync(resolve(REPO, 'test/cluster/up.sh'), [state], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
  process.stderr.write(up.stderr);
  if (up.status !== 0) throw new Error(`starting the local control plane failed (test/cluster/up.sh exited ${up.status}): see the output above`);
  // Stop it afterwards only if this run started it (a developer's running cluster stays up).
  if (!/already running and healthy/.test(up.stderr)) process.env.KUBEBURST_STOP_CLUSTER = state;
  // The real node (kubelet, containerd, CNI, CoreDNS) and the images its pods run; a no-op when it runs.
  // KUBEBURST_REAL_NODE=0: kwok nodes only (scripts/test.sh's run on the oldest control plane: the machine's
  // one real node belongs to the main cluster); the e2e project then fails, as it should.
  if (process.env.KUBEBURST_REAL_NODE !== '0') {
    const node = spawnSync(resolve(REPO, 'test/cluster/node-up.sh'), [state], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });
    process.stderr.write(node.stderr);
    if (node.status !== 0) throw new Error(`starting the real node failed (test/cluster/node-up.sh exited ${node.status}): see the output above`);
  }
  // The chart tests render with helm; up.sh builds only what the control plane runs.
  step('building helm', resolve(REPO, 'test/cluster/build.sh'), ['helm']);
  step('building the operator', 'npx', ['tsc', '-b', 'operator']);
  const env = readFileSync(resolve(state, 'env'), 'utf8');
  const kubectl = resolve(/^KUBEBURST_KUBE_BIN_DIR=(.*)$/m.exec(env)![1]!, 'kubectl');
  const kubeconfig = resolve(state, 'kubeconfig');
  step('installing the CRD', kubectl, ['--kubeconfig', kubeconfig, 'apply', '--server-side', '--force-conflicts', '-f', resolve(REPO, CRD_FILE)]);
  step('waiting for the CRD', kubectl, ['--kubeconfig', kubeconfig, 'wait', '--for', 'condition=Established', '--timeout=60s', 'crd/burstjobs.kubeburst.io']);
  process.stderr.write(`\n[cluster] control plane ready in ${((Date.now() - t0) / 1000).toFixed(1)} s (${state})\n`);
}
