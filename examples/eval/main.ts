/**
 * `make eval` / `npm run eval`: the paper's applications at G = 1 (FaaS mode) and at larger granularities,
 * side by side in one run, on every transport. Writes bench/results/eval.json, docs/EVALUATION.md and the
 * SVG plots in docs/eval/.
 *
 *   node examples/dist/eval/main.js [--transports nats,redis,direct] [--size 32] [--granularities 1,4,8,16,32]
 *                                   [--repeats 3] [--apps pagerank,terasort,hpo] [--quick]
 *   node examples/dist/eval/main.js --from bench/results/eval.json   (re-render the report from recorded runs)
 *
 * Without --transports: nats and redis, plus direct when the runtime has it (a two-pack probe flare decides).
 * @module
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, platform, release, tmpdir, totalmem } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import type { TransportKind } from '@kubeburst/worker-runtime';
import { APP_NAMES, hpoApp, pagerankApp, terasortApp, type AppName, type EvalApp, type Scale } from './apps.js';
import { markdown, writeCharts, type EvalData } from './report.js';
import { probeTransport, runOnce, type RunRecord, type TransportSpec } from './run.js';
import { fmtMB, median } from './stats.js';
import { summarize, targets } from './summary.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const URLS: Record<TransportKind, string | undefined> = {
  nats: process.env.KB_EVAL_NATS_URL ?? 'nats://127.0.0.1:4222',
  redis: process.env.KB_EVAL_REDIS_URL ?? 'redis://127.0.0.1:6379',
  direct: undefined,
};

const { values: args } = parseArgs({
  options: {
    transports: { type: 'string' },
    size: { type: 'string', default: '32' },
    granularities: { type: 'string', default: '1,4,8,16,32' },
    repeats: { type: 'string' },
    apps: { type: 'string', default: APP_NAMES.join(',') },
    quick: { type: 'boolean', default: false },
    from: { type: 'string' },
    out: { type: 'string', default: join(ROOT, 'bench', 'results', 'eval.json') },
    docs: { type: 'string', default: join(ROOT, 'docs') },
  },
});

function list(text: string, what: string): string[] {
  const xs = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (xs.length === 0) throw new Error(`--${what} needs at least one value`);
  return xs;
}

function positiveInts(text: string, what: string): number[] {
  return list(text, what).map((s) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${what}: '${s}' is not a positive integer`);
    return n;
  });
}

/** Median ms of `node -e 0` with the given environment. */
function nodeStartMs(env: NodeJS.ProcessEnv, times = 5): number {
  const xs: number[] = [];
  for (let i = 0; i < times; i++) {
    const t0 = performance.now();
    spawnSync(process.execPath, ['-e', '0'], { env });
    xs.push(performance.now() - t0);
  }
  return median(xs);
}

async function chooseTransports(probe: string): Promise<{ use: TransportSpec[]; skipped: Record<string, string> }> {
  const explicit = args.transports !== undefined;
  const kinds = (explicit ? list(args.transports!, 'transports') : ['nats', 'redis', 'direct']) as TransportKind[];
  const use: TransportSpec[] = [];
  const skipped: Record<string, string> = {};
  for (const kind of kinds) {
    if (!['nats', 'redis', 'direct'].includes(kind)) throw new Error(`--transports: unknown transport '${kind}' (use nats, redis, direct)`);
    const t: TransportSpec = URLS[kind] === undefined ? { kind } : { kind, url: URLS[kind] };
    const why = await probeTransport(t, probe);
    if (why === null) use.push(t);
    else if (explicit) throw new Error(`transport ${kind} does not work here: ${why}`);
    else skipped[kind] = why.length > 160 ? why.slice(0, 160) + '…' : why;
  }
  if (use.length === 0) throw new Error(`no transport works: ${JSON.stringify(skipped)} (is \`make services\` running Redis and NATS?)`);
  return { use, skipped };
}

