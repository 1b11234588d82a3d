/**
 * `make demo`: runs examples/pagerank/burstjob.yaml on this machine with no servers: packs talk over the
 * direct transport (or, where the runtime has no direct transport, the whole burst runs as one pack), shows
 * progress, checks the ranks against the sequential reference and prints a summary.
 *
 *   node examples/dist/pagerank/demo.js [path/to/burstjob.yaml]
 *
 * This stands in for `kubeburst run examples/pagerank/burstjob.yaml` until the CLI exists.
 */
import { readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadLauncher, type FlareResult } from '../common/launcher.js';
import type { PackEvent } from '@kubeburst/worker-runtime';
import { vertexCount } from './graph.js';
import { pagerankReference } from './reference.js';
import { collectRanks, maxAbsDiff } from './verify.js';
import type { PageRankParams, PageRankResult } from './worker.js';

const here = dirname(fileURLToPath(import.meta.url));
const manifestPath = resolve(process.argv[2] ?? join(here, '..', '..', 'pagerank', 'burstjob.yaml'));
const tty = process.stdout.isTTY === true;

interface Spec {
  size: number;
  granularity?: number;
  function: { module: string };
  params: { value: PageRankParams };
}

function fmtBytes(n: number): string {
  return n >= 1e6 ? `${(n / 1e6).toFixed(1)} MB` : n >= 1e3 ? `${(n / 1e3).toFixed(1)} kB` : `${n} B`;
}

/** Progress: one rewritten status line on a terminal, plain lines otherwise. */
function progress(size: number, packs: number): (e: PackEvent) => void {
  const started = new Set<number>();
  const joined = new Set<number>();
  let done = 0;
  return (e) => {
    if (e.event === 'started') started.add(e.pack);
    else if (e.event === 'joined') joined.add(e.pack);
    else if (e.event === 'worker-done') done++;
    if (tty) {
      process.stdout.write(`\r  packs started ${started.size}/${packs} · joined ${joined.size}/${packs} · workers finished ${done}/${size}   `);
      if (done === size) process.stdout.write('\n');
    } else if (e.event === 'started' && started.size === packs) console.log(`  all ${packs} packs started`);
    else if (e.event === 'joined' && joined.size === packs) console.log(`  all ${packs} packs joined: workers running`);
    else if (e.event === 'worker-done') console.log(`  worker ${e.worker} finished (${done}/${size})${e.ok ? '' : ' with an error'}`);
    else if (e.event === 'aborting') console.log(`  aborting: ${e.info.reason}`);
  };
}

async function run(spec: Spec, modulePath: string, granularity: number): Promise<FlareResult> {
  const packs = Math.ceil(spec.size / granularity);
  const { runLocalFlare } = await loadLauncher();
  return runLocalFlare({
    size: spec.size,
    granularity,
    transport: { kind: 'direct' },
    modulePath,
    params: { value: spec.params.value },
    onEvent: progress(spec.size, packs),
  });
}

async function main(): Promise<number> {
  const doc = parse(readFileSync(manifestPath, 'utf8')) as { metadata?: { name?: string }; spec: Spec };
  const spec = doc.spec;
  const modulePath = resolve(dirname(manifestPath), spec.function.module);
  const p = spec.params.value;
  let g = spec.granularity ?? spec.size;
  console.log(`kubeburst demo: ${doc.metadata?.name ?? 'pagerank'} — ${spec.size} workers in packs of ${g}, direct transport (no servers)`);
  console.log(`  R-MAT graph: ${vertexCount(p).toLocaleString('en')} vertices, ${(p.edgeFactor * vertexCount(p)).toLocaleString('en')} edges; ${p.iterations} iterations, damping ${p.damping}`);

  let flare = await run(spec, modulePath, g);
  if (!flare.ok && g < spec.size && /unknown transport 'direct'/.test(JSON.stringify(flare.stderr) + (flare.failure?.reason ?? ''))) {
    // This runtime has no direct transport yet: one pack needs no transport at all.
    g = spec.size;
    console.log(`  the direct transport is not available in this build: running the burst as one pack of ${g}`);
    flare = await run(spec, modulePath, g);
  }
  if (!flare.ok) {
    const failed = flare.workers.filter((w) => !w.ok);
    console.error(`\nflare failed: ${flare.failure?.reason ?? 'unknown reason'}`);
    for (const w of failed.slice(0, 5)) console.error(`  worker ${w.workerId}: ${w.error?.name}: ${w.error?.message}`);
    return 1;
  }

  const results = flare.workers.map((w) => w.result as PageRankResult);
  const ranks = collectRanks(results, vertexCount(p));
  const diff = maxAbsDiff(ranks, pagerankReference(p, p));
  const w = flare.workers;
  const launchToJoin = Math.max(...w.map((x) => x.timings.joined)) - Math.min(...w.map((x) => x.timings.processStart));
  const fn = Math.max(...w.map((x) => x.timings.functionEnd)) - Math.min(...w.map((x) => x.timings.functionStart));
  const c = flare.counters;
  const top = Array.from(ranks.keys()).sort((a, b) => ranks[b]! - ranks[a]! || a - b).slice(0, 5);

  console.log('\nsummary');
  console.log(`  time           ${(flare.wallMs / 1000).toFixed(2)} s wall (start-up and join ${(launchToJoin / 1000).toFixed(2)} s, functions ${(fn / 1000).toFixed(2)} s)`);
  console.log(`  packs          ${flare.layout.packSizes.length} × ${g} workers over ${flare.layout.packSizes.length > 1 ? 'the direct transport' : 'shared memory only'}`);
  console.log(`  traffic        local (shared memory) ${fmtBytes(c.localBytesSent)} in ${c.localMsgsSent} messages; remote ${fmtBytes(c.remoteBytesSent)} in ${c.remoteMsgsSent} messages`);
  console.log(`  top vertices   ${top.map((v) => `${v} (${ranks[v]!.toFixed(5)})`).join(', ')}`);
  console.log(`  check          max |rank − sequential reference| = ${diff.toExponential(2)} ${diff <= 1e-9 ? '(≤ 1e-9: correct)' : '(WRONG: > 1e-9)'}`);
  return diff <= 1e-9 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  },
);
