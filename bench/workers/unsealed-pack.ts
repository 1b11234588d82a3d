/**
 * bench:bcm's second pack entrypoint: the pack of `dist/pack.js` with its broker frames unsealed, so the
 * benchmark can put the cost of authentication next to the same flare authenticated. Never used outside
 * the benchmark: a pod, `kubeburst run` and the launcher's default all run `dist/pack.js`.
 * @module
 */
import { runPackProcess } from '@kubeburst/worker-runtime/pack-process';

runPackProcess({ sealBrokerFrames: false });
