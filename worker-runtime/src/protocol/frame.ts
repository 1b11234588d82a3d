import { FrameError } from '../errors.js';
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
 */
export const HEADER_BYTES = 64;
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
    totalBytes: v.getUint32(32, true) + v.getUint32(36, true) * TWO32,
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
  return h;
}

/** The message-level fields of a header; chunking fills in the rest. */
export type MessageHeader = Omit<Header, 'totalBytes' | 'chunkIndex' | 'chunkCount' | 'chunkBytes' | 'chunkOffset'>;

/** How many frames a message of `total` bytes takes: at least one, so an empty message is still sent. */
export function chunkCount(total: number, chunkBytes: number): number {
  return Math.max(1, Math.ceil(total / chunkBytes));
}

/** The header of every frame of one message (each names its chunk's offset and length). */
export function chunkHeaders(h: MessageHeader, total: number, chunkBytes: number): Header[] {
  if (!Number.isInteger(chunkBytes) || chunkBytes < 1) throw new FrameError(`chunk size must be a positive integer (got ${chunkBytes})`);
  const count = chunkCount(total, chunkBytes);
  const out: Header[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const off = i * chunkBytes;
    out[i] = { ...h, totalBytes: total, chunkIndex: i, chunkCount: count, chunkBytes: Math.min(chunkBytes, total - off), chunkOffset: off };
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

/**
 * Reassembles chunked messages, keyed by (sending pack, msg id). Chunks may arrive in any order and
 * interleaved with other messages. `allocate` chooses where payloads land (in a pack: a buffer of its own
 * per message, which then moves to its worker thread by transfer, without another copy).
 */
export class Reassembler {
  private readonly partial = new Map<string, { header: Header; payload: Uint8Array; seen: Uint8Array; received: number }>();

  constructor(
    private readonly allocate: (bytes: number) => Uint8Array = (n) => new Uint8Array(n),
    private readonly maxMessageBytes = Number.MAX_SAFE_INTEGER,
  ) {}

  /** Feeds one frame; returns the message when it completes, else undefined. */
  push(origin: number | string, frame: Uint8Array): Message | undefined {
    const h = readHeader(frame);
    const chunk = frame.subarray(HEADER_BYTES);
    if (h.chunkCount === 1) {
      if (h.chunkBytes !== h.totalBytes) throw new FrameError(`single-chunk message of ${h.totalBytes} bytes carries ${h.chunkBytes}`);
      return { header: h, payload: chunk, reassembled: false };
    }
    if (h.totalBytes > this.maxMessageBytes) throw new FrameError(`message of ${h.totalBytes} bytes exceeds the limit of ${this.maxMessageBytes}`);
    const key = `${origin}/${h.msgId}`;
    let entry = this.partial.get(key);
    if (entry === undefined) {
      entry = { header: h, payload: this.allocate(h.totalBytes), seen: new Uint8Array(h.chunkCount), received: 0 };
      this.partial.set(key, entry);
    } else if (entry.header.totalBytes !== h.totalBytes || entry.header.chunkCount !== h.chunkCount) {
      this.partial.delete(key);
      throw new FrameError(`chunk ${h.chunkIndex} of message ${key} disagrees with earlier chunks on its size`);
    }
    if (entry.seen[h.chunkIndex] === 1) throw new FrameError(`duplicate chunk ${h.chunkIndex} of message ${key}`);
    entry.seen[h.chunkIndex] = 1;
    entry.payload.set(chunk, h.chunkOffset);
    entry.received++;
    if (entry.received < h.chunkCount) return undefined;
    this.partial.delete(key);
    return { header: { ...entry.header, chunkIndex: 0, chunkCount: 1, chunkBytes: h.totalBytes, chunkOffset: 0 }, payload: entry.payload, reassembled: true };
  }

  /** Messages still missing chunks (for diagnostics and leak checks). */
  get pending(): number {
    return this.partial.size;
  }

  clear(): void {
    this.partial.clear();
  }
}
