import type fcModule from 'fast-check';
import type { Arbitrary, IProperty } from 'fast-check';
import { FrameError } from '../errors.js';
import { RecordDecoder, RecordType, RECORD_PREFIX_BYTES, type RecordDecoderOptions } from './stream-records.js';
import { encodeFrames, HEADER_BYTES, Reassembler, readHeader, type Header, type Message, type MessageHeader, type ReassemblerLimits } from './frame.js';

/**
 * Fuzz properties of the decoders that read bytes from other packs: the frame decoder (readHeader and the
 * Reassembler) and the stream-record decoder. Shared by the unit tests (*.fuzz.test.ts, ~10k cases per
 * decoder) and the long run (`npm run fuzz`, >= 1M cases), so both check the very same properties.
 *
 * Test support, not runtime code: fast-check is imported for its types only and handed in by the caller
 * (a devDependency never loads in a pack). The helpers at the top (BoundedAllocator, frameErrorOf, split,
 * mutate, hostileU32, FuzzSuite) are decoder-agnostic, for the next decoder's properties (the HELLO).
 *
 * Every property checks, whatever the input: the decoder throws nothing but FrameError (no RangeError,
 * TypeError, crash); it never asks its allocator for more than the configured bound; valid input decodes
 * exactly, under any chunking. Violations throw FuzzFailure.
 */
export type FastCheck = typeof fcModule;

export interface FuzzProperty {
  name: string;
  /** Share of a suite's cases (the unit tests and the long run split their budgets by it). */
  weight: number;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  property: IProperty<any>;
}

export interface FuzzSuite {
  /** The decoder under test, e.g. "frame". */
  name: string;
  properties(fc: FastCheck): FuzzProperty[];
}

/** How many of `total` cases each property of a suite gets (by weight, at least 1 each). */
export function casesPerProperty(props: readonly FuzzProperty[], total: number): number[] {
  const w = props.reduce((n, p) => n + p.weight, 0);
  return props.map((p) => Math.max(1, Math.round((total * p.weight) / w)));
}

// ---- decoder-agnostic helpers ---------------------------------------------------------------------

/** A property does not hold (distinct from anything a decoder throws). */
export class FuzzFailure extends Error {
  override readonly name = 'FuzzFailure';
}

export function check(ok: boolean, what: string | (() => string)): asserts ok {
  if (!ok) throw new FuzzFailure(typeof what === 'string' ? what : what());
}

/**
 * An allocator to pass as a decoder's `allocate` that refuses (with FuzzFailure) any request above
 * `maxBytes`, or failing `guard` (e.g. the bytes the decoder already holds plus this request), and records
 * every request.
 */
export class BoundedAllocator {
  readonly requests: number[] = [];
  readonly buffers = new Set<Uint8Array>();
  constructor(
    public maxBytes: number,
    private readonly guard?: (bytes: number) => string | undefined,
  ) {}

  readonly allocate = (bytes: number): Uint8Array => {
    check(Number.isSafeInteger(bytes) && bytes >= 0, () => `allocate(${bytes}): not a byte count`);
    check(bytes <= this.maxBytes, () => `allocate(${bytes}): above the bound of ${this.maxBytes}`);
    const refused = this.guard?.(bytes);
    check(refused === undefined, () => `allocate(${bytes}): ${refused}`);
    this.requests.push(bytes);
    const b = new Uint8Array(bytes);
    this.buffers.add(b);
    return b;
  };
}

/**
 * Runs `fn`; returns the FrameError it threw (undefined if none). Anything else it throws is a failure:
 * decoders must reject bad input with a FrameError that says what was wrong.
 */
export function frameErrorOf(fn: () => void): FrameError | undefined {
  try {
    fn();
    return undefined;
  } catch (err) {
    if (err instanceof FuzzFailure) throw err;
    if (!(err instanceof FrameError)) throw new FuzzFailure(`threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}, not a FrameError`, { cause: err });
    check(err.reason.length > 0 && err.message.includes(err.reason), 'a FrameError without a reason');
    return err;
  }
}

/** `bytes` cut at `cuts` (each taken modulo length + 1; any order, repeats give empty chunks). */
export function split(bytes: Uint8Array, cuts: readonly number[]): Uint8Array[] {
  const points = [0, ...cuts.map((c) => c % (bytes.byteLength + 1)).sort((a, b) => a - b), bytes.byteLength];
  return points.slice(1).map((end, i) => bytes.subarray(points[i]!, end));
}

export function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.byteLength;
  }
  return out;
}

/** Lengths and counts that break decoders: zero, one, around powers of two, around 2^31 and 2^32. */
export function hostileU32(fc: FastCheck): Arbitrary<number> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(0, 1, 2, 3, 4, 5, 7, 8, 63, 64, 65, 4096, 65_535, 65_536, 0x7fff_ffff, 0x8000_0000, 0x8000_0001, 0xffff_fffe, 0xffff_ffff) },
    { weight: 2, arbitrary: fc.integer({ min: 0, max: 31 }).chain((k) => fc.integer({ min: -2, max: 2 }).map((d) => Math.min(0xffff_ffff, Math.max(0, 2 ** k + d)))) },
    { weight: 1, arbitrary: fc.nat({ max: 0xffff_ffff }) },
  );
}

export type Mutation =
  | { op: 'flip'; at: number; mask: number }
  | { op: 'set'; at: number; value: number }
  | { op: 'u32'; at: number; value: number }
  | { op: 'truncate'; at: number }
  | { op: 'insert'; at: number; bytes: Uint8Array }
  | { op: 'delete'; at: number; count: number };

