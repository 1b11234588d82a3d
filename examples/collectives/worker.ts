/**
 * One short example per collective: the `@example` blocks of worker-runtime/src/context.ts, copied here
 * verbatim so they run. Every example assumes a burst of 4 workers in packs of 2 (packs {0, 1} and {2, 3});
 * `collectives.test.ts` runs this module that way and checks what each example's comment says, and checks
 * that every `@example` of context.ts still appears here.
 * @module
 */
import { defineWorker, type TypedArray, type WorkerContext } from '@kubeburst/worker-runtime';

/** What a worker saw: per example, its result as plain numbers (null for `undefined`). */
export type ExampleResults = Record<string, unknown>;

const plain = (a: TypedArray | undefined): unknown => (a === undefined ? null : { type: a.constructor.name, values: Array.from(a, Number) });
const plainAll = (a: TypedArray[] | undefined): unknown => (a === undefined ? null : a.map(plain));

async function broadcast(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  // Only the root's data counts; the others pass undefined.
  const v = await ctx.broadcast<Float64Array>(me === 0 ? new Float64Array([1.5, 2]) : undefined, 0);
  // every worker: Float64Array [1.5, 2]
  return plain(v);
}

async function broadcastDataView(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const view = new DataView(new ArrayBuffer(2));
  view.setUint8(0, 7);
  const bytes = await ctx.broadcast(me === 1 ? view : undefined, 1);
  // every worker: Uint8Array [7, 0] (a DataView travels as its bytes)
  return plain(bytes);
}

async function scatter(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const parts = me === 0 ? [0, 1, 2, 3].map((w) => new Int32Array([w * 10])) : undefined;
  const part = await ctx.scatter<Int32Array>(parts, 0);
  // worker w: Int32Array [10 * w]
  return plain(part);
}

async function gather(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const all = await ctx.gather<Int32Array>(new Int32Array([me]), 0);
  // worker 0: [Int32Array [0], [1], [2], [3]]; the others: undefined
  return plainAll(all);
}

async function allGather(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const squares = await ctx.allGather<Int32Array>(new Int32Array([me * me]));
  // every worker: [Int32Array [0], [1], [4], [9]]
  return plainAll(squares);
}

async function allToAll(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const got = await ctx.allToAll<Int32Array>([0, 1, 2, 3].map((to) => new Int32Array([me * 10 + to])));
  // worker w: got[from] is Int32Array [from * 10 + w]
  return plainAll(got);
}

async function reduce(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const sums = await ctx.reduce(new Float64Array([me, 1]), 'sum', 0);
  // worker 0: Float64Array [6, 4]; the others: undefined
  return plain(sums);
}

async function allReduce(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const max = await ctx.allReduce(new Int32Array([me, -me]), 'max');
  // every worker: Int32Array [3, 0]
  return plain(max);
}

async function allReduceFn(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  // [digits, 10 ** count]: appending b's digits to a's is associative, not commutative. The function gets
  // arrays of its own, so writing into `a` and returning it is fine.
  const append = (a: Float64Array, b: Float64Array) => {
    a[0] = a[0]! * b[1]! + b[0]!;
    a[1] = a[1]! * b[1]!;
    return a;
  };
  const digits = await ctx.allReduce(new Float64Array([me + 1, 10]), append);
  // every worker: Float64Array [1234, 10000] (combined in worker order)
  return plain(digits);
}

async function barrier(ctx: WorkerContext): Promise<unknown> {
  await ctx.barrier({ timeoutMs: 10_000 });
  // every worker gets here only once all 4 have called barrier()
  return true;
}

async function packGather(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const first = ctx.pack.workers.start; // a burst-wide worker id: 0 in pack 0, 2 in pack 1
  const mates = await ctx.pack.gather<Int32Array>(new Int32Array([me]), first);
  // worker 0: [Int32Array [0], [1]]; worker 2: [Int32Array [2], [3]] (index = position in the pack); 1 and 3: undefined
  return plainAll(mates);
}

async function packAllReduce(ctx: WorkerContext): Promise<unknown> {
  const me = ctx.info.workerId;
  const packSum = await ctx.pack.allReduce(new Float64Array([me]), 'sum');
  // workers 0 and 1: Float64Array [1]; workers 2 and 3: Float64Array [5]
  return plain(packSum);
}

/** In one order on every worker, as collectives must be. */
const EXAMPLES = { broadcast, broadcastDataView, scatter, gather, allGather, allToAll, reduce, allReduce, allReduceFn, barrier, packGather, packAllReduce };

export default defineWorker(async (ctx: WorkerContext): Promise<ExampleResults> => {
  if (ctx.info.burstSize !== 4) throw new Error(`the collective examples assume 4 workers in packs of 2, not ${ctx.info.burstSize}`);
  const out: ExampleResults = {};
  for (const [name, run] of Object.entries(EXAMPLES)) out[name] = await run(ctx);
  return out;
});
