import { ConfigError, FrameError } from '../errors.js';
import { isDType, type DType } from './dtype.js';

/**
 * Wire frame: a fixed 64-byte little-endian header, then up to one chunk of payload.
 *
 *   off size field
 *    0   2   magic 0x4B42 ("KB")       32  8  total payload bytes (u32 lo, u32 hi)
 *    2   1   version                   40  4  chunk index
 *    3   1   kind (MsgKind)            44  4  chunk count
 *    4   1   dtype                     48  4  chunk payload bytes (this frame)
 *    5   1   op (collective code)      52  8  chunk offset (u32 lo, u32 hi)
 *    6   2   flags                     60  4  header checksum (FNV-1a of bytes 0..59)
 *    8   4   src worker (i32, -1 = pack-level)
 *   12   4   dst worker (i32, -1 = pack-level)
 *   16   4   seq   (p2p: per (src, dst) counter; collective: call index)
 *   20   4   tag   (collective step / part)
 *   24   4   root  (collective root, -1 if none)
 *   28   4   msg id (per sending pack; keys chunk reassembly)
 *
 * The header is versioned and has a fixed byte order, so packs on different hosts agree. 64 bytes keeps
 * the payload 8-byte aligned, so a Float64Array can view it in place.
 *
 * Chunking is uniform (what `chunkHeaders` writes): a message of T bytes cut into S-byte chunks takes
 * C = max(1, ceil(T / S)) frames, chunk i covers [i·S, min((i+1)·S, T)). `readHeader` refuses a header
 * that does not fit that rule, so the chunks of a message tile it exactly: no gaps, no overlaps, none empty
 * (but the one frame of an empty message), and C never exceeds T.
 */
export const HEADER_BYTES = 64;
/**
 * Room left after every frame a worker builds (not part of the frame): a transport that appends a trailer
 * (transport/sealed.ts: sender, counter, epoch, tag) writes it there instead of copying the frame.
 */
export const FRAME_TRAILER_BYTES = 32;
export const FRAME_MAGIC = 0x4b42;
export const FRAME_VERSION = 1;

export const enum MsgKind {
  /** User point-to-point message. */
  P2P = 1,
  /** A step of a collective. */
  Coll = 2,
  /** Pack-level control (join, heartbeat, abort, done): JSON payload, src/dst are pack ids. */
  Control = 3,
}

export interface Header {
  kind: MsgKind;
  dtype: DType;
  op: number;
  flags: number;
  src: number;
  dst: number;
  seq: number;
  tag: number;
  root: number;
  msgId: number;
  totalBytes: number;
  chunkIndex: number;
  chunkCount: number;
  chunkBytes: number;
  chunkOffset: number;
}

const TWO32 = 0x1_0000_0000;

