import { decodeJson, defineWorker, encodeJson, type WorkerContext } from '@kubeburst/worker-runtime';

export interface HelloParams {
  greeting: string;
}

/**
 * The smallest flare worth running: every worker adds its id with allReduce (pack mates combine in shared
 * memory, one message per pack crosses), and worker 0 gathers everyone's greeting.
 */
export default defineWorker(async (ctx: WorkerContext, p: HelloParams) => {
  const { workerId, packId, burstSize } = ctx.info;
  const sum = await ctx.allReduce(new Float64Array([workerId]), 'sum');
  const greetings = await ctx.gather(encodeJson(`${p.greeting} from worker ${workerId} in pack ${packId}`), 0);
  const expected = (burstSize * (burstSize - 1)) / 2;
  if (sum[0] !== expected) throw new Error(`allReduce gave ${sum[0]}, expected ${expected}`);
  return workerId === 0 ? { workerId, sum: sum[0], greetings: greetings!.map((g) => decodeJson<string>(g)) } : { workerId, sum: sum[0] };
});
