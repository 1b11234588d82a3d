import { FrameError } from '../errors.js';

/**
 * Records on a byte stream (the direct transport's TCP and Unix socket connections). This module knows
 * bytes, not sockets: the decoder is fed whatever chunks the socket delivers and pushes whole records into
 * a callback, so it is tested byte by byte.
 *
 *   record = type:u8 | length:u32 little-endian | body[length]
 *
 *   HELLO  first record each way: JSON {proto, burst, from, to}; names who dialed whom
 *   FRAME  one transport frame (a kubeburst wire frame, header + chunk)
 *   BYE    empty: the sender closes this connection on purpose (a close without it means the peer is lost)
 *
 * Decoding is linear: a record lying inside one socket chunk is passed on as a view of that chunk (no
 * copy); a record spanning chunks is copied once, piece by piece, into a buffer of its exact size. A reader
 * that can choose where the socket reads to (net's `onread`) asks `readTarget()` for the rest of that
 * buffer, reads into it and says `wrote(n)`: then only what arrived with the record's prefix is copied.
 *
 * Bounded: a length prefix is checked against its type's limit (and the stream limit, `maxStreamBytes`)
 * as soon as its 5 bytes are in, before anything is allocated; the decoder never allocates more than one
 * body at a time, of at most max(maxFrameBytes, maxHelloBytes) bytes. A FrameError says what was wrong
 * (which field, which limit, which value); the caller adds which peer sent it.
 */
export const enum RecordType {
  Hello = 1,
  Frame = 2,
  Bye = 3,
}

export const RECORD_PREFIX_BYTES = 5;
/** The default `maxHelloBytes`. */
export const DEFAULT_MAX_HELLO_BYTES = 4096;
const U32_MAX = 0xffff_ffff;

/** The prefix of one record; the body is written after it (cork + two writes, i.e. one writev). */
export function recordPrefix(type: RecordType, bodyBytes: number, target = new Uint8Array(RECORD_PREFIX_BYTES), offset = 0): Uint8Array {
  if (!(bodyBytes >= 0 && bodyBytes <= U32_MAX && Number.isInteger(bodyBytes))) {
    throw new FrameError(`record body of ${bodyBytes} bytes does not fit the 32-bit length prefix`);
  }
  target[offset] = type;
  target[offset + 1] = bodyBytes & 0xff;
  target[offset + 2] = (bodyBytes >>> 8) & 0xff;
  target[offset + 3] = (bodyBytes >>> 16) & 0xff;
  target[offset + 4] = bodyBytes >>> 24;
  return target;
}

/** A whole record in one buffer (handshakes and tests; frames go as prefix + body). */
export function encodeRecord(type: RecordType, body: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(RECORD_PREFIX_BYTES + body.byteLength);
  recordPrefix(type, body.byteLength, out);
  out.set(body, RECORD_PREFIX_BYTES);
  return out;
}

export interface RecordDecoderOptions {
  /** Largest FRAME body accepted; a larger length prefix means the stream is corrupt. */
  maxFrameBytes: number;
  /** Largest HELLO body accepted. Default: DEFAULT_MAX_HELLO_BYTES (4096). */
  maxHelloBytes?: number;
  /**
   * Every record must end within this many bytes of the start of the stream (prefixes included): the
   * prefix of a record that would end past it is refused before its body is allocated, so a peer gets at
   * most this many bytes (plus the 5 of the refused prefix) decoded. Default: no limit. The decoder's
   * `maxStreamBytes` field can be changed at any time, also from `onRecord` (it applies from the next
   * prefix): e.g. start at a handshake's worth of bytes and lift it (`Infinity`) once the handshake is done.
   */
  maxStreamBytes?: number;
  /** Where spanning records land (a buffer of exactly `bytes`, owned by the record from then on). */
  allocate?: (bytes: number) => Uint8Array;
}

export class RecordDecoder {
  private readonly prefix = new Uint8Array(RECORD_PREFIX_BYTES);
  private prefixFill = 0;
  private type: RecordType = RecordType.Frame;
  /** Body of the record being assembled across chunks, and how much of it has arrived. */
  private body: Uint8Array | undefined;
  private bodyFill = 0;
  /** Stream bytes pushed before the current chunk. */
  private streamed = 0;
  /** Set by the first corrupt prefix: the stream is unusable from then on. */
  private failure: FrameError | undefined;
  private readonly allocate: (bytes: number) => Uint8Array;
  private readonly maxFrameBytes: number;
  private readonly maxHelloBytes: number;
  /** See RecordDecoderOptions.maxStreamBytes (stream bytes, counted from the first byte ever pushed). */
  maxStreamBytes: number;

  constructor(
    /** `owned`: the body has a buffer of its own (from allocate); otherwise it is a view of a pushed chunk. */
    private readonly onRecord: (type: RecordType, body: Uint8Array, owned: boolean) => void,
    o: RecordDecoderOptions,
  ) {
    this.allocate = o.allocate ?? ((n) => new Uint8Array(n));
    this.maxFrameBytes = o.maxFrameBytes;
    this.maxHelloBytes = o.maxHelloBytes ?? DEFAULT_MAX_HELLO_BYTES;
    this.maxStreamBytes = o.maxStreamBytes ?? Infinity;
  }