function fnv1a(bytes: Uint8Array, end: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < end; i++) {
    h ^= bytes[i]!;
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export function writeHeader(target: Uint8Array, h: Header): void {
  if (target.byteLength < HEADER_BYTES) throw new FrameError(`header needs ${HEADER_BYTES} bytes`);
  const v = new DataView(target.buffer, target.byteOffset, HEADER_BYTES);
  v.setUint16(0, FRAME_MAGIC, true);
  v.setUint8(2, FRAME_VERSION);
  v.setUint8(3, h.kind);
  v.setUint8(4, h.dtype);
  v.setUint8(5, h.op);
  v.setUint16(6, h.flags, true);
  v.setInt32(8, h.src, true);
  v.setInt32(12, h.dst, true);
  v.setUint32(16, h.seq >>> 0, true);
  v.setUint32(20, h.tag >>> 0, true);
  v.setInt32(24, h.root, true);
  v.setUint32(28, h.msgId >>> 0, true);
  v.setUint32(32, h.totalBytes % TWO32, true);
  v.setUint32(36, Math.floor(h.totalBytes / TWO32), true);
  v.setUint32(40, h.chunkIndex, true);
  v.setUint32(44, h.chunkCount, true);
  v.setUint32(48, h.chunkBytes, true);
  v.setUint32(52, h.chunkOffset % TWO32, true);
  v.setUint32(56, Math.floor(h.chunkOffset / TWO32), true);
  v.setUint32(60, fnv1a(target.subarray(0, 60), 60), true);
}

/**
 * Whether a frame says it carries a whole message (chunk count 1), read without validating the header:
 * a hint for how to buffer it (transport/sealed.ts); readHeader still decides what the frame is.
 */
export function saysWholeMessage(frame: Uint8Array): boolean {
  return frame.byteLength >= HEADER_BYTES && (frame[44]! | (frame[45]! << 8) | (frame[46]! << 16) | (frame[47]! << 24)) === 1;
}

/** Decodes and validates a header; throws FrameError naming the first inconsistency. */
export function readHeader(frame: Uint8Array): Header {
  if (frame.byteLength < HEADER_BYTES) throw new FrameError(`frame of ${frame.byteLength} bytes is shorter than the ${HEADER_BYTES}-byte header`);
  const v = new DataView(frame.buffer, frame.byteOffset, HEADER_BYTES);
  const magic = v.getUint16(0, true);
  if (magic !== FRAME_MAGIC) throw new FrameError(`bad magic 0x${magic.toString(16)} (expected 0x${FRAME_MAGIC.toString(16)}): not a kubeburst frame`);
  const version = v.getUint8(2);
  if (version !== FRAME_VERSION) throw new FrameError(`frame version ${version}; this runtime speaks version ${FRAME_VERSION} (mixed kubeburst versions in one burst?)`);
  const sum = v.getUint32(60, true);
  if (sum !== fnv1a(frame, 60)) throw new FrameError('header checksum mismatch');
  const kind = v.getUint8(3);
  if (kind !== MsgKind.P2P && kind !== MsgKind.Coll && kind !== MsgKind.Control) throw new FrameError(`unknown message kind ${kind}`);
  const dtype = v.getUint8(4);
  if (!isDType(dtype)) throw new FrameError(`unknown element type ${dtype}`);
  const totalHi = v.getUint32(36, true);
  if (totalHi > MAX_SAFE_HI) {
    throw new FrameError(`total payload bytes field 0x${totalHi.toString(16)}${v.getUint32(32, true).toString(16).padStart(8, '0')} is above 2^53 - 1`);
  }
  const h: Header = {
    kind,
    dtype,
    op: v.getUint8(5),
    flags: v.getUint16(6, true),
    src: v.getInt32(8, true),
    dst: v.getInt32(12, true),
    seq: v.getUint32(16, true),
    tag: v.getUint32(20, true),
    root: v.getInt32(24, true),
    msgId: v.getUint32(28, true),
    totalBytes: v.getUint32(32, true) + totalHi * TWO32,
    chunkIndex: v.getUint32(40, true),
    chunkCount: v.getUint32(44, true),
    chunkBytes: v.getUint32(48, true),
    chunkOffset: v.getUint32(52, true) + v.getUint32(56, true) * TWO32,
  };
  if (h.chunkCount < 1) throw new FrameError('chunk count is 0');
  if (h.chunkIndex >= h.chunkCount) throw new FrameError(`chunk index ${h.chunkIndex} >= chunk count ${h.chunkCount}`);
  if (h.chunkOffset + h.chunkBytes > h.totalBytes) {
    throw new FrameError(`chunk [${h.chunkOffset}, ${h.chunkOffset + h.chunkBytes}) overruns the ${h.totalBytes}-byte message`);
  }
  if (frame.byteLength !== HEADER_BYTES + h.chunkBytes) {
    throw new FrameError(`frame carries ${frame.byteLength - HEADER_BYTES} payload bytes but its header says ${h.chunkBytes}`);
  }
  checkChunking(h);
  return h;
}

/** 2^53 - 1 = MAX_SAFE_INTEGER: its high 32-bit word. */
const MAX_SAFE_HI = 0x1f_ffff;
const U32_MAX = 0xffff_ffff;

/**
 * The chunk fits the uniform chunking of its message (see the header doc). Only comparisons, on numbers
 * that are safe integers by now (offset + bytes <= total <= 2^53 - 1), so a product above 2^53 compares
 * unequal, as it should.
 */
function checkChunking(h: Header): void {
  const { totalBytes: t, chunkIndex: i, chunkCount: c, chunkBytes: b, chunkOffset: o } = h;
  if (c === 1) {
    if (b !== t) throw new FrameError(`single-chunk message of ${t} bytes carries ${b}`);
    return;
  }
  if (c > t) throw new FrameError(`a ${t}-byte message cannot take ${c} chunks (every chunk carries at least one byte)`);
  if (b === 0) throw new FrameError(`chunk ${i} of ${c} is empty`);
  if (i < c - 1) {
    // A chunk before the last is full: its length is the message's chunk size.
    if (o !== i * b) throw new FrameError(`chunk ${i} of ${c} starts at offset ${o}; in ${b}-byte chunks it starts at ${i * b}`);
    if ((c - 1) * b >= t || c * b < t) throw new FrameError(`a ${t}-byte message cut into ${b}-byte chunks takes ${Math.ceil(t / b)} chunks, not ${c}`);
    return;
  }
  const size = o / (c - 1);
  if (!Number.isInteger(size)) throw new FrameError(`last chunk ${i} of ${c} starts at offset ${o}, which is not ${c - 1} whole chunks`);
  if (o + b !== t) throw new FrameError(`last chunk ${i} of ${c} ends at ${o + b}, not at the end of the ${t}-byte message`);
  if (b > size) throw new FrameError(`last chunk ${i} of ${c} carries ${b} bytes, more than the ${size}-byte chunks before it`);
}

/** The chunk size of a checked multi-chunk header (every chunk of one message must agree on it). */
function chunkSizeOf(h: Header): number {
  return h.chunkIndex < h.chunkCount - 1 ? h.chunkBytes : h.chunkOffset / (h.chunkCount - 1);
}

/** The message-level fields of a header; chunking fills in the rest. */
export type MessageHeader = Omit<Header, 'totalBytes' | 'chunkIndex' | 'chunkCount' | 'chunkBytes' | 'chunkOffset'>;

/** How many frames a message of `total` bytes takes: at least one, so an empty message is still sent. */
export function chunkCount(total: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(total / chunkBytes));
}

