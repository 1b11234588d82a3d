import fc from 'fast-check';
import { FrameError } from '../errors.js';
import { encodeRecord, recordPrefix, RecordDecoder, RecordType, RECORD_PREFIX_BYTES } from './stream-records.js';

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

  test('a hostile length prefix is refused before anything is allocated, whatever the split', () => {
    for (const [type, length] of [
      [RecordType.Frame, 0xffff_ffff],
      [RecordType.Frame, MAX + 1],
      [RecordType.Hello, 0x8000_0000],
      [RecordType.Bye, 1],
    ] as const) {
      const bytes = new Uint8Array([...recordPrefix(type, length), 1, 2, 3]);
      for (let cut = 0; cut <= bytes.byteLength; cut++) {
        const allocated: number[] = [];
        const d = new RecordDecoder(() => {}, { maxFrameBytes: MAX, allocate: (n) => (allocated.push(n), new Uint8Array(n)) });
        expect(() => (d.push(bytes.subarray(0, cut)), d.push(bytes.subarray(cut)))).toThrow(new RegExp(`${length}`));
        expect(allocated).toEqual([]);
      }
    }
  });

  test('maxHelloBytes sets the hello limit', () => {
    const d = new RecordDecoder(() => {}, { maxFrameBytes: MAX, maxHelloBytes: 512 });
    expect(() => d.push(encodeRecord(RecordType.Hello, new Uint8Array(513)))).toThrow(/hello record of 513 bytes \(limit 512\)/);
  });

  test('maxStreamBytes: a record that would end past it is refused at its prefix; lifting it lets the stream go on', () => {
    const hello = encodeRecord(RecordType.Hello, new Uint8Array(100));
    const frame = encodeRecord(RecordType.Frame, new Uint8Array(50_000));
    // The handshake's worth of bytes, then lifted from onRecord: a pipelined frame in the same chunk decodes.
    const got: number[] = [];
    const d: RecordDecoder = new RecordDecoder((_t, body) => (got.push(body.byteLength), (d.maxStreamBytes = Infinity)), { maxFrameBytes: MAX, maxStreamBytes: hello.byteLength });
    d.push(concat([hello, frame]));
    expect(got).toEqual([100, 50_000]);
    // Not lifted: the frame after it is refused before its 50,000 bytes are allocated, at any split.
    const stream = concat([hello, frame]);
    for (const cut of [1, 5, hello.byteLength, hello.byteLength + 3, hello.byteLength + 5, hello.byteLength + 9]) {
      const allocated: number[] = [];
      const k = new RecordDecoder(() => {}, { maxFrameBytes: MAX, maxStreamBytes: hello.byteLength, allocate: (n) => (allocated.push(n), new Uint8Array(n)) });
      expect(() => (k.push(stream.subarray(0, cut)), k.push(stream.subarray(cut)))).toThrow(
        /a 50000-byte record would end at stream byte 50110, past the 105 bytes this stream may carry now \(maxStreamBytes\)/,
      );
      expect(allocated.every((n) => n <= 100)).toBe(true);
    }
    // A first record that does not fit at all (a FRAME where a HELLO belongs) is refused at once.
    expect(() => new RecordDecoder(() => {}, { maxFrameBytes: MAX, maxStreamBytes: 517 }).push(frame.subarray(0, 5))).toThrow(/past the 517 bytes/);
  });

  test('a spanning record can be read straight into its own buffer: readTarget, then wrote', () => {
    const body = new Uint8Array(5000).map((_, i) => i % 251);
    const stream = concat([encodeRecord(RecordType.Frame, body), encodeRecord(RecordType.Frame, new Uint8Array([9]))]);
    const got: { body: Uint8Array; owned: boolean }[] = [];
    const d = new RecordDecoder((_t, b, owned) => got.push({ body: owned ? b : new Uint8Array(b), owned }), { maxFrameBytes: MAX });
    expect(d.readTarget()).toBeUndefined();
    d.push(stream.subarray(0, 100));
    // The 95 body bytes that came with the prefix were copied; the rest goes where the decoder says.
    let target = d.readTarget()!;
    expect(target.byteLength).toBe(5000 - 95);
    target.set(stream.subarray(100, 1100));
    d.wrote(1000);
    target = d.readTarget()!;
    expect(target.byteLength).toBe(5000 - 1095);
    expect(() => d.wrote(target.byteLength + 1)).toThrow(/does not fit the read target \(3905 bytes\)/);
    target.set(stream.subarray(1100, 5005));
    d.wrote(target.byteLength);
    expect(d.readTarget()).toBeUndefined();
    expect(() => d.wrote(1)).toThrow(/there is none/);
    d.push(stream.subarray(5005));
    d.end();
    expect(got.map((g) => g.owned)).toEqual([true, false]);
    expect([...got[0]!.body]).toEqual([...body]);
    expect([...got[1]!.body]).toEqual([9]);
  });

  test('after a corrupt prefix the decoder stays failed: nothing after it is decoded', () => {
    // Was: the next push parsed the following bytes as a fresh record.
    const got: number[][] = [];
    const d = new RecordDecoder((_t, body) => got.push([...body]), { maxFrameBytes: MAX });
    expect(() => (d.push(new Uint8Array([9, 0, 0])), d.push(new Uint8Array([0, 0])))).toThrow(/unknown record type 9/);
    expect(() => d.push(encodeRecord(RecordType.Frame, new Uint8Array([42])))).toThrow(/the stream already failed \(unknown record type 9/);
    expect(() => d.end()).toThrow(/the stream ended after it failed/);
    expect(got).toEqual([]);
    expect(d.idle).toBe(false);
  });

  test('recordPrefix refuses a body its 32-bit length cannot describe (it used to wrap: 2^32 + 5 was written as 5)', () => {
    expect(() => recordPrefix(RecordType.Frame, 2 ** 32 + 5)).toThrow(/record body of 4294967301 bytes does not fit the 32-bit length prefix/);
    expect(() => recordPrefix(RecordType.Frame, -1)).toThrow(FrameError);
    expect([...recordPrefix(RecordType.Frame, 0xffff_ffff)]).toEqual([2, 255, 255, 255, 255]);
    expect([...recordPrefix(RecordType.Hello, 0x0102_0304)]).toEqual([1, 4, 3, 2, 1]);
  });
});
