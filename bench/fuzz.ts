/**
 * `npm run fuzz` — the long fuzz run of the decoders that read other packs' bytes: the frame decoder
 * (readHeader, Reassembler) and the stream-record decoder, with the very properties the unit tests run
 * (worker-runtime/src/protocol/fuzz-properties.ts), for 1,000,000 cases per decoder by default.
 *
 *   npm run fuzz                                # 1M cases per decoder
 *   npm run fuzz -- --runs 50000 --only frame   # fewer, one suite (or a property: any part of its name)
 *   npm run fuzz -- --seed 1234                 # the seed a failure printed: the same cases again
 *
 * Cases go in batches of --batch, each with its own seed (printed on failure, with the shrunk counterexample
 * and fast-check's path), so a failure is reproducible alone. A property stops at its first failure. Prints
 * cases and failures per property and in all; exits 1 when any property failed.
 * @module
 */
import fc from 'fast-check';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

type FuzzModule = typeof import('../worker-runtime/src/protocol/fuzz-properties.js');

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
// Not exported by the package (test support): loaded from the compiled runtime, as bcm.ts loads fixtures.
const fuzz = (await import(pathToFileURL(join(root, 'worker-runtime', 'dist', 'protocol', 'fuzz-properties.js')).href)) as FuzzModule;

const { values: args } = parseArgs({
  options: {
    runs: { type: 'string', default: '1000000' },
    seed: { type: 'string' },
    only: { type: 'string' },
    batch: { type: 'string', default: '10000' },
  },
});

const runs = positive('runs', args.runs);
const batch = positive('batch', args.batch);
const seed0 = args.seed === undefined ? Date.now() % 0x7fff_ffff : Number(args.seed);
if (!Number.isInteger(seed0)) usage(`--seed must be an integer (got ${args.seed})`);

// The decoders under test; the HELLO's suite goes here too once it has one.
const suites = [fuzz.frameSuite, fuzz.recordSuite];

function positive(name: string, v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) usage(`--${name} must be a positive integer (got ${v})`);
  return n;
}

function usage(message: string): never {
  console.error(`fuzz: ${message}\nusage: npm run fuzz -- [--runs N per decoder] [--seed S] [--only SUBSTRING] [--batch N]`);
  process.exit(2);
}

function short(s: string, max = 2000): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

console.log(`fuzz: ${runs.toLocaleString('en')} cases per decoder, seed ${seed0}, batches of ${batch}${args.only ? `, only "${args.only}"` : ''}`);
let cases = 0;
let failures = 0;
const started = performance.now();
for (const suite of suites) {
  const all = suite.properties(fc);
  const selected = args.only === undefined || suite.name.includes(args.only) ? all : all.filter((p) => p.name.includes(args.only!));
  if (selected.length === 0) continue;
  const shares = fuzz.casesPerProperty(selected, runs);
  console.log(`\n${suite.name}`);
  for (const [i, p] of selected.entries()) {
    const t0 = performance.now();
    let done = 0;
    let failed = 0;
    // A property stops at its first failure (shrunk and printed); the others still run.
    for (let b = 0; done < shares[i]! && failed === 0; b++) {
      const n = Math.min(batch, shares[i]! - done);
      const seed = (seed0 + i * 1_000_003 + b * 7919) | 0;
      const d = fc.check(p.property, { numRuns: n, seed });
      done += d.failed ? d.numRuns : n;
      if (d.failed) {
        failed++;
        const err = d.errorInstance instanceof Error ? `${d.errorInstance.name}: ${d.errorInstance.message}` : String(d.errorInstance);
        console.log(`  FAILED ${p.name}\n    after ${d.numRuns} cases of the batch with seed ${seed} (path ${d.counterexamplePath}), shrunk ${d.numShrinks} times`);
        console.log(`    ${short(err)}\n    counterexample: ${short(fc.stringify(d.counterexample))}`);
      }
    }
    const s = (performance.now() - t0) / 1000;
    console.log(
      `  ${failed === 0 ? 'ok    ' : 'FAILED'} ${done.toLocaleString('en').padStart(9)} cases  ${failed} ${failed === 1 ? 'failure ' : 'failures'}  ${s.toFixed(1)} s (${Math.round(done / s).toLocaleString('en')}/s)  ${p.name}`,
    );
    cases += done;
    failures += failed;
  }
}
console.log(`\nfuzz: ${cases.toLocaleString('en')} cases, ${failures} failures, ${((performance.now() - started) / 1000).toFixed(1)} s`);
process.exitCode = failures === 0 && cases > 0 ? 0 : 1;
if (cases === 0) console.log(`fuzz: nothing matches --only "${args.only}"`);
