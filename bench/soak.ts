#!/usr/bin/env node
/**
 * npm run bench:soak — liveness under load (not a test): K flares at a time for M minutes while CPU hogs
 * keep every core busy, counting successes, false aborts and leaks. Nothing is injected, so every failed
 * flare is a false abort. Output: bench/results/soak.json and soak.md (soak-interrupted.* after Ctrl-C).
 * Numbers are measured, never asserted; the exit code is 0 whether or not the goal (zero of every kind of
 * failure and leak) is met, 1 only when the benchmark itself broke.
 *
 *   load       one busy-loop process per core (availableParallelism()), nice 0 like this process and the
 *              packs it launches (this process sets itself to nice 0 first), for the whole run.
 *   flares     K at a time (--concurrency); each a 'rounds' scenario flare (test/fixtures/scenarios.ts: an
 *              allReduce per round, and worker 0 sends a text to the last worker) of a random size in
 *              --sizes, --granularity workers per pack, transports taken in turn from --transports:
 *                redis, nats         the local servers (KB_BENCH_REDIS_URL, KB_BENCH_NATS_URL)
 *                direct              TCP on loopback, a port per pack from --port-range (as between pods)
 *                direct-unix         Unix sockets in the flare's temp dir (`kubeburst run`'s default)
 *              A flare that ends is replaced at once until --minutes have passed; then the run drains.
 *              A result is checked too (every round's sum, every text): a flare that succeeds with a wrong
 *              result counts as a failure of its own kind.
 *   leaks      after every flare ended, the hogs stopped and --settle-s: pack processes still alive,
 *              processes carrying this run's marker, children of this process, this process's fds (vs a
 *              baseline taken after one warm-up flare per transport), what is left in the private TMPDIR
 *              (kubeburst-* dirs, secret files), Redis keys and client connections of this run's bursts,
 *              NATS subscriptions on this run's subjects (probed: the server answers "no responders" to a
 *              request on a subject nobody subscribes to).
 *
 *   runtime    the packs (and the launcher) run a frozen copy of worker-runtime/dist and of the scenario
 *              module (bench/lib/snapshot.ts), since others rebuild the tree meanwhile. runLocalFlare's
 *              ChildProcess 'error' events (it ignores them; a pack's exit says what happened) are counted
 *              through onSpawn.
 *
 *   npm run bench:soak -- [--quick] [--minutes 10] [--concurrency 40] [--transports redis,nats,direct,direct-unix]
 *                         [--sizes 4-8] [--granularity 2] [--rounds 10] [--delay-ms 50] [--hogs <cores>]
 *                         [--settle-s 5] [--flare-deadline-s 300] [--sweep] [--port-range 20000-29999]
 *                         [--seed <n>] [--out bench/results]
 *
 * --sweep lets the launcher delete each burst's Redis keys after its packs exit (runLocalFlare's default);
 * without it (the default here) the keys the packs themselves failed to delete are what gets counted, as
 * on a cluster where nothing sweeps after a pack that exited normally.
 * @module
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { availableParallelism, getPriority, loadavg, setPriority, tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { connect as natsConnect, type NatsConnection } from 'nats';
import type { FlareResult, runLocalFlare as RunLocalFlare } from '@kubeburst/worker-runtime/launch';
import type { ScenarioParams } from '../test/fixtures/scenarios.js';
import { machine } from './lib/env.js';
import { alive, childrenOf, cmdline, environ, establishedOnLocalPort, fdKind, machineCpu, openFds, processesWithEnv, rssBytes, stat } from './lib/procfs.js';
import { snapshotRuntime, type RuntimeSnapshot } from './lib/snapshot.js';
import { median, percentile, table } from './lib/stats.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    minutes: { type: 'string' },
    concurrency: { type: 'string', default: '40' },
    transports: { type: 'string', default: 'redis,nats,direct,direct-unix' },
    sizes: { type: 'string', default: '4-8' },
    granularity: { type: 'string', default: '2' },
    rounds: { type: 'string', default: '10' },
    'delay-ms': { type: 'string', default: '50' },
    hogs: { type: 'string' },
    'settle-s': { type: 'string', default: '5' },
    'flare-deadline-s': { type: 'string', default: '300' },
    sweep: { type: 'boolean', default: false },
    'port-range': { type: 'string', default: '20000-29999' },
    seed: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results') },
  },
});

const REDIS = process.env.KB_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS = process.env.KB_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
const KNOWN_TRANSPORTS = ['redis', 'nats', 'direct', 'direct-unix'] as const;
type SoakTransport = (typeof KNOWN_TRANSPORTS)[number];

const minutes = Number(args.minutes ?? (args.quick ? 2 : 10));
const concurrency = Number(args.concurrency);
const transports = args.transports!.split(',').filter(Boolean) as SoakTransport[];
const [minSize, maxSize] = (args.sizes!.includes('-') ? args.sizes!.split('-') : [args.sizes!, args.sizes!]).map(Number) as [number, number];
const granularity = Number(args.granularity);
const rounds = Number(args.rounds);
const delayMs = Number(args['delay-ms']);
const hogCount = Number(args.hogs ?? availableParallelism());
const settleMs = Number(args['settle-s']) * 1000;
const flareDeadlineMs = Number(args['flare-deadline-s']) * 1000;
const [portLo, portHi] = args['port-range']!.split('-').map(Number) as [number, number];
const seed = Number(args.seed ?? Date.now() % 2 ** 31);
/** fds this process may hold after the run beyond its baseline without it counting as a leak (see the report). */
const FD_TOLERANCE = 2;
const MARKER = 'KB_SOAK_RUN';
const TEXT = 'soak';

const log = (s: string): void => void process.stderr.write(`[soak ${((Date.now() - t0Epoch) / 1000).toFixed(0).padStart(4)} s] ${s}\n`);
const t0Epoch = Date.now();
const round = (x: number, d = 2): number => Math.round(x * 10 ** d) / 10 ** d;

