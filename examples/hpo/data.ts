import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { gaussian, uniform } from '../common/random.js';

/**
 * A binary classification data set: `features` standard-normal features, labels drawn from a logistic
 * model whose weights are non-zero on the first half of the features only (so regularization matters).
 * Row i depends only on (seed, i). A row is stored as `features` values followed by the label (0 or 1);
 * a block of rows is one Float64Array of rows · (features + 1) values.
 */
export interface DataSpec {
  rows: number;
  features: number;
  seed: number;
}

export function trueWeights(spec: DataSpec): Float64Array {
  const w = new Float64Array(spec.features);
  for (let j = 0; j < spec.features; j++) w[j] = j < spec.features / 2 ? 1.5 * gaussian(spec.seed ^ 0x5bd1e995, 0, j) : 0;
  return w;
}

/** Rows [from, to) into `out` (or a new array). */
export function generateRows(spec: DataSpec, from: number, to: number, out?: Float64Array): Float64Array {
  const d = spec.features;
  const w = trueWeights(spec);
  const block = out ?? new Float64Array((to - from) * (d + 1));
  for (let i = from; i < to; i++) {
    const at = (i - from) * (d + 1);
    let z = 0.25;
    for (let j = 0; j < d; j++) {
      const x = gaussian(spec.seed, i, j);
      block[at + j] = x;
      z += w[j]! * x;
    }
    block[at + d] = uniform(spec.seed, i, 2 * d) < 1 / (1 + Math.exp(-z)) ? 1 : 0;
  }
  return block;
}

/**
 * Writes the data set as CSV (a header, then one row per line). Numbers are written in JavaScript's
 * shortest round-trip form, so parsing the file gives back exactly the generated values.
 */
export function writeCsv(path: string, spec: DataSpec): number {
  const fd = openSync(path, 'w');
  let bytes = 0;
  try {
    const header = [...Array.from({ length: spec.features }, (_, j) => `x${j}`), 'y'].join(',') + '\n';
    bytes += writeSync(fd, header);
    const chunk = 4096;
    for (let from = 0; from < spec.rows; from += chunk) {
      const to = Math.min(spec.rows, from + chunk);
      const block = generateRows(spec, from, to);
      let text = '';
      for (let r = 0; r < to - from; r++) text += Array.from(block.subarray(r * (spec.features + 1), (r + 1) * (spec.features + 1))).join(',') + '\n';
      bytes += writeSync(fd, text);
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

/**
 * Part `k` of `parts` of a CSV file, read by byte range the way a cooperative download fetches ranges:
 * a line belongs to the part holding its first byte, so the parts are disjoint and together hold every row.
 * The header line is skipped. Returns the values of its rows, `features + 1` per row.
 */
export function readCsvPart(path: string, features: number, k: number, parts: number): number[] {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const start = Math.floor((size * k) / parts);
    const end = Math.floor((size * (k + 1)) / parts);
    if (start >= end) return [];
    // Bytes [from, end), from one byte before `start` (is a line starting at `start`?), then on to the
    // '\n' that ends the last line starting before `end`.
    const from = Math.max(0, start - 1);
    const chunks = [readRange(fd, from, end - from)];
    let pos = end;
    while (chunks[chunks.length - 1]!.at(-1) !== 10 && pos < size) {
      const more = readRange(fd, pos, Math.min(64 * 1024, size - pos));
      const nl = more.indexOf(10);
      chunks.push(nl < 0 ? more : more.subarray(0, nl + 1));
      pos += more.length;
      if (nl >= 0) break;
    }
    const text = Buffer.concat(chunks).toString('latin1');
    // text[t] is the file's byte from + t. The part's first line follows the first '\n' in text: at
    // start 0 that skips the header; otherwise text[0] is the byte before `start`.
    let line = text.indexOf('\n') + 1;
    if (line === 0) return [];
    const out: number[] = [];
    while (line < text.length && from + line < end) {
      const nl = text.indexOf('\n', line);
      const stop = nl < 0 ? text.length : nl;
      parseRow(text.slice(line, stop), features, out, from + line);
      line = stop + 1;
    }
    return out;
  } finally {
    closeSync(fd);
  }
}

function readRange(fd: number, position: number, length: number): Buffer {
  const buf = Buffer.allocUnsafe(length);
  let got = 0;
  while (got < length) {
    const n = readSync(fd, buf, got, length - got, position + got);
    if (n === 0) break;
    got += n;
  }
  return buf.subarray(0, got);
}

function parseRow(line: string, features: number, out: number[], offset: number): void {
  if (line.length === 0) return;
  const cells = line.split(',');
  if (cells.length !== features + 1) throw new Error(`CSV line at byte ${offset} has ${cells.length} columns, expected ${features + 1} (params.features + the label)`);
  for (const c of cells) out.push(Number(c));
}