/**
 * `h` with its chunk fields set, field by field: not `{ ...h, totalBytes, … }`, whose five properties added
 * after the spread each take a slow path in Node 20's V8, on every remote message.
 */
function withChunk(h: MessageHeader, totalBytes: number, chunkIndex: number, chunkCount: number, chunkBytes: number, chunkOffset: number): Header {
  return {
    kind: h.kind,
    dtype: h.dtype,
    op: h.op,
    flags: h.flags,
    src: h.src,
    dst: h.dst,
    seq: h.seq,
    tag: h.tag,
    root: h.root,
    msgId: h.msgId,
    totalBytes,
    chunkIndex,
    chunkCount,
    chunkBytes,
    chunkOffset,
  };
}

/** The header of every frame of one message (each names its chunk's offset and length). */
export function chunkHeaders(h: MessageHeader, total: number, chunkBytes: number): Header[] {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1 || chunkBytes > U32_MAX) throw new FrameError(`chunk size must be an integer in [1, 2^32 - 1] (got ${chunkBytes})`);
  if (!Number.isSafeInteger(total) || total < 0) throw new FrameError(`message size must be an integer in [0, 2^53 - 1] (got ${total})`);
  const count = chunkCount(total, chunkBytes);
  if (count > U32_MAX) throw new FrameError(`a ${total}-byte message in ${chunkBytes}-byte chunks takes ${count} chunks, more than the chunk count field holds (2^32 - 1)`);
  const out: Header[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const off = i * chunkBytes;
    out[i] = withChunk(h, total, i, count, Math.min(chunkBytes, total - off), off);
  }
  return out;
}

/**
 * Splits one message into frames of at most `chunkBytes` payload each. A zero-length message is one frame
 * with an empty payload (so it is delivered, not lost). Each frame is a fresh buffer from `allocate`:
 * header + chunk.
 */
