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
 * copy); a record spanning chunks is copied once, piece by piece, into a buffer of its exact size.
 */
export const enum RecordType {
  Hello = 1,
  Frame = 2,
  Bye = 3,
}

export const RECORD_PREFIX_BYTES = 5;
const MAX_HELLO_BYTES = 4096;

/** The prefix of one record; the body is written after it (cork + two writes, i.e. one writev). */
export function recordPrefix(type: RecordType, bodyBytes: number, target = new Uint8Array(RECORD_PREFIX_BYTES), offset = 0): Uint8Array {
  target[offset] = type;
  new DataView(target.buffer, target.byteOffset + offset, 4 + 1).setUint32(1, bodyBytes, true);
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
  private readonly allocate: (bytes: number) => Uint8Array;

  constructor(
    /** `owned`: the body has a buffer of its own (from allocate); otherwise it is a view of a pushed chunk. */
    private readonly onRecord: (type: RecordType, body: Uint8Array, owned: boolean) => void,
    private readonly o: RecordDecoderOptions,
  ) {
    this.allocate = o.allocate ?? ((n) => new Uint8Array(n));
  }

  /** Feeds the next bytes of the stream; throws FrameError on a corrupt prefix (the stream is then unusable). */
  push(chunk: Uint8Array): void {
    let off = 0;
    const n = chunk.byteLength;
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
        length = this.readPrefix(chunk, off);
        off += RECORD_PREFIX_BYTES;
      } else {
        const take = Math.min(n - off, RECORD_PREFIX_BYTES - this.prefixFill);
        this.prefix.set(chunk.subarray(off, off + take), this.prefixFill);
        this.prefixFill += take;
        off += take;
        if (this.prefixFill < RECORD_PREFIX_BYTES) return;
        this.prefixFill = 0;
        length = this.readPrefix(this.prefix, 0);
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

  /** The stream ended: throws when it ended inside a record (a torn write, or the peer died mid-frame). */
  end(): void {
    if (this.prefixFill > 0) throw new FrameError(`stream ended inside a record prefix (${this.prefixFill} of ${RECORD_PREFIX_BYTES} bytes)`);
    if (this.body !== undefined) throw new FrameError(`stream ended inside a record (${this.bodyFill} of ${this.body.byteLength} body bytes)`);
  }

  /** True between records (nothing half-received). */
  get idle(): boolean {
    return this.prefixFill === 0 && this.body === undefined;
  }

  private readPrefix(bytes: Uint8Array, at: number): number {
    const type = bytes[at]!;
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, RECORD_PREFIX_BYTES).getUint32(1, true);
    switch (type) {
      case RecordType.Frame:
        if (length > this.o.maxFrameBytes) {
          throw new FrameError(`record length prefix says ${length} bytes, more than the ${this.o.maxFrameBytes}-byte frame limit: the stream is corrupt or not a kubeburst peer`);
        }
        break;
      case RecordType.Hello:
        if (length > MAX_HELLO_BYTES) throw new FrameError(`hello record of ${length} bytes (limit ${MAX_HELLO_BYTES}): the stream is corrupt or not a kubeburst peer`);
        break;
      case RecordType.Bye:
        if (length !== 0) throw new FrameError(`bye record carries ${length} bytes (expected 0): the stream is corrupt`);
        break;
      default:
        throw new FrameError(`unknown record type ${type} (expected 1 hello, 2 frame or 3 bye): the stream is corrupt or not a kubeburst peer`);
    }
    this.type = type;
    return length;
  }
}
