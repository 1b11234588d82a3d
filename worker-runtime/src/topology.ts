import { ConfigError, UsageError } from './errors.js';

/**
 * Rank math for a burst of `size` workers split into packs of contiguous worker ids.
 *
 *   size = 7, granularity = 3:
 *
 *     worker:  0 1 2 | 3 4 5 | 6
 *     pack:    0     | 1     | 2
 *     leader:  0     | 3     | 6      (the smallest id of its pack)
 *
 * Packs may differ in size (automatic packing fits packs to nodes), so a layout is a list of ranges.
 * Every function here is pure and O(log packs) or better.
 */
export interface PackRange {
  /** First worker id of the pack. */
  readonly start: number;
  /** One past the last worker id of the pack. */
  readonly end: number;
}

export class PackLayout {
  /** starts[p] = first worker of pack p; starts[packCount] = burstSize. */
  private readonly starts: Int32Array;

  private constructor(
    readonly burstSize: number,
    starts: Int32Array,
  ) {
    this.starts = starts;
  }

  /** Packs of `granularity` workers; the last pack takes the remainder. */
  static fromGranularity(burstSize: number, granularity: number): PackLayout {
    checkCount('burstSize', burstSize);
    checkCount('granularity', granularity);
    const g = Math.min(granularity, burstSize);
    const packs = Math.ceil(burstSize / g);
    const starts = new Int32Array(packs + 1);
    for (let p = 0; p < packs; p++) starts[p] = p * g;
    starts[packs] = burstSize;
    return new PackLayout(burstSize, starts);
  }

  /** Packs of the given sizes, in order (e.g. [48, 48, 16]). */
  static fromSizes(sizes: readonly number[]): PackLayout {
    if (sizes.length === 0) throw new ConfigError('packSizes', 'needs at least one pack');
    const starts = new Int32Array(sizes.length + 1);
    let total = 0;
    sizes.forEach((s, p) => {
      checkCount(`packSizes[${p}]`, s);
      starts[p] = total;
      total += s;
    });
    starts[sizes.length] = total;
    return new PackLayout(total, starts);
  }

  /** Parses pack sizes written as decodeLayout reads them ("2x48,1x16", or "48,48,16"). */
  static parseSizes(text: string, field = 'packSizes'): PackLayout {
    return PackLayout.fromSizes(decodeLayout(text, field));
  }

  get packCount(): number {
    return this.starts.length - 1;
  }

  packSizes(): number[] {
    const out: number[] = [];
    for (let p = 0; p < this.packCount; p++) out.push(this.packSize(p));
    return out;
  }

  packRange(pack: number): PackRange {
    this.checkPack(pack);
    return { start: this.starts[pack]!, end: this.starts[pack + 1]! };
  }

  packSize(pack: number): number {
    this.checkPack(pack);
    return this.starts[pack + 1]! - this.starts[pack]!;
  }

  /** The pack holding `worker` (binary search over pack starts). */
  packOf(worker: number): number {
    this.checkWorker(worker);
    let lo = 0;
    let hi = this.packCount - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= worker) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  }

  leaderOf(pack: number): number {
    return this.packRange(pack).start;
  }

  isLeader(worker: number): boolean {
    return this.leaderOf(this.packOf(worker)) === worker;
  }

  isLocal(a: number, b: number): boolean {
    return this.packOf(a) === this.packOf(b);
  }

  /**
   * The worker that speaks for `pack` in a collective rooted at `root`: the root itself in the root's pack
   * (so data never takes a detour through the leader), the leader elsewhere.
   */
  representative(pack: number, root: number): number {
    return this.packOf(root) === pack ? root : this.leaderOf(pack);
  }

  checkWorker(worker: number, what = 'worker id'): void {
    if (!Number.isInteger(worker) || worker < 0 || worker >= this.burstSize) {
      throw new UsageError(`${what} ${worker} is out of range: the burst has workers 0..${this.burstSize - 1}`);
    }
  }

  private checkPack(pack: number): void {
    if (!Number.isInteger(pack) || pack < 0 || pack >= this.packCount) {
      throw new UsageError(`pack ${pack} is out of range: the burst has packs 0..${this.packCount - 1}`);
    }
  }
}

function checkCount(field: string, n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new ConfigError(field, `must be an integer >= 1 (got ${n})`);
}

/** Most packs a layout text may expand to: far past a burst's 100 000 workers, far below harm. */
const MAX_LAYOUT_PACKS = 1_000_000;

/**
 * Pack sizes as runs, "count x size": [48, 48, 16] → "2x48,1x16". How status.attempt.layout is written,
 * and KB_PACK_SIZES past 1000 packs: a dozen bytes for 100 000 packs, where one number per pack, in every
 * pod, was megabytes.
 */
export function encodeLayout(sizes: readonly number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < sizes.length;) {
    let j = i;
    while (j < sizes.length && sizes[j] === sizes[i]) j++;
    runs.push(`${j - i}x${sizes[i]}`);
    i = j;
  }
  return runs.join(',');
}

/**
 * "2x48,1x16" → [48, 48, 16]; a run without a count is one pack ("48,48,16", how packs were sized before
 * runs). Throws a ConfigError naming `field` for anything else, or for more than a million packs.
 */
export function decodeLayout(text: string, field: string): number[] {
  const out: number[] = [];
  for (const run of text.split(',')) {
    const m = /^(?:(\d+)x)?(\d+)$/.exec(run.trim());
    const count = m === null ? 0 : m[1] === undefined ? 1 : Number(m[1]);
    const size = m === null ? 0 : Number(m[2]);
    if (count < 1 || size < 1 || !Number.isSafeInteger(size)) throw new ConfigError(field, `'${text}' is not a layout like "20x48" or "2x48,1x16"`);
    if (out.length + count > MAX_LAYOUT_PACKS) throw new ConfigError(field, `'${text.slice(0, 100)}' is more than ${MAX_LAYOUT_PACKS} packs`);
    for (let k = 0; k < count; k++) out.push(size);
  }
  return out;
}
