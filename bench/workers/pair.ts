import { defineWorker, type WorkerContext } from '@kubeburst/worker-runtime';
import { stat } from '../lib/procfs.js';

export interface PairParams {
  sizes: number[];
  /** Target bytes per throughput run (the count is clamped to [minCount, maxCount]). */
  bytesPerRun: number;
  minCount: number;
  maxCount: number;
  runs: number;
  /** Ping-pong round trips per size for latency (scaled down for large sizes). */
  pings: number;
  /** A broker process on this machine whose CPU time the sender reads around each run (/proc/<pid>/stat). */
  brokerPid?: number;
}

export interface PairMeasure {
  bytes: number;
  count: number;
  /** Seconds for `count` messages of `bytes`, one entry per run (sender's clock, until the receiver's ack). */
  streamSeconds: number[];
  /** Round-trip seconds of a `bytes` ping answered by a `bytes` pong. */
  rttSeconds: number[];
  /**
   * CPU seconds (user + system) of this worker's whole pack process per stream run: its main thread, where
   * frames are sealed and opened, and its worker thread. Meaningful with one worker per pack.
   */
  cpuSeconds: number[];
  /** The broker's CPU seconds per stream run, as the sender saw them (with `brokerPid`). */
  brokerCpuSeconds?: number[];
}

/** A process's CPU seconds so far (NaN once it is gone). */
function procCpuSeconds(pid: number): number {
  return stat(pid)?.cpuSeconds ?? NaN;
}

function ownCpuSeconds(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
}

/**
 * Worker 0 streams messages to worker 1 (throughput), then they ping-pong (latency). Payloads come from
 * ctx.alloc, i.e. shared memory, so in-pack sends go by reference: the zero-copy path users get.
 */
export default defineWorker(async (ctx: WorkerContext, p: PairParams) => {
  const me = ctx.info.workerId;
  const peer = 1 - me;
  const out: PairMeasure[] = [];
  const ack = new Uint8Array(1);
  for (const bytes of p.sizes) {
    const count = Math.min(p.maxCount, Math.max(p.minCount, Math.ceil(p.bytesPerRun / Math.max(1, bytes))));
    const buf = ctx.alloc(bytes);
    buf.fill(7);
    const streamSeconds: number[] = [];
    const cpuSeconds: number[] = [];
    const brokerCpuSeconds: number[] = [];
    for (let r = 0; r < p.runs; r++) {
      await ctx.barrier();
      const cpu0 = ownCpuSeconds();
      if (me === 0) {
        const broker0 = p.brokerPid !== undefined ? procCpuSeconds(p.brokerPid) : 0;
        const t0 = performance.now();
        for (let i = 0; i < count; i++) await ctx.send(peer, buf);
        await ctx.recv(peer);
        streamSeconds.push((performance.now() - t0) / 1000);
        if (p.brokerPid !== undefined) brokerCpuSeconds.push(procCpuSeconds(p.brokerPid) - broker0);
      } else {
        for (let i = 0; i < count; i++) {
          const got = await ctx.recv(peer);
          if (got.byteLength !== bytes) throw new Error(`expected ${bytes} bytes, got ${got.byteLength}`);
        }
        await ctx.send(peer, ack);
      }
      cpuSeconds.push(ownCpuSeconds() - cpu0);
    }
    const pings = Math.max(5, Math.min(p.pings, Math.ceil((p.pings * 64 * 1024) / Math.max(1, bytes))));
    const rttSeconds: number[] = [];
    await ctx.barrier();
    for (let i = 0; i < pings; i++) {
      if (me === 0) {
        const t0 = performance.now();
        await ctx.send(peer, buf);
        await ctx.recv(peer);
        rttSeconds.push((performance.now() - t0) / 1000);
      } else {
        await ctx.recv(peer);
        await ctx.send(peer, buf);
      }
    }
    out.push({ bytes, count, streamSeconds, rttSeconds, cpuSeconds, ...(p.brokerPid !== undefined ? { brokerCpuSeconds } : {}) });
  }
  return out;
});
