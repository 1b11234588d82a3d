import { describeError } from '../errors.js';

/**
 * Results travel as JSON: typed arrays and Sets become arrays, Maps objects (arrays of [key, value] when a
 * key is no string), Errors {name, message}, bigints strings. (JSON.stringify alone made a Map, a Set or
 * an Error an empty object: the result was reported ok, and its contents were gone.)
 */
export function toJsonSafe(v: unknown): unknown {
  if (v === undefined) return null;
  try {
    return JSON.parse(JSON.stringify(v, (_k, x: unknown) => jsonable(x)));
  } catch (err) {
    throw new Error(`the worker's result is not JSON-serializable: ${describeError(err)}`);
  }
}

function jsonable(x: unknown): unknown {
  if (typeof x === 'bigint') return x.toString();
  if (ArrayBuffer.isView(x) && !(x instanceof DataView)) return Array.from(x as unknown as ArrayLike<number>);
  if (x instanceof Set) return [...x];
  if (x instanceof Map) return [...x.keys()].every((k) => typeof k === 'string') ? Object.fromEntries(x) : [...x.entries()];
  if (x instanceof Error) return { name: x.name, message: x.message };
  return x;
}
