import { randomBytes } from 'node:crypto';
import { Worker } from 'node:worker_threads';
import type { FrameSink, Transport } from '@kubeburst/worker-runtime/sealed';
import { median, MiB } from './stats.js';

/** Median seconds of one 64 MiB memcpy (TypedArray.set) between two fresh buffers. */
export function memcpySeconds(bytes = 64 * MiB, reps = 15): number {
  const src = new Uint8Array(bytes).fill(3);
  const dst = new Uint8Array(bytes);
  dst.set(src); // fault the pages in first
  const xs: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    dst.set(src);
    xs.push((performance.now() - t0) / 1000);
  }
  return median(xs);
}

/** Median round trip of a small postMessage between the main thread and a worker thread. */
export async function postMessageRttSeconds(reps = 5000): Promise<number> {
  const w = new Worker(`require('node:worker_threads').parentPort.on('message', (m) => require('node:worker_threads').parentPort.postMessage(m));`, { eval: true });
  const xs: number[] = [];
  const once = (): Promise<unknown> => new Promise((r) => w.once('message', r));
  for (let i = 0; i < 500; i++) {
    w.postMessage(i);
    await once();
  }
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    w.postMessage(i);
    await once();
    xs.push((performance.now() - t0) / 1000);
  }
  await w.terminate();
  return median(xs);
}

/**
 * What authentication adds to a small-message round trip, in CPU on its path: a ping and its pong each
 * sealed by their sender and opened by their receiver (transport/sealed.ts, the code packs run), between two
 * SealedTransports over a loop that hands each frame straight to the other side, minus the same loop
 * unsealed. No broker and no scheduler in between, so it is the cost itself, not noise around it.
 * Median CPU seconds per round trip over `rounds` rounds of `reps` round trips.
 */
export async function sealRoundTripSeconds(opts: { frameBytes: number; encrypt?: boolean; reps?: number; rounds?: number }): Promise<number> {
  const { SealedTransport } = await import('@kubeburst/worker-runtime/sealed');
  const keys = { hello: randomBytes(32), frameMac: randomBytes(32), frameEnc: randomBytes(32) };
  const reps = opts.reps ?? 20_000;
  /** Pack `me` of a pair: sends into `peer`'s sink; answers every frame it gets while `echo`. */
  const pair = (sealed: boolean): { ping(): void } => {
    const sinks: FrameSink[] = [];
    const loop = (me: number): Transport => ({
      kind: 'redis',
      maxFrameBytes: 1024 * 1024,
      connect: async (sink) => void (sinks[me] = sink),
      // Handed over as owned, as a transport that reads into buffers of its own does: opening then
      // verifies in place, and times the MAC, not the copy the pack would make of a borrowed frame anyway.
      send: async (pack, frames) => frames.forEach((f) => sinks[pack]!.frame(f, true)),
      cleanup: async () => {},
      close: async () => {},
    });
    const ends = [0, 1].map((me) => (sealed ? new SealedTransport(loop(me), { keys, packId: me, packCount: 2, encrypt: opts.encrypt }) : loop(me)));
    // A frame with room behind it for the trailer, as the pack allocates them (sealed without a copy); one
    // per end, reused: the loop is synchronous, and a fresh megabyte per ping would time the allocator.
    const buffers = [0, 1].map(() => new Uint8Array(new ArrayBuffer(opts.frameBytes + 64), 0, opts.frameBytes));
    const frame = (me: number): Uint8Array => buffers[me]!;
    let pongs = 0;
    void ends[0]!.connect({
      frame: () => void pongs++,
      error: (e) => {
        throw e;
      },
    });
    void ends[1]!.connect({
      frame: () => void ends[1]!.send(0, [frame(1)]),
      error: (e) => {
        throw e;
      },
    });
    return {
      ping: () => {
        const before = pongs;
        void ends[0]!.send(1, [frame(0)]);
        if (pongs !== before + 1) throw new Error('the loop lost a frame');
      },
    };
  };
  // CPU time of this thread, not wall time: on a busy machine the scheduler's share would swamp the cost.
  const time = (p: { ping(): void }): number => {
    const t0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) p.ping();
    const t = process.cpuUsage(t0);
    return (t.user + t.system) / 1e6 / reps;
  };
  const sealed = pair(true);
  const bare = pair(false);
  // Warm both paths (JIT, cipher setup), then alternate them so a busy moment hits both alike.
  time(sealed);
  time(bare);
  const diffs: number[] = [];
  for (let r = 0; r < (opts.rounds ?? 9); r++) diffs.push(time(sealed) - time(bare));
  return median(diffs);
}
