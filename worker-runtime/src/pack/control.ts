import { ConfigError } from '../errors.js';
import { encodeFrames, MsgKind } from '../protocol/frame.js';
import { DType, decodeJson, encodeJson } from '../protocol/dtype.js';
import type { Doing } from '../communicator/progress.js';
import type { AbortInfo } from '../communicator/messages.js';

/** A worker that returned, and how many burst collectives it had called: none of #count and beyond will complete. */
export interface Fewest {
  worker: number;
  pack: number;
  count: number;
}

/** The burst's laggard (see communicator/progress.ts) as it travels: `forMs`, how long it had been doing that (-1: unknown). */
export interface LaggardWire {
  worker: number;
  called: number;
  doing: Doing;
  forMs: number;
}

/** Pack-to-pack control messages (JSON in a Control frame; src and dst are pack ids). */
export type ControlMsg =
  /** "I am connected and listening": to pack 0, repeated until GO. */
  | { type: 'hello'; pack: number }
  /** Every pack is present: start user code. */
  | { type: 'go' }
  /**
   * Liveness, on the links. `lag`: to pack 0, this pack's worker furthest behind in burst collectives;
   * from pack 0, the burst's (so a collective that times out can name a worker that never called it).
   */
  | { type: 'hb'; lag?: LaggardWire }
  /** `origin`: the pack that first saw the failure; `at`: when (its clock). Packs settle on the earliest. */
  | { type: 'abort'; info: AbortInfo; origin?: number; at?: number }
  /** All of this pack's workers succeeded: to pack 0 (with `fewest` if this pack has not told it yet). */
  | { type: 'done'; pack: number; fewest?: Fewest }
  /**
   * The fewest burst collectives a worker that returned had called, when that is news: to pack 0, which
   * passes it on to the packs still running (a worker waiting in a collective that one will never call
   * fails at once with a CollectiveMismatchError).
   */
  | { type: 'fewest'; fewest: Fewest }
  /** Every pack is done: stop heartbeats, clean up, exit. */
  | { type: 'bye' };

export function controlFrames(src: number, dst: number, msg: ControlMsg): Uint8Array[] {
  const payload = encodeJson(msg);
  return encodeFrames({ kind: MsgKind.Control, dtype: DType.Uint8, op: 0, flags: 0, src, dst, seq: 0, tag: 0, root: -1, msgId: 0 }, payload, Math.max(1, payload.byteLength));
}

export function parseControl(payload: Uint8Array): ControlMsg {
  const m = decodeJson<ControlMsg>(payload);
  if (typeof m !== 'object' || m === null || typeof (m as { type?: unknown }).type !== 'string') {
    throw new ConfigError('control message', 'is not a kubeburst control message');
  }
  return m;
}
