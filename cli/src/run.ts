import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, openSync, realpathSync, renameSync, rmSync, statSync, writeSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { runLocalFlare, type FlareResult, type LocalFlareOptions } from '@kubeburst/worker-runtime/launch';
import { memoryHere, redactText, redactUrl, urlSecrets } from '@kubeburst/worker-runtime';
import type { Command } from './command.js';
import { CliUsageError, EXIT, type CliIO } from './io.js';
import { loadManifest, ManifestError, resolveModule, type LoadedManifest } from './manifest.js';
import { Progress, type ProgressMode } from './progress.js';
import { formatSummary, summarize, transportInUse } from './summary.js';

const TRANSPORTS = ['direct', 'nats', 'redis'] as const;
type TransportName = (typeof TRANSPORTS)[number];

const HELP = `Usage: kubeburst run <job.yaml> [options]

Runs a BurstJob's flare on this machine: one process per pack, each running the same pack entrypoint
(worker-runtime/dist/pack.js) a pod runs, with the function module resolved relative to the manifest.
No servers are needed with the direct transport (the default): packs talk over Unix sockets.

Options:
  --size N                    workers in the burst (overrides spec.size)
  --granularity G             workers per pack (overrides spec.granularity and spec.packing)
  --transport KIND[=URL]      direct, nats or redis, optionally with its URL, e.g. redis=redis://127.0.0.1:6379
  --transport-url URL         the transport's URL (direct: unix:///dir/p{pack}.sock or host:port,host:port,…)
  --name NAME                 the BurstJob to run when the file holds several
  -o, --output FILE           write the full result (per-worker results, timestamps, counters) as JSON
  -q, --quiet                 no progress and no summary (exit code and errors only)
  --json                      print the summary as JSON on stdout (progress, and what workers print, on stderr)
  -h, --help                  show this help

Progress goes to stderr: a live line on a terminal, plain lines otherwise. The summary goes to stdout.
Exit codes: 0 every worker succeeded, 1 the flare failed (the failing worker or pack is named),
2 bad options or an invalid manifest (the field and the rule are named), 130 interrupted.

Locally, spec.packing.mode Auto runs packs of spec.packing.maxGranularity (default: one pack), and
spec.activeDeadlineSeconds kills the packs when exceeded; resources, gang and maxRestarts apply to the cluster only.
A process per pack and a thread per worker: a flare that would need more memory than the machine has
(about 55 MiB a pack and 12 MiB a worker) is refused before it starts.
`;

export interface RunOptions {
  file: string;
  size?: number;
  granularity?: number;
  /**
   * Either part may be given alone: a URL without a kind applies to the manifest's transport. `urlFlag`:
   * the option that carried the URL, named when the broker cannot be reached.
   */
  transport?: { kind?: TransportName; url?: string; urlFlag?: '--transport' | '--transport-url' };
  name?: string;
  output?: string;
  quiet: boolean;
  json: boolean;
}

