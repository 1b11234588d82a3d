import fc from 'fast-check';
import { ConfigError, FrameError } from '../errors.js';
import { decodeBatch, encodeBatch } from './batch.js';
import { DType } from './dtype.js';
import { chunkHeaders, DEFAULT_MAX_PENDING_BYTES, encodeFrames, HEADER_BYTES, MsgKind, readHeader, Reassembler, writeHeader, type MessageHeader } from './frame.js';
import { forgeFrame, type RawHeader } from './fuzz-properties.js';

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
            for (const frame of encodeFrames(
              { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: m.origin, dst: 0, seq: id, tag: 0, root: -1, msgId: id },
              m.payload,
              chunk,
            )) {
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

  test('chunks of one message id that name different messages are never joined', () => {
    const h: MessageHeader = { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 10, tag: 5, root: -1, msgId: 7 };
    const changes: Partial<MessageHeader>[] = [{ dst: 2 }, { tag: 9 }, { seq: 99 }, { kind: MsgKind.Coll, op: 3 }, { src: 1 }, { dtype: DType.Float64 }, { root: 0 }, { flags: 1 }];
    for (const change of changes) {
      const r = new Reassembler();
      expect(r.push(0, encodeFrames(h, new Uint8Array(200).fill(1), 100)[0]!)).toBeUndefined();
      const field = Object.keys(change)[0]!;
      expect(() => r.push(0, encodeFrames({ ...h, ...change }, new Uint8Array(200).fill(2), 100)[1]!)).toThrow(new RegExp(`chunk 1 of message 7 says ${field} `));
      // The message it had started is dropped with its bytes: nothing is delivered from the mix.
      expect([r.pending, r.pendingBytes]).toEqual([0, 0]);
    }
  });

  test('a header can be written into any 8-byte aligned slot and read back', () => {
    const buf = new Uint8Array(HEADER_BYTES + 8);
    writeHeader(buf, {
      kind: MsgKind.P2P,
      dtype: DType.Float64,
      op: 0,
      flags: 0,
      src: 3,
      dst: 4,
      seq: 5,
      tag: 6,
      root: -1,
      msgId: 0,
      totalBytes: 8,
      chunkIndex: 0,
      chunkCount: 1,
      chunkBytes: 8,
      chunkOffset: 0,
    });
    expect(readHeader(buf)).toMatchObject({ src: 3, dst: 4, seq: 5, tag: 6, dtype: DType.Float64 });
  });
});

/** Raw header of a P2P frame (empty single-chunk message), to forge hostile ones from. */
const RAW: RawHeader = {
  magic: 0x4b42,
  version: 1,
  kind: MsgKind.P2P,
  dtype: DType.Uint8,
  op: 0,
  flags: 0,
  src: 0,
  dst: 1,
  seq: 0,
  tag: 0,
  root: 0xffff_ffff,
  msgId: 0,
  totalLo: 0,
  totalHi: 0,
  chunkIndex: 0,
  chunkCount: 1,
  chunkBytes: 0,
  offsetLo: 0,
  offsetHi: 0,
};

/** The last chunk (`bytes` long) of message `msgId` declaring `total` bytes in `count` chunks: one small frame. */
function lastChunk(msgId: number, total: number, count = 2, bytes = 1): Uint8Array {
  const offset = total - bytes;
  return forgeFrame(
    {
      ...RAW,
      msgId,
      totalLo: total % 2 ** 32,
      totalHi: Math.floor(total / 2 ** 32),
      chunkIndex: count - 1,
      chunkCount: count,
      chunkBytes: bytes,
      offsetLo: offset % 2 ** 32,
      offsetHi: Math.floor(offset / 2 ** 32),
    },
    bytes,
  );
}

function countingReassembler(limits: ConstructorParameters<typeof Reassembler>[1]): { r: Reassembler; allocated: number[] } {
  const allocated: number[] = [];
  return { r: new Reassembler((n) => (allocated.push(n), new Uint8Array(n)), limits), allocated };
}

