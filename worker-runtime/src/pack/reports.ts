import type { AbortInfo, WorkerReport } from '../communicator/messages.js';
import type { TrafficCounters } from '../communicator/stats.js';

/** Progress a pack reports while it runs (the local launcher shows these; in a pod they are log lines). */
export type PackEvent =
  | { event: 'started'; pack: number; at: number }
  | { event: 'connected'; pack: number; at: number }
  | { event: 'joined'; pack: number; at: number }
  | { event: 'worker-done'; pack: number; worker: number; ok: boolean; at: number }
  | { event: 'aborting'; pack: number; info: AbortInfo; at: number };

export interface WireCounters {
  framesSent: number;
  bytesSent: number;
  framesRecv: number;
  bytesRecv: number;
}

export interface PackReport {
  burstId: string;
  packId: number;
  packCount: number;
  burstSize: number;
  transport: string;
  ok: boolean;
  /** The failure every pack of the burst settled on (its own or another pack's). */
  abort?: AbortInfo;
  workers: WorkerReport[];
  timings: { processStart: number; connected: number; joined: number; finished: number };
  /** Sum over this pack's workers, in payload bytes. */
  counters: TrafficCounters;
  /** Everything this pack put on / took off the transport: headers, batch tables and control included. */
  wire: WireCounters;
  /** Connections dropped before they authenticated (strangers, misconfigured peers). */
  refused?: number;
  /** Frames through a broker dropped because they failed verification or were replays. */
  rejected?: number;
  /** Peak resident memory of the pack process (its own: VmHWM on Linux, not inherited from whoever spawned it). */
  maxRssBytes?: number;
}