export function parseRunArgs(args: string[]): RunOptions {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      size: { type: 'string' },
      granularity: { type: 'string' },
      transport: { type: 'string' },
      'transport-url': { type: 'string' },
      name: { type: 'string' },
      output: { type: 'string', short: 'o' },
      quiet: { type: 'boolean', short: 'q', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  if (positionals.length !== 1)
    throw new CliUsageError(positionals.length === 0 ? 'run: which manifest? (kubeburst run job.yaml)' : `run: one manifest at a time (got ${positionals.join(', ')})`, 'run');
  const o: RunOptions = { file: positionals[0]!, quiet: values.quiet, json: values.json };
  if (values.size !== undefined) o.size = positiveInt('--size', values.size);
  if (values.granularity !== undefined) o.granularity = positiveInt('--granularity', values.granularity);
  if (values.transport !== undefined) {
    const eq = values.transport.indexOf('=');
    const kind = eq < 0 ? values.transport : values.transport.slice(0, eq);
    if (!(TRANSPORTS as readonly string[]).includes(kind))
      throw new CliUsageError(`--transport: '${kind}' is not a transport: use one of ${TRANSPORTS.join(', ')} (optionally KIND=URL)`, 'run');
    o.transport = { kind: kind as TransportName };
    if (eq >= 0) {
      const url = values.transport.slice(eq + 1);
      if (url === '') throw new CliUsageError(`--transport: empty URL after '${kind}=' (leave out '=' for the transport's default)`, 'run');
      o.transport.url = url;
      o.transport.urlFlag = '--transport';
    }
  }
  if (values['transport-url'] !== undefined) {
    if (o.transport?.url !== undefined) throw new CliUsageError('--transport-url: the URL is already given in --transport KIND=URL; pass it once', 'run');
    o.transport = { ...o.transport, url: values['transport-url'], urlFlag: '--transport-url' };
  }
  if (values.name !== undefined) o.name = values.name;
  if (values.output !== undefined) o.output = values.output;
  return o;
}

function positiveInt(flag: string, text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new CliUsageError(`${flag}: must be an integer >= 1 (got '${text}')`, 'run');
  return n;
}

/**
 * `--output FILE` can be written: its directory exists and is writable, and FILE, if it exists, is a
 * writable file and none of the flare's own inputs (`inputs`: the manifest, the worker's module), through
 * a link or not: results written over them would lose them.
 */
function checkWritable(path: string, given: string, inputs: Record<string, string>): void {
  const refuse = (why: string): never => {
    throw new CliUsageError(`--output ${given}: ${why}`, 'run');
  };
  const dir = dirname(path);
  const d = statSync(dir, { throwIfNoEntry: false });
  if (d === undefined) refuse(`the directory ${dir} does not exist`);
  if (!d!.isDirectory()) refuse(`${dir} is not a directory`);
  const f = statSync(path, { throwIfNoEntry: false });
  if (f?.isDirectory()) refuse(`${path} is a directory`);
  if (f !== undefined) {
    const real = realpathSync(path);
    for (const [what, input] of Object.entries(inputs)) if (real === realpathSync(input)) refuse(`that is ${what} (${input}): the results would be written over it`);
  }
  try {
    accessSync(f !== undefined ? path : dir, constants.W_OK);
  } catch {
    refuse(`${f !== undefined ? path : dir} is not writable`);
  }
}

/**
 * A local flare runs a process per pack and a thread per worker: on one machine a burst sized for a
 * cluster (spec.size allows 100 000) would fork until memory ran out. What a pack and a worker take here
 * was measured with the hello example (maximum RSS of packs of 8, 32 and 64 workers, Node 20:
 * bench/results/local-memory): about 55 MiB a pack and 12 MiB a worker, before the function's own data. A flare that needs more than the
 * machine has is refused before anything starts.
 */
export function checkFitsHere(size: number, packs: number, machineBytes: number): void {
  const MiB = 1024 * 1024;
  const need = packs * 55 * MiB + size * 12 * MiB;
  if (need <= machineBytes) return;
  const gib = (b: number): string => (b / 1024 / MiB).toFixed(1);
  throw new CliUsageError(
    `${size} workers in ${packs} pack${packs === 1 ? '' : 's'} need about ${gib(need)} GiB here (about 55 MiB a pack and 12 MiB a worker before the function's data), more than the ${gib(machineBytes)} GiB of memory here (the machine's, or its container's limit): run fewer workers (--size) in fewer packs (--granularity), or in a cluster`,
    'run',
  );
}

/** The LocalFlareOptions a manifest (plus overrides) asks for. Pure but for the module existence check. */
export function flareOptions(m: LoadedManifest, o: RunOptions): LocalFlareOptions {
  const s = m.job.spec;
  const kind = o.transport?.kind ?? s.transport.kind;
  let url = o.transport?.url;
  // Named by the packs when the broker cannot be reached: the place to fix the URL.
  let urlSource: string | undefined = o.transport?.urlFlag;
  if (url === undefined && kind === s.transport.kind) {
    if (s.transport.secretRef !== undefined) {
      throw new ManifestError(`spec.transport.secretRef: kubeburst run cannot read Kubernetes Secrets; pass the URL with --transport ${kind}=URL`);
    }
    url = s.transport.url;
    if (url !== undefined) urlSource = `spec.transport.url in ${o.file}`;
  }
  if (url === undefined) urlSource = `the default: no URL in spec.transport.url or --transport ${kind}=URL`;
  const granularity = s.granularity ?? (s.packing?.mode === 'Auto' ? Math.min(s.packing.maxGranularity ?? s.size, s.size) : s.size);
  const env: Record<string, string> = {};
  for (const e of s.template?.env ?? []) env[e.name] = e.value;
  return {
    burstId: `${m.job.metadata.name}-local-${randomBytes(4).toString('hex')}`,
    size: s.size,
    granularity,
    transport: {
      kind,
      ...(url !== undefined ? { url } : {}),
      ...(kind !== 'direct' ? { urlSource } : {}),
      chunkBytes: s.transport.chunkBytes,
      ...(s.transport.encryption ? { encryption: true } : {}),
    },
    modulePath: resolveModule(m),
    params: s.params?.list !== undefined ? { list: s.params.list } : { value: s.params?.value ?? null },
    joinTimeoutMs: s.timeouts.joinSeconds * 1000,
    operationTimeoutMs: s.timeouts.operationSeconds * 1000,
    ...(s.activeDeadlineSeconds !== undefined ? { wallTimeoutMs: s.activeDeadlineSeconds * 1000 } : {}),
    ...(Object.keys(env).length > 0 ? { env } : {}),
    // With --json, stdout is the summary alone: what workers print goes to stderr.
    ...(o.json ? { workerStdout: 'stderr' as const } : {}),
  };
}

async function run(args: string[], io: CliIO): Promise<number> {
  const o = parseRunArgs(args);
  const m = loadManifest(o.file, io.cwd, {
    ...(o.name !== undefined ? { name: o.name } : {}),
    overrides: {
      ...(o.size !== undefined ? { size: o.size } : {}),
      ...(o.granularity !== undefined ? { granularity: o.granularity } : {}),
      ...(o.transport?.kind !== undefined ? { transportKind: o.transport.kind } : {}),
    },
  });
  const opts = flareOptions(m, o);
  // A results file that cannot be written is refused now, not after the flare ran (its results lost).
  const out = o.output !== undefined ? resolve(io.cwd, o.output) : undefined;
  if (out !== undefined) checkWritable(out, o.output!, { 'the manifest': m.path, "the worker's module": opts.modulePath });
  // The broker URL's password, in every form: no line, summary or results file shows it (its packs'
  // logs, a client's error, a worker's result would otherwise carry it out).
  const secrets = urlSecrets(opts.transport.url);
  const packs = Math.ceil(opts.size / (opts.granularity ?? opts.size));
  checkFitsHere(opts.size, packs, memoryHere());
  const mode: ProgressMode = o.quiet ? 'off' : io.stderr.isTTY ? 'tty' : 'plain';
  const launchedAt = io.now();
  const name = m.job.metadata.name;
  if (mode !== 'off') {
    const g = `${opts.size % opts.granularity! === 0 ? '' : '≤'}${opts.granularity}`;
    io.stderr.write(
      `kubeburst: running ${name}: ${opts.size} workers in ${packs} pack${packs === 1 ? '' : 's'} of ${g}, transport ${transportInUse(opts.transport.kind, packs, describeTransport(opts))}\n`,
    );
  }
  const progress = new Progress({ packs, workers: opts.size }, io.stderr, mode, io.now, launchedAt);
  const children: ChildProcess[] = [];
  let interrupted = false;
  void io.interrupted?.then(() => {
    interrupted = true;
    for (const c of children) c.kill('SIGTERM');
  });

  let result: FlareResult;
  try {
    result = redacted(await runLocalFlare({ ...opts, onEvent: (e) => progress.onEvent(redacted(e, secrets)), onSpawn: (_p, c) => void children.push(c) }), secrets);
  } finally {
    progress.finish();
  }
  const endedAt = io.now();
  const summary = summarize(name, result, launchedAt, endedAt);
  const deadline = opts.wallTimeoutMs;
  if (!result.ok && deadline !== undefined && endedAt - launchedAt >= deadline) {
    summary.failure = { ...summary.failure, reason: `spec.activeDeadlineSeconds (${deadline / 1000} s) exceeded: every pack was killed` };
  }
  if (interrupted) summary.failure = { reason: 'interrupted: every pack was stopped' };
  if (out !== undefined) {
    // Beside it first: a write that fails leaves the file that was there as it was.
    const part = `${out}.part-${process.pid}`;
    const fd = openSync(part, 'wx');
    try {
      writeJson(result, (text) => void writeSync(fd, text));
    } catch (err) {
      closeSync(fd);
      rmSync(part, { force: true });
      throw err;
    }
    closeSync(fd);
    renameSync(part, out);
  }
  if (o.json) writeJson(summary, (text) => void io.stdout.write(text));
  else if (!o.quiet) io.stdout.write(formatSummary(summary, o.output !== undefined ? { output: o.output } : {}));
  else if (!result.ok) io.stderr.write(formatSummary(summary).split('\n').slice(0, 2).join('\n') + '\n');
  if (interrupted) return EXIT.interrupted;
  return result.ok ? EXIT.ok : EXIT.failed;
}

/**
 * `value` (an object) as JSON, a top-level field a line and each element of a top-level array a line of
 * its own: no one string holds it all. Results of many megabytes each fit no single string once
 * pretty-printed (V8 caps strings at about 512 MiB), and the whole result was lost at the end of a flare.
 */
export function writeJson(value: object, write: (text: string) => void): void {
  const entries = Object.entries(value).filter(([, v]) => v !== undefined);
  write('{\n');
  entries.forEach(([k, v], i) => {
    write(`  ${JSON.stringify(k)}: `);
    if (Array.isArray(v) && v.length > 0) {
      write('[\n');
      v.forEach((x, j) => write(`    ${JSON.stringify(x) ?? 'null'}${j + 1 < v.length ? ',' : ''}\n`));
      write('  ]');
    } else write(JSON.stringify(v));
    write(i + 1 < entries.length ? ',\n' : '\n');
  });
  write('}\n');
}

export function describeTransport(o: LocalFlareOptions): string {
  const t = o.transport;
  if (t.kind === 'direct') return t.url ? `direct (${redactUrl(t.url)})` : 'direct (Unix sockets)';
  return t.url ? `${t.kind} (${redactUrl(t.url)})` : t.kind;
}

/** A copy of a JSON value (an event, a result) with every string redacted. */
function redacted<T>(value: T, secrets: readonly string[]): T {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'string' ? redactText(v, secrets) : v))) as T;
}

export const runCommand: Command = {
  name: 'run',
  summary: 'run a BurstJob locally: one process per pack, progress, summary, results JSON',
  help: HELP,
  run,
};