/** Writes eval.json (unless re-rendering), the SVG plots and EVALUATION.md; summary and targets are recomputed. */
function writeOutputs(data: EvalData, writeJson: boolean): void {
  data.summary = summarize(data.runs);
  data.targets = targets(data.summary, data.config.transports, data.config.granularities[data.config.granularities.length - 1]!);
  if (writeJson) {
    mkdirSync(join(args.out!, '..'), { recursive: true });
    writeFileSync(args.out!, JSON.stringify(data, null, 1) + '\n');
  }
  const chartDir = join(args.docs!, 'eval');
  writeCharts(data, chartDir);
  writeFileSync(join(args.docs!, 'EVALUATION.md'), markdown(data, relative(args.docs!, chartDir)));
  console.log(`\nwrote ${writeJson ? relative(ROOT, args.out!) + ', ' : ''}${relative(ROOT, join(args.docs!, 'EVALUATION.md'))} and ${relative(ROOT, chartDir)}/*.svg`);
  for (const t of data.targets) {
    console.log(
      `  ${t.met ? 'met    ' : 'NOT MET'} ${t.description} over ${t.transport}: ${t.unit === '%' ? t.measured.toFixed(2) + ' %' : t.measured.toFixed(2) + '×'} (target ≥ ${t.threshold}${t.unit === '%' ? ' %' : '×'})`,
    );
  }
}

async function main(): Promise<void> {
  if (args.from !== undefined) {
    writeOutputs(JSON.parse(readFileSync(args.from, 'utf8')) as EvalData, false);
    return;
  }
  const t0 = Date.now();
  const scale: Scale = args.quick ? 'quick' : 'full';
  const size = positiveInts(args.size!, 'size')[0]!;
  const granularities = [...new Set(positiveInts(args.granularities!, 'granularities'))].sort((a, b) => a - b).filter((g) => g <= size);
  const repeats = positiveInts(args.repeats ?? (args.quick ? '1' : '3'), 'repeats')[0]!;
  const appNames = list(args.apps!, 'apps') as AppName[];
  for (const a of appNames) if (!APP_NAMES.includes(a)) throw new Error(`--apps: unknown app '${a}' (use ${APP_NAMES.join(', ')})`);

  const probe = fileURLToPath(new URL('./probe.js', import.meta.url));
  const { use: transports, skipped } = await chooseTransports(probe);
  console.log(
    `transports: ${transports.map((t) => t.kind).join(', ')}${
      Object.keys(skipped).length
        ? ` (skipped: ${Object.entries(skipped)
            .map(([k, v]) => `${k}: ${v}`)
            .join('; ')})`
        : ''
    }`,
  );

  const { NODE_EXTRA_CA_CERTS: ca, ...envWithout } = process.env;
  const machine: EvalData['machine'] = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.versions.node,
    platform: `${platform()} ${release()}`,
    nodeExtraCaCerts: ca ?? null,
    nodeStartMs: { asIs: nodeStartMs(process.env), withoutExtraCaCerts: nodeStartMs(envWithout) },
  };
  console.log(`node -e 0: ${machine.nodeStartMs.asIs.toFixed(0)} ms as is, ${machine.nodeStartMs.withoutExtraCaCerts.toFixed(0)} ms without NODE_EXTRA_CA_CERTS`);

  const work = join(tmpdir(), `kubeburst-eval-${process.pid}`);
  const apps: EvalApp[] = [];
  try {
    for (const name of appNames) {
      const t = Date.now();
      apps.push(name === 'pagerank' ? pagerankApp(scale) : name === 'terasort' ? terasortApp(scale) : hpoApp(scale, work));
      console.log(`${name}: reference computed in ${((Date.now() - t) / 1000).toFixed(1)} s`);
    }

    const runs: RunRecord[] = [];
    const total = repeats * apps.length * transports.length * granularities.length;
    for (let rep = 0; rep < repeats; rep++) {
      for (const app of apps) {
        for (const t of transports) {
          for (const g of granularities) {
            const r = await runOnce(app, t, size, g, rep);
            runs.push(r);
            console.log(
              `[${runs.length}/${total}] ${app.name} ${t.kind} G=${g} rep ${rep + 1}: wall ${(r.wallMs / 1000).toFixed(2)} s ` +
                `(startup ${(r.startupMs / 1000).toFixed(2)} s), remote ${fmtMB(r.remoteBytes)}, local ${fmtMB(r.localBytes)} ${r.verified ? 'ok' : `WRONG: ${r.problem}`}`,
            );
          }
        }
      }
    }

    const data: EvalData = {
      generatedAt: new Date().toISOString(),
      machine,
      config: { size, granularities, repeats, scale, transports: transports.map((t) => t.kind), skippedTransports: skipped },
      apps: apps.map((a) => ({ name: a.name, title: a.title, workload: a.workload })),
      runs,
      summary: [],
      targets: [],
      totalSeconds: (Date.now() - t0) / 1000,
    };
    writeOutputs(data, true);
    if (runs.some((r) => !r.verified)) process.exitCode = 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`eval failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
