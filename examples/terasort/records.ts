import { hash32 } from '../common/random.js';

/**
 * teragen-style records: 100 bytes, the first 10 the sort key.
 *
 *   0      10  12                                 44    48                                  96   100
 *   | key  |00 11| row id: 32 hex digits (ASCII) |88x4 | filler: 48 ASCII letters           |CCx4|
 *
 * Row i depends only on (seed, i): a worker generates rows [from, to) by itself.
 */
export const RECORD_BYTES = 100;
export const KEY_BYTES = 10;

const HEX = '0123456789ABCDEF';

/** Writes row `i` at `out[at .. at + 100)`. */
export function writeRecord(seed: number, i: number, out: Uint8Array, at: number): void {
  const k0 = hash32(seed, i, 0);
  const k1 = hash32(seed, i, 1);
  const k2 = hash32(seed, i, 2);
  out[at] = k0 >>> 24;
  out[at + 1] = k0 >>> 16;
  out[at + 2] = k0 >>> 8;
  out[at + 3] = k0;
  out[at + 4] = k1 >>> 24;
  out[at + 5] = k1 >>> 16;
  out[at + 6] = k1 >>> 8;
  out[at + 7] = k1;
  out[at + 8] = k2 >>> 24;
  out[at + 9] = k2 >>> 16;
  out[at + 10] = 0x00;
  out[at + 11] = 0x11;
  let id = i;
  for (let d = 43; d >= 12; d--) {
    out[at + d] = HEX.charCodeAt(id % 16);
    id = Math.floor(id / 16);
  }
  out.fill(0x88, at + 44, at + 48);
  const f = hash32(seed, i, 3);
  for (let d = 0; d < 48; d++) out[at + 48 + d] = 65 + (((f >>> (d % 24)) + d) % 26);
  out.fill(0xcc, at + 96, at + 100);
}

/** Rows [from, to) as one buffer of (to − from) · 100 bytes (in `out` when given). */
export function generateRecords(seed: number, from: number, to: number, out?: Uint8Array): Uint8Array {
  const buf = out ?? new Uint8Array((to - from) * RECORD_BYTES);
  for (let i = from; i < to; i++) writeRecord(seed, i, buf, (i - from) * RECORD_BYTES);
  return buf;
}

/** Compares the keys of two records (byte-wise, unsigned), like teravalidate. */
export function compareKeys(a: Uint8Array, ai: number, b: Uint8Array, bi: number): number {
  for (let k = 0; k < KEY_BYTES; k++) {
    const d = a[ai + k]! - b[bi + k]!;
    if (d !== 0) return d;
  }
  return 0;
}

export function keyHex(buf: Uint8Array, at: number): string {
  let s = '';
  for (let k = 0; k < KEY_BYTES; k++) s += buf[at + k]!.toString(16).padStart(2, '0');
  return s;
}

const CRC_TABLE = (() => {
  const t = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c;
  }
  return t;
})();

/** CRC-32 (IEEE) of one record. */
export function recordCrc(buf: Uint8Array, at: number): number {
  let c = -1;
  for (let k = at; k < at + RECORD_BYTES; k++) c = CRC_TABLE[(c ^ buf[k]!) & 0xff]! ^ (c >>> 8);
  return (c ^ -1) >>> 0;
}

/** Order-independent checksum of a set of records: the sum of their CRC-32s, mod 2^52 (exact in a double). */
export function checksum(buf: Uint8Array, acc = 0): number {
  for (let at = 0; at < buf.length; at += RECORD_BYTES) acc = (acc + recordCrc(buf, at)) % 2 ** 52;
  return acc;
}

/**
 * Record order that sorts `buf` by key: an LSD radix sort over the 10 key bytes, two bytes per pass, stable,
 * so equal keys keep their input order.
 */
export function sortOrder(buf: Uint8Array): Uint32Array {
  const n = buf.length / RECORD_BYTES;
  let order = new Uint32Array(n);
  let next = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  const counts = new Uint32Array(65537);
  for (let pass = KEY_BYTES - 2; pass >= 0; pass -= 2) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const at = i * RECORD_BYTES + pass;
      counts[((buf[at]! << 8) | buf[at + 1]!) + 1]!++;
    }
    for (let d = 1; d <= 65536; d++) counts[d]! += counts[d - 1]!;
    for (let j = 0; j < n; j++) {
      const i = order[j]!;
      const at = i * RECORD_BYTES + pass;
      next[counts[(buf[at]! << 8) | buf[at + 1]!]!++] = i;
    }
    [order, next] = [next, order];
  }
  return order;
}

/** The records of `buf` in key order, as a new buffer. */
export function sortRecords(buf: Uint8Array): Uint8Array {
  const order = sortOrder(buf);
  const out = new Uint8Array(buf.length);
  for (let j = 0; j < order.length; j++) {
    const at = order[j]! * RECORD_BYTES;
    out.set(buf.subarray(at, at + RECORD_BYTES), j * RECORD_BYTES);
  }
  return out;
}
