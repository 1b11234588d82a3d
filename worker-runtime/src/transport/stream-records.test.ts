import fc from 'fast-check';
import { FrameError } from '../errors.js';
import { encodeRecord, RecordDecoder, RecordType, RECORD_PREFIX_BYTES } from './stream-records.js';

const MAX = 1 << 20;

function decodeAll(chunks: Uint8Array[], maxFrameBytes = MAX): { type: RecordType; body: number[] }[] {
  const out: { type: RecordType; body: number[] }[] = [];
  // Bodies may be views of the chunk: copy at once, as the contract says.
  const d = new RecordDecoder((type, body) => out.push({ type, body: [...body] }), { maxFrameBytes });
  for (const c of chunks) d.push(c);
  d.end();
  return out;
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.byteLength;
  }
  return out;
}

/** Cuts `bytes` at the given points (any order, duplicates allowed: empty chunks are legal too). */
function split(bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [0, ...cuts.map((c) => c % (bytes.byteLength + 1)).sort((a, b) => a - b), bytes.byteLength];
  return points.slice(1).map((end, i) => bytes.subarray(points[i]!, end));
}

const record = fc.oneof(
  { weight: 8, arbitrary: fc.uint8Array({ maxLength: 3000 }).map((body) => ({ type: RecordType.Frame, body })) },
  { weight: 1, arbitrary: fc.constant({ type: RecordType.Bye, body: new Uint8Array(0) }) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => ({ type: RecordType.Hello, body: new TextEncoder().encode(s) })) },
);

describe('stream records', () => {
  test('any split of the byte stream reassembles into the same records, in order', () => {
    fc.assert(
      fc.property(fc.array(record, { maxLength: 12 }), fc.array(fc.nat(), { maxLength: 40 }), (records, cuts) => {
        const stream = concat(records.map((r) => encodeRecord(r.type, r.body)));
        const got = decodeAll(split(stream, cuts));
        expect(got).toEqual(records.map((r) => ({ type: r.type, body: [...r.body] })));
      }),
      { numRuns: 500 },
    );
  });

  test('byte-at-a-time feeding works, and records inside one chunk are views of it (no copy)', () => {
    const bodies = [new Uint8Array([1, 2, 3]), new Uint8Array(0), new Uint8Array(70_000).fill(7)];
    const stream = concat(bodies.map((b) => encodeRecord(RecordType.Frame, b)));
    const oneByOne = decodeAll([...stream].map((b) => new Uint8Array([b])));
    expect(oneByOne.map((r) => r.body.length)).toEqual([3, 0, 70_000]);

    const seen: Uint8Array[] = [];
    const owned: boolean[] = [];
    const d = new RecordDecoder((_t, body, own) => (seen.push(body), owned.push(own)), { maxFrameBytes: MAX });
    d.push(stream);
    expect(seen.every((b) => b.buffer === stream.buffer)).toBe(true);
    expect(owned).toEqual([false, false, false]);
    expect(d.idle).toBe(true);
  });

  test('records spanning chunks land in buffers from allocate()', () => {
    const body = new Uint8Array(5000).map((_, i) => i % 251);
    const stream = encodeRecord(RecordType.Frame, body);
    const allocated: number[] = [];
    let got: Uint8Array | undefined;
    let owned: boolean | undefined;
    const d = new RecordDecoder((_t, b, own) => ((got = b), (owned = own)), {
      maxFrameBytes: MAX,
      allocate: (n) => {
        allocated.push(n);
        return new Uint8Array(new SharedArrayBuffer(n));
      },
    });
    d.push(stream.subarray(0, 100));
    d.push(stream.subarray(100));
    expect(allocated).toEqual([5000]);
    expect(owned).toBe(true);
    expect(got!.buffer).toBeInstanceOf(SharedArrayBuffer);
    expect([...got!]).toEqual([...body]);
  });

  test('a length prefix above the frame limit is a clear FrameError', () => {
    const stream = encodeRecord(RecordType.Frame, new Uint8Array(2000));
    expect(() => decodeAll([stream], 1000)).toThrow(FrameError);
    expect(() => decodeAll([stream], 1000)).toThrow(/length prefix says 2000 bytes, more than the 1000-byte frame limit: the stream is corrupt/);
  });

  test('an unknown record type, a long hello or a bye with a body is rejected, whatever the split', () => {
    const bad = [
      [new Uint8Array([9, 0, 0, 0, 0]), /unknown record type 9/],
      [encodeRecord(RecordType.Hello, new Uint8Array(5000)), /hello record of 5000 bytes/],
      [encodeRecord(RecordType.Frame, new Uint8Array(4)).fill(RecordType.Bye, 0, 1), /bye record carries 4 bytes/],
    ] as const;
    for (const [bytes, message] of bad) {
      for (let cut = 0; cut <= RECORD_PREFIX_BYTES; cut++) {
        expect(() => decodeAll([bytes.subarray(0, cut), bytes.subarray(cut)])).toThrow(message);
      }
    }
  });

  test('a stream torn inside a prefix or a body is reported at its end', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 1, maxLength: 500 }), fc.nat(), (body, c) => {
        const whole = encodeRecord(RecordType.Frame, body);
        const cut = 1 + (c % (whole.byteLength - 1));
        const d = new RecordDecoder(() => {}, { maxFrameBytes: MAX });
        d.push(whole.subarray(0, cut));
        expect(d.idle).toBe(false);
        expect(() => d.end()).toThrow(cut < RECORD_PREFIX_BYTES ? /stream ended inside a record prefix/ : /stream ended inside a record \(\d+ of \d+ body bytes\)/);
      }),
    );
  });
});
