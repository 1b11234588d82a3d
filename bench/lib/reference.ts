import { Worker } from 'node:worker_threads';
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
