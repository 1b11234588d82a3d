/**
 * The commands that read a BurstJob in a cluster (the current kube context).
 * @module
 */
export { statusCommand } from './status.js';
export { resultsCommand } from './results.js';
export { logsCommand } from './logs.js';
export { CLUSTER_EXIT } from './common.js';