export function encodeFrames(h: MessageHeader, payload: Uint8Array, chunkBytes: number, allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(n)): Uint8Array[] {
  return chunkHeaders(h, payload.byteLength, chunkBytes).map((c) => {
    const frame = allocate(HEADER_BYTES + c.chunkBytes);
    writeHeader(frame, c);
    frame.set(payload.subarray(c.chunkOffset, c.chunkOffset + c.chunkBytes), HEADER_BYTES);
    return frame;
  });
}

/** A fully received message: header plus its whole payload. */
export interface Message {
  header: Header;
  payload: Uint8Array;
  /** The payload was reassembled into a buffer from `allocate` (else it is a view of the pushed frame). */
  reassembled: boolean;
}

/** Bounds on what a Reassembler holds for messages still missing chunks (see `Reassembler`). */
export interface ReassemblerLimits {
  /** Largest message accepted, in payload bytes. Default: `maxPendingBytes`. */
  maxMessageBytes?: number;
  /** Most payload bytes allocated for partly received messages at once. Default: 4 GiB. */
  maxPendingBytes?: number;
  /** Most partly received messages at once. Default: 65,536. */
  maxPendingMessages?: number;
}

/**
 * 4 GiB: Node 20's largest buffer, so no message a sender can build is refused on its own. A pack should
 * pass less (what its memory allows): this default only keeps a hostile peer from reserving unbounded memory.
 */
export const DEFAULT_MAX_PENDING_BYTES = 4 * 1024 * 1024 * 1024;
/** Far above what packs keep in flight (about one partial message per sending pack), well below harm. */
export const DEFAULT_MAX_PENDING_MESSAGES = 65_536;

interface PartialMessage {
  header: Header;
  payload: Uint8Array;
  /** One bit per chunk index. */
  seen: Uint8Array;
  received: number;
  chunkSize: number;
}

/**
 * Reassembles chunked messages, keyed by (sending pack, msg id). Chunks may arrive in any order and
 * interleaved with other messages. `allocate` chooses where payloads land (in a pack: a buffer of its own
 * per message, which then moves to its worker thread by transfer, without another copy).
 *
 * Bounded: the first chunk of a message allocates its whole payload (`totalBytes`, from the header), so
 * before allocating, a message must fit `maxMessageBytes`, the bytes of all partial messages together
 * `maxPendingBytes`, and their number `maxPendingMessages`. A chunk that breaks a bound, or any rule, is a
 * FrameError (the caller names the peer) and changes nothing, except that a chunk disagreeing with its
 * message's size discards that message. Per partial message there is also a chunk map of one bit per chunk
 * (at most 1/8 of its payload, since every chunk carries a byte).
 */
export class Reassembler {
  /** origin → msg id → partial message (an origin's map goes when its last partial message does). */
  private readonly partial = new Map<number | string, Map<number, PartialMessage>>();
  private count = 0;
  private bytes = 0;
  private readonly maxMessageBytes: number;
  private readonly maxPendingBytes: number;
  private readonly maxPendingMessages: number;

  /** `limits`: a number is `maxMessageBytes` (the old signature). */
  constructor(
    private readonly allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(n),
    limits: number | ReassemblerLimits = {},
  ) {
    const l = typeof limits === 'number' ? { maxMessageBytes: limits } : limits;
    this.maxPendingBytes = limit('maxPendingBytes', l.maxPendingBytes, DEFAULT_MAX_PENDING_BYTES);
    this.maxMessageBytes = limit('maxMessageBytes', l.maxMessageBytes, this.maxPendingBytes);
    this.maxPendingMessages = limit('maxPendingMessages', l.maxPendingMessages, DEFAULT_MAX_PENDING_MESSAGES);
  }