/** Edits to apply with `mutate`: bit flips, byte sets, a hostile u32 written anywhere, cuts, inserts, deletes. */
export function mutations(fc: FastCheck, maxCount = 4): Arbitrary<Mutation[]> {
  const at = fc.nat();
  const m: Arbitrary<Mutation> = fc.oneof(
    { weight: 4, arbitrary: fc.record({ op: fc.constant('flip' as const), at, mask: fc.integer({ min: 1, max: 255 }) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('set' as const), at, value: fc.nat({ max: 255 }) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('u32' as const), at, value: hostileU32(fc) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('truncate' as const), at }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('insert' as const), at, bytes: fc.uint8Array({ minLength: 1, maxLength: 16 }) }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('delete' as const), at, count: fc.integer({ min: 1, max: 16 }) }) },
  );
  return fc.array(m, { minLength: 1, maxLength: maxCount });
}

/** A copy of `bytes` with the edits applied (positions are taken modulo the current length). */
export function mutate(bytes: Uint8Array, edits: readonly Mutation[]): Uint8Array {
  let b: Uint8Array = new Uint8Array(bytes);
  for (const e of edits) {
    const at = b.byteLength === 0 ? 0 : e.at % b.byteLength;
    switch (e.op) {
      case 'flip':
        if (b.byteLength > 0) b[at]! ^= e.mask;
        break;
      case 'set':
        if (b.byteLength > 0) b[at] = e.value;
        break;
      case 'u32':
        for (let i = 0; i < 4 && at + i < b.byteLength; i++) b[at + i] = (e.value >>> (8 * i)) & 0xff;
        break;
      case 'truncate':
        b = b.slice(0, at);
        break;
      case 'insert':
        b = concat([b.subarray(0, at), e.bytes, b.subarray(at)]);
        break;
      case 'delete':
        b = concat([b.subarray(0, at), b.subarray(at + e.count)]);
        break;
    }
  }
  return b;
}

/** A deterministic permutation of `items` from `seed`. */
export function shuffle<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed >>> 0;
  for (let i = out.length - 1; i > 0; i--) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false;
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return false;
  return true;
}

// ---- frames ---------------------------------------------------------------------------------------

const TWO32 = 0x1_0000_0000;

/** The raw header fields, each as the wire holds it (u32 words), so out-of-range values can be written. */
export interface RawHeader {
  magic: number;
  version: number;
  kind: number;
  dtype: number;
  op: number;
  flags: number;
  src: number;
  dst: number;
  seq: number;
  tag: number;
  root: number;
  msgId: number;
  totalLo: number;
  totalHi: number;
  chunkIndex: number;
  chunkCount: number;
  chunkBytes: number;
  offsetLo: number;
  offsetHi: number;
}

/** A valid header of an empty single-chunk message, to forge others from. */
const BASE: RawHeader = {
  magic: 0x4b42,
  version: 1,
  kind: 1,
  dtype: 0,
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

/** FNV-1a over the first 60 bytes: written here on its own, so the tests do not trust frame.ts for it. */
function fnv1a60(b: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 60; i++) h = Math.imul(h ^ b[i]!, 0x01000193);
  return h >>> 0;
}

/** Recomputes a frame's header checksum (so a mutated field reaches the checks behind the checksum). */
export function seal(frame: Uint8Array): Uint8Array {
  if (frame.byteLength >= HEADER_BYTES) new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES).setUint32(60, fnv1a60(frame), true);
  return frame;
}

/** A frame with the given raw header and `payloadBytes` bytes of payload (pattern i & 0xff), sealed. */
export function forgeFrame(r: RawHeader, payloadBytes: number): Uint8Array {
  const f = new Uint8Array(HEADER_BYTES + payloadBytes);
  const v = new DataView(f.buffer);
  v.setUint16(0, r.magic, true);
  v.setUint8(2, r.version);
  v.setUint8(3, r.kind);
  v.setUint8(4, r.dtype);
  v.setUint8(5, r.op);
  v.setUint16(6, r.flags, true);
  const words = [r.src, r.dst, r.seq, r.tag, r.root, r.msgId, r.totalLo, r.totalHi, r.chunkIndex, r.chunkCount, r.chunkBytes, r.offsetLo, r.offsetHi];
  words.forEach((w, i) => v.setUint32(8 + 4 * i, w >>> 0, true));
  for (let i = 0; i < payloadBytes; i++) f[HEADER_BYTES + i] = i & 0xff;
  return seal(f);
}

export function rawHeaderOf(frame: Uint8Array): RawHeader {
  const v = new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES);
  const u = (at: number): number => v.getUint32(at, true);
  return {
    magic: v.getUint16(0, true),
    version: v.getUint8(2),
    kind: v.getUint8(3),
    dtype: v.getUint8(4),
    op: v.getUint8(5),
    flags: v.getUint16(6, true),
    src: u(8),
    dst: u(12),
    seq: u(16),
    tag: u(20),
    root: u(24),
    msgId: u(28),
    totalLo: u(32),
    totalHi: u(36),
    chunkIndex: u(40),
    chunkCount: u(44),
    chunkBytes: u(48),
    offsetLo: u(52),
    offsetHi: u(56),
  };
}

/**
 * Whether a frame is valid, decided on its raw bytes with BigInt arithmetic (no shared code with
 * readHeader): the header rules, and uniform chunking (some chunk size S with C = max(1, ceil(T / S))
 * and this chunk = [i·S, min((i+1)·S, T))).
 */
