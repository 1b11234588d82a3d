import { defineWorker } from '@kubeburst/worker-runtime';

/** A minimal flare that crosses packs: tells whether a transport works on this machine. */
export default defineWorker(async (ctx) => {
  const sum = await ctx.allReduce(new Int32Array([ctx.info.workerId + 1]), 'sum');
  return sum[0];
});