  /**
   * Feeds the next bytes of the stream; throws FrameError on a corrupt prefix. The stream is then unusable:
   * every later push (and end) throws too, naming the first error.
   */
  push(chunk: Uint8Array): void {
    if (this.failure !== undefined) throw new FrameError(`the stream already failed (${this.failure.reason}); nothing after that is decoded`);
    let off = 0;
    const n = chunk.byteLength;
    const start = this.streamed;
    this.streamed += n;
    while (off < n) {
      if (this.body !== undefined) {
        const take = Math.min(n - off, this.body.byteLength - this.bodyFill);
        this.body.set(chunk.subarray(off, off + take), this.bodyFill);
        this.bodyFill += take;
        off += take;
        if (this.bodyFill === this.body.byteLength) {
          const body = this.body;
          this.body = undefined;
          this.onRecord(this.type, body, true);
        }
        continue;
      }
      let length: number;
      if (this.prefixFill === 0 && n - off >= RECORD_PREFIX_BYTES) {
        off += RECORD_PREFIX_BYTES;
        length = this.readPrefix(chunk, off - RECORD_PREFIX_BYTES, start + off);
      } else {
        const take = Math.min(n - off, RECORD_PREFIX_BYTES - this.prefixFill);
        for (let i = 0; i < take; i++) this.prefix[this.prefixFill + i] = chunk[off + i]!;
        this.prefixFill += take;
        off += take;
        if (this.prefixFill < RECORD_PREFIX_BYTES) return;
        this.prefixFill = 0;
        length = this.readPrefix(this.prefix, 0, start + off);
      }
      if (n - off >= length) {
        this.onRecord(this.type, chunk.subarray(off, off + length), false);
        off += length;
      } else {
        this.body = this.allocate(length);
        this.bodyFill = 0;
      }
    }
  }

  /**
   * Where the next bytes of the stream can be read to with no copy: the rest of the body being assembled,
   * while there is one (then read into it and call `wrote`); undefined between records (read anywhere and
   * `push`). Reading less than it holds is fine: the next call gives what is still missing.
   */
  readTarget(): Uint8Array | undefined {
    if (this.body === undefined || this.failure !== undefined) return undefined;
    return this.body.subarray(this.bodyFill);
  }

  /** `n` bytes of the stream were read into `readTarget()`; the record is passed on once it is whole. */
  wrote(n: number): void {
    const body = this.body;
    if (body === undefined || this.failure !== undefined || !(Number.isInteger(n) && n >= 0 && n <= body.byteLength - this.bodyFill)) {
      throw new FrameError(`wrote(${n}) does not fit the read target (${body === undefined ? 'there is none' : `${body.byteLength - this.bodyFill} bytes`})`);
    }
    this.streamed += n;
    this.bodyFill += n;
    if (this.bodyFill === body.byteLength) {
      this.body = undefined;
      this.onRecord(this.type, body, true);
    }
  }

  /** The stream ended: throws when it ended inside a record (a torn write, or the peer died mid-frame). */
  end(): void {
    if (this.failure !== undefined) throw new FrameError(`the stream ended after it failed (${this.failure.reason})`);
    if (this.prefixFill > 0) throw new FrameError(`stream ended inside a record prefix (${this.prefixFill} of ${RECORD_PREFIX_BYTES} bytes)`);
    if (this.body !== undefined) throw new FrameError(`stream ended inside a record (${this.bodyFill} of ${this.body.byteLength} body bytes)`);
  }

  /** True between records (nothing half-received). */
  get idle(): boolean {
    return this.prefixFill === 0 && this.body === undefined && this.failure === undefined;
  }

  /** Checks the prefix at `bytes[at..at+5)`, whose body starts at stream byte `bodyAt`; returns the body length. */
  private readPrefix(bytes: Uint8Array, at: number, bodyAt: number): number {
    const type = bytes[at]!;
    const length = (bytes[at + 1]! | (bytes[at + 2]! << 8) | (bytes[at + 3]! << 16) | (bytes[at + 4]! << 24)) >>> 0;
    switch (type) {
      case RecordType.Frame:
        if (length > this.maxFrameBytes) {
          this.fail(`record length prefix says ${length} bytes, more than the ${this.maxFrameBytes}-byte frame limit: the stream is corrupt or not a kubeburst peer`);
        }
        break;
      case RecordType.Hello:
        if (length > this.maxHelloBytes) this.fail(`hello record of ${length} bytes (limit ${this.maxHelloBytes}): the stream is corrupt or not a kubeburst peer`);
        break;
      case RecordType.Bye:
        if (length !== 0) this.fail(`bye record carries ${length} bytes (expected 0): the stream is corrupt`);
        break;
      default:
        this.fail(`unknown record type ${type} (expected 1 hello, 2 frame or 3 bye): the stream is corrupt or not a kubeburst peer`);
    }
    if (bodyAt + length > this.maxStreamBytes) {
      this.fail(`a ${length}-byte record would end at stream byte ${bodyAt + length}, past the ${this.maxStreamBytes} bytes this stream may carry now (maxStreamBytes)`);
    }
    this.type = type;
    return length;
  }

  private fail(reason: string): never {
    this.failure = new FrameError(reason);
    throw this.failure;
  }
}