export function frameIsValid(frame: Uint8Array): boolean {
  if (frame.byteLength < HEADER_BYTES) return false;
  const r = rawHeaderOf(frame);
  if (r.magic !== 0x4b42 || r.version !== 1 || new DataView(frame.buffer, frame.byteOffset).getUint32(60, true) !== fnv1a60(frame)) return false;
  if (r.kind < 1 || r.kind > 3 || r.dtype > 10) return false;
  const T = (BigInt(r.totalHi) << 32n) | BigInt(r.totalLo);
  const O = (BigInt(r.offsetHi) << 32n) | BigInt(r.offsetLo);
  const i = BigInt(r.chunkIndex);
  const C = BigInt(r.chunkCount);
  const B = BigInt(r.chunkBytes);
  if (T > BigInt(Number.MAX_SAFE_INTEGER) || frame.byteLength !== HEADER_BYTES + r.chunkBytes) return false;
  if (C === 0n || i >= C) return false;
  if (C === 1n) return O === 0n && B === T;
  const S = i < C - 1n ? B : O % (C - 1n) === 0n ? O / (C - 1n) : -1n;
  if (S < 1n) return false;
  const count = (T + S - 1n) / S;
  const end = (i + 1n) * S < T ? (i + 1n) * S : T;
  return count === C && O === i * S && B === end - O && B > 0n;
}

export function messageHeader(fc: FastCheck, msgId: Arbitrary<number> = fc.nat({ max: 0xffff_ffff })): Arbitrary<MessageHeader> {
  return fc.record<MessageHeader>({
    kind: fc.constantFrom(1, 2, 3) as Arbitrary<number> as Arbitrary<MessageHeader['kind']>,
    dtype: fc.nat({ max: 10 }) as Arbitrary<number> as Arbitrary<MessageHeader['dtype']>,
    op: fc.nat({ max: 255 }),
    flags: fc.nat({ max: 0xffff }),
    src: fc.integer({ min: -1, max: 100_000 }),
    dst: fc.integer({ min: -1, max: 100_000 }),
    seq: fc.nat({ max: 0xffff_ffff }),
    tag: fc.nat({ max: 0xffff_ffff }),
    root: fc.integer({ min: -1, max: 100_000 }),
    msgId,
  });
}

/** Header fields that are valid for some chunk of some message, then possibly one of them made hostile. */
export function rawHeader(fc: FastCheck): Arbitrary<RawHeader> {
  const plausible = fc
    .record({
      total: fc.oneof(fc.nat({ max: 5000 }), hostileU32(fc), fc.constantFrom(Number.MAX_SAFE_INTEGER, 2 ** 52, TWO32 + 1)),
      size: fc.oneof(
        fc.integer({ min: 1, max: 4096 }),
        hostileU32(fc).map((n) => Math.max(1, n)),
      ),
      index: fc.nat(),
      msgId: fc.nat({ max: 7 }),
      kind: fc.integer({ min: 1, max: 3 }),
      dtype: fc.nat({ max: 10 }),
    })
    .map(({ total, size, index, msgId, kind, dtype }): RawHeader => {
      const count = Math.max(1, Math.ceil(total / size));
      const i = count > 0xffff_ffff ? 0 : index % count;
      const offset = i * size;
      return {
        magic: 0x4b42,
        version: 1,
        kind,
        dtype,
        op: 0,
        flags: 0,
        src: 0,
        dst: 1,
        seq: 0,
        tag: 0,
        root: 0xffff_ffff,
        msgId,
        totalLo: total % TWO32,
        totalHi: Math.floor(total / TWO32),
        chunkIndex: i,
        chunkCount: Math.min(count, 0xffff_ffff),
        chunkBytes: Math.max(0, Math.min(size, total - offset)),
        offsetLo: offset % TWO32,
        offsetHi: Math.floor(offset / TWO32),
      };
    });
  // Around the chunking rule's edges: chunk i of c in S-byte chunks, its offset, length and the total each
  // right or off by one (BigInt, so totals around 2^53 are exact on the wire).
  const near = (n: bigint): Arbitrary<bigint> => fc.constantFrom(-1n, 0n, 0n, 1n).map((d) => (n + d < 0n ? 0n : n + d));
  const big = fc.constantFrom(2n ** 32n - 1n, 2n ** 32n, 2n ** 52n, 2n ** 53n - 2n, 2n ** 53n - 1n, 2n ** 53n);
  const edge = fc
    .record({
      c: fc.oneof(
        fc.integer({ min: 2, max: 5 }),
        hostileU32(fc).map((n) => Math.max(2, n)),
      ),
      s: fc.oneof(
        fc.bigInt({ min: 1n, max: 64n }),
        hostileU32(fc).map((n) => BigInt(Math.max(1, n))),
        big,
      ),
      last: fc.boolean(),
      index: fc.nat(),
      msgId: fc.nat({ max: 7 }),
    })
    .chain(({ c, s, last, index, msgId }) => {
      const i = last ? c - 1 : index % (c - 1);
      const at = BigInt(i) * s;
      return fc
        .record({
          offset: near(at),
          bytes: fc.oneof(fc.constantFrom(0n, 1n), near(s), near(s - 1n)),
          d: near(0n),
          whole: fc.oneof(near(BigInt(c - 1) * s), near(BigInt(c) * s)),
          coherent: fc.boolean(),
        })
        .map(({ offset, bytes, d, whole, coherent }): RawHeader => {
          const total = coherent ? offset + bytes + d : whole;
          const word = (n: bigint, hi: boolean): number => Number(hi ? (n >> 32n) & 0xffff_ffffn : n & 0xffff_ffffn);
          return {
            ...BASE,
            msgId,
            totalLo: word(total, false),
            totalHi: word(total, true),
            chunkIndex: i,
            chunkCount: c,
            chunkBytes: word(bytes, false),
            offsetLo: word(offset, false),
            offsetHi: word(offset, true),
          };
        });
    });
  const fields = ['magic', 'version', 'kind', 'dtype', 'totalLo', 'totalHi', 'chunkIndex', 'chunkCount', 'chunkBytes', 'offsetLo', 'offsetHi', 'msgId'] as const;
  // Up to three fields edited: small values nudge a field, the others replace it.
  const edit = fc.tuple(fc.constantFrom(...fields), fc.oneof(hostileU32(fc), fc.integer({ min: -3, max: 3 })));
  return fc
    .tuple(fc.oneof(plausible, edge), fc.oneof({ weight: 2, arbitrary: fc.constant([]) }, { weight: 1, arbitrary: fc.array(edit, { minLength: 1, maxLength: 3 }) }))
    .map(([h, edits]) => {
      const out = { ...h };
      for (const [field, v] of edits) {
        const value = Math.abs(v) <= 3 ? (out[field] + v) >>> 0 : v;
        out[field] = field === 'magic' ? value & 0xffff : field === 'version' ? value & 0xff : value;
      }
      return out;
    });
}