/** mulberry32: a seeded PRNG, so a run's sequence of flare sizes can be replayed with --seed. */
function prng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function validate(): void {
  const bad = (m: string): never => {
    throw new Error(`bad option: ${m}`);
  };
  if (!(minutes > 0)) bad(`--minutes ${args.minutes}`);
  if (!(concurrency >= 1)) bad(`--concurrency ${args.concurrency}`);
  if (transports.length === 0 || transports.some((t) => !KNOWN_TRANSPORTS.includes(t))) bad(`--transports ${args.transports} (known: ${KNOWN_TRANSPORTS.join(', ')})`);
  if (!(minSize >= 1 && maxSize >= minSize)) bad(`--sizes ${args.sizes}`);
  if (!(granularity >= 1)) bad(`--granularity ${args.granularity}`);
  if (!(rounds >= 1) || !(delayMs >= 0)) bad('--rounds / --delay-ms');
  if (!(hogCount >= 0)) bad(`--hogs ${args.hogs}`);
  if (!(portLo > 0 && portHi >= portLo && portHi < 65536)) bad(`--port-range ${args['port-range']}`);
}

// ---------------------------------------------------------------------------------------------------------
// The private TMPDIR: runLocalFlare makes its kubeburst-* dir under os.tmpdir(), which reads TMPDIR at each
// call, and the packs inherit it. Set before anything else runs, so whatever is left in it is this run's.
const systemTmp = tmpdir();
const privateTmp = mkdtempSync(join(systemTmp, 'kb-soak-'));
process.env.TMPDIR = privateTmp;