describe('bounded reassembly', () => {
  test("chunk counts and offsets must follow the message's chunking, so the chunk map is bounded by the message", () => {
    // Was accepted: one 65-byte frame made the Reassembler allocate a 4 GiB chunk map.
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 1, chunkCount: 0xffff_ffff, chunkBytes: 1 }, 1))).toThrow(/a 1-byte message cannot take 4294967295 chunks/);
    expect(() => readHeader(forgeFrame({ ...RAW, chunkCount: 0x8000_0000 }, 0))).toThrow(/a 0-byte message cannot take 2147483648 chunks/);
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 10, chunkCount: 2, chunkIndex: 0, chunkBytes: 3 }, 3))).toThrow(
      /a 10-byte message cut into 3-byte chunks takes 4 chunks, not 2/,
    );
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 10, chunkCount: 3, chunkIndex: 1, chunkBytes: 4, offsetLo: 5 }, 4))).toThrow(
      /chunk 1 of 3 starts at offset 5; in 4-byte chunks it starts at 4/,
    );
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 10, chunkCount: 3, chunkIndex: 2, chunkBytes: 3, offsetLo: 7 }, 3))).toThrow(
      /last chunk 2 of 3 starts at offset 7, which is not 2 whole chunks/,
    );
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 10, chunkCount: 2, chunkIndex: 1, chunkBytes: 1, offsetLo: 4 }, 1))).toThrow(
      /last chunk 1 of 2 ends at 5, not at the end of the 10-byte message/,
    );
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 4, chunkCount: 2, chunkIndex: 1, chunkBytes: 0, offsetLo: 4 }, 0))).toThrow(/chunk 1 of 2 is empty/);
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 9, chunkCount: 2, chunkIndex: 1, chunkBytes: 5, offsetLo: 4 }, 5))).toThrow(
      /carries 5 bytes, more than the 4-byte chunks before it/,
    );
    expect(() => readHeader(forgeFrame({ ...RAW, totalLo: 5, chunkBytes: 4 }, 4))).toThrow(/single-chunk message of 5 bytes carries 4/);
    expect(() => readHeader(forgeFrame({ ...RAW, totalHi: 0x20_0000 }, 0))).toThrow(/total payload bytes field 0x20000000000000 is above 2\^53 - 1/);
  });

  test('chunks that are each valid but do not tile their message are refused: no holes of stale memory', () => {
    // Was delivered: a 10-byte message of chunks [0, 1) and [9, 10), bytes 1..8 never written
    // (with Buffer.allocUnsafeSlow, whatever the heap held before).
    const { r } = countingReassembler({});
    expect(() => r.push(0, forgeFrame({ ...RAW, totalLo: 10, chunkCount: 2, chunkBytes: 1 }, 1))).toThrow(/a 10-byte message cut into 1-byte chunks takes 10 chunks, not 2/);
    // Each valid for some chunking (5-byte chunks, 9-byte chunks), but together they leave [5, 9) unwritten.
    expect(r.push(0, forgeFrame({ ...RAW, totalLo: 10, chunkCount: 2, chunkBytes: 5 }, 5))).toBeUndefined();
    expect(() => r.push(0, lastChunk(0, 10))).toThrow(/says 10 bytes in 2 chunks of 9; earlier chunks said 10 bytes in 2 chunks of 5 \(it disagrees/);
    expect([r.pending, r.pendingBytes]).toEqual([0, 0]);
  });

  test('maxPendingBytes: a message that would exceed it is refused before anything is allocated, and the state is unchanged', () => {
    const { r, allocated } = countingReassembler({ maxPendingBytes: 1000 });
    r.push(1, lastChunk(1, 400));
    r.push(2, lastChunk(1, 400));
    expect(() => r.push(3, lastChunk(1, 400))).toThrow(
      /message 1 of 400 bytes would raise the bytes held for partly received messages from 800 to 1200, above the limit of 1000 \(maxPendingBytes\)/,
    );
    expect([r.pending, r.pendingBytes, allocated]).toEqual([2, 800, [400, 400]]);
    // Finishing a message gives its bytes back.
    const first = forgeFrame({ ...RAW, msgId: 1, totalLo: 400, chunkCount: 2, chunkBytes: 399 }, 399);
    expect(r.push(1, first)?.payload.byteLength).toBe(400);
    expect([r.pending, r.pendingBytes]).toEqual([1, 400]);
    r.push(3, lastChunk(1, 400));
    expect([r.pending, r.pendingBytes]).toEqual([2, 800]);
    r.clear();
    expect([r.pending, r.pendingBytes]).toEqual([0, 0]);
  });

  test('maxPendingMessages bounds how many messages may be open at once, whatever their size', () => {
    const { r, allocated } = countingReassembler({ maxPendingMessages: 2 });
    r.push(0, lastChunk(1, 2));
    r.push(0, lastChunk(2, 2));
    expect(() => r.push(0, lastChunk(3, 2))).toThrow(/message 3 would be partly received message number 3, above the limit of 2 \(maxPendingMessages\)/);
    expect([r.pending, r.pendingBytes, allocated]).toEqual([2, 4, [2, 2]]);
    // Chunks of open messages still go in.
    expect(r.push(0, forgeFrame({ ...RAW, msgId: 2, totalLo: 2, chunkCount: 2, chunkBytes: 1 }, 1))?.payload.byteLength).toBe(2);
  });

  test('maxMessageBytes (and the old numeric argument) refuses a message on its own, single-chunk ones included', () => {
    const { r, allocated } = countingReassembler(100);
    expect(() => r.push(0, lastChunk(5, 101))).toThrow(/message 5 of 101 bytes exceeds the 100-byte message limit \(maxMessageBytes\)/);
    expect(() => r.push(0, encodeFrames({ ...RAW, kind: MsgKind.P2P, dtype: DType.Uint8, src: 0, dst: 1, root: -1, msgId: 6 }, new Uint8Array(101), 1000)[0]!)).toThrow(
      /message 6 of 101 bytes exceeds/,
    );
    expect(allocated).toEqual([]);
  });

  test('defaults: 4 GiB of partial messages; a flood of huge declarations is refused without allocating', () => {
    expect(DEFAULT_MAX_PENDING_BYTES).toBe(2 ** 32);
    // Was: every one of these 1000 one-byte frames allocated a 4 GiB buffer (3.9 TiB asked in all).
    const { r, allocated } = countingReassembler({});
    for (let id = 0; id < 1000; id++) expect(() => r.push(0, lastChunk(id, 2 ** 32 + 1))).toThrow(/exceeds the 4294967296-byte message limit/);
    expect([r.pending, allocated]).toEqual([0, []]);
  });

  test('limits must be non-negative integers', () => {
    expect(() => new Reassembler(undefined, { maxPendingBytes: -1 })).toThrow(ConfigError);
    expect(() => new Reassembler(undefined, { maxPendingMessages: 1.5 })).toThrow(/Reassembler maxPendingMessages: must be an integer/);
  });

  test('a duplicate chunk is refused and leaves its message intact', () => {
    const frames = encodeFrames({ kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 9 }, new Uint8Array([1, 2, 3, 4, 5]), 2);
    const r = new Reassembler();
    r.push(0, frames[1]!);
    expect(() => r.push(0, frames[1]!)).toThrow(/duplicate chunk 1 of message 9/);
    expect([r.pending, r.pendingBytes]).toEqual([1, 5]);
    r.push(0, frames[0]!);
    expect([...r.push(0, frames[2]!)!.payload]).toEqual([1, 2, 3, 4, 5]);
  });

  test('chunkHeaders refuses a chunking the header fields cannot hold', () => {
    const h: MessageHeader = { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 0 };
    expect(() => chunkHeaders(h, 10, 2 ** 32)).toThrow(/chunk size must be an integer in \[1, 2\^32 - 1\] \(got 4294967296\)/);
    expect(() => chunkHeaders(h, 2 ** 53, 1)).toThrow(/message size must be an integer in \[0, 2\^53 - 1\]/);
    expect(() => chunkHeaders(h, 2 ** 33, 1)).toThrow(/takes 8589934592 chunks, more than the chunk count field holds/);
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