/** A forged frame: its payload is the header's length when small, else short (a lying header). */
export function forgedFrame(fc: FastCheck): Arbitrary<Uint8Array> {
  return fc
    .tuple(
      rawHeader(fc),
      fc.nat({ max: 20 }),
      fc.nat({ max: 3 }).map((n) => n > 0),
    )
    .map(([h, other, honest]) => forgeFrame(h, honest && h.chunkBytes <= 8192 ? h.chunkBytes : other));
}

interface ModelEntry {
  total: number;
  chunks: [number, number][];
}

/**
 * Feeds frames to `r` and checks every invariant after every push, against a model kept here: only
 * FrameErrors; the allocator (`alloc`, which `r` must use) asked only within the bounds; `pending` and
 * `pendingBytes` equal the model's; a rejected frame leaves everything as it was, except that its own
 * message may be discarded; a delivered message is exactly tiled by the chunks accepted for it.
 */
export function feedReassembler(
  r: Reassembler,
  alloc: BoundedAllocator,
  limits: Required<ReassemblerLimits>,
  frames: readonly { origin: number; frame: Uint8Array }[],
): { delivered: { origin: number; message: Message; frame: Uint8Array }[]; errors: FrameError[] } {
  const model = new Map<string, ModelEntry>();
  const delivered: { origin: number; message: Message; frame: Uint8Array }[] = [];
  const errors: FrameError[] = [];
  for (const { origin, frame } of frames) {
    const before = { pending: r.pending, bytes: r.pendingBytes, allocs: alloc.requests.length };
    let out: Message | undefined;
    const err = frameErrorOf(() => (out = r.push(origin, frame)));
    check(r.pending <= limits.maxPendingMessages, () => `${r.pending} partial messages, above the limit of ${limits.maxPendingMessages}`);
    check(r.pendingBytes <= limits.maxPendingBytes, () => `${r.pendingBytes} pending bytes, above the limit of ${limits.maxPendingBytes}`);
    const key = frame.byteLength >= HEADER_BYTES ? `${origin}/${rawHeaderOf(frame).msgId}` : '';
    if (err !== undefined) {
      errors.push(err);
      check(alloc.requests.length === before.allocs, () => `a rejected frame allocated (${err.reason})`);
      if (r.pending !== before.pending) {
        const dropped = model.get(key);
        check(
          dropped !== undefined && r.pending === before.pending - 1 && r.pendingBytes === before.bytes - dropped.total,
          () => `a rejected frame changed the state beyond its own message (${err.reason})`,
        );
        model.delete(key);
      }
      check(r.pendingBytes === (r.pending === before.pending ? before.bytes : r.pendingBytes), 'a rejected frame changed the pending bytes');
      continue;
    }
    const h: Header = readHeader(frame);
    check(frameIsValid(frame), 'the Reassembler accepted a frame that breaks the chunking rules');
    const chunk: [number, number] = [h.chunkOffset, h.chunkOffset + h.chunkBytes];
    if (h.chunkCount === 1) {
      check(out !== undefined && !out.reassembled && equalBytes(out.payload, frame.subarray(HEADER_BYTES)), 'a single-chunk frame was not delivered as itself');
      check(r.pending === before.pending && alloc.requests.length === before.allocs, 'a single-chunk frame changed the partial messages');
      delivered.push({ origin, message: out, frame });
      continue;
    }
    let entry = model.get(key);
    if (entry === undefined) {
      check(
        alloc.requests.length === before.allocs + 1 && alloc.requests.at(-1) === h.totalBytes,
        () => `the first chunk of a ${h.totalBytes}-byte message allocated [${alloc.requests.slice(before.allocs).join(', ')}]`,
      );
      model.set(key, (entry = { total: h.totalBytes, chunks: [] }));
    } else {
      check(alloc.requests.length === before.allocs, 'a later chunk allocated');
    }
    entry.chunks.push(chunk);
    if (out === undefined) {
      check(entry.chunks.length < h.chunkCount, 'all chunks in, but no message');
    } else {
      const m: Message = out;
      model.delete(key);
      const sorted = entry.chunks.sort((a, b) => a[0] - b[0]);
      let at = 0;
      for (const [s, e] of sorted) {
        check(s === at && e > s, () => `message ${key} delivered from chunks that do not tile it: ${JSON.stringify(sorted)}`);
        at = e;
      }
      check(at === h.totalBytes && sorted.length === h.chunkCount, () => `message ${key} delivered with ${at} of ${h.totalBytes} bytes`);
      check(m.reassembled && m.payload.byteLength === h.totalBytes && alloc.buffers.has(m.payload), 'a reassembled message is not the buffer allocated for it');
      check(
        m.header.chunkCount === 1 && m.header.chunkIndex === 0 && m.header.chunkOffset === 0 && m.header.chunkBytes === h.totalBytes,
        'a reassembled header still names a chunk',
      );
      alloc.buffers.delete(m.payload);
      delivered.push({ origin, message: m, frame });
    }
    let bytes = 0;
    for (const e of model.values()) bytes += e.total;
    check(r.pending === model.size && r.pendingBytes === bytes, () => `the Reassembler holds ${r.pending} messages / ${r.pendingBytes} bytes, the model ${model.size} / ${bytes}`);
  }
  return { delivered, errors };
}

