import type { EnvelopeHead } from './envelope.js';
import type { MessageHeader } from '../protocol/frame.js';
import type { SerializedError } from '../errors.js';
import type { TrafficCounters } from './stats.js';

/** Why a burst stopped early: the first failure, as every worker reports it. */
export interface AbortInfo {
  failedWorker?: number;
  failedPack?: number;
  reason: string;
}

/** Timestamps (ms since the Unix epoch) of one worker's life. */
export interface WorkerTimings {
  /** The pack process started. */
  processStart: number;
  /** The worker thread loaded the function module. */
  loaded: number;
  /** Every pack had joined (start barrier passed). */
  joined: number;
  functionStart: number;
  functionEnd: number;
}

export interface WorkerReport {
  workerId: number;
  packId: number;
  ok: boolean;
  result?: unknown;
  /** Size of the result's JSON. */
  resultBytes?: number;
  error?: SerializedError;
  timings: WorkerTimings;
  counters: TrafficCounters;
  /** Collectives the worker called: on the burst, and on its pack (ctx.pack). */
  collectives?: { burst: number; pack: number };
}

/** main thread → worker thread */
export type ToWorker =
  /** `gatherWrite`: the transport can send a shared payload without a copy (see FromWorker 'remote'). */
  | { t: 'start'; joined: number; chunkBytes: number; gatherWrite: boolean }
  | { t: 'deliver'; head: EnvelopeHead; payload: Uint8Array }
  | { t: 'abort'; info: AbortInfo }
  /** The pack proved this worker stuck for good (pack mates called collectives in different orders). */
  | { t: 'mismatch'; detail: string };

/** worker thread → main thread */
export type FromWorker =
  | { t: 'loaded'; at: number }
  /** Large payload for workers of this pack, by reference (SharedArrayBuffer): relayed without a copy. */
  | { t: 'send'; head: Omit<EnvelopeHead, 'dst'>; dsts: number[]; payload: Uint8Array }
  /** Ready-made frames for another pack (built on the worker thread, so the main thread only does I/O). */
  | { t: 'frames'; pack: number; frames: Uint8Array[] }
  /**
   * A message in shared memory for another pack, when the transport gathers writes: the main thread writes
   * headers and views of the payload straight to the wire, with no copy in user space.
   */
  | { t: 'remote'; pack: number; header: MessageHeader; payload: Uint8Array; chunkBytes: number }
  | { t: 'done'; report: Omit<WorkerReport, 'packId'> }
  /** The burst must fail (the worker saw another break the rules, e.g. a sender far ahead of its receiver). */
  | { t: 'fail'; info: AbortInfo };
