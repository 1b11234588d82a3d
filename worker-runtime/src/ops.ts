import { UsageError } from './errors.js';
import { sharedCopy, type TypedArray } from './protocol/dtype.js';

/**
 * Built-in element-wise reductions over typed arrays. Every worker must pass an array of the same length
 * and type: a difference fails the call with a UsageError. `min` and `max` propagate NaN.
 */
export type BuiltinOp = 'sum' | 'prod' | 'min' | 'max';
/**
 * A user reduction `(a, b) => a ⊕ b`. It must be associative (it need not be commutative): the runtime
 * combines in worker-id order, a0 ⊕ a1 ⊕ … ⊕ aN-1, in whatever tree it likes.
 *
 * Both arguments are the function's own: private copies, never a worker's input array, a pack mate's
 * memory or a shared broadcast result. So it may write into them, and the natural in-place sum is right:
 *
 * ```ts
 * const sum = (a: Float64Array, b: Float64Array) => { for (let i = 0; i < a.length; i++) a[i] += b[i]; return a; };
 * ```
 *
 * It must return a typed array: one of its arguments or a new one. What it returns becomes the runtime's
 * (it may be written into and sent on), so do not return an array you keep using elsewhere. Returning
 * anything else (forgetting the `return`, say) fails the call with a UsageError.
 */
export type ReduceFn<T> = (a: T, b: T) => T;
/** What `reduce` and `allReduce` combine with: a {@link BuiltinOp} name or a {@link ReduceFn}. */
export type ReduceOp<T> = BuiltinOp | ReduceFn<T>;

export const BUILTIN_OPS: readonly BuiltinOp[] = ['sum', 'prod', 'min', 'max'];

/**
 * Returns a combiner `(acc, x) => acc'`. Built-ins write into `acc` when the caller owns it (`inPlace`),
 * so a reduction tree allocates one accumulator per node, not one per step.
 */
export function combiner<T>(op: ReduceOp<T>): (acc: T, x: T, accOwned: boolean) => T {
  if (typeof op === 'function') return (a, b) => op(a, b);
  if (!BUILTIN_OPS.includes(op)) throw new UsageError(`unknown reduce op '${String(op)}': use one of ${BUILTIN_OPS.join(', ')} or a function (a, b) => c`);
  return ((acc: TypedArray, x: TypedArray, owned: boolean): TypedArray => {
    if (acc.length !== x.length) throw new UsageError(`reduce '${op}': arrays differ in length (${acc.length} vs ${x.length}); every worker must pass the same length`);
    if (acc.constructor !== x.constructor) throw new UsageError(`reduce '${op}': arrays differ in type (${acc.constructor.name} vs ${x.constructor.name})`);
    const out = owned ? acc : copyOf(acc);
    applyBuiltin(op, out, x);
    return out;
  }) as unknown as (acc: T, x: T, accOwned: boolean) => T;
}

/**
 * A user op as a combiner, with its result checked: a value that is not a typed array would otherwise
 * fail later and far away (in a send, on another worker). The caller hands it private arguments.
 */
export function userCombiner<T>(call: string, op: ReduceFn<T>): (a: T, b: T, accOwned: boolean) => T {
  return (a, b) => {
    const out = op(a, b);
    if (!ArrayBuffer.isView(out) || out instanceof DataView) {
      const got =
        out === undefined
          ? 'undefined'
          : out === null
            ? 'null'
            : out instanceof DataView
              ? 'a DataView'
              : typeof out === 'object'
                ? `a ${(out as object).constructor?.name ?? 'object'}`
                : `a ${typeof out}`;
      throw new UsageError(`${call}: the reduce function returned ${got}, not a typed array: return the combined array (writing into the first argument and returning it is fine)`);
    }
    return out;
  };
}

/**
 * The accumulator lives in shared memory: a reduction sends it up the tree, and a pack mate then takes it
 * by reference instead of by copy.
 */
const copyOf = sharedCopy;

function applyBuiltin(op: BuiltinOp, out: TypedArray, x: TypedArray): void {
  const n = out.length;
  // Separate loops per op keep each loop monomorphic and fast.
  if (out instanceof BigInt64Array || out instanceof BigUint64Array) {
    const o = out as BigInt64Array;
    const y = x as BigInt64Array;
    switch (op) {
      case 'sum':
        for (let i = 0; i < n; i++) o[i] = o[i]! + y[i]!;
        break;
      case 'prod':
        for (let i = 0; i < n; i++) o[i] = o[i]! * y[i]!;
        break;
      case 'min':
        for (let i = 0; i < n; i++) if (y[i]! < o[i]!) o[i] = y[i]!;
        break;
      case 'max':
        for (let i = 0; i < n; i++) if (y[i]! > o[i]!) o[i] = y[i]!;
        break;
    }
    return;
  }
  const o = out as Float64Array;
  const y = x as Float64Array;
  switch (op) {
    case 'sum':
      for (let i = 0; i < n; i++) o[i] = o[i]! + y[i]!;
      break;
    case 'prod':
      for (let i = 0; i < n; i++) o[i] = o[i]! * y[i]!;
      break;
    case 'min':
      for (let i = 0; i < n; i++) if (y[i]! < o[i]! || Number.isNaN(y[i]!)) o[i] = y[i]!;
      break;
    case 'max':
      for (let i = 0; i < n; i++) if (y[i]! > o[i]! || Number.isNaN(y[i]!)) o[i] = y[i]!;
      break;
  }
}

/** Op codes carried in frames so a mismatched collective is caught on arrival. */
export const enum CollOp {
  Barrier = 1,
  Broadcast = 2,
  Scatter = 3,
  Gather = 4,
  AllGather = 5,
  AllToAll = 6,
  Reduce = 7,
  AllReduce = 8,
}

export const COLL_NAMES: Record<number, string> = {
  1: 'barrier',
  2: 'broadcast',
  3: 'scatter',
  4: 'gather',
  5: 'allGather',
  6: 'allToAll',
  7: 'reduce',
  8: 'allReduce',
};