function reassemblerLimits(fc: FastCheck): Arbitrary<Required<ReassemblerLimits>> {
  return fc.record({
    maxMessageBytes: fc.oneof(fc.nat({ max: 20_000 }), hostileU32(fc)),
    maxPendingBytes: fc.oneof(fc.nat({ max: 40_000 }), hostileU32(fc)),
    maxPendingMessages: fc.oneof(fc.nat({ max: 8 }), fc.nat({ max: 1000 })),
  });
}

/** A Reassembler whose allocator refuses anything past `limits` (judged before the Reassembler counts it). */
export function boundedReassembler(limits: Required<ReassemblerLimits>): { r: Reassembler; alloc: BoundedAllocator } {
  let r: Reassembler | undefined;
  const alloc = new BoundedAllocator(limits.maxMessageBytes, (n) =>
    r!.pendingBytes + n > limits.maxPendingBytes
      ? `with ${r!.pendingBytes} bytes already pending, above the ${limits.maxPendingBytes}-byte bound`
      : r!.pending + 1 > limits.maxPendingMessages
        ? 'one message too many'
        : undefined,
  );
  r = new Reassembler(alloc.allocate, limits);
  return { r, alloc };
}

interface FuzzMessage {
  origin: number;
  header: MessageHeader;
  payload: Uint8Array;
}

function messagesOf(fc: FastCheck, maxMessages: number, maxPayload: number): Arbitrary<FuzzMessage[]> {
  return fc
    .uniqueArray(fc.record({ origin: fc.nat({ max: 3 }), msgId: fc.oneof(fc.nat({ max: 7 }), hostileU32(fc)) }), {
      selector: (k) => `${k.origin}/${k.msgId}`,
      minLength: 1,
      maxLength: maxMessages,
    })
    .chain((keys) =>
      fc.tuple(
        ...keys.map((k) => fc.record({ origin: fc.constant(k.origin), header: messageHeader(fc, fc.constant(k.msgId)), payload: fc.uint8Array({ maxLength: maxPayload }) })),
      ),
    );
}

function framesOf(msgs: readonly FuzzMessage[], chunk: number): { origin: number; frame: Uint8Array; msg: number }[] {
  return msgs.flatMap((m, msg) => encodeFrames(m.header, m.payload, chunk).map((frame) => ({ origin: m.origin, frame, msg })));
}