  /** Feeds one frame; returns the message when it completes, else undefined. */
  push(origin: number | string, frame: Uint8Array): Message | undefined {
    const h = readHeader(frame);
    if (h.totalBytes > this.maxMessageBytes)
      throw new FrameError(`message ${h.msgId} of ${h.totalBytes} bytes exceeds the ${this.maxMessageBytes}-byte message limit (maxMessageBytes)`);
    const chunk = frame.subarray(HEADER_BYTES);
    if (h.chunkCount === 1) return { header: h, payload: chunk, reassembled: false };
    const chunkSize = chunkSizeOf(h);
    const entry = this.partial.get(origin)?.get(h.msgId) ?? this.open(origin, h, chunkSize);
    if (entry.header.totalBytes !== h.totalBytes || entry.header.chunkCount !== h.chunkCount || entry.chunkSize !== chunkSize) {
      this.close(origin, h.msgId, entry);
      const e = entry.header;
      throw new FrameError(
        `chunk ${h.chunkIndex} of message ${h.msgId} says ${h.totalBytes} bytes in ${h.chunkCount} chunks of ${chunkSize}; earlier chunks said ${e.totalBytes} bytes in ${e.chunkCount} chunks of ${entry.chunkSize} (it disagrees with earlier chunks on its size)`,
      );
    }
    // The message is delivered under its first chunk's header: every chunk must name the same message.
    const differs = MESSAGE_FIELDS.find((f) => entry.header[f] !== h[f]);
    if (differs !== undefined) {
      this.close(origin, h.msgId, entry);
      throw new FrameError(
        `chunk ${h.chunkIndex} of message ${h.msgId} says ${differs} ${h[differs]}; earlier chunks said ${entry.header[differs]} (every chunk of a message carries the same header)`,
      );
    }
    const bit = 1 << (h.chunkIndex & 7);
    const at = h.chunkIndex >>> 3;
    if ((entry.seen[at]! & bit) !== 0) throw new FrameError(`duplicate chunk ${h.chunkIndex} of message ${h.msgId}`);
    entry.seen[at]! |= bit;
    entry.payload.set(chunk, h.chunkOffset);
    if (++entry.received < h.chunkCount) return undefined;
    this.close(origin, h.msgId, entry);
    return { header: withChunk(entry.header, h.totalBytes, 0, 1, h.totalBytes, 0), payload: entry.payload, reassembled: true };
  }

  /** Messages still missing chunks (for diagnostics and leak checks). */
  get pending(): number {
    return this.count;
  }

  /** Payload bytes allocated for messages still missing chunks. */
  get pendingBytes(): number {
    return this.bytes;
  }

  clear(): void {
    this.partial.clear();
    this.count = 0;
    this.bytes = 0;
  }

  /** The first chunk of a message: checks the bounds, then allocates its payload. */
  private open(origin: number | string, h: Header, chunkSize: number): PartialMessage {
    if (this.count >= this.maxPendingMessages) {
      throw new FrameError(
        `message ${h.msgId} would be partly received message number ${this.count + 1}, above the limit of ${this.maxPendingMessages} (maxPendingMessages): messages are started and not finished`,
      );
    }
    if (h.totalBytes > this.maxPendingBytes - this.bytes) {
      throw new FrameError(
        `message ${h.msgId} of ${h.totalBytes} bytes would raise the bytes held for partly received messages from ${this.bytes} to ${this.bytes + h.totalBytes}, above the limit of ${this.maxPendingBytes} (maxPendingBytes)`,
      );
    }
    const entry: PartialMessage = { header: h, payload: this.allocate(h.totalBytes), seen: new Uint8Array((h.chunkCount + 7) >>> 3), received: 0, chunkSize };
    let byId = this.partial.get(origin);
    if (byId === undefined) this.partial.set(origin, (byId = new Map()));
    byId.set(h.msgId, entry);
    this.count++;
    this.bytes += h.totalBytes;
    return entry;
  }

  private close(origin: number | string, msgId: number, entry: PartialMessage): void {
    const byId = this.partial.get(origin)!;
    byId.delete(msgId);
    if (byId.size === 0) this.partial.delete(origin);
    this.count--;
    this.bytes -= entry.header.totalBytes;
  }
}

/** What every chunk of one message says alike (besides its size, checked first). */
const MESSAGE_FIELDS = ['kind', 'dtype', 'op', 'flags', 'src', 'dst', 'seq', 'tag', 'root'] as const satisfies readonly (keyof Header)[];

function limit(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isSafeInteger(value) || value < 0) throw new ConfigError(`Reassembler ${name}`, `must be an integer in [0, 2^53 - 1] (got ${value})`);
  return value;
}
