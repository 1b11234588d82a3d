import fc from 'fast-check';
import { FrameError } from '../errors.js';
import { decodeBatch, encodeBatch } from './batch.js';
import { DType } from './dtype.js';
import { frameErrorOf, mutate, mutations } from './fuzz-properties.js';

/** A batch of one entry: `len` bytes of element type `dtype`, with `room` bytes of payload after the table. */
function batchOf(dtype: number, len: number, room = len): Uint8Array {
  const b = new Uint8Array(8 + 16 + ((room + 7) & ~7));
  const v = new DataView(b.buffer);
  v.setUint32(0, 1, true);
  v.setUint32(8, len % 2 ** 32, true);
  v.setUint32(12, Math.floor(len / 2 ** 32), true);
  v.setUint8(16, dtype);
  return b;
}

describe('batch decoding', () => {
  test('an entry that is not a whole number of its elements is a FrameError (it was a UsageError from deep inside)', () => {
    expect(() => decodeBatch(batchOf(DType.Float64, 3))).toThrow(FrameError);
    expect(() => decodeBatch(batchOf(DType.Float64, 3))).toThrow(/batch entry 0 of 3 bytes is not a whole number of 8-byte elements \(element type 8\)/);
  });

  test('counts and lengths are checked against the batch before anything is read or allocated', () => {
    const huge = new Uint8Array(8);
    new DataView(huge.buffer).setUint32(0, 0xffff_ffff, true);
    expect(() => decodeBatch(huge)).toThrow(/batch claims 4294967295 entries but holds 8 bytes/);
    expect(() => decodeBatch(batchOf(DType.Uint8, 2 ** 53 - 1, 8))).toThrow(/batch entry 0 overruns the batch: 9007199254740991 bytes at offset 24 of 32/);
  });

  test('any bytes, any mutation of a valid batch: only FrameErrors', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 200 }),
          fc
            .tuple(fc.array(fc.oneof(fc.uint8Array({ maxLength: 40 }), fc.float64Array({ maxLength: 5 }), fc.int16Array({ maxLength: 9 })), { maxLength: 6 }), mutations(fc, 3))
            .map(([parts, edits]) => mutate(encodeBatch(parts), edits)),
        ),
        fc.nat({ max: 7 }),
        (bytes, shift) => {
          // Misaligned too: a batch is often a view into a frame at any offset.
          const at = new Uint8Array(bytes.byteLength + shift).subarray(shift);
          at.set(bytes);
          let total = 0;
          if (frameErrorOf(() => decodeBatch(at).forEach((p) => (total += p.byteLength))) === undefined) expect(total).toBeLessThanOrEqual(at.byteLength);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