export const frameSuite: FuzzSuite = {
  name: 'frame',
  properties: (fc) => [
    {
      name: 'readHeader accepts exactly the valid headers (checked with BigInt on the raw bytes)',
      weight: 3,
      property: fc.property(fc.oneof({ weight: 4, arbitrary: forgedFrame(fc) }, { weight: 1, arbitrary: fc.uint8Array({ maxLength: 200 }) }), (frame) => {
        const err = frameErrorOf(() => readHeader(frame));
        check((err === undefined) === frameIsValid(frame), () =>
          err === undefined ? 'readHeader accepted an invalid header' : `readHeader refused a valid header: ${err.reason}`,
        );
      }),
    },
    {
      name: 'valid messages round-trip in any order and chunking, under limits exactly their size',
      weight: 3,
      property: fc.property(messagesOf(fc, 6, 3000), fc.integer({ min: 1, max: 1200 }), fc.nat(), (msgs, chunk, seed) => {
        const all = shuffle(framesOf(msgs, chunk), seed);
        const chunked = msgs.filter((m) => m.payload.byteLength > chunk);
        const limits = {
          maxMessageBytes: Math.max(0, ...msgs.map((m) => m.payload.byteLength)),
          maxPendingBytes: chunked.reduce((n, m) => n + m.payload.byteLength, 0),
          maxPendingMessages: chunked.length,
        };
        const { r, alloc } = boundedReassembler(limits);
        const { delivered, errors } = feedReassembler(r, alloc, limits, all);
        check(errors.length === 0, () => `valid frames refused: ${errors[0]!.reason}`);
        check(delivered.length === msgs.length && r.pending === 0 && r.pendingBytes === 0, 'not every message came out exactly once');
        for (const { origin, message } of delivered) {
          const m = msgs.find((x) => x.origin === origin && x.header.msgId === message.header.msgId)!;
          check(equalBytes(message.payload, m.payload), 'payload changed');
          check(message.reassembled === m.payload.byteLength > chunk, 'reassembled flag wrong');
          for (const k of Object.keys(m.header) as (keyof MessageHeader)[]) check(message.header[k] === m.header[k], () => `header field ${k} changed`);
          check(message.header.totalBytes === m.payload.byteLength, 'total bytes changed');
        }
        check(
          [...alloc.requests].sort((a, b) => a - b).join() ===
            chunked
              .map((m) => m.payload.byteLength)
              .sort((a, b) => a - b)
              .join(),
          'allocated other than one buffer per chunked message',
        );
      }),
    },
    {
      name: 'mutated, dropped, repeated and forged frames: only FrameErrors, within every bound, a consistent state',
      weight: 4,
      property: fc.property(
        messagesOf(fc, 4, 600),
        fc.integer({ min: 1, max: 300 }),
        fc.integer({ min: -8, max: 8 }),
        fc.array(fc.boolean(), { minLength: 1, maxLength: 16 }),
        fc.array(
          fc.record({
            op: fc.constantFrom('drop', 'repeat', 'mutate', 'reseal', 'move'),
            pick: fc.nat(),
            edits: mutations(fc, 3),
            origin: fc.nat({ max: 3 }),
          }),
          { maxLength: 6 },
        ),
        fc.array(forgedFrame(fc), { maxLength: 4 }),
        reassemblerLimits(fc),
        fc.nat(),
        (msgs, chunk, delta, mix, ops, forged, limits, seed) => {
          // Every chunk of every message, each taken from one of two chunkings (when they have the same
          // count): each chunk is valid on its own, but a mix does not tile its message.
          const other = Math.max(1, chunk + delta);
          let k = 0;
          const fed = msgs.flatMap((m) => {
            const a = encodeFrames(m.header, m.payload, chunk);
            const b = encodeFrames(m.header, m.payload, other);
            return a.map((f, i) => ({ origin: m.origin, frame: a.length === b.length && mix[k++ % mix.length] ? b[i]! : f }));
          });
          // Then a few frames dropped, repeated, mutated (the checksum left wrong, or made right), moved to another origin.
          for (const o of ops) {
            if (fed.length === 0) break;
            const at = o.pick % fed.length;
            const f = fed[at]!;
            if (o.op === 'drop') fed.splice(at, 1);
            else if (o.op === 'repeat') fed.push(f);
            else if (o.op === 'move') fed[at] = { ...f, origin: o.origin };
            else fed[at] = { ...f, frame: o.op === 'reseal' ? seal(mutate(f.frame, o.edits)) : mutate(f.frame, o.edits) };
          }
          const all = shuffle([...fed, ...forged.map((frame, i) => ({ origin: i % 4, frame }))], seed);
          const { r, alloc } = boundedReassembler(limits);
          feedReassembler(r, alloc, limits, all);
          r.clear();
          check(r.pending === 0 && r.pendingBytes === 0, 'clear() left something');
        },
      ),
    },
    {
      name: 'a flood of messages started and never finished stays within maxPendingBytes and maxPendingMessages',
      weight: 2,
      property: fc.property(
        fc.array(
          fc.record({
            size: fc.oneof(
              fc.integer({ min: 1, max: 5000 }),
              hostileU32(fc).map((n) => Math.max(1, n)),
            ),
            count: fc.integer({ min: 2, max: 6 }),
            last: fc.integer({ min: 1, max: 8 }),
            origin: fc.nat({ max: 2 }),
          }),
          {
            minLength: 1,
            maxLength: 120,
          },
        ),
        reassemblerLimits(fc),
        (starts, limits) => {
          // Each is the last chunk of its own message: one byte or a few declaring up to ~6 × 2^32.
          const frames = starts.map(({ size, count, last, origin }, msgId) => {
            const b = Math.min(size, last);
            const offset = (count - 1) * size;
            const total = offset + b;
            return {
              origin,
              frame: forgeFrame(
                {
                  ...BASE,
                  msgId,
                  totalLo: total % TWO32,
                  totalHi: Math.floor(total / TWO32),
                  chunkIndex: count - 1,
                  chunkCount: count,
                  chunkBytes: b,
                  offsetLo: offset % TWO32,
                  offsetHi: Math.floor(offset / TWO32),
                },
                b,
              ),
            };
          });
          const { r, alloc } = boundedReassembler(limits);
          const { errors } = feedReassembler(r, alloc, limits, frames);
          for (const e of errors) check(/\((maxMessageBytes|maxPendingBytes|maxPendingMessages)\)/.test(e.reason), () => `a flood frame refused for another reason: ${e.reason}`);
          check(alloc.requests.reduce((n, b) => n + b, 0) === r.pendingBytes, 'allocated bytes and pending bytes differ');
        },
      ),
    },
  ],
};

// ---- stream records -------------------------------------------------------------------------------

export interface RecordLimits {
  maxFrameBytes: number;
  maxHelloBytes: number;
  maxStreamBytes: number;
  /** After this many records, the caller lifts maxStreamBytes (Infinity), as after a handshake. */
  liftAfter: number | undefined;
  /**
   * Bytes go where the decoder asks (readTarget, then wrote) whenever it has a body open, as a socket
   * read with net's `onread` delivers them; the rest of each chunk is pushed. Same outcome either way.
   */
  readTargets?: boolean;
}

export interface DecodedRecord {
  type: RecordType;
  body: Uint8Array;
}

/** What a stream decodes to: its records, then how it ends (ok: on a record boundary; torn; error). */
export interface StreamOutcome {
  records: DecodedRecord[];
  end: 'ok' | 'torn' | 'error';
  /** Where each record's prefix and body start (stream offsets), for the allocation oracle. */
  starts: number[];
  /** Length of a record whose valid prefix arrived but whose body did not (torn inside a body). */
  tornBody?: { at: number; length: number };
}

