import type { MsgKind, Header, MessageHeader } from '../protocol/frame.js';
import type { DType } from '../protocol/dtype.js';

/** One message as a worker sees it: who sent it, which stream it belongs to, and its bytes. */
export interface Envelope {
  kind: MsgKind.P2P | MsgKind.Coll;
  src: number;
  dst: number;
  /** p2p: position in the (src, dst) stream; collective: the collective's call index. */
  seq: number;
  /** Collective step or sub-stream; 0 for p2p. */
  tag: number;
  /** Collective op code (CollOp) or 0. */
  op: number;
  /** Collective root or -1. */
  root: number;
  /** Communicator: 0 = the whole burst (and all p2p), 1 = the sender's pack (ctx.pack). Travels in the frame's flags. */
  comm: number;
  dtype: DType;
  payload: Uint8Array;
}

/** Fields of an envelope without its payload: what travels in a port message next to the bytes. */
export type EnvelopeHead = Omit<Envelope, 'payload'>;

/*
 * Envelopes and headers are built field by field, never as `{ ...h, more }`: these run for every message,
 * and in Node 20's V8 every property added after a spread is far slower than a literal's (frame.ts withChunk).
 */

/** `e`'s head with `dst` and `dtype` set. */
export function headOf(e: Omit<EnvelopeHead, 'dst' | 'dtype'>, dst: number, dtype: DType): EnvelopeHead {
  return { kind: e.kind, src: e.src, dst, seq: e.seq, tag: e.tag, op: e.op, root: e.root, comm: e.comm, dtype };
}

/** The envelope of `head` and `payload`. */
export function envelopeOf(head: EnvelopeHead, payload: Uint8Array): Envelope {
  return { kind: head.kind, src: head.src, dst: head.dst, seq: head.seq, tag: head.tag, op: head.op, root: head.root, comm: head.comm, dtype: head.dtype, payload };
}

/** The wire header of a message with envelope head `e` (its chunks' fields come from chunkHeaders). */
export function messageHeaderOf(e: EnvelopeHead, msgId = 0): MessageHeader {
  return { kind: e.kind, dtype: e.dtype, op: e.op, flags: e.comm, src: e.src, dst: e.dst, seq: e.seq, tag: e.tag, root: e.root, msgId };
}

/**
 * Ring record body: a 32-byte envelope header, then the payload. Unlike a wire frame it has no magic,
 * version or checksum: it never leaves the process's shared memory.
 *
 *   0 kind u8 · 1 dtype u8 · 2 op u8 · 3 comm u8 · 4 src i32 · 8 dst i32 · 12 seq u32 · 16 tag u32
 *   20 root i32 · 24 payload bytes u32 · 28 reserved
 */
export const RING_HEADER_BYTES = 32;

export function ringBodyBytes(payloadBytes: number): number {
  return RING_HEADER_BYTES + payloadBytes;
}

export function writeRingEnvelope(data: Uint8Array, view: DataView, at: number, e: Omit<EnvelopeHead, 'dst' | 'dtype'>, dst: number, dtype: DType, payload: Uint8Array): void {
  view.setUint8(at, e.kind);
  view.setUint8(at + 1, dtype);
  view.setUint8(at + 2, e.op);
  view.setUint8(at + 3, e.comm);
  view.setInt32(at + 4, e.src, true);
  view.setInt32(at + 8, dst, true);
  view.setUint32(at + 12, e.seq >>> 0, true);
  view.setUint32(at + 16, e.tag >>> 0, true);
  view.setInt32(at + 20, e.root, true);
  view.setUint32(at + 24, payload.byteLength, true);
  data.set(payload, at + RING_HEADER_BYTES);
}

/** Decodes a ring record, copying the payload out (the ring slot is reused once drained). */
export function readRingEnvelope(data: Uint8Array, view: DataView, at: number): Envelope {
  const len = view.getUint32(at + 24, true);
  // A buffer of its own (payload.buffer is exactly the message, as users expect of new Float64Array(x.buffer)),
  // not zero-filled when large, since every byte is copied in. A plain Uint8Array, not a Buffer.
  const payload = len < 4096 ? new Uint8Array(len) : new Uint8Array(Buffer.allocUnsafeSlow(len).buffer, 0, len);
  payload.set(data.subarray(at + RING_HEADER_BYTES, at + RING_HEADER_BYTES + len));
  return {
    kind: view.getUint8(at) as MsgKind.P2P | MsgKind.Coll,
    dtype: view.getUint8(at + 1) as DType,
    op: view.getUint8(at + 2),
    comm: view.getUint8(at + 3),
    src: view.getInt32(at + 4, true),
    dst: view.getInt32(at + 8, true),
    seq: view.getUint32(at + 12, true),
    tag: view.getUint32(at + 16, true),
    root: view.getInt32(at + 20, true),
    payload,
  };
}

export function envelopeFromHeader(h: Header, payload: Uint8Array): Envelope {
  return {
    kind: h.kind as MsgKind.P2P | MsgKind.Coll,
    src: h.src,
    dst: h.dst,
    seq: h.seq,
    tag: h.tag,
    op: h.op,
    root: h.root,
    comm: h.flags,
    dtype: h.dtype,
    payload,
  };
}
