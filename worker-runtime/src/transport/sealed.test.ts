import { TransportError } from '../errors.js';
import { DType } from '../protocol/dtype.js';
import { encodeFrames, FRAME_TRAILER_BYTES, MsgKind } from '../protocol/frame.js';
import { deriveKeys, newSecret, parseSecret } from '../security/keys.js';
import fc from 'fast-check';
import { BUNDLE_FRAME_BYTES, SealedTransport, SMALL_FRAME_BYTES } from './sealed.js';
import type { FrameSink, Transport } from './types.js';

/**
 * A broker in memory: what one pack sends to another is kept in order and can be read, dropped, altered or
 * added to by the test, as any client of a real broker could (test/conformance/trust.test.ts does it on
 * real Redis and NATS).
 */
class Wire {
  readonly queues = new Map<number, Uint8Array[]>();
  readonly sinks = new Map<number, FrameSink>();
  transport(pack: number, gather = false): Transport {
    const send = async (to: number, frames: readonly Uint8Array[]): Promise<void> =>
      void this.queues.set(to, [...(this.queues.get(to) ?? []), ...frames.map((f) => new Uint8Array(f))]);
    return {
      kind: 'redis',
      maxFrameBytes: 1 << 20,
      connect: async (sink) => void this.sinks.set(pack, sink),
      send,
      // A broker gets a frame's parts one after another, as the Redis transport writes them.
      ...(gather
        ? {
            sendParts: (to: number, frames: readonly (readonly Uint8Array[])[]) =>
              send(
                to,
                frames.map((parts) => Buffer.concat(parts)),
              ),
          }
        : {}),
      cleanup: async () => undefined,
      close: async () => undefined,
    };
  }
  /** Delivers what is queued for `to`, in order. */
  flush(to: number): void {
    const q = this.queues.get(to) ?? [];
    this.queues.set(to, []);
    for (const f of q) this.sinks.get(to)!.frame(f, false);
  }
}

class Collect implements FrameSink {
  frames: Uint8Array[] = [];
  owned: boolean[] = [];
  /** The pack each frame proved it came from. */
  from: (number | undefined)[] = [];
  errors: Error[] = [];
  frame(f: Uint8Array, owned?: boolean, fromPack?: number): void {
    this.frames.push(new Uint8Array(f));
    this.owned.push(owned === true);
    this.from.push(fromPack);
  }
  error(err: Error): void {
    this.errors.push(err);
  }
}

const keys = deriveKeys(parseSecret(newSecret(), 't'), 'burst-1');
const frame = (i: number, bytes = 100): Uint8Array =>
  encodeFrames(
    { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: i, tag: 0, root: -1, msgId: 0 },
    new Uint8Array(bytes).fill(i & 0xff),
    1 << 20,
    (n) => new Uint8Array(new ArrayBuffer(n + FRAME_TRAILER_BYTES), 0, n),
  )[0]!;

async function pair(encrypt = false): Promise<{ wire: Wire; a: SealedTransport; b: SealedTransport; got: Collect; rejected: string[] }> {
  const wire = new Wire();
  const rejected: string[] = [];
  const a = new SealedTransport(wire.transport(0), { keys, packId: 0, packCount: 2, encrypt });
  const b = new SealedTransport(wire.transport(1), { keys, packId: 1, packCount: 2, encrypt, onRejected: (r) => rejected.push(r) });
  const got = new Collect();
  await a.connect(new Collect());
  await b.connect(got);
  return { wire, a, b, got, rejected };
}

