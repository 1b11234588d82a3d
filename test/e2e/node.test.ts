import { resolve } from 'node:path';
import { Redis } from 'ioredis';
import { adminClient } from '../integration/harness/kube.js';
import { clusterEnv, helm, kubectl, REPO, run } from '../integration/harness/env.js';
import { nodeEnv } from '../integration/harness/node.js';
import { startOperatorModeNats } from '../conformance/nats-server.js';
import { e2eScenarios, type E2EDriver } from './scenario.js';

/**
 * The e2e scenarios (scenario.ts) on the local control plane's real node (test/cluster/node-up.sh): real
 * containers of the images built from the Dockerfiles, a CNI bridge, CoreDNS, and the brokers reached through
 * the node's forwarders. NATS flares go to a nats-server of the run's own in operator mode, on the node's
 * bridge address (by the node's NATS Service name, another port): the chart gets its account's signing key,
 * and every NATS flare runs as a user the operator minted for it. `make e2e-kind` runs the same scenarios on kind.
 */
e2eScenarios(async () => {
  const node = nodeEnv();
  const kube = await adminClient();
  const redis = new Redis({ host: '127.0.0.1', port: 6379, lazyConnect: true, maxRetriesPerRequest: 1 });
  const [key, value] = node.label.split('=') as [string, string];
  // Reached by the same Service name as the node's NATS (headless: its one address is the gateway).
  const nats = await startOperatorModeNats(node.gateway);
  const natsUrl = new URL(node.natsUrl);
  natsUrl.port = String(nats.port);
  const driver: E2EDriver = {
    name: `real node ${node.name}`,
    kube,
    kubectl: (args, input) => kubectl(args, input !== undefined ? { input } : {}).stdout,
    helm: (args) => helm(args).stdout,
    images: { operator: node.operatorImage, worker: node.workerImage, pullPolicy: 'Never' },
    placement: { nodeSelector: { [key]: value }, tolerations: [{ key, operator: 'Equal', value, effect: 'NoSchedule' }] },
    brokers: { redis: node.redisUrl, nats: natsUrl.toString(), natsAccount: nats.signingKey },
    async redisKeys(pattern) {
      const keys: string[] = [];
      let cursor = '0';
      do {
        const [next, batch] = await redis.scan(cursor, 'MATCH', pattern, 'COUNT', 1000);
        keys.push(...batch);
        cursor = next;
      } while (cursor !== '0');
      return keys;
    },
    async redisUsers() {
      return (await redis.call('ACL', 'USERS')) as string[];
    },
    async redis(args) {
      return redis.call(args[0]!, ...args.slice(1));
    },
    cliCluster: ['--kubeconfig', clusterEnv().kubeconfig],
    async buildWorkerProject(dir) {
      // buildah, into an OCI archive cached by a hash of the project's files and its base (images.sh), then
      // into the node's containerd unless it has it: an unchanged project costs a hash and a lookup.
      const built = run(resolve(REPO, 'test/cluster/images.sh'), ['project', dir, node.workerImage], { timeoutMs: 600_000 }).stdout;
      const out = Object.fromEntries(built.split('\n').flatMap((l) => (/^[A-Z]+=/.test(l) ? [[l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]] : [])));
      const ctr = (args: string[]): string => run('ctr', ['--address', node.containerdSocket, '--namespace', 'k8s.io', ...args], { timeoutMs: 300_000 }).stdout;
      if (ctr(['images', 'ls', '-q', `name==${out.IMAGE}`]).trim() === '') ctr(['images', 'import', out.ARCHIVE!]);
      return out.IMAGE!;
    },
    async killContainer(pod) {
      const id = String(pod.status.containerStatuses[0].containerID).replace(/^containerd:\/\//, '');
      run('ctr', ['--address', node.containerdSocket, '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
    },
    timeScale: 1,
    async close() {
      kube.close();
      redis.disconnect();
      await nats.stop();
    },
  };
  return driver;
});
