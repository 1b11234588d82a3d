import { UsageError } from '../errors.js';

/**
 * Payloads are bytes tagged with the element type they were sent as, so `recv` hands back the same kind of
 * typed array the sender passed (a Float64Array stays a Float64Array) without any serialization.
 */
export type TypedArray =
  Uint8Array | Int8Array | Uint8ClampedArray | Int16Array | Uint16Array | Int32Array | Uint32Array | Float32Array | Float64Array | BigInt64Array | BigUint64Array;

/** What can be sent: any typed array or a DataView (sent as bytes). */
export type Payload = TypedArray | DataView;

export const enum DType {
  Uint8 = 0,
  Int8 = 1,
  Uint8Clamped = 2,
  Int16 = 3,
  Uint16 = 4,
  Int32 = 5,
  Uint32 = 6,
  Float32 = 7,
  Float64 = 8,
  BigInt64 = 9,
  BigUint64 = 10,
}

type Ctor = { new (buffer: ArrayBufferLike, byteOffset: number, length: number): TypedArray; BYTES_PER_ELEMENT: number; new (length: number): TypedArray };

const CTORS: readonly Ctor[] = [
  Uint8Array,
  Int8Array,
  Uint8ClampedArray,
  Int16Array,
  Uint16Array,
  Int32Array,
  Uint32Array,
  Float32Array,
  Float64Array,
  BigInt64Array,
  BigUint64Array,
] as unknown as Ctor[];

export const DTYPE_COUNT = CTORS.length;

const CODES = new Map<unknown, DType>(CTORS.map((c, i) => [c, i as DType]));

export function dtypeOf(p: Payload): DType {
  const code = CODES.get(p.constructor);
  if (code !== undefined) return code;
  if (p instanceof DataView) return DType.Uint8;
  // Subclasses (Node's Buffer is a Uint8Array).
  const i = CTORS.findIndex((c) => p instanceof c);
  if (i < 0) throw new UsageError('payload must be a typed array (Uint8Array, Float64Array, …) or a DataView');
  return i as DType;
}

export function elementSize(d: DType): number {
  return CTORS[d]!.BYTES_PER_ELEMENT;
}

export function isDType(n: number): n is DType {
  return Number.isInteger(n) && n >= 0 && n < CTORS.length;
}

/** The payload's bytes, as a Uint8Array over the same memory (no copy). */
export function bytesOf(p: Payload): Uint8Array {
  return p instanceof Uint8Array ? p : new Uint8Array(p.buffer, p.byteOffset, p.byteLength);
}

/**
 * A typed array of `dtype` over `bytes`. Zero copy when the bytes are aligned for the element type;
 * otherwise one copy into a fresh buffer (a typed array cannot start at a misaligned offset).
 */
export function viewAs(dtype: DType, bytes: Uint8Array): TypedArray {
  const C = CTORS[dtype];
  if (C === undefined) throw new UsageError(`unknown element type code ${dtype}`);
  const size = C.BYTES_PER_ELEMENT;
  if (bytes.byteLength % size !== 0) {
    throw new UsageError(`payload of ${bytes.byteLength} bytes is not a whole number of ${size}-byte elements`);
  }
  if (dtype === DType.Uint8) return bytes;
  if (bytes.byteOffset % size === 0) return new C(bytes.buffer, bytes.byteOffset, bytes.byteLength / size);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return new C(copy.buffer, 0, bytes.byteLength / size);
}

/** One buffer holding `parts` back to back (e.g. the parts an allToAll or a gather returned). */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let total = 0;
  for (const p of parts) total += p.byteLength;
  const out = new Uint8Array(total);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** A copy of `p` in a new SharedArrayBuffer, as the same kind of typed array (a DataView comes back as bytes). */
export function sharedCopy(p: Payload): TypedArray {
  const out = new Uint8Array(new SharedArrayBuffer(p.byteLength));
  out.set(bytesOf(p));
  return viewAs(dtypeOf(p), out);
}

/** True when the payload lives in a SharedArrayBuffer, so other threads can read it without a copy. */
export function isShared(p: Payload): boolean {
  return typeof SharedArrayBuffer !== 'undefined' && p.buffer instanceof SharedArrayBuffer;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** JSON helpers: `send(dest, encodeJson(x))` and `decodeJson(await recv(src))`. */
export function encodeJson(value: unknown): Uint8Array {
  const text = JSON.stringify(value);
  if (text === undefined) throw new UsageError('encodeJson: value is not JSON-serializable');
  return encoder.encode(text);
}

export function decodeJson<T = unknown>(bytes: Payload): T {
  return JSON.parse(decoder.decode(bytesOf(bytes))) as T;
}