describe('sealed transport', () => {
  test('frames arrive whole and in order, the trailer written into the room the endpoint left (no copy)', async () => {
    const { wire, a, got } = await pair();
    const f = frame(7, 4096);
    // One frame a send: several small ones would travel as a bundle (below).
    await a.send(1, [f]);
    await a.send(1, [frame(8)]);
    const sent = wire.queues.get(1)!;
    expect(sent[0]!.byteLength).toBe(f.byteLength + FRAME_TRAILER_BYTES);
    wire.flush(1);
    expect(got.frames.map((x) => x[64])).toEqual([7, 8]);
    expect(Buffer.from(got.frames[0]!).equals(Buffer.from(f))).toBe(true);
    // Each says which pack its tag proved sent it (the relay holds the frame's header to that).
    expect(got.from).toEqual([0, 0]);
    expect(got.errors).toEqual([]);
  });

  // Small frames carry a ChaCha20-Poly1305 tag made in TypeScript, larger ones a GMAC: both must hold.
  test.each([
    ['a small frame', 100],
    ['the largest small frame', SMALL_FRAME_BYTES - 64],
    ['the smallest large frame', SMALL_FRAME_BYTES - 63],
    ['a large frame', 4096],
  ])('%s with one bit changed, forged with another key, or claiming another sender is dropped and counted, never delivered; the flare goes on', async (_, bytes) => {
    const frame1 = (): Uint8Array => frame(1, bytes);
    const { wire, a, b, got, rejected } = await pair();
    await a.send(1, [frame1()]);
    const [real] = wire.queues.get(1)!;
    const flipped = new Uint8Array(real!);
    flipped[70] = flipped[70]! ^ 1;
    // The whole frame sealed as pack 0 would, under another flare's key.
    const other = new SealedTransport(new Wire().transport(0), { keys: deriveKeys(parseSecret(newSecret(), 't'), 'burst-1'), packId: 0, packCount: 2 });
    const forged = seal(other, 1, frame1());
    const fromSelf = new Uint8Array(real!);
    new DataView(fromSelf.buffer, fromSelf.byteLength - FRAME_TRAILER_BYTES).setUint32(0, 1, true);
    wire.queues.set(1, [flipped, forged, fromSelf, new Uint8Array(10), real!]);
    wire.flush(1);
    expect(got.frames).toHaveLength(1); // only the real one
    expect(got.errors).toEqual([]);
    expect(b.rejected).toBe(4);
    expect(rejected.join('\n')).toMatch(/failed verification/);
    expect(rejected.join('\n')).toMatch(/claiming to come from 'pack 1'/);
    expect(rejected.join('\n')).toMatch(/shorter than a sealed frame's trailer/);
  });

  test('a replayed frame is dropped; a lost one aborts at once, naming the transport and the sender', async () => {
    const { wire, a, got, rejected } = await pair();
    for (const i of [1, 2, 3]) await a.send(1, [frame(i)]);
    const [f1, f2, f3] = wire.queues.get(1)!;
    wire.queues.set(1, [f1!, f1!, f2!]);
    wire.flush(1);
    expect(got.frames).toHaveLength(2);
    expect(rejected).toEqual([expect.stringMatching(/replayed or duplicated frame from pack 0 \(counter 0, expected 1\)/)]);
    // Frame 4 sent, frame 3 never arrives.
    await a.send(1, [frame(4)]);
    const [f4] = wire.queues.get(1)!;
    wire.queues.set(1, [f4!, f3!]);
    wire.flush(1);
    expect(got.errors).toHaveLength(1);
    expect(got.errors[0]).toBeInstanceOf(TransportError);
    expect(got.errors[0]!.message).toMatch(/lost 1 frame\(s\) from pack 0: the redis transport did not deliver frames 2\.\.2/);
    // After that nothing more is delivered.
    expect(got.frames).toHaveLength(2);
  });

  test.each([
    ['authenticated', false],
    ['encrypted', true],
  ])('%s: a pack that runs twice under one key seals under other keys, and the second run is dropped, not a nonce repeated', async (_, encrypt) => {
    const { wire, a, got, rejected } = await pair(encrypt);
    // A pod of the attempt made again (same Secret, same pack, counters from 0): another epoch.
    const again = new SealedTransport(wire.transport(0), { keys, packId: 0, packCount: 2, encrypt });
    for (const [i, bytes] of [
      [1, 100],
      [2, 4096],
    ] as const) {
      // Each sealed in a frame of its own: the trailer is written into the room after the frame.
      const first = seal(a, 1, frame(i, bytes));
      const second = seal(again, 1, frame(i, bytes));
      const trailer = (x: Uint8Array): Buffer => Buffer.from(x.subarray(x.byteLength - FRAME_TRAILER_BYTES));
      // Same sender, same counter (the nonce), other epoch, and another tag: no tag was made twice under one key.
      expect(trailer(first).subarray(0, 8).equals(trailer(second).subarray(0, 8))).toBe(true);
      expect(trailer(first).subarray(8, 16).equals(trailer(second).subarray(8, 16))).toBe(false);
      expect(trailer(first).subarray(16).equals(trailer(second).subarray(16))).toBe(false);
      wire.queues.set(1, [first, second]);
      wire.flush(1);
    }
    // The first run's frames arrive; the second run's are dropped and counted, and abort nothing.
    expect(got.frames.map((x) => x[64])).toEqual([1, 2]);
    expect(got.errors).toEqual([]);
    expect(rejected).toEqual([expect.stringMatching(/^a frame from another run of pack 0 \(epoch [0-9a-f]{16}, its frames so far carried [0-9a-f]{16}\)$/), expect.anything()]);
  });

  test('an epoch is taken from a frame that proves itself only: a forgery under another epoch does not lock out the real one', async () => {
    const { wire, a, got, rejected } = await pair();
    const real = seal(a, 1, frame(1));
    const forged = new Uint8Array(real);
    const at = forged.byteLength - FRAME_TRAILER_BYTES + 8;
    forged[at] = forged[at]! ^ 1;
    wire.queues.set(1, [forged, real]);
    wire.flush(1);
    expect(got.frames.map((x) => x[64])).toEqual([1]);
    expect(rejected).toEqual([expect.stringMatching(/failed verification/)]);
  });

  test('frames sent as parts are sealed where they lie, arrive whole, and share the counter with whole frames', async () => {
    const wire = new Wire();
    const a = new SealedTransport(wire.transport(0, true), { keys, packId: 0, packCount: 2 });
    const b = new SealedTransport(wire.transport(1, true), { keys, packId: 1, packCount: 2 });
    const got = new Collect();
    await a.connect(new Collect());
    await b.connect(got);
    const parts = (f: Uint8Array, at: number): Uint8Array[] => [f.subarray(0, at), f.subarray(at)];
    const big = frame(2, 70_000);
    const small = frame(3, 40);
    await a.send(1, [frame(1)]);
    await a.sendParts!(1, [parts(big, 64), parts(small, 64), [big.subarray(0, 10), big.subarray(10, 5000), big.subarray(5000)]]);
    await a.send(1, [frame(4)]);
    const onWire = wire.queues.get(1)!.map((f) => new Uint8Array(f));
    wire.flush(1);
    expect(got.errors).toEqual([]);
    expect(got.frames.map((x) => x[64])).toEqual([1, 2, 3, 2, 4]);
    expect(Buffer.from(got.frames[1]!).equals(Buffer.from(big))).toBe(true);
    expect(Buffer.from(got.frames[2]!).equals(Buffer.from(small))).toBe(true);
    // A bit changed in a frame sealed from parts fails its tag like any other.
    const flipped = onWire[1]!;
    flipped[40_000] = flipped[40_000]! ^ 1;
    wire.queues.set(1, [flipped]);
    wire.flush(1);
    expect(b.rejected).toBe(1);
    expect(got.frames).toHaveLength(5);
    // Encrypted frames are written anew, and a transport without gather-writes gets none.
    expect(new SealedTransport(wire.transport(0, true), { keys, packId: 0, packCount: 2, encrypt: true }).sendParts).toBeUndefined();
    expect(new SealedTransport(wire.transport(0), { keys, packId: 0, packCount: 2 }).sendParts).toBeUndefined();
  });

  test("large frames are verified in a copy: a whole message's is handed on as owned, a chunk's is not (the reassembler copies it out)", async () => {
    const { wire, a, b, got } = await pair();
    const head = { kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 9 } as const;
    const payload = new Uint8Array(250_000).map((_, i) => i * 7);
    const chunks = encodeFrames(head, payload, 100_000, (n) => new Uint8Array(new ArrayBuffer(n + FRAME_TRAILER_BYTES), 0, n));
    const whole = frame(5, 100_000);
    await a.send(1, [...chunks, whole, frame(6)]);
    // A chunk that fails its tag is not delivered, whichever buffer it was verified in.
    const [c0] = wire.queues.get(1)!;
    const bad = new Uint8Array(c0!);
    bad[50_000] = bad[50_000]! ^ 1;
    wire.queues.set(1, [bad, ...wire.queues.get(1)!]);
    wire.flush(1);
    expect(b.rejected).toBe(1);
    expect(got.errors).toEqual([]);
    expect(got.frames.map((f) => Buffer.from(f))).toEqual([...chunks, whole, frame(6)].map((f) => Buffer.from(f)));
    // The last chunk (50,000 bytes) and the small frame are below the size copied first: verified in place.
    expect(got.owned).toEqual([false, false, false, true, false]);
  });

  test('frames of messages up to 64 KiB in one send travel as bundles: one message, one counter and one tag for up to 512 KiB of them', async () => {
    const { wire, a, b, got } = await pair();
    // 40 frames of 1 KiB, one too large for a bundle, 3 more small ones, then one alone.
    const first = Array.from({ length: 40 }, (_, i) => frame(i, 1024));
    const big = frame(50, BUNDLE_FRAME_BYTES + 1);
    const after = [frame(51, 8), frame(52, 8), frame(53, 8)];
    await a.send(1, [...first, big, ...after]);
    await a.send(1, [frame(54)]);
    const sizes = wire.queues.get(1)!.map((m) => m.byteLength);
    expect(sizes).toEqual([40 * (4 + 1088) + FRAME_TRAILER_BYTES, big.byteLength + FRAME_TRAILER_BYTES, 3 * (4 + 72) + FRAME_TRAILER_BYTES, 164 + FRAME_TRAILER_BYTES]);
    wire.flush(1);
    expect(got.errors).toEqual([]);
    expect(got.frames.map((f) => Buffer.from(f))).toEqual([...first, big, ...after, frame(54)].map((f) => Buffer.from(f)));
    // Bundled frames are views of their bundle; the large one alone was copied before its check (see open).
    expect(got.owned.map((o, i) => (o ? i : -1)).filter((i) => i >= 0)).toEqual([40]);
    expect(b.rejected).toBe(0);
    // Frames of 64 KiB messages, 65,604 bytes each with its length: 7 fit in 512 KiB, so 17 make 3 bundles.
    const largest = Array.from({ length: 17 }, (_, i) => frame(i, 64 * 1024));
    expect(largest[0]!.byteLength).toBe(BUNDLE_FRAME_BYTES);
    await a.send(1, largest);
    expect(wire.queues.get(1)!.map((m) => (m.byteLength - FRAME_TRAILER_BYTES) / (4 + BUNDLE_FRAME_BYTES))).toEqual([7, 7, 3]);
    wire.flush(1);
    expect(got.frames).toHaveLength(45 + 17);
    expect(got.frames.slice(45).map((f) => Buffer.from(f))).toEqual(largest.map((f) => Buffer.from(f)));
  });

  test('a bundle with a bit changed, or passed off as one frame, is dropped whole; one that proves itself but does not parse fails the flare, naming the pack', async () => {
    const { wire, a, b, got, rejected } = await pair();
    await a.send(1, [frame(1), frame(2)]);
    const [real] = wire.queues.get(1)!;
    const flipped = new Uint8Array(real!);
    flipped[100] = flipped[100]! ^ 1;
    const asFrame = new Uint8Array(real!);
    asFrame[asFrame.byteLength - FRAME_TRAILER_BYTES + 3] = asFrame[asFrame.byteLength - FRAME_TRAILER_BYTES + 3]! & 0x7f;
    wire.queues.set(1, [flipped, asFrame, real!]);
    wire.flush(1);
    expect(b.rejected).toBe(2);
    expect(rejected).toEqual([expect.stringMatching(/failed verification/), expect.stringMatching(/failed verification/)]);
    expect(got.frames.map((x) => x[64])).toEqual([1, 2]);
    // What only a holder of the key can make: a bundle whose second length runs past its end.
    const body = Buffer.alloc(4 + 164 + 4 + 10);
    body.writeUInt32LE(164, 0);
    Buffer.from(frame(3)).copy(body, 4);
    body.writeUInt32LE(11, 168);
    wire.queues.set(1, [sealBundle(a, 1, body)]);
    wire.flush(1);
    expect(got.frames.map((x) => x[64])).toEqual([1, 2, 3]);
    expect(got.errors).toHaveLength(1);
    expect(got.errors[0]).toBeInstanceOf(TransportError);
    expect(got.errors[0]!.message).toBe('redis transport: pack 0 sent a bundle of frames that does not parse: frame 1 at byte 168 of 182 says 11 bytes');
  });

  test('any bytes sealed as a bundle are delivered as frames that tile them, or fail the flare with a TransportError: nothing throws', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 600 }), fc.array(fc.nat({ max: 700 }), { maxLength: 4 }), async (bytes, lengths) => {
        const { wire, a, got } = await pair();
        // Random bytes, with a few plausible lengths written in so that some of them parse. (Buffer.alloc:
        // a pooled Buffer.from would leave the trailer in pool space that the next allocation takes.)
        const body = Buffer.alloc(bytes.byteLength);
        body.set(bytes);
        let at = 0;
        for (const len of lengths) {
          if (at + 4 > body.byteLength) break;
          body.writeUInt32LE(len, at);
          at += 4 + len;
        }
        wire.queues.set(1, [sealBundle(a, 1, body)]);
        wire.flush(1);
        // The frames delivered, each after its length, are the bundle (or, after an error, a prefix of it).
        const tiled = Buffer.concat(got.frames.flatMap((f) => [u32le(f.byteLength), f]));
        expect(body.subarray(0, tiled.byteLength).equals(tiled)).toBe(true);
        if (got.errors.length === 0) expect(tiled.byteLength).toBe(body.byteLength);
        else {
          expect(got.errors).toHaveLength(1);
          expect(got.errors[0]).toBeInstanceOf(TransportError);
          expect(tiled.byteLength).toBeLessThan(body.byteLength);
        }
      }),
      { numRuns: 2000 },
    );
  });

  test('encrypted, nothing of the frame is readable on the wire, and it still arrives whole', async () => {
    const { wire, a, got } = await pair(true);
    const secretText = Buffer.from('the flare secret message '.repeat(20));
    const f = encodeFrames({ kind: MsgKind.P2P, dtype: DType.Uint8, op: 0, flags: 0, src: 0, dst: 1, seq: 0, tag: 0, root: -1, msgId: 0 }, secretText, 1 << 20)[0]!;
    await a.send(1, [f]);
    const onWire = Buffer.from(wire.queues.get(1)![0]!);
    expect(onWire.includes(Buffer.from('secret message'))).toBe(false);
    wire.flush(1);
    expect(Buffer.from(got.frames[0]!).equals(Buffer.from(f))).toBe(true);
  });
});

function u32le(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v);
  return b;
}

/** What `t` would put on the wire for `body` as a bundle to `to` (whatever `body` holds). */
function sealBundle(t: SealedTransport, to: number, body: Uint8Array): Uint8Array {
  return (t as unknown as { seal(to: number, f: Uint8Array, flag: number): Uint8Array }).seal(to, body, 0x8000_0000);
}

/** What `t` would put on the wire for one frame to `to`. */
function seal(t: SealedTransport, to: number, f: Uint8Array): Uint8Array {
  return (t as unknown as { seal(to: number, f: Uint8Array): Uint8Array }).seal(to, f);
}