/** The record grammar applied to the whole stream at once (the oracle for the chunked decoder). */
export function referenceDecode(stream: Uint8Array, l: RecordLimits): StreamOutcome {
  const records: DecodedRecord[] = [];
  const starts: number[] = [];
  let limit = l.liftAfter === 0 ? Infinity : l.maxStreamBytes;
  let pos = 0;
  for (;;) {
    if (pos === stream.byteLength) return { records, starts, end: 'ok' };
    if (stream.byteLength - pos < RECORD_PREFIX_BYTES) return { records, starts, end: 'torn' };
    const type = stream[pos]!;
    const length = new DataView(stream.buffer, stream.byteOffset + pos + 1, 4).getUint32(0, true);
    const ok = type === RecordType.Frame ? length <= l.maxFrameBytes : type === RecordType.Hello ? length <= l.maxHelloBytes : type === RecordType.Bye ? length === 0 : false;
    const bodyAt = pos + RECORD_PREFIX_BYTES;
    if (!ok || bodyAt + length > limit) return { records, starts, end: 'error' };
    if (bodyAt + length > stream.byteLength) return { records, starts, end: 'torn', tornBody: { at: bodyAt, length } };
    records.push({ type, body: stream.subarray(bodyAt, bodyAt + length) });
    starts.push(bodyAt);
    pos = bodyAt + length;
    if (records.length === l.liftAfter) limit = Infinity;
  }
}

/**
 * Decodes `chunks` with a RecordDecoder and checks it against `referenceDecode`: the same records in the
 * same order, the same ending, only FrameErrors; and its allocations are exactly the bodies of the records
 * that span chunks (so never one byte more than a length prefix declared and its limit allowed); views
 * for the others; nothing decoded or allocated once it failed.
 */
export function checkRecordDecoder(chunks: readonly Uint8Array[], l: RecordLimits): StreamOutcome {
  const stream = concat(chunks);
  const want = referenceDecode(stream, l);
  const alloc = new BoundedAllocator(Math.max(l.maxFrameBytes, l.maxHelloBytes));
  const got: { type: RecordType; body: Uint8Array; owned: boolean }[] = [];
  const opts: RecordDecoderOptions = { maxFrameBytes: l.maxFrameBytes, maxHelloBytes: l.maxHelloBytes, allocate: alloc.allocate };
  if (l.liftAfter !== 0) opts.maxStreamBytes = l.maxStreamBytes;
  const d: RecordDecoder = new RecordDecoder((type, body, owned) => {
    got.push({ type, body: new Uint8Array(body), owned });
    if (got.length === l.liftAfter) d.maxStreamBytes = Infinity;
  }, opts);
  let end: StreamOutcome['end'] = 'ok';
  let failedAt = -1;
  const feed = (chunk: Uint8Array): void => {
    let off = 0;
    for (let target = l.readTargets === true ? d.readTarget() : undefined; target !== undefined && off < chunk.byteLength; target = d.readTarget()) {
      const k = Math.min(target.byteLength, chunk.byteLength - off);
      target.set(chunk.subarray(off, off + k));
      d.wrote(k);
      off += k;
    }
    if (off < chunk.byteLength || chunk.byteLength === 0) d.push(chunk.subarray(off));
  };
  for (let i = 0; i < chunks.length; i++) {
    if (frameErrorOf(() => feed(chunks[i]!)) !== undefined) {
      end = 'error';
      failedAt = i;
      break;
    }
  }
  if (end === 'error') {
    const n = { records: got.length, allocs: alloc.requests.length };
    check(!d.idle, 'a failed decoder says it is idle');
    check(frameErrorOf(() => d.push(chunks[failedAt + 1] ?? new Uint8Array([2, 0, 0, 0, 0]))) !== undefined, 'a failed decoder accepted more bytes');
    check(frameErrorOf(() => d.end()) !== undefined, 'a failed decoder ended cleanly');
    check(got.length === n.records && alloc.requests.length === n.allocs, 'a failed decoder went on decoding');
  } else if (frameErrorOf(() => d.end()) !== undefined) {
    end = 'torn';
    check(!d.idle, 'a torn stream is idle');
  } else {
    check(d.idle, 'a cleanly ended stream is not idle');
  }
  check(end === want.end, () => `the stream ended ${end}, the grammar says ${want.end}`);
  check(got.length === want.records.length, () => `${got.length} records decoded, ${want.records.length} in the stream`);
  got.forEach((g, i) => check(g.type === want.records[i]!.type && equalBytes(g.body, want.records[i]!.body), () => `record ${i} differs`));
  // Allocations: exactly the records whose body is not inside the chunk where their prefix completed.
  const chunkEnds: number[] = [];
  let at = 0;
  for (const c of chunks) chunkEnds.push((at += c.byteLength));
  const endOfChunkHolding = (byte: number): number => chunkEnds.find((e) => e > byte)!;
  const spans = (bodyAt: number, length: number): boolean => endOfChunkHolding(bodyAt - 1) - bodyAt < length;
  const expected = want.records.map((r, i) => ({ length: r.body.byteLength, owned: spans(want.starts[i]!, r.body.byteLength) }));
  got.forEach((g, i) => check(g.owned === expected[i]!.owned, () => `record ${i} owned=${g.owned}, expected ${expected[i]!.owned}`));
  const allocs = expected.filter((e) => e.owned).map((e) => e.length);
  if (want.tornBody !== undefined && spans(want.tornBody.at, want.tornBody.length)) allocs.push(want.tornBody.length);
  check(alloc.requests.join() === allocs.join(), () => `allocated [${alloc.requests.join(', ')}], expected [${allocs.join(', ')}]`);
  return want;
}

