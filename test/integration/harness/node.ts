import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { stateDir } from './env.js';

/** The real node that test/cluster/node-up.sh added to the local cluster (<state>/node/env). */
export interface NodeEnv {
  name: string;
  /** `key=value`: the node's label (and its NoSchedule taint's key and value). */
  label: string;
  workerImage: string;
  operatorImage: string;
  redisUrl: string;
  natsUrl: string;
  /** The host's address on the pods' bridge: a server the tests start there is reachable from pods. */
  gateway: string;
  containerdSocket: string;
}

export function nodeEnv(): NodeEnv {
  const file = resolve(stateDir(), 'node/env');
  if (!existsSync(file)) throw new Error(`no real node in ${stateDir()}: run test/cluster/node-up.sh as root (the jest globalSetup of the cluster project does)`);
  const env = Object.fromEntries(
    readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => /^[A-Z_]+=/.test(l))
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return {
    name: env.KUBEBURST_NODE_NAME!,
    label: env.KUBEBURST_NODE_LABEL!,
    workerImage: env.KUBEBURST_NODE_WORKER_IMAGE!,
    operatorImage: env.KUBEBURST_NODE_OPERATOR_IMAGE!,
    redisUrl: env.KUBEBURST_NODE_REDIS_URL!,
    natsUrl: env.KUBEBURST_NODE_NATS_URL!,
    gateway: env.KUBEBURST_NODE_GATEWAY!,
    containerdSocket: env.KUBEBURST_NODE_CONTAINERD_SOCK!,
  };
}
