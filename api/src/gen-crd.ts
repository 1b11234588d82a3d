#!/usr/bin/env node
/**
 * Writes crds/ (and the chart's copy) from the zod schema: `npm run gen:crd`.
 * `--check` writes nothing and exits 1 when a file differs (make verify, CI).
 * @module
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CHART_CRD_FILE, CRD_FILE, renderCrdYaml } from './crd.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const check = process.argv.includes('--check');
const want = renderCrdYaml();
let drift = 0;
for (const rel of [CRD_FILE, CHART_CRD_FILE]) {
  const file = resolve(root, rel);
  let have = '';
  try {
    have = readFileSync(file, 'utf8');
  } catch {
    // missing counts as drift
  }
  if (have === want) continue;
  if (check) {
    console.error(`${rel} is out of date with api/src: run \`npm run gen:crd\``);
    drift++;
  } else {
    writeFileSync(file, want);
    console.log(`wrote ${rel}`);
  }
}
process.exitCode = drift > 0 ? 1 : 0;
