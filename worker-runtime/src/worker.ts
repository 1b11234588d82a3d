import type { WorkerContext } from './context.js';

/**
 * The function a burst runs on every worker. Its resolved value is the worker's result, carried as JSON:
 * typed arrays and Sets become arrays, Maps objects (or [key, value] arrays), Errors {name, message}, bigints
 * strings; NaN and Infinity become null.
 */
export type WorkerFn<P = unknown, R = unknown> = (ctx: WorkerContext, params: P) => Promise<R> | R;

const WORKER_BRAND = Symbol.for('kubeburst.worker');

export interface WorkerDefinition<P = unknown, R = unknown> {
  readonly [WORKER_BRAND]: true;
  readonly fn: WorkerFn<P, R>;
}

/**
 * Declares a worker function; a worker module's default export. The function runs once on every worker
 * of the burst with its {@link WorkerContext} and the job's params; what it returns is the worker's
 * result. If it throws, the burst aborts: every other worker's pending and later calls reject with a
 * BurstAbortedError naming it.
 *
 * @example
 * ```ts
 * export default defineWorker(async (ctx, params: { n: number }) => {
 *   const total = await ctx.allReduce(new Float64Array([params.n]), 'sum');
 *   return total[0];
 * });
 * ```
 */
export function defineWorker<P = unknown, R = unknown>(fn: WorkerFn<P, R>): WorkerDefinition<P, R> {
  if (typeof fn !== 'function') throw new TypeError('defineWorker expects a function (ctx, params) => result');
  return Object.freeze({ [WORKER_BRAND]: true as const, fn });
}

/** Accepts a defineWorker(...) value or a bare function as a module's default export. */
export function resolveWorker(mod: unknown): WorkerFn | undefined {
  const d = (mod as { default?: unknown } | undefined)?.default ?? mod;
  if (typeof d === 'function') return d as WorkerFn;
  if (typeof d === 'object' && d !== null && (d as Record<symbol, unknown>)[WORKER_BRAND] === true) return (d as WorkerDefinition).fn;
  // An ES module compiled to CommonJS and imported from ESM nests its default one level deeper.
  const inner = (d as { default?: unknown } | undefined)?.default;
  if (inner !== undefined && inner !== d) return resolveWorker(inner);
  return undefined;
}
