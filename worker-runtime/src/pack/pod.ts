import { DIRECT_DEFAULT_PORT } from '../transport/direct-address.js';

/**
 * The pod half of the operator–pack contract: where a pack pod's runtime listens and what it reads and
 * writes, next to the environment it parses (pack/config.ts). The operator builds pods from these values
 * (operator/src/planner/pods.ts), so the two sides cannot drift.
 */
export const POD = {
  container: 'pack',
  /** /readyz (200 once every pack joined the start barrier) and /healthz. */
  httpPort: 8080,
  httpPortName: 'kb-http',
  readinessPath: '/readyz',
  livenessPath: '/healthz',
  /** TCP port of the direct transport between packs; every pack pod listens on 0.0.0.0 there. */
  directPort: DIRECT_DEFAULT_PORT,
  directPortName: 'kb-direct',
  /** TCP port of the liveness links between packs (every transport); listens on 0.0.0.0 there. */
  linkPort: DIRECT_DEFAULT_PORT + 1,
  linkPortName: 'kb-link',
  /** The attempt's Secret, mounted read-only: KB_SECRET_FILE = secretDir/secretKey. */
  secretDir: '/etc/kubeburst/secret',
  secretKey: 'secret',
  /** With per-burst NATS users: the burst user's `.creds` file in the same Secret (KB_TRANSPORT_CREDS_FILE). */
  natsCredsKey: 'nats.creds',
  /** With per-burst Redis users: the burst user's password in the same Secret (KB_TRANSPORT_PASSWORD_FILE). */
  brokerPasswordKey: 'broker-password',
  /** A broker URL written into spec.transport.url, in the same Secret (KB_TRANSPORT_URL_FILE): a password in it stays out of the pod. */
  brokerUrlKey: 'broker-url',
  /**
   * spec.transport.secretRef's Secret, its one key mounted read-only (optional: a Secret that is not there
   * is the pack's clear error, not a pod stuck mounting): KB_TRANSPORT_URL_FILE = transportDir/transportUrlKey.
   */
  transportDir: '/etc/kubeburst/transport',
  transportUrlKey: 'url',
  /** The params ConfigMap's mount and key: KB_PARAMS_FILE = paramsDir/paramsKey. */
  paramsDir: '/etc/kubeburst/params',
  paramsKey: 'params.json',
  /** Where the pack writes its compact report (KB_TERMINATION_LOG); the kubelet copies it into the pod status. */
  terminationLog: '/dev/termination-log',
  /** A writable emptyDir: the root filesystem is read-only. */
  tmpDir: '/tmp',
  /** uid/gid the pack runs as unless the image's numeric USER says otherwise (the worker image's `node`). */
  uid: 1000,
} as const;