const runId = `soak-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;

// ---------------------------------------------------------------------------------------------------------
// CPU hogs.
const hogs: ChildProcess[] = [];
function startHogs(): void {
  const script = join(root, 'bench', 'dist', 'workers', 'cpu-hog.js');
  for (let i = 0; i < hogCount; i++) {
    const c = spawn(process.execPath, [script, String(process.pid)], { stdio: 'ignore', env: { ...process.env, KB_SOAK_HOG: runId } });
    // The same niceness as this process and the packs it launches (0): the hogs really compete with them.
    if (c.pid !== undefined) setPriority(c.pid, 0);
    hogs.push(c);
  }
}
function killHogs(): void {
  for (const h of hogs) if (h.exitCode === null && h.signalCode === null) h.kill('SIGKILL');
}
async function stopHogs(): Promise<void> {
  await Promise.all(
    hogs
      .filter((h) => h.exitCode === null && h.signalCode === null)
      .map(
        (h) =>
          new Promise<void>((r) => {
            h.once('exit', () => r());
            h.kill('SIGKILL');
          }),
      ),
  );
}
process.on('exit', () => {
  killHogs();
  if (snapshot) rmSync(snapshot.dir, { recursive: true, force: true });
});

let interrupted = false;
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (interrupted) {
      killHogs();
      process.exit(130);
    }
    interrupted = true;
    log(`${sig}: no more flares start; the running ones end (their failures count as interrupted, not false aborts), then the report is written. ${sig} again to quit at once.`);
  });
}

// ---------------------------------------------------------------------------------------------------------
// Ports for the direct transport over TCP: from a range below the kernel's ephemeral ports (so no outgoing
// connection takes one between our check and a pack's listen), never two flares of this run on one port,
// each checked free by binding it just before use.
class PortPool {
  private next = portLo;
  private readonly inUse = new Set<number>();
  private async free(port: number): Promise<boolean> {
    return new Promise((resolve) => {
      const s = createServer();
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
    });
  }
  async take(n: number): Promise<number[]> {
    const out: number[] = [];
    const span = portHi - portLo + 1;
    for (let tries = 0; out.length < n; tries++) {
      if (tries > span) throw new Error(`no ${n} free ports in ${portLo}-${portHi}`);
      const p = this.next;
      this.next = p === portHi ? portLo : p + 1;
      if (this.inUse.has(p)) continue;
      this.inUse.add(p);
      if (await this.free(p)) out.push(p);
      else this.inUse.delete(p);
    }
    return out;
  }
  release(ports: number[]): void {
    for (const p of ports) this.inUse.delete(p);
  }
}
const ports = new PortPool();

// ---------------------------------------------------------------------------------------------------------
// Flares.
type Outcome = 'ok' | 'false-abort' | 'wrong-result' | 'launcher-error' | 'interrupted';
interface FlareRecord {
  n: number;
  burstId: string;
  transport: SoakTransport;
  size: number;
  packs: number;
  warmup: boolean;
  /** Seconds after the soak started. */
  startS: number;
  wallS: number;
  /** From the first pack process start to the last pack through the start barrier (from the packs' reports). */
  joinS?: number;
  outcome: Outcome;
  /** The failure's reason, first 300 characters. */
  reason?: string;
  /** The first failed worker's error, exit codes and the start of a failed pack's stderr (300 characters each). */
  detail?: { worker?: string; exitCodes: (number | null)[]; stderr?: string };
  /** Link/transport connections the packs dropped before they authenticated (PackReport.refused), summed. */
  refused: number;
  /** Broker frames the packs dropped because they did not verify or were replays (PackReport.rejected), summed. */
  rejected: number;
  /** The packs' warn/error log lines (stderr JSON), of every flare, failed or not: up to 5, 300 characters each. */
  warnings: string[];
  /**
   * 'error' events the launcher's ChildProcess objects emitted (e.g. EPIPE from relaying a pack's death to
   * a pack that just exited). runLocalFlare listens for none: without the listener the soak adds, each one
   * is an uncaught exception that kills the launching process (as `kubeburst run` would die).
   */
  launcherErrorEvents: string[];
}

const liveScenarios = join(root, 'test', 'fixtures', 'dist', 'scenarios.js');
/** The frozen build the packs run (see bench/lib/snapshot.ts), and its launcher. */
let snapshot: RuntimeSnapshot | undefined;
let runLocalFlare: typeof RunLocalFlare;
let scenarios = '';
const records: FlareRecord[] = [];
const burstIds: { burstId: string; transport: SoakTransport }[] = [];
/** Every pack process this run spawned. */
const packPids: { pid: number; burstId: string }[] = [];
const livePacks = new Set<number>();
/** Each flare's temp dir and secret file, read from its first pack's environment when it is spawned. */
const launchDirs: { burstId: string; dir?: string; secretFile?: string }[] = [];
let counter = 0;
const random = prng(seed);

function transportSpec(t: SoakTransport, tcpPorts: number[]): { kind: 'redis' | 'nats' | 'direct'; url?: string } {
  if (t === 'redis') return { kind: 'redis', url: REDIS };
  if (t === 'nats') return { kind: 'nats', url: NATS };
  if (t === 'direct-unix') return { kind: 'direct' };
  return { kind: 'direct', url: tcpPorts.map((p) => `127.0.0.1:${p}`).join(',') };
}

/** What went wrong with a result that says ok, or undefined when every worker returned what it should. */
function wrongResult(r: FlareResult, size: number): string | undefined {
  const sum = (size * (size + 1)) / 2;
  for (const w of r.workers) {
    const res = w.result as { sums?: number[]; texts?: number } | undefined;
    if (!res || !Array.isArray(res.sums)) return `worker ${w.workerId} returned ${JSON.stringify(w.result)?.slice(0, 100)}`;
    if (res.sums.length !== rounds || res.sums.some((s) => s !== sum)) return `worker ${w.workerId}: sums ${JSON.stringify(res.sums)}, expected ${rounds} × ${sum}`;
    const texts = w.workerId === size - 1 && size > 1 ? rounds : 0;
    if (res.texts !== texts) return `worker ${w.workerId}: ${res.texts} texts, expected ${texts}`;
  }
  return undefined;
}

async function oneFlare(warmup: boolean, forced?: SoakTransport): Promise<void> {
  const n = counter++;
  const transport = forced ?? transports[n % transports.length]!;
  const size = minSize + Math.floor(random() * (maxSize - minSize + 1));
  const packs = Math.ceil(size / granularity);
  const burstId = `${runId}-${n}`;
  burstIds.push({ burstId, transport });
  const dirs: { burstId: string; dir?: string; secretFile?: string } = { burstId };
  launchDirs.push(dirs);
  const startS = (Date.now() - t0Epoch) / 1000;
  const started = performance.now();
  let tcpPorts: number[] = [];
  const rec: FlareRecord = {
    n,
    burstId,
    transport,
    size,
    packs,
    warmup,
    startS: round(startS),
    wallS: NaN,
    outcome: 'ok',
    refused: 0,
    rejected: 0,
    warnings: [],
    launcherErrorEvents: [],
  };
  try {
    if (transport === 'direct') tcpPorts = await ports.take(packs);
    const params: ScenarioParams = { scenario: 'rounds', rounds, delayMs, text: TEXT };
    const r = await runLocalFlare({
      burstId,
      size,
      granularity,
      transport: transportSpec(transport, tcpPorts),
      modulePath: scenarios,
      params: { value: params },
      env: { [MARKER]: runId },
      wallTimeoutMs: flareDeadlineMs,
      sweepBrokerKeys: args.sweep,
      onSpawn: (pack, child) => {
        const pid = child.pid;
        if (pid === undefined) return;
        packPids.push({ pid, burstId });
        // runLocalFlare keeps stderr of failed packs only: the warnings of packs that succeeded are read here.
        let partial = '';
        child.stderr?.on('data', (d: Buffer) => {
          if (rec.warnings.length >= 5) return;
          const lines = (partial + d.toString()).split('\n');
          partial = lines.pop()!.slice(-4096);
          for (const l of lines) if (/"level":"(warn|error)"/.test(l) && rec.warnings.length < 5) rec.warnings.push(`pack ${pack}: ${l}`.slice(0, 300));
        });
        child.on('error', (err) => void rec.launcherErrorEvents.push(`pack ${pack}: ${(err as NodeJS.ErrnoException).code ?? ''} ${err.message}`.slice(0, 300)));
        livePacks.add(pid);
        child.once('exit', () => livePacks.delete(pid));
        if (dirs.dir === undefined) {
          const env = environ(pid);
          dirs.dir = env?.get('KB_LAUNCH_DIR');
          // A launcher hands the secret on a descriptor (KB_SECRET_FD): then it is on no disk.
          dirs.secretFile = env?.get('KB_SECRET_FILE') ?? (env?.get('KB_SECRET_FD') !== undefined ? `descriptor ${env.get('KB_SECRET_FD')}` : undefined);
        }
      },
    });
    rec.wallS = round(r.wallMs / 1000, 3);
    const reports = r.packs;
    if (reports.length === packs && reports.every((p) => p.timings.joined > 0)) {
      rec.joinS = round((Math.max(...reports.map((p) => p.timings.joined)) - Math.min(...reports.map((p) => p.timings.processStart))) / 1000, 3);
    }
    rec.refused = reports.reduce((a, p) => a + (p.refused ?? 0), 0);
    rec.rejected = reports.reduce((a, p) => a + (p.rejected ?? 0), 0);
    if (!r.ok) {
      rec.outcome = interrupted ? 'interrupted' : 'false-abort';
      const f = r.failure;
      const who = f?.failedWorker !== undefined ? `worker ${f.failedWorker}: ` : f?.failedPack !== undefined ? `pack ${f.failedPack}: ` : '';
      rec.reason = `${who}${f?.reason ?? 'no failure reported'}`.slice(0, 300);
      const w = r.workers.find((x) => !x.ok);
      const badPack = Object.keys(r.stderr)[0];
      rec.detail = {
        ...(w?.error ? { worker: `worker ${w.workerId}: ${w.error.name}: ${w.error.message}`.slice(0, 300) } : {}),
        exitCodes: r.exitCodes,
        ...(badPack !== undefined ? { stderr: `pack ${badPack}: ${r.stderr[Number(badPack)]!.slice(0, 300)}` } : {}),
      };
    } else {
      const wrong = wrongResult(r, size);
      if (wrong !== undefined) {
        rec.outcome = 'wrong-result';
        rec.reason = wrong.slice(0, 300);
      }
    }
  } catch (err) {
    // runLocalFlare itself threw (e.g. out of fds, a temp dir it could not make): the flare did not run.
    rec.wallS = round((performance.now() - started) / 1000, 3);
    rec.outcome = interrupted ? 'interrupted' : 'launcher-error';
    rec.reason = `launcher threw: ${(err as Error).message ?? String(err)}`.slice(0, 300);
  } finally {
    ports.release(tcpPorts);
  }
  records.push(rec);
  if (rec.launcherErrorEvents.length) log(`flare ${n} (${transport}): launcher 'error' event(s) that would have crashed the launcher: ${rec.launcherErrorEvents.join('; ')}`);
  if (rec.outcome !== 'ok') log(`flare ${n} (${transport}, ${size} workers, ${packs} packs) ${rec.outcome}: ${rec.reason}`);
}

// ---------------------------------------------------------------------------------------------------------
// Sampling during the run.
interface Sample {
  t: number;
  load1: number;
  livePacks: number;
  packRssMiB: number;
}
const samples: Sample[] = [];
function sample(): void {
  let rss = 0;
  for (const pid of livePacks) rss += rssBytes(pid);
  samples.push({ t: round((Date.now() - t0Epoch) / 1000, 1), load1: round(loadavg()[0]!), livePacks: livePacks.size, packRssMiB: Math.round(rss / 2 ** 20) });
}

function progress(): void {
  const by = (o: Outcome): number => records.filter((r) => r.outcome === o).length;
  log(
    `${counter} started, ${by('ok')} ok, ${by('false-abort')} false aborts, ${by('wrong-result') + by('launcher-error')} other failures, ${counter - records.length} running (${livePacks.size} pack processes), load ${loadavg()[0]!.toFixed(1)}`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// NATS subscription probe: a request on a subject nobody subscribes to is answered at once with "503 no
// responders"; a subscription (even one that never replies) turns it into a timeout.
type Interest = 'none' | 'interest' | `error: ${string}`;
async function natsInterest(nc: NatsConnection, subject: string): Promise<Interest> {
  try {
    await nc.request(subject, new Uint8Array(0), { timeout: 2000 });
    return 'interest';
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === '503') return 'none';
    if (code === 'TIMEOUT') return 'interest';
    return `error: ${(err as Error).message}`;
  }
}
const natsSubject = (burstId: string, pack: number): string => `kb.${burstId.replace(/[^A-Za-z0-9_-]/g, '_')}.${pack}`;

// ---------------------------------------------------------------------------------------------------------
interface Leak {
  kind: string;
  count: number | null;
  detail: string;
  /** false: context only, not part of the verdict. */
  counted: boolean;
}

function walk(dir: string): { path: string; type: string }[] {
  const out: { path: string; type: string }[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    let st;
    try {
      st = lstatSync(p);
    } catch {
      continue;
    }
    const type = st.isDirectory() ? 'dir' : st.isSocket() ? 'socket' : st.isSymbolicLink() ? 'symlink' : 'file';
    out.push({ path: p, type });
    if (type === 'dir') out.push(...walk(p));
  }
  return out;
}

const list = (xs: string[], max = 8): string => (xs.length <= max ? xs.join('; ') : `${xs.slice(0, max).join('; ')}; … ${xs.length - max} more`);

async function main(): Promise<number> {
  validate();
  const usesNats = transports.includes('nats');
  for (const f of [join(root, 'worker-runtime', 'dist', 'pack.js'), liveScenarios, join(root, 'bench', 'dist', 'workers', 'cpu-hog.js')]) {
    if (!existsSync(f)) throw new Error(`${f} is missing: run \`tsc -b bench\` (and \`npm run build\`) first`);
  }
  // Others rebuild this tree while the soak runs: the packs run a frozen copy of the build, never files
  // being rewritten (a pack loading a half-written dist/*.js fails for reasons that are not the runtime's).
  snapshot = await snapshotRuntime({ repo: root, tmp: systemTmp, modules: { scenarios: liveScenarios }, log });
  runLocalFlare = ((await import(pathToFileURL(join(snapshot.runtimeDir, 'dist', 'launch', 'local.js')).href)) as { runLocalFlare: typeof RunLocalFlare }).runLocalFlare;
  scenarios = snapshot.modules.scenarios!;
  let dirty: string[] = [];
  try {
    dirty = execFileSync('git', ['status', '--porcelain', '--', 'worker-runtime', 'test/fixtures'], { cwd: root, encoding: 'utf8' }).split('\n').filter(Boolean);
  } catch {
    /* not a checkout */
  }
  log(
    `runtime snapshot ${snapshot.buildSha256} (built ${snapshot.builtAt}, ${snapshot.jsFiles} files${snapshot.waitedMs > 1000 ? `, waited ${Math.round(snapshot.waitedMs / 1000)} s for a quiet build` : ''}) in ${snapshot.dir}`,
  );
  const niceBefore = getPriority();
  setPriority(0);
  const ephemeral = existsSync('/proc/sys/net/ipv4/ip_local_port_range') ? readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/).map(Number) : [];
  if (transports.includes('direct') && ephemeral.length === 2 && portHi >= ephemeral[0]! && portLo <= ephemeral[1]!) {
    log(`warning: --port-range ${portLo}-${portHi} overlaps the ephemeral ports ${ephemeral[0]}-${ephemeral[1]}: an outgoing connection may take a port a pack was given`);
  }

  // Our own broker clients live through the whole run, so they are part of the fd baseline.
  const redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 1, connectionName: `kb-soak-probe:${runId}` });
  redis.on('error', () => {});
  await redis.connect(); // Redis is needed for the key check whatever the transports (a pack could still write there).
  let nc: NatsConnection | undefined;
  const natsControls: { unused: Interest | 'skipped'; subscribed: Interest | 'skipped' } = { unused: 'skipped', subscribed: 'skipped' };
  if (usesNats) {
    nc = await natsConnect({ servers: NATS, name: `kb-soak-probe:${runId}` });
    // Controls: a subject nobody uses must say "none", one we subscribe to ourselves must say "interest".
    natsControls.unused = await natsInterest(nc, natsSubject(`${runId}-control-unused`, 0));
    const sub = nc.subscribe(natsSubject(`${runId}-control-subscribed`, 0));
    await nc.flush();
    natsControls.subscribed = await natsInterest(nc, natsSubject(`${runId}-control-subscribed`, 0));
    sub.unsubscribe();
    await nc.flush();
  }
  const natsConnectionsBefore = establishedOnLocalPort(Number(new URL(NATS).port || 4222));

  log(
    `run ${runId}: ${concurrency} flares at a time for ${minutes} min over ${transports.join(', ')}, sizes ${minSize}-${maxSize}, G=${granularity}, ${rounds} rounds × ${delayMs} ms, ${hogCount} CPU hogs; TMPDIR=${privateTmp}; seed ${seed}`,
  );
  startHogs();
  const hogPids = hogs.map((h) => h.pid!).filter((p) => p !== undefined);

  // Warm-up: one flare per transport, alone, so lazily opened handles (module loading, libuv's signal
  // pipe, io_uring) exist before the fd baseline. They count like every other flare.
  for (const t of transports) await oneFlare(true, t);
  const fdsBefore = openFds();
  const cpuBefore = machineCpu();
  const hogCpuBefore = hogPids.map((p) => stat(p)?.cpuSeconds ?? 0);
  const soakStart = Date.now();
  const endAt = soakStart + minutes * 60_000;
  sample();
  const sampler = setInterval(sample, 5000);
  const reporter = setInterval(progress, 15_000);
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < endAt && !interrupted) await oneFlare(false);
    }),
  );
  const launchEnd = Date.now();
  clearInterval(sampler);
  clearInterval(reporter);
  sample();
  const cpuAfter = machineCpu();
  const hogCpu = hogPids.map((p, i) => round(((stat(p)?.cpuSeconds ?? 0) - hogCpuBefore[i]!) / ((launchEnd - soakStart) / 1000), 2));
  progress();
  await stopHogs();
  log(`all flares ended; hogs stopped; settling ${settleMs / 1000} s`);
  await new Promise((r) => setTimeout(r, settleMs));

  // ---------------------------------------------------------------------------------------------------
  // Leaks.
  const leaks: Leak[] = [];
  const packEntry = 'worker-runtime/dist/pack.js';
  const packsLeft = packPids.filter(({ pid }) => alive(pid) && (cmdline(pid) ?? '').includes(packEntry));
  leaks.push({
    kind: 'pack processes spawned by this run still alive',
    count: packsLeft.length,
    detail: packsLeft.length ? list(packsLeft.map((p) => `pid ${p.pid} (${p.burstId})`)) : `${packPids.length} pack processes spawned (pids from onSpawn), none left`,
    counted: true,
  });
  const marked = processesWithEnv(MARKER, runId);
  leaks.push({
    kind: `processes with ${MARKER}=<this run> in their environment`,
    count: marked.length,
    detail: marked.length ? list(marked.map((p) => `pid ${p.pid} [${p.state}] ${p.cmdline.slice(0, 80)}`)) : 'none (packs and anything they started inherit the marker)',
    counted: true,
  });
  const kids = childrenOf(process.pid);
  leaks.push({
    kind: 'child processes of the soak process (hogs stopped)',
    count: kids.length,
    detail: kids.length ? list(kids.map((k) => `pid ${k.pid} [${k.state}] ${(cmdline(k.pid) ?? '?').slice(0, 80)}`)) : 'none',
    counted: true,
  });
  const fdsAfter = openFds();
  const kinds = (fds: { target: string }[]): Map<string, number> => {
    const m = new Map<string, number>();
    for (const f of fds) m.set(fdKind(f.target), (m.get(fdKind(f.target)) ?? 0) + 1);
    return m;
  };
  const kb = kinds(fdsBefore);
  const ka = kinds(fdsAfter);
  const fdDiff = [...new Set([...kb.keys(), ...ka.keys()])].map((k) => ({ k, d: (ka.get(k) ?? 0) - (kb.get(k) ?? 0) })).filter((x) => x.d !== 0);
  const fdGrowth = fdsAfter.length - fdsBefore.length;
  leaks.push({
    kind: `file descriptors of the soak process (tolerance ${FD_TOLERANCE})`,
    count: Math.max(0, fdGrowth > FD_TOLERANCE ? fdGrowth : 0),
    detail: `${fdsBefore.length} after the warm-up, ${fdsAfter.length} at the end${fdDiff.length ? ` (${fdDiff.map((x) => `${x.d > 0 ? '+' : ''}${x.d} ${x.k}`).join(', ')})` : ', same kinds'}`,
    counted: true,
  });
  const left = walk(privateTmp);
  const flareDirs = left.filter((e) => dirname(e.path) === privateTmp && e.path.slice(privateTmp.length + 1).startsWith('kubeburst-'));
  leaks.push({
    kind: 'temp entries left in the private TMPDIR',
    count: left.length,
    detail: left.length ? `${flareDirs.length} kubeburst-* dirs; ${list(left.map((e) => `${relative(privateTmp, e.path)} (${e.type})`))}` : `none in ${privateTmp}`,
    counted: true,
  });
  const secretsLeft = new Set([
    ...left.filter((e) => e.type === 'file' && e.path.endsWith('/secret')).map((e) => e.path),
    ...launchDirs.map((d) => d.secretFile).filter((f): f is string => f !== undefined && !f.startsWith('descriptor ') && existsSync(f)),
  ]);
  const onDisk = launchDirs.filter((d) => d.secretFile !== undefined && !d.secretFile.startsWith('descriptor ')).length;
  const outside = launchDirs.filter((d) => d.dir !== undefined && !d.dir.startsWith(privateTmp + '/'));
  const unseen = launchDirs.filter((d) => d.secretFile === undefined).length;
  leaks.push({
    kind: "flares' secret files left",
    count: secretsLeft.size,
    detail:
      (secretsLeft.size
        ? list([...secretsLeft])
        : `none of ${onDisk} secret files seen remain; ${launchDirs.length - unseen - onDisk} flares handed theirs over a descriptor, on no disk (KB_SECRET_FILE or KB_SECRET_FD read from each flare's first pack's environment)`) +
      (outside.length
        ? `; ${outside.length} flare dirs were NOT under the private TMPDIR: ${list(
            outside.map((d) => d.dir!),
            3,
          )}`
        : '') +
      (unseen ? `; ${unseen} flares' paths could not be read` : ''),
    counted: true,
  });
  // Redis: one SCAN for every burst of this run (their ids share the run's prefix), then who holds a
  // connection named after one of them (the transport names its connections kubeburst:<burst>:<pack>).
  const keys: string[] = [];
  let cursor = '0';
  do {
    const [next, batch] = await redis.scan(cursor, 'MATCH', `kb:{${runId}-*}:*`, 'COUNT', 1000);
    keys.push(...batch);
    cursor = next;
  } while (cursor !== '0');
  const ttls = await Promise.all(keys.slice(0, 20).map(async (k) => `${k} (pttl ${await redis.pttl(k)} ms)`));
  leaks.push({
    kind: `Redis keys kb:{<burst>}:* of this run's ${burstIds.length} bursts${args.sweep ? ' (launcher sweep on)' : " (packs' own clean-up; launcher sweep off)"}`,
    count: keys.length,
    detail: keys.length ? list(ttls) : 'none',
    counted: true,
  });
  const clients = ((await redis.call('CLIENT', 'LIST')) as string).split('\n').filter((l) => l.includes(` name=kubeburst:${runId}-`));
  leaks.push({
    kind: "Redis client connections named for this run's bursts",
    count: clients.length,
    detail: clients.length ? list(clients.map((l) => /name=(\S+)/.exec(l)?.[1] ?? l)) : 'none',
    counted: true,
  });
  // NATS: the server has no monitoring endpoint (nats-server -m), so subscriptions are probed subject by
  // subject; the controls above say whether the probe can tell.
  if (usesNats && nc) {
    const probeOk = natsControls.unused === 'none' && natsControls.subscribed === 'interest';
    if (!probeOk) {
      leaks.push({
        kind: "NATS subscriptions on this run's subjects",
        count: null,
        detail: `not measurable: the probe's controls gave ${JSON.stringify(natsControls)} (expected none / interest)`,
        counted: true,
      });
    } else {
      const subjects = burstIds
        .filter((b) => b.transport === 'nats')
        .flatMap((b) => {
          const rec = records.find((r) => r.burstId === b.burstId);
          return Array.from({ length: rec?.packs ?? Math.ceil(maxSize / granularity) }, (_, p) => natsSubject(b.burstId, p));
        });
      const found: string[] = [];
      const errors: string[] = [];
      for (let i = 0; i < subjects.length; i += 200) {
        const batch = subjects.slice(i, i + 200);
        const res = await Promise.all(batch.map((s) => natsInterest(nc!, s)));
        res.forEach((x, j) => (x === 'interest' ? found.push(batch[j]!) : x !== 'none' ? errors.push(`${batch[j]}: ${x}`) : undefined));
      }
      leaks.push({
        kind: "NATS subscriptions on this run's subjects",
        count: errors.length ? null : found.length,
        detail: `${subjects.length} subjects kb.<burst>.<pack> probed (controls: unused subject → no responders, our own subscription → seen)${found.length ? `; live: ${list(found)}` : ''}${errors.length ? `; probe errors: ${list(errors, 3)}` : ''}`,
        counted: true,
      });
    }
    const after = establishedOnLocalPort(Number(new URL(NATS).port || 4222));
    leaks.push({
      kind: 'NATS server client connections, all users (context)',
      count: after - natsConnectionsBefore,
      detail: `${natsConnectionsBefore} before, ${after} after (ESTABLISHED sockets on the server's port in /proc/net/tcp; the server is shared, so others' connections move this too; ours include the soak's probe connection both times)`,
      counted: false,
    });
  }
  const hogsLeft = hogPids.filter(alive);
  leaks.push({ kind: "CPU hogs left (the benchmark's own; context)", count: hogsLeft.length, detail: hogsLeft.length ? hogsLeft.join(', ') : 'none', counted: false });

  // Clean up after counting, so the run leaves nothing on the shared machine whatever it found.
  for (const p of marked) {
    try {
      process.kill(p.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  if (keys.length) for (let i = 0; i < keys.length; i += 500) await redis.del(...keys.slice(i, i + 500));
  rmSync(privateTmp, { recursive: true, force: true });
  redis.disconnect();
  await nc?.close();

  // ---------------------------------------------------------------------------------------------------
  // Report.
  const perTransport = transports.map((t) => {
    const rs = records.filter((r) => r.transport === t);
    const ok = rs.filter((r) => r.outcome === 'ok');
    const walls = ok.map((r) => r.wallS);
    const joins = ok.map((r) => r.joinS).filter((x): x is number => x !== undefined);
    return {
      transport: t,
      flares: rs.length,
      succeeded: ok.length,
      falseAborts: rs.filter((r) => r.outcome === 'false-abort').length,
      wrongResults: rs.filter((r) => r.outcome === 'wrong-result').length,
      launcherErrors: rs.filter((r) => r.outcome === 'launcher-error').length,
      launcherErrorEvents: rs.filter((r) => r.launcherErrorEvents.length > 0).length,
      interrupted: rs.filter((r) => r.outcome === 'interrupted').length,
      medianWallS: round(median(walls), 2),
      p95WallS: round(percentile(walls, 95), 2),
      medianJoinS: round(median(joins), 2),
      p95JoinS: round(percentile(joins, 95), 2),
      refusedConnections: rs.reduce((a, r) => a + r.refused, 0),
      rejectedFrames: rs.reduce((a, r) => a + r.rejected, 0),
      flaresWithPackWarnings: rs.filter((r) => r.warnings.length > 0).length,
    };
  });
  const total = (f: keyof (typeof perTransport)[number]): number => perTransport.reduce((a, x) => a + (x[f] as number), 0);
  const failures = records.filter((r) => r.outcome !== 'ok' || r.launcherErrorEvents.length > 0);
  const normalize = (s: string): string => s.replaceAll(runId, '<run>').replace(/\d+(\.\d+)?/g, '#');
  const groups = new Map<string, { reason: string; count: number; transports: Map<string, number>; outcome: string }>();
  const group = (outcome: string, reason: string, transport: string): void => {
    const k = `${outcome}|${normalize(reason)}`;
    const g = groups.get(k) ?? { reason, count: 0, transports: new Map(), outcome };
    g.count++;
    g.transports.set(transport, (g.transports.get(transport) ?? 0) + 1);
    groups.set(k, g);
  };
  for (const f of failures) {
    if (f.outcome !== 'ok') group(f.outcome, f.reason ?? '', f.transport);
    for (const e of f.launcherErrorEvents) group("launcher 'error' event", e, f.transport);
  }
  const warningGroups: { line: string; count: number; transports: Map<string, number> }[] = [];
  for (const r of records) {
    for (const w of r.warnings) {
      // Group by the message (and reason) without timestamps, ids and numbers.
      const k = normalize(w.replace(/"ts":"[^"]*",?/, ''));
      let g = warningGroups.find((x) => normalize(x.line.replace(/"ts":"[^"]*",?/, '')) === k);
      if (!g) warningGroups.push((g = { line: w, count: 0, transports: new Map() }));
      g.count++;
      g.transports.set(r.transport, (g.transports.get(r.transport) ?? 0) + 1);
    }
  }
  const loads = samples.map((s) => s.load1);
  const sampleGaps = samples.slice(1).map((s, i) => s.t - samples[i]!.t);
  const cpuBusy = round((100 * (cpuAfter.busy - cpuBefore.busy)) / Math.max(1, cpuAfter.total - cpuBefore.total), 1);
  const counted = leaks.filter((l) => l.counted);
  const unmeasured = counted.filter((l) => l.count === null);
  const leaking = counted.filter((l) => (l.count ?? 0) > 0);
  const badFlares = total('falseAborts') + total('wrongResults') + total('launcherErrors');
  const crashEvents = total('launcherErrorEvents');
  const goalMet = badFlares === 0 && crashEvents === 0 && leaking.length === 0 && unmeasured.length === 0 && !interrupted;
  const verdict = interrupted
    ? 'interrupted: the run did not complete'
    : goalMet
      ? 'goal met: 0 false aborts, 0 failures of any kind and 0 leaks of every kind measured'
      : `goal missed: ${badFlares} failed flare(s) (${total('falseAborts')} false aborts, ${total('wrongResults')} wrong results, ${total('launcherErrors')} launcher errors); ${crashEvents} flare(s) whose launcher got an unhandled 'error' event (each would have crashed the launching process); ${leaking.length} leak kind(s) non-zero${leaking.length ? ` (${leaking.map((l) => `${l.kind}: ${l.count}`).join('; ')})` : ''}${unmeasured.length ? `; not measured: ${unmeasured.map((l) => l.kind).join(', ')}` : ''}`;
  const m = machine();
  const doc = {
    benchmark: 'soak (liveness under load)',
    mode: args.quick ? 'quick' : 'full',
    machine: m,
    runId,
    seed,
    runtime: {
      snapshot: {
        buildSha256: snapshot!.buildSha256,
        builtAt: snapshot!.builtAt,
        jsFiles: snapshot!.jsFiles,
        waitedForQuietBuildS: round(snapshot!.waitedMs / 1000, 1),
        attempts: snapshot!.attempts,
      },
      uncommittedInTree: dirty,
    },
    interrupted,
    settings: {
      concurrency,
      minutes,
      transports,
      sizes: [minSize, maxSize],
      granularity,
      scenario: { scenario: 'rounds', rounds, delayMs, text: TEXT },
      cpuHogs: hogCount,
      niceness: { soakBefore: niceBefore, soak: getPriority(), packs: 'inherited from the soak process', hogs: 0 },
      flareDeadlineS: flareDeadlineMs / 1000,
      settleS: settleMs / 1000,
      launcherSweep: args.sweep,
      portRange: [portLo, portHi],
      timeouts: 'runtime defaults (join 120 s, operation 300 s, heartbeat 1 s / 15 s)',
    },
    durationS: {
      launching: round((Math.min(endAt, launchEnd) - soakStart) / 1000, 1),
      drain: round(Math.max(0, launchEnd - endAt) / 1000, 1),
      total: round((Date.now() - t0Epoch) / 1000, 1),
    },
    load: {
      loadAverage1m: { min: Math.min(...loads), median: round(median(loads)), max: Math.max(...loads) },
      machineCpuBusyPercent: cpuBusy,
      hogCoreShare: hogCpu,
      peakLivePackProcesses: Math.max(...samples.map((s) => s.livePacks)),
      longestSampleGapS: round(Math.max(0, ...sampleGaps), 1),
      peakPackRssMiB: Math.max(...samples.map((s) => s.packRssMiB)),
      samples,
    },
    perTransport,
    totals: {
      flares: records.length,
      succeeded: total('succeeded'),
      falseAborts: total('falseAborts'),
      wrongResults: total('wrongResults'),
      launcherErrors: total('launcherErrors'),
      launcherErrorEvents: crashEvents,
      interrupted: total('interrupted'),
    },
    leaks,
    natsProbeControls: natsControls,
    failureGroups: [...groups.values()].map((g) => ({ outcome: g.outcome, count: g.count, transports: Object.fromEntries(g.transports), example: g.reason })),
    failures: failures.map((f) => ({
      n: f.n,
      burstId: f.burstId,
      transport: f.transport,
      size: f.size,
      packs: f.packs,
      startS: f.startS,
      wallS: f.wallS,
      outcome: f.outcome,
      reason: f.reason,
      detail: f.detail,
    })),
    goal: 'zero false aborts, zero failures and zero leaks of every kind (processes, fds, temp dirs, secrets, broker keys, NATS subscriptions)',
    goalMet,
    verdict,
    flares: records.map(({ detail: _d, reason: _r, ...r }) => r),
  };
  mkdirSync(args.out!, { recursive: true });
  // An interrupted run does not replace a complete run's report.
  const base = interrupted ? 'soak-interrupted' : 'soak';
  writeFileSync(join(args.out!, `${base}.json`), JSON.stringify(doc, null, 2) + '\n');

  const fmt = (x: number): string => (Number.isFinite(x) ? String(x) : '–');
  const md = [
    '# Soak: flares under load (`npm run bench:soak`)',
    '',
    `${m.date}, commit ${m.commit}; ${m.cpus} CPU(s) (${m.cpuModel}), ${m.memoryGiB} GiB, Node ${m.node}; mode ${doc.mode}${interrupted ? ' (**interrupted**)' : ''}.`,
    '',
    `**Load.** ${hogCount} CPU hog process(es) (busy loops, nice 0 like the soak and its packs) ran through the whole run; each got ${hogCpu.map((x) => `${Math.round(x * 100)} %`).join(', ')} of a core (its CPU time over the same span, /proc/<pid>/stat): at equal niceness the scheduler shares the cores per runnable thread, and the packs (a main thread and worker threads each) outnumbered the hogs. The machine was ${cpuBusy} % busy (all cores, /proc/stat) from the end of the warm-up until the last flare ended; 1-minute load average ${doc.load.loadAverage1m.min}–${doc.load.loadAverage1m.max} (median ${doc.load.loadAverage1m.median}; ${samples.length} samples, meant every 5 s, taken by the soak process, which is starved too: the longest gap was ${Math.max(0, ...sampleGaps).toFixed(0)} s); up to ${doc.load.peakLivePackProcesses} pack processes alive at once, ${doc.load.peakPackRssMiB} MiB resident together at peak. Other work on the machine (other engineers' builds and tests) shares the cores too and is part of this load.`,
    '',
    `**Runtime.** The packs and the launcher run a frozen copy of the build (bench/lib/snapshot.ts; worker-runtime/dist and the scenario module, sha256 ${snapshot!.buildSha256}, built ${snapshot!.builtAt}), because others rebuild this tree meanwhile and a pack loading a half-written file fails for reasons that are not the runtime's. Commit ${m.commit}${dirty.length ? `, with ${dirty.length} uncommitted file(s) in worker-runtime/ and test/fixtures/ when the copy was taken (the tree is shared; listed in soak.json)` : ', no uncommitted changes in worker-runtime/ or test/fixtures/'}.`,
    '',
    `**Flares.** ${concurrency} at a time for ${minutes} min (launching ${doc.durationS.launching} s, then ${doc.durationS.drain} s for the last ones to end), one warm-up flare per transport first. Each: the 'rounds' scenario (an allReduce per round, worker 0 → last worker text per round; results checked), ${rounds} rounds × ${delayMs} ms, ${minSize}–${maxSize} workers at random, ${granularity} per pack; runtime default timeouts; deadline ${flareDeadlineMs / 1000} s. Nothing is injected: every failure is a false abort. Transports in turn: ${transports.join(', ')} (direct = TCP on loopback, direct-unix = Unix sockets).`,
    '',
    table(
      [
        'transport',
        'flares',
        'succeeded',
        'false aborts',
        'wrong results',
        'launcher threw',
        "launcher 'error' events",
        'median / p95 wall (s)',
        'median / p95 start → all joined (s)',
      ],
      [
        ...perTransport.map((t) => [
          t.transport,
          t.flares,
          t.succeeded,
          t.falseAborts,
          t.wrongResults,
          t.launcherErrors,
          t.launcherErrorEvents,
          `${fmt(t.medianWallS)} / ${fmt(t.p95WallS)}`,
          `${fmt(t.medianJoinS)} / ${fmt(t.p95JoinS)}`,
        ]),
        ['**all**', total('flares'), total('succeeded'), total('falseAborts'), total('wrongResults'), total('launcherErrors'), crashEvents, '', ''],
      ],
    ),
    '',
    "Wall time is runLocalFlare's, for flares that succeeded; \"start → all joined\" runs from the first pack process start to the last pack through the start barrier (from the packs' reports). \"Launcher threw\": runLocalFlare rejected. \"Launcher 'error' events\": flares during which one of runLocalFlare's ChildProcess objects emitted an 'error' event; runLocalFlare (and so `kubeburst run`) ignores them (a pack that went away while it was written to says what happened by its exit); the soak counts them through onSpawn." +
      (total('interrupted') ? ` ${total('interrupted')} flare(s) ended by the interrupt are not counted as false aborts.` : ''),
    '',
    `**Anomalies** (context, not part of the verdict; all flares; nothing is injected, so each one is unexpected): connections the packs dropped before they authenticated (PackReport.refused): ${perTransport.map((t) => `${t.transport} ${t.refusedConnections}`).join(', ')}; broker frames dropped as unverifiable or replays (PackReport.rejected): ${perTransport.map((t) => `${t.transport} ${t.rejectedFrames}`).join(', ')}; flares with pack warn/error log lines: ${perTransport.map((t) => `${t.transport} ${t.flaresWithPackWarnings}`).join(', ')}.` +
      (warningGroups.length ? ' Pack log lines, by kind:' : ''),
    ...(warningGroups.length
      ? [
          '',
          table(
            ['count', 'transports', 'first of its kind (300 chars)'],
            warningGroups.map((g) => [g.count, [...g.transports].map(([t, c]) => `${t} ${c}`).join(', '), g.line.replaceAll('|', '\\|')]),
          ),
        ]
      : []),
    '',
    `## Leaks (after every flare ended, the hogs stopped and ${settleMs / 1000} s)`,
    '',
    table(
      ['kind', 'count', 'detail'],
      leaks.map((l) => [l.kind, l.count === null ? 'not measured' : l.counted ? l.count : `${l.count >= 0 ? '+' : ''}${l.count} (context)`, l.detail.replaceAll('|', '\\|')]),
    ),
    '',
    `How: pack pids come from runLocalFlare's onSpawn and count when still alive with pack.js in their cmdline; every pack gets ${MARKER}=<run id> in its environment, and /proc is searched for it. The fd baseline is taken after one warm-up flare per transport, once lazily opened handles exist; the soak's own Redis and NATS probe connections are open in both counts; up to ${FD_TOLERANCE} extra fds are tolerated (libuv and Node open some handles lazily, e.g. io_uring or the threadpool's, on first use of a path not taken by the warm-up) and the kinds that changed are listed. TMPDIR was set to a fresh private dir before the first flare (runLocalFlare and the packs use os.tmpdir()); each flare's temp dir and secret file path are read from its first pack's environment. Redis: one SCAN for kb:{<run id>-*}:* and CLIENT LIST for connections named kubeburst:<burst>:<pack>. NATS: the shared nats-server runs without a monitoring port (no -m), so its subscription count cannot be read; each pack's subject kb.<burst>.<pack> is probed with a request instead: the server answers "no responders" at once when nothing subscribes to it, and a request to a subject with a subscription times out (the controls, an unused subject and one the soak subscribes to itself, check the probe both ways). After counting, the run kills any leftover process of its own, deletes its leftover keys and removes its TMPDIR.`,
    '',
    ...(failures.length
      ? [
          '## Failures',
          '',
          table(
            ['outcome', 'count', 'transports', 'reason (first of its kind, 300 chars)'],
            [...groups.values()].map((g) => [
              g.outcome,
              g.count,
              [...g.transports].map(([t, c]) => `${t} ${c}`).join(', '),
              (g.reason || '–').replaceAll('|', '\\|').replaceAll('\n', ' '),
            ]),
          ),
          '',
          "Every failure, with the failed worker's error, exit codes and stderr, is in soak.json (`failures`).",
          '',
        ]
      : ['No flare failed.', '']),
    `**Verdict** (goal: ${doc.goal}): ${verdict}.`,
    '',
  ].join('\n');
  writeFileSync(join(args.out!, `${base}.md`), md);
  process.stdout.write(md);
  return interrupted ? 130 : 0;
}

main().then(
  (code) => {
    killHogs();
    process.exit(code);
  },
  (err: unknown) => {
    killHogs();
    process.stderr.write(`bench:soak failed: ${(err as Error).stack ?? String(err)}\n`);
    try {
      rmSync(privateTmp, { recursive: true, force: true });
    } catch {
      /* best effort */
    }
    process.exit(1);
  },
);
