import { defineWorker, type ReduceOp, type WorkerContext } from '@kubeburst/worker-runtime';

export const COMBINE_OPS = ['built-in sum', 'fn: sum into a', 'fn: new array'] as const;
export type CombineOp = (typeof COMBINE_OPS)[number];

export interface CombineParams {
  /** Payload bytes per worker (float64 elements = bytes / 8). */
  sizes: number[];
  /** Timed repetitions per op and size, interleaved across ops (after one untimed warm-up each). */
  reps: number;
}

export interface CombineMeasure {
  op: CombineOp;
  bytes: number;
  /** Seconds per allReduce, one per repetition (this worker's view, barrier-aligned start). */
  seconds: number[];
}

const OPS: Record<CombineOp, ReduceOp<Float64Array>> = {
  'built-in sum': 'sum',
  // The natural way to write it, which the runtime makes safe with private copies.
  'fn: sum into a': (a, b) => {
    for (let i = 0; i < a.length; i++) a[i]! += b[i]!;
    return a;
  },
  // The pure way: a new array per combine.
  'fn: new array': (a, b) => {
    const out = new Float64Array(a.length);
    for (let i = 0; i < a.length; i++) out[i] = a[i]! + b[i]!;
    return out;
  },
};

/** allReduce with a user function next to the built-in op, at each size (bench:bcm -- --only combiners). */
export default defineWorker(async (ctx: WorkerContext, p: CombineParams) => {
  const out: CombineMeasure[] = [];
  for (const bytes of p.sizes) {
    const input = new Float64Array(bytes / 8).fill(ctx.info.workerId + 1);
    const rows = COMBINE_OPS.map((op) => ({ op, bytes, seconds: [] as number[] }));
    for (let r = -1; r < p.reps; r++) {
      for (const row of rows) {
        await ctx.barrier();
        const t0 = performance.now();
        await ctx.allReduce(input, OPS[row.op]);
        if (r >= 0) row.seconds.push((performance.now() - t0) / 1000);
      }
    }
    out.push(...rows);
  }
  return out;
});
