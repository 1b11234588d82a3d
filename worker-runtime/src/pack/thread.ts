import { parentPort, workerData } from 'node:worker_threads';
import { Communicator } from '../context.js';
import { Endpoint, type PortLike } from '../communicator/endpoint.js';
import { envelopeOf } from '../communicator/envelope.js';
import { ProgressBoard } from '../communicator/progress.js';
import { serializeError } from '../errors.js';
import { toJsonSafe } from './result-json.js';
import { Ring } from '../shm/ring.js';
import { PackLayout } from '../topology.js';
import { resolveWorker } from '../worker.js';
import type { FromWorker, ToWorker } from '../communicator/messages.js';

/** What the pack's main thread hands each worker thread at start. */
export interface ThreadData {
  burstId: string;
  workerId: number;
  packSizes: number[];
  rings: Record<number, SharedArrayBuffer>;
  /** The pack's progress board (communicator/progress.ts) and the worker id of its first slot. */
  board: SharedArrayBuffer;
  boardFirst: number;
  packCounters: SharedArrayBuffer;
  sendBudgetKiB: number;
  modulePath: string;
  /** What to import: the module's file URL, or its compiled form (a TypeScript module). */
  moduleUrl: string;
  /** moduleUrl is compiled code: stack traces map back to the original files through its source map. */
  compiled: boolean;
  params: unknown;
  inlineMaxBytes: number;
  spinMicros: number;
  defaultTimeoutMs: number;
  processStart: number;
  unreceived: { maxMessages: number; maxBytes: number };
  /** A result whose JSON is larger fails its worker (KB_MAX_RESULT_BYTES). */
  maxResultBytes: number;
}

const data = workerData as ThreadData;
const port = parentPort!;
const post = (m: FromWorker, transfer?: ArrayBuffer[]): void => port.postMessage(m, transfer);

const layout = PackLayout.fromSizes(data.packSizes);
const rings = new Map<number, Ring>();
for (const [w, sab] of Object.entries(data.rings)) rings.set(Number(w), new Ring(sab));

const ep = new Endpoint({
  me: data.workerId,
  layout,
  rings,
  port: { postMessage: post } as PortLike,
  inlineMaxBytes: data.inlineMaxBytes,
  spinMicros: data.spinMicros,
  packCounters: new Int32Array(data.packCounters),
  sendBudgetKiB: data.sendBudgetKiB,
  defaultTimeoutMs: data.defaultTimeoutMs,
  unreceived: data.unreceived,
  board: new ProgressBoard(data.board, data.boardFirst, Object.keys(data.rings).length),
});

let joined = 0;
let startResolve: (() => void) | undefined;
const started = new Promise<void>((r) => (startResolve = r));

port.on('message', (m: ToWorker) => {
  ep.notePortMessage();
  switch (m.t) {
    case 'deliver':
      ep.deliverFromPort(envelopeOf(m.head, m.payload));
      break;
    case 'start':
      joined = m.joined;
      ep.chunkBytes = m.chunkBytes;
      ep.gatherWrite = m.gatherWrite;
      startResolve?.();
      break;
    case 'abort':
      ep.abort(m.info);
      startResolve?.();
      break;
    case 'mismatch':
      ep.imposeMismatch(m.detail);
      break;
  }
});

async function main(): Promise<void> {
  let fn;
  let loadError: unknown;
  try {
    if (data.compiled) process.setSourceMapsEnabled(true);
    const mod: unknown = await import(data.moduleUrl);
    fn = resolveWorker(mod);
    if (fn === undefined) loadError = new Error(`${data.modulePath} has no worker function: its default export must be defineWorker(async (ctx, params) => …)`);
  } catch (err) {
    loadError = err;
  }
  const loaded = Date.now();
  post({ t: 'loaded', at: loaded });
  await started;
  const functionStart = Date.now();
  let report;
  try {
    if (loadError !== undefined) throw loadError;
    ep.throwIfAborted();
    const result = toJsonSafe(await fn!(new Communicator(ep, data.burstId), data.params));
    // Results travel as one JSON report per pack (and a 4 KiB termination message in a pod): a huge one
    // fails this worker, clearly, instead of the whole pack later ("Invalid string length").
    const bytes = Buffer.byteLength(JSON.stringify(result));
    if (bytes > data.maxResultBytes) {
      throw new Error(
        `the worker's result is ${bytes} bytes of JSON, more than a result may take (${data.maxResultBytes}; KB_MAX_RESULT_BYTES): write large results to storage from the worker and return where they are`,
      );
    }
    report = { workerId: data.workerId, ok: true, result, resultBytes: bytes } as const;
  } catch (err) {
    report = { workerId: data.workerId, ok: false, error: serializeError(err) } as const;
  }
  const timings = { processStart: data.processStart, loaded, joined, functionStart, functionEnd: Date.now() };
  const collectives = { burst: ep.collectivesCalled(0), pack: ep.collectivesCalled(1) };
  post({ t: 'done', report: { ...report, timings, counters: { ...ep.counters }, collectives } });
}

void main();
