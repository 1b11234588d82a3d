import type { TeraSortResult } from './worker.js';

/**
 * teravalidate over the workers' outputs: each is sorted, consecutive non-empty outputs do not overlap
 * (last key of one ≤ first key of the next), and the output is a permutation of the input (same record
 * count and same sum of per-record CRC-32s). Returns the problems found, empty when the sort is valid.
 */
export function teravalidate(results: readonly TeraSortResult[], expected?: { records: number; checksum: number }): string[] {
  const problems: string[] = [];
  let inCount = 0;
  let outCount = 0;
  let inSum = 0;
  let outSum = 0;
  let prev: { worker: number; key: string } | undefined;
  results.forEach((r, w) => {
    inCount += r.inputCount;
    outCount += r.count;
    inSum = (inSum + r.inputChecksum) % 2 ** 52;
    outSum = (outSum + r.outputChecksum) % 2 ** 52;
    if (!r.sorted) problems.push(`worker ${w}: output is not sorted`);
    if (r.count === 0) return;
    if (prev !== undefined && prev.key > r.firstKey!) problems.push(`worker ${w}: first key ${r.firstKey} < last key ${prev.key} of worker ${prev.worker}`);
    prev = { worker: w, key: r.lastKey! };
  });
  if (outCount !== inCount) problems.push(`output has ${outCount} records, input had ${inCount}`);
  if (outSum !== inSum) problems.push(`output checksum ${outSum} differs from the input checksum ${inSum}`);
  if (expected !== undefined) {
    if (inCount !== expected.records) problems.push(`input has ${inCount} records, the data set has ${expected.records}`);
    if (inSum !== expected.checksum) problems.push(`input checksum ${inSum} differs from the generator's ${expected.checksum}`);
  }
  return problems;
}
