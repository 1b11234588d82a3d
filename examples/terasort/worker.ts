import { concatBytes, defineWorker, type WorkerContext } from '@kubeburst/worker-runtime';
import { PhaseClock, type Phases } from '../common/phases.js';
import { partStart } from '../common/random.js';
import { checksum, compareKeys, generateRecords, KEY_BYTES, keyHex, RECORD_BYTES, sortRecords } from './records.js';

export interface TeraSortParams {
  /** Records in the whole data set (100 bytes each). */
  records: number;
  seed: number;
  /** Keys each worker contributes to the splitter sample. */
  samplesPerWorker: number;
  /** Return every output key (hex): only for small tests that compare with the reference record by record. */
  returnKeys?: boolean;
}

export interface TeraSortResult {
  /** Records this worker generated. */
  inputCount: number;
  /** Sum of CRC-32 over the generated records (mod 2^52). */
  inputChecksum: number;
  /** Records this worker holds after the sort. */
  count: number;
  outputChecksum: number;
  /** The worker's output is in key order. */
  sorted: boolean;
  /** Smallest and largest key of the output (hex), absent when the output is empty. */
  firstKey?: string;
  lastKey?: string;
  keys?: string[];
  phases: Phases;
}

/**
 * TeraSort: sample → splitters → allToAll shuffle → local sort. Worker w generates rows [w·R/N, (w+1)·R/N)
 * itself; afterwards worker w holds every record whose key falls between splitters w−1 and w, sorted, so the
 * outputs concatenated in worker order are the sorted data set.
 */
export default defineWorker(async (ctx: WorkerContext, p: TeraSortParams): Promise<TeraSortResult> => {
  const { workerId: me, burstSize: n } = ctx.info;
  const clock = new PhaseClock();

  const input = await clock.run('generate', () => generateRecords(p.seed, partStart(p.records, n, me), partStart(p.records, n, me + 1)));
  const inputCount = input.length / RECORD_BYTES;

  const splitters = await clock.run('sample', async () => {
    const s = Math.min(p.samplesPerWorker, inputCount);
    const sample = new Uint8Array(s * KEY_BYTES);
    for (let j = 0; j < s; j++) {
      const at = Math.floor((j * inputCount) / s) * RECORD_BYTES;
      sample.set(input.subarray(at, at + KEY_BYTES), j * KEY_BYTES);
    }
    const all = await ctx.gather<Uint8Array>(sample, 0);
    return ctx.broadcast<Uint8Array>(all === undefined ? undefined : chooseSplitters(all, n), 0);
  });

  const parts = await clock.run('partition', () => partition(ctx, input, splitters, n));
  const received = await clock.run('shuffle', () => ctx.allToAll<Uint8Array>(parts));

  const output = await clock.run('sort', () => sortRecords(concatBytes(received)));

  return clock.run('validate', () => {
    const count = output.length / RECORD_BYTES;
    let sorted = true;
    for (let i = 1; i < count && sorted; i++) sorted = compareKeys(output, (i - 1) * RECORD_BYTES, output, i * RECORD_BYTES) <= 0;
    const keys = p.returnKeys ? Array.from({ length: count }, (_, i) => keyHex(output, i * RECORD_BYTES)) : undefined;
    return {
      inputCount,
      inputChecksum: checksum(input),
      count,
      outputChecksum: checksum(output),
      sorted,
      ...(count > 0 ? { firstKey: keyHex(output, 0), lastKey: keyHex(output, (count - 1) * RECORD_BYTES) } : {}),
      ...(keys ? { keys } : {}),
      phases: clock.phases,
    };
  });
});

/** n − 1 splitter keys at even quantiles of the pooled sample (all zero when the sample is empty). */
export function chooseSplitters(samples: readonly Uint8Array[], n: number): Uint8Array {
  const pool = concatBytes(samples);
  const count = pool.length / KEY_BYTES;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => compareKeys(pool, a * KEY_BYTES, pool, b * KEY_BYTES) || a - b);
  const out = new Uint8Array((n - 1) * KEY_BYTES);
  if (count === 0) return out;
  for (let k = 1; k < n; k++) {
    const i = order[Math.min(count - 1, Math.floor((k * count) / n))]!;
    out.set(pool.subarray(i * KEY_BYTES, (i + 1) * KEY_BYTES), (k - 1) * KEY_BYTES);
  }
  return out;
}

/** Destination of a key: the number of splitters ≤ key (binary search). */
function bucketOf(input: Uint8Array, at: number, splitters: Uint8Array, n: number): number {
  let lo = 0;
  let hi = n - 1;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (compareKeys(splitters, mid * KEY_BYTES, input, at) <= 0) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** One shared-memory buffer per destination, so pack mates receive their part without a copy. */
function partition(ctx: WorkerContext, input: Uint8Array, splitters: Uint8Array, n: number): Uint8Array[] {
  const count = input.length / RECORD_BYTES;
  const dest = new Int32Array(count);
  const sizes = new Int32Array(n);
  for (let i = 0; i < count; i++) {
    const b = bucketOf(input, i * RECORD_BYTES, splitters, n);
    dest[i] = b;
    sizes[b]!++;
  }
  const parts = Array.from({ length: n }, (_, b) => ctx.alloc(sizes[b]! * RECORD_BYTES));
  const fill = new Int32Array(n);
  for (let i = 0; i < count; i++) {
    const b = dest[i]!;
    parts[b]!.set(input.subarray(i * RECORD_BYTES, (i + 1) * RECORD_BYTES), fill[b]! * RECORD_BYTES);
    fill[b]!++;
  }
  return parts;
}