function recordLimits(fc: FastCheck, generous: boolean): Arbitrary<RecordLimits> {
  return fc.record({
    maxFrameBytes: generous ? fc.constant(4096) : fc.oneof(fc.nat({ max: 1200 }), hostileU32(fc)),
    maxHelloBytes: generous ? fc.constant(4096) : fc.oneof(fc.nat({ max: 600 }), fc.constant(4096), hostileU32(fc)),
    maxStreamBytes: generous ? fc.constant(Infinity) : fc.oneof(fc.constant(Infinity), fc.nat({ max: 3000 })),
    liftAfter: generous ? fc.constant(undefined) : fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    readTargets: fc.boolean(),
  });
}

function recordArb(fc: FastCheck, maxBody: number): Arbitrary<DecodedRecord> {
  return fc.oneof(
    { weight: 6, arbitrary: fc.uint8Array({ maxLength: maxBody }).map((body) => ({ type: RecordType.Frame, body })) },
    { weight: 2, arbitrary: fc.uint8Array({ maxLength: Math.min(maxBody, 600) }).map((body) => ({ type: RecordType.Hello, body })) },
    { weight: 1, arbitrary: fc.constant({ type: RecordType.Bye, body: new Uint8Array(0) }) },
  );
}

function encode(records: readonly DecodedRecord[]): Uint8Array {
  const out = new Uint8Array(records.reduce((n, r) => n + RECORD_PREFIX_BYTES + r.body.byteLength, 0));
  let at = 0;
  for (const r of records) {
    out[at] = r.type;
    new DataView(out.buffer, at + 1, 4).setUint32(0, r.body.byteLength, true);
    out.set(r.body, at + RECORD_PREFIX_BYTES);
    at += RECORD_PREFIX_BYTES + r.body.byteLength;
  }
  return out;
}

/** Cut points: arbitrary, or every k bytes (byte-at-a-time included). */
function chunking(fc: FastCheck): Arbitrary<{ cuts: number[] } | { every: number }> {
  return fc.oneof(
    { weight: 4, arbitrary: fc.record({ cuts: fc.array(fc.nat(), { maxLength: 30 }) }) },
    { weight: 1, arbitrary: fc.record({ every: fc.integer({ min: 1, max: 7 }) }) },
  );
}

function cut(bytes: Uint8Array, c: { cuts: number[] } | { every: number }): Uint8Array[] {
  if ('cuts' in c) return split(bytes, c.cuts);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.byteLength; i += c.every) out.push(bytes.subarray(i, i + c.every));
  return out;
}

export const recordSuite: FuzzSuite = {
  name: 'stream-records',
  properties: (fc) => [
    {
      name: 'valid streams decode to the same records under any chunking, allocating only for spanning records',
      weight: 3,
      property: fc.property(fc.array(recordArb(fc, 3000), { maxLength: 10 }), chunking(fc), fc.boolean(), (records, c, readTargets) => {
        const out = checkRecordDecoder(cut(encode(records), c), { maxFrameBytes: 4096, maxHelloBytes: 4096, maxStreamBytes: Infinity, liftAfter: undefined, readTargets });
        check(out.end === 'ok' && out.records.length === records.length, 'a valid stream did not decode');
      }),
    },
    {
      name: 'arbitrary bytes, any chunking, any limits: only FrameErrors, exactly what the grammar says',
      weight: 2,
      property: fc.property(
        fc.tuple(fc.integer({ min: 0, max: 4 }), fc.uint8Array({ maxLength: 400 })).map(([t, rest]) => concat([new Uint8Array([t]), rest])),
        chunking(fc),
        recordLimits(fc, false),
        (bytes, c, l) => void checkRecordDecoder(cut(bytes, c), l),
      ),
    },
    {
      name: 'mutated and truncated valid streams, any chunking, any limits: only FrameErrors, exactly what the grammar says',
      weight: 4,
      property: fc.property(fc.array(recordArb(fc, 800), { maxLength: 8 }), mutations(fc, 4), chunking(fc), recordLimits(fc, false), (records, edits, c, l) => {
        checkRecordDecoder(cut(mutate(encode(records), edits), c), l);
      }),
    },
    {
      name: 'hostile length prefixes are refused when their 5 bytes are in, before anything is allocated',
      weight: 2,
      property: fc.property(
        fc.array(recordArb(fc, 200), { maxLength: 3 }),
        fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 3 }) }, { weight: 1, arbitrary: fc.nat({ max: 255 }) }),
        hostileU32(fc),
        fc.uint8Array({ maxLength: 64 }),
        chunking(fc),
        recordLimits(fc, false),
        (before, type, length, tail, c, l) => {
          const prefix = new Uint8Array(RECORD_PREFIX_BYTES);
          prefix[0] = type;
          new DataView(prefix.buffer).setUint32(1, length, true);
          const out = checkRecordDecoder(cut(concat([encode(before), prefix, tail]), c), l);
          const limit = type === RecordType.Frame ? l.maxFrameBytes : type === RecordType.Hello ? l.maxHelloBytes : type === RecordType.Bye ? 0 : -1;
          if (length > limit && out.records.length >= before.length) check(out.end === 'error', 'a prefix over its limit was not refused');
        },
      ),
    },
  ],
};
