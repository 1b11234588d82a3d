import { spawnSync } from 'node:child_process';
import { basename } from 'node:path';
import { KubeClient, loadKubeConfig, type Json } from '../../../operator/src/controller/kube.js';
import { e2eScenarios, type E2EDriver } from '../scenario.js';

/**
 * `make e2e-kind`: the e2e scenarios (scenario.ts) on a kind cluster, with the images `docker build` made
 * from the Dockerfiles and `kind load`ed. Redis and NATS run as pods in kubeburst-infra. Not part of
 * `make test` (needs Docker and kind); `make test` runs the same scenarios on its real node.
 */
const CONTEXT = process.env.KUBEBURST_E2E_CONTEXT ?? 'kind-kubeburst-e2e';
/** kind names a cluster's context kind-<cluster>. */
const CLUSTER = CONTEXT.replace(/^kind-/, '');
const INFRA = 'kubeburst-infra';

function sh(cmd: string, args: string[], input?: string): string {
  const r = spawnSync(cmd, args, { input, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}:\n${r.stderr}${r.stdout}`);
  return r.stdout;
}
const kubectl = (args: string[], input?: string): string => sh('kubectl', ['--context', CONTEXT, ...args], input);

const BROKERS = `
apiVersion: v1
kind: Namespace
metadata: {name: ${INFRA}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: redis, namespace: ${INFRA}}
spec:
  selector: {matchLabels: {app: redis}}
  template:
    metadata: {labels: {app: redis}}
    spec: {containers: [{name: redis, image: "redis:7-alpine", args: ["--save", "", "--appendonly", "no"], ports: [{containerPort: 6379}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: redis, namespace: ${INFRA}}
spec: {selector: {app: redis}, ports: [{port: 6379}]}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: nats, namespace: ${INFRA}}
spec:
  selector: {matchLabels: {app: nats}}
  template:
    metadata: {labels: {app: nats}}
    spec: {containers: [{name: nats, image: "nats:2.10-alpine", args: ["-js"], ports: [{containerPort: 4222}]}]}
---
apiVersion: v1
kind: Service
metadata: {name: nats, namespace: ${INFRA}}
spec: {selector: {app: nats}, ports: [{port: 4222}]}
`;

e2eScenarios(async () => {
  const kc = loadKubeConfig(process.env.KUBECONFIG);
  kc.setCurrentContext(CONTEXT);
  const kube = await KubeClient.create(kc, { qps: 100, burst: 200 });
  kubectl(['apply', '-f', '-'], BROKERS);
  kubectl(['-n', INFRA, 'rollout', 'status', 'deploy/redis', 'deploy/nats', '--timeout=300s']);
  const images = {
    operator: process.env.KUBEBURST_E2E_OPERATOR_IMAGE ?? 'docker.io/kubeburst/operator:e2e',
    worker: process.env.KUBEBURST_E2E_WORKER_IMAGE ?? 'docker.io/kubeburst/worker:e2e',
    pullPolicy: 'Never' as const,
  };
  const driver: E2EDriver = {
    name: `kind (${CONTEXT})`,
    kube,
    kubectl,
    helm: (args) => sh('helm', ['--kube-context', CONTEXT, ...args]),
    images,
    placement: {},
    brokers: { redis: `redis://redis.${INFRA}.svc:6379`, nats: `nats://nats.${INFRA}.svc:4222` },
    async redisKeys(pattern) {
      return kubectl(['-n', INFRA, 'exec', 'deploy/redis', '--', 'redis-cli', '--scan', '--pattern', pattern])
        .split('\n')
        .filter((k) => k !== '');
    },
    async redisUsers() {
      return kubectl(['-n', INFRA, 'exec', 'deploy/redis', '--', 'redis-cli', 'ACL', 'USERS'])
        .split('\n')
        .filter((u) => u !== '');
    },
    async redis(args) {
      return kubectl(['-n', INFRA, 'exec', 'deploy/redis', '--', 'redis-cli', ...args]);
    },
    cliCluster: ['--context', CONTEXT],
    async buildWorkerProject(dir) {
      const image = `docker.io/kubeburst/${basename(dir)}:e2e`;
      sh('docker', ['build', '--build-arg', `WORKER_IMAGE=${images.worker}`, '-t', image, dir]);
      sh(process.env.KIND ?? 'kind', ['load', 'docker-image', '--name', CLUSTER, image]);
      return image;
    },
    async killContainer(pod: Json) {
      // A kind node is a Docker container named after the node; containerd runs inside it.
      const id = String(pod.status.containerStatuses[0].containerID).replace(/^containerd:\/\//, '');
      sh('docker', ['exec', pod.spec.nodeName, 'ctr', '--namespace', 'k8s.io', 'tasks', 'kill', '--signal', 'SIGKILL', id]);
    },
    timeScale: 2,
    close: () => kube.close(),
  };
  return driver;
});
