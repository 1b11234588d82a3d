/**
 * `@kubeburst/worker-runtime` — the API a worker function uses, and the pieces a launcher needs.
 *
 * A worker module's default export is {@link defineWorker}`(fn)`; `fn` gets a {@link WorkerContext}.
 * The rules every collective follows are on {@link WorkerContext}; runnable examples are in
 * `examples/collectives/`.
 * @module @kubeburst/worker-runtime
 */
export { defineWorker, type WorkerFn, type WorkerDefinition } from './worker.js';
export type { WorkerContext, BurstInfo, CallOptions, CollectiveOps, PackCollectives } from './context.js';
export type { TrafficCounters } from './communicator/stats.js';
export { encodeJson, decodeJson, concatBytes, type Payload, type TypedArray } from './protocol/dtype.js';
export type { ReduceOp, BuiltinOp, ReduceFn } from './ops.js';
export { decodeLayout, encodeLayout, PackLayout, type PackRange } from './topology.js';
export { memoryHere } from './memory.js';
export { minimumRemote, COLLECTIVES, type CollectiveName } from './collectives/minimum.js';
export {
  KubeburstError,
  ConfigError,
  FrameError,
  CollectiveTimeoutError,
  CollectiveMismatchError,
  BurstAbortedError,
  PeerLostError,
  TransportError,
  UsageError,
  type SerializedError,
  type TimeoutContext,
} from './errors.js';
export type { PackReport, PackEvent, WireCounters } from './pack/reports.js';
export type { WorkerReport, WorkerTimings, AbortInfo } from './communicator/messages.js';
export { ENV as PACK_ENV, DEFAULTS as PACK_DEFAULTS, packConfigFromEnv, type PackConfig } from './pack/config.js';
export { POD as PACK_POD } from './pack/pod.js';
export { newSecret } from './security/keys.js';
export { createRedisBurstUser, deleteRedisBurstUser, redisUserOf } from './transport/redis-users.js';
export {
  mintNatsBurstUser,
  natsAccountSigner,
  natsCredsFile,
  natsUserTtlSeconds,
  type NatsAccountKey,
  type NatsBurstUser,
  type NatsSigner,
  type NatsUserCreds,
} from './transport/nats-users.js';
export { directUrlTemplate } from './transport/direct-address.js';
export type { TransportKind } from './transport/types.js';
export { cleanupBurst } from './launch/cleanup.js';
export { redactText, redactUrl, urlSecrets } from './redact.js';
export { abortSummary, parseTerminationReport, TERMINATION_MESSAGE_MAX_BYTES, terminationReport, type TerminationReport } from './pack/termination.js';
