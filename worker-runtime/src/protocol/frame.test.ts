import fc from 'fast-check';
import { FrameError } from '../errors.js';
import { decodeBatch, encodeBatch } from './batch.js';
import { DType } from './dtype.js';
import { encodeFrames, HEADER_BYTES, MsgKind, readHeader, Reassembler, writeHeader, type MessageHeader } from './frame.js';

const header = fc.record<MessageHeader>({
  kind: fc.constantFrom(MsgKind.P2P, MsgKind.Coll, MsgKind.Control),
  dtype: fc.integer({ min: 0, max: 10 }) as fc.Arbitrary<DType>,
  op: fc.integer({ min: 0, max: 255 }),
  flags: fc.integer({ min: 0, max: 0xffff }),
  src: fc.integer({ min: -1, max: 100_000 }),
  dst: fc.integer({ min: -1, max: 100_000 }),
  seq: fc.nat({ max: 0xffffffff }),
  tag: fc.nat({ max: 0xffffffff }),
  root: fc.integer({ min: -1, max: 100_000 }),
  msgId: fc.nat({ max: 0xffffffff }),
});

describe('wire frames', () => {
  test('encode → decode keeps every header field and the payload, for any chunk size', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 5000 }), fc.integer({ min: 1, max: 6000 }), (h, payload, chunk) => {
        const frames = encodeFrames(h, payload, chunk);
        expect(frames.length).toBe(Math.max(1, Math.ceil(payload.length / chunk)));
        const r = new Reassembler();
        let msg;
        frames.forEach((f, i) => {
          const out = r.push(0, f);
          if (i < frames.length - 1) expect(out).toBeUndefined();
          else msg = out;
        });
        expect(msg).toBeDefined();
        const { header: got, payload: body } = msg!;
        expect({ ...got, totalBytes: undefined, chunkIndex: undefined, chunkCount: undefined, chunkBytes: undefined, chunkOffset: undefined }).toEqual({
          ...h,
          totalBytes: undefined,
          chunkIndex: undefined,
          chunkCount: undefined,
          chunkBytes: undefined,
          chunkOffset: undefined,
        });
        expect(got.totalBytes).toBe(payload.length);
        expect(Buffer.from(body).equals(Buffer.from(payload))).toBe(true);
        expect(r.pending).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  test('chunks reassemble in any order, interleaved across senders and messages', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ origin: fc.integer({ min: 0, max: 3 }), payload: fc.uint8Array({ maxLength: 3000 }) }), { minLength: 1, maxLength: 6 }),
        fc.integer({ min: 1, max: 700 }),
        fc.nat(),
        (msgs, chunk, seed) => {
          const all: { origin: number; frame: Uint8Array; id: number }[] = [];
          msgs.forEach((m, id) => {
            for (const frame of encodeFrames({ kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: m.origin, dst: 0, seq: id, tag: 0, root: -1, msgId: id }, m.payload, chunk)) {
              all.push({ origin: m.origin, frame, id });
            }
          });
          // Deterministic shuffle from the seed.
          let s = seed;
          for (let i = all.length - 1; i > 0; i--) {
            s = (Math.imul(s, 1103515245) + 12345) >>> 0;
            const j = s % (i + 1);
            [all[i], all[j]] = [all[j]!, all[i]!];
          }
          const r = new Reassembler();
          const got = new Map<number, Uint8Array>();
          for (const { origin, frame } of all) {
            const out = r.push(origin, frame);
            if (out) got.set(out.header.seq, out.payload);
          }
          expect(got.size).toBe(msgs.length);
          msgs.forEach((m, id) => expect(Buffer.from(got.get(id)!).equals(Buffer.from(m.payload))).toBe(true));
        },
      ),
      { numRuns: 200 },
    );
  });

  test('zero-length messages are one frame and are delivered', () => {
    const frames = encodeFrames({ kind: MsgKind.Coll, dtype: DType.Uint8, op: 1, flags: 0, src: 1, dst: 2, seq: 0, tag: 0, root: -1, msgId: 0 }, new Uint8Array(0), 1024);
    expect(frames).toHaveLength(1);
    expect(frames[0]!.byteLength).toBe(HEADER_BYTES);
    const m = new Reassembler().push(0, frames[0]!);
    expect(m?.payload.byteLength).toBe(0);
  });

  test('any corrupted header byte is caught with a FrameError, never a wrong message', () => {
    fc.assert(
      fc.property(header, fc.uint8Array({ maxLength: 100 }), fc.integer({ min: 0, max: HEADER_BYTES - 1 }), fc.integer({ min: 1, max: 255 }), (h, payload, at, flip) => {
        const [frame] = encodeFrames(h, payload, 1000);
        frame![at]! ^= flip;
        expect(() => readHeader(frame!)).toThrow(FrameError);
      }),
      { numRuns: 500 },
    );
  });

  test('truncated, overlong and foreign frames get clear errors', () => {
    const [f] = encodeFrames({ kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 0 }, new Uint8Array(10), 100);
    expect(() => readHeader(f!.subarray(0, 20))).toThrow(/shorter than the 64-byte header/);
    expect(() => readHeader(f!.subarray(0, f!.length - 1))).toThrow(/carries 9 payload bytes but its header says 10/);
    expect(() => readHeader(new TextEncoder().encode('*3\r\n$5\r\nRPUSH' + ' '.repeat(60)))).toThrow(/bad magic.*not a kubeburst frame/);
    const future = new Uint8Array(f!);
    future[2] = 9;
    expect(() => readHeader(future)).toThrow(/frame version 9; this runtime speaks version 1/);
  });

  test('a chunk that disagrees with its message or repeats is rejected', () => {
    const h: MessageHeader = { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 7 };
    const frames = encodeFrames(h, new Uint8Array(300), 100);
    const r = new Reassembler();
    r.push(0, frames[0]!);
    expect(() => r.push(0, frames[0]!)).toThrow(/duplicate chunk 0/);
    const other = encodeFrames(h, new Uint8Array(500), 100);
    expect(() => r.push(0, other[1]!)).toThrow(/disagrees with earlier chunks/);
  });

  test('a header can be written into any 8-byte aligned slot and read back', () => {
    const buf = new Uint8Array(HEADER_BYTES + 8);
    writeHeader(buf, { kind: MsgKind.P2P, dtype: DType.Float64, op: 0, flags: 0, src: 3, dst: 4, seq: 5, tag: 6, root: -1, msgId: 0, totalBytes: 8, chunkIndex: 0, chunkCount: 1, chunkBytes: 8, chunkOffset: 0 });
    expect(readHeader(buf)).toMatchObject({ src: 3, dst: 4, seq: 5, tag: 6, dtype: DType.Float64 });
  });
});

describe('batches', () => {
  test('round-trip any mix of typed arrays, zero-length included, keeping their types', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.uint8Array({ maxLength: 50 }),
            fc.float64Array({ maxLength: 20 }).map((a) => a),
            fc.int32Array({ maxLength: 20 }),
            fc.constant(new Float32Array(0)),
          ),
          { maxLength: 12 },
        ),
        (parts) => {
          const out = decodeBatch(encodeBatch(parts));
          expect(out).toHaveLength(parts.length);
          out.forEach((o, i) => {
            expect(o.constructor).toBe(parts[i]!.constructor);
            expect(Buffer.from(o.buffer, o.byteOffset, o.byteLength).equals(Buffer.from(parts[i]!.buffer, parts[i]!.byteOffset, parts[i]!.byteLength))).toBe(true);
          });
        },
      ),
    );
  });

  test('a batch that lies about its size is rejected', () => {
    const b = encodeBatch([new Uint8Array(10)]);
    expect(() => decodeBatch(b.subarray(0, b.length - 1))).toThrow(/overruns the batch/);
    expect(() => decodeBatch(new Uint8Array(3))).toThrow(/has no header/);
  });
});
