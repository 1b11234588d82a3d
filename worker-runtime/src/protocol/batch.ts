import { FrameError } from '../errors.js';
import { bytesOf, dtypeOf, elementSize, isDType, viewAs, type DType, type Payload, type TypedArray } from './dtype.js';

/**
 * A batch packs several payloads into one message, so a collective crosses a pack boundary once per
 * (pack, pack) pair instead of once per (worker, worker) pair.
 *
 *   u32 count, u32 reserved, then `count` entries of 16 bytes: u32 byteLength lo, u32 hi, u8 dtype, 7 pad,
 *   then each payload, starting on an 8-byte boundary (so typed arrays view it in place).
 *
 * The table is BCM metadata: traffic counters report payload bytes (the user's data) and wire bytes
 * (payload + headers + tables) separately.
 */
const ENTRY = 16;
const align8 = (n: number): number => (n + 7) & ~7;

export function batchBytes(parts: readonly Payload[]): number {
  let n = 8 + parts.length * ENTRY;
  for (const p of parts) n = align8(n) + p.byteLength;
  return n;
}

export function encodeBatch(parts: readonly Payload[], allocate: (n: number) => Uint8Array = (n) => new Uint8Array(n)): Uint8Array {
  const out = allocate(batchBytes(parts));
  const v = new DataView(out.buffer, out.byteOffset, out.byteLength);
  v.setUint32(0, parts.length, true);
  let off = 8 + parts.length * ENTRY;
  parts.forEach((p, i) => {
    const e = 8 + i * ENTRY;
    v.setUint32(e, p.byteLength % 0x1_0000_0000, true);
    v.setUint32(e + 4, Math.floor(p.byteLength / 0x1_0000_0000), true);
    v.setUint8(e + 8, dtypeOf(p));
    off = align8(off);
    out.set(bytesOf(p), off);
    off += p.byteLength;
  });
  return out;
}

/**
 * Decodes a batch into views over its buffer (zero copy when the batch itself is 8-byte aligned). Bounded
 * by the batch itself: the entry count is checked against the bytes before the table is read, each length
 * against what is left; only a misaligned batch is copied, entry by entry (at most its own size).
 */
export function decodeBatch(batch: Uint8Array): TypedArray[] {
  if (batch.byteLength < 8) throw new FrameError(`batch of ${batch.byteLength} bytes has no header`);
  const v = new DataView(batch.buffer, batch.byteOffset, batch.byteLength);
  const count = v.getUint32(0, true);
  let off = 8 + count * ENTRY;
  if (off > batch.byteLength) throw new FrameError(`batch claims ${count} entries but holds ${batch.byteLength} bytes`);
  const out: TypedArray[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const e = 8 + i * ENTRY;
    const len = v.getUint32(e, true) + v.getUint32(e + 4, true) * 0x1_0000_0000;
    const dtype = v.getUint8(e + 8);
    if (!isDType(dtype)) throw new FrameError(`batch entry ${i} has unknown element type ${dtype}`);
    off = align8(off);
    if (off + len > batch.byteLength) throw new FrameError(`batch entry ${i} overruns the batch: ${len} bytes at offset ${off} of ${batch.byteLength}`);
    if (len % elementSize(dtype) !== 0)
      throw new FrameError(`batch entry ${i} of ${len} bytes is not a whole number of ${elementSize(dtype)}-byte elements (element type ${dtype})`);
    out[i] = viewAs(dtype as DType, batch.subarray(off, off + len));
    off += len;
  }
  return out;
}
