import { HEADER_BYTES, MsgKind, readHeader, writeHeader, type Header } from '../protocol/frame.js';
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

export function headOf(e: Envelope): EnvelopeHead {
  return { kind: e.kind, src: e.src, dst: e.dst, seq: e.seq, tag: e.tag, op: e.op, root: e.root, comm: e.comm, dtype: e.dtype };
}

export function toHeader(e: EnvelopeHead, payloadBytes: number, msgId = 0): Header {
  return {
    kind: e.kind,
    dtype: e.dtype,
    op: e.op,
    flags: e.comm,
    src: e.src,
    dst: e.dst,
    seq: e.seq,
    tag: e.tag,
    root: e.root,
    msgId,
    totalBytes: payloadBytes,
    chunkIndex: 0,
    chunkCount: 1,
    chunkBytes: payloadBytes,
    chunkOffset: 0,
  };
}

/** Ring record body: a single-chunk frame. */
export function ringBodyBytes(payloadBytes: number): number {
  return HEADER_BYTES + payloadBytes;
}

export function writeRingBody(target: Uint8Array, e: EnvelopeHead, payload: Uint8Array): void {
  writeHeader(target, toHeader(e, payload.byteLength));
  target.set(payload, HEADER_BYTES);
}

/** Decodes a ring record, copying the payload out (the ring slot is reused once drained). */
export function readRingBody(body: Uint8Array): Envelope {
  const h = readHeader(body);
  const payload = new Uint8Array(h.chunkBytes);
  payload.set(body.subarray(HEADER_BYTES));
  return envelopeFromHeader(h, payload);
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
