import { ConfigError } from '../errors.js';
import { encodeFrames, MsgKind } from '../protocol/frame.js';
import { DType, decodeJson, encodeJson } from '../protocol/dtype.js';
import type { AbortInfo } from './messages.js';

/** Pack-to-pack control messages (JSON in a Control frame; src and dst are pack ids). */
export type ControlMsg =
  /** "I am connected and listening": to pack 0, repeated until GO. */
  | { type: 'hello'; pack: number }
  /** Every pack is present: start user code. */
  | { type: 'go' }
  /** Liveness, on the links to the ring neighbours. */
  | { type: 'hb' }
  /** `origin`: the pack that first saw the failure; `at`: when (its clock). Packs settle on the earliest. */
  | { type: 'abort'; info: AbortInfo; origin?: number; at?: number }
  /** All of this pack's workers succeeded: to pack 0. */
  | { type: 'done'; pack: number }
  /** Every pack is done: stop heartbeats, clean up, exit. */
  | { type: 'bye' };

export function controlFrames(src: number, dst: number, msg: ControlMsg): Uint8Array[] {
  const payload = encodeJson(msg);
  return encodeFrames(
    { kind: MsgKind.Control, dtype: DType.Uint8, op: 0, flags: 0, src, dst, seq: 0, tag: 0, root: -1, msgId: 0 },
    payload,
    Math.max(1, payload.byteLength),
  );
}

export function parseControl(payload: Uint8Array): ControlMsg {
  const m = decodeJson<ControlMsg>(payload);
  if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string') {
    throw new ConfigError('control message', 'is not a kubeburst control message');
  }
  return m;
}
