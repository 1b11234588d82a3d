/**
 * The operator's building blocks, for tools that drive a cluster the same way (benchmarks, e2e tests).
 * @module
 */
export { KubeClient, ApiError, loadKubeConfig, paths, PATCH, type Json, type KubeClientOptions } from './kube.js';
export { Informer, keyOf } from './informer.js';
export { Logger } from './log.js';
export { parseConfig, type Config } from './config.js';
