/**
 * `npm run bench:bcm` — the BCM benchmark. Writes bench/results/bcm.json and bench/results/bcm.md.
 *
 * Side by side in one run: pair throughput and latency for 8 B … 64 MiB in a pack (shared memory), over
 * NATS, Redis and (when built) the direct transport, and over the raw clients with no BCM (ioredis, nats,
 * a bare TCP socket); then every collective at burst 48 with G ∈ {1, 6, 12, 24, 48}, with the remote bytes
 * it moved next to the theoretical minimum; then allReduce with a user function next to the built-in op
 * (bench/results/bcm-combiners.{json,md}). `--quick` runs a subset; `--only combiners` runs only the last
 * and writes only its files.
 * @module
 */
import { spawn } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { runLocalFlare } from '@kubeburst/worker-runtime/launch';
import { COLLECTIVES, minimumRemote, PackLayout, type CollectiveName } from '@kubeburst/worker-runtime';
import type { OpMeasure } from '../test/fixtures/collective.js';
import { machine } from './lib/env.js';
import { onlyProcessNamed } from './lib/procfs.js';
import { memcpySeconds, postMessageRttSeconds, sealRoundTripSeconds } from './lib/reference.js';
import { fmtBytes, fmtSeconds, KiB, median, MiB, table } from './lib/stats.js';
import { COMBINE_OPS, type CombineMeasure, type CombineParams } from './workers/combine.js';
import type { PairMeasure, PairParams } from './workers/pair.js';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    /** Interleaved rounds of the pair measurements (medians across rounds). */
    rounds: { type: 'string', default: '3' },
    /** Rounds of the 1 MiB authentication A/B: a sealed and an unsealed flare each, in alternating order. */
    'auth-rounds': { type: 'string' },
    transports: { type: 'string', default: 'redis,nats,direct,direct-unix,redis-unsealed,nats-unsealed,redis-encrypted,nats-encrypted' },
    'skip-collectives': { type: 'boolean', default: false },
    'skip-pairs': { type: 'boolean', default: false },
    /** `combiners`: only the user-function allReduce case (its own files; bcm.json/md stay as they are). */
    only: { type: 'string' },
    out: { type: 'string', default: join(root, 'bench', 'results') },
  },
});

const REDIS = process.env.KB_BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NATS = process.env.KB_BENCH_NATS_URL ?? 'nats://127.0.0.1:4222';
/**
 * Where each transport's packs meet. The direct transport runs over TCP on loopback here, as it does
 * between pods; `direct-unix` is what `kubeburst run` uses on one machine (Unix sockets, the launcher's
 * default, whose small kernel buffers cost throughput at large messages).
 */
async function transportFor(t: string, packs: number): Promise<{ kind: 'redis' | 'nats' | 'direct'; url?: string; encryption?: boolean }> {
  const broker = /^(redis|nats)(?:-(unsealed|encrypted))?$/.exec(t);
  if (broker) return { kind: broker[1] as 'redis' | 'nats', url: broker[1] === 'redis' ? REDIS : NATS, ...(broker[2] === 'encrypted' ? { encryption: true } : {}) };
  if (t === 'direct-unix') return { kind: 'direct' };
  const ports = await freePorts(packs);
  return { kind: 'direct', url: ports.map((p) => `127.0.0.1:${p}`).join(',') };
}

/** Ports the kernel just handed out (bound and released; a collision with another process is unlikely). */
async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}
const SIZES = args.quick ? [8, KiB, 64 * KiB, MiB, 64 * MiB] : [8, KiB, 4 * KiB, 16 * KiB, 64 * KiB, 256 * KiB, MiB, 4 * MiB, 16 * MiB, 64 * MiB];
const GRANULARITIES = args.quick ? [1, 12, 48] : [1, 6, 12, 24, 48];
const COLL_BURST = 48;
/** The frame of an 8 B message: the 64-byte frame header and its payload. */
const SMALL_FRAME = 64 + 8;
const COLL_BYTES = 16 * KiB;

export interface BenchRecord {
  /** pair-stream | pair-rtt | collective | reference */
  kind: string;
  transport: string;
  operation: string;
  payloadBytes: number;
  burstSize: number;
  granularity: number;
  medianSeconds: number;
  throughputMiBps?: number;
  messages?: number;
  remoteBytes?: number;
  remoteMessages?: number;
  minRemoteBytes?: number;
  minRemoteMessages?: number;
  /** auth-ab: CPU seconds per MiB streamed, by process (median over runs; broker NaN when not on this machine). */
  cpuPerMiB?: { sender: number; receiver: number; broker: number };
  /** auth-ab: throughput sealed / unsealed, one per round (the two flares of a round ran back to back). */
  pairedRatios?: number[];
}

const records: BenchRecord[] = [];
const log = (s: string): void => void process.stderr.write(`${s}\n`);

async function availableTransports(): Promise<string[]> {
  const wanted = args.transports.split(',').filter(Boolean);
  const out: string[] = [];
  for (const t of wanted) {
    if (!t.startsWith('direct')) out.push(t);
    else {
      if (existsSync(join(root, 'worker-runtime', 'dist', 'transport', 'direct.js'))) out.push(t);
      else log('direct transport not built yet: skipping it');
    }
  }
  return out;
}

/**
 * Pair samples, gathered over interleaved rounds (every BCM transport, then every raw client, then again),
 * so a slow minute of the machine hits all of them alike; each round contributes its median per message.
 */
const pairSamples = new Map<string, { transport: string; g: number; bytes: number; count: number; stream: number[]; rtt: number[] }>();

function addPairSample(transport: string, g: number, bytes: number, count: number, stream: number[], rtt: number[]): void {
  const key = `${transport}/${bytes}`;
  const s = pairSamples.get(key) ?? { transport, g, bytes, count, stream: [], rtt: [] };
  s.stream.push(median(stream) / count);
  s.rtt.push(...rtt);
  pairSamples.set(key, s);
}

function pairRecordsFromSamples(): void {
  for (const s of pairSamples.values()) {
    const base = { transport: s.transport, payloadBytes: s.bytes, burstSize: 2, granularity: s.g };
    const perMessage = median(s.stream);
    records.push({ ...base, kind: 'pair-stream', operation: 'send/recv stream', medianSeconds: perMessage, throughputMiBps: s.bytes / MiB / perMessage, messages: s.count });
    records.push({ ...base, kind: 'pair-rtt', operation: 'ping-pong round trip', medianSeconds: median(s.rtt), messages: s.rtt.length });
  }
}

const UNSEALED_PACK = join(root, 'bench', 'dist', 'workers', 'unsealed-pack.js');
const BYTES_PER_RUN = args.quick ? 64 * MiB : 256 * MiB;

async function pairs(transports: string[], round: number): Promise<void> {
  const params: PairParams = { sizes: SIZES, bytesPerRun: BYTES_PER_RUN, minCount: 4, maxCount: 4000, runs: 3, pings: 400 };
  const modulePath = join(root, 'bench', 'dist', 'workers', 'pair.js');
  for (const t of ['in-pack', ...transports]) {
    log(`pair (round ${round}): ${t}`);
    const inPack = t === 'in-pack';
    const r = await runLocalFlare({
      size: 2,
      granularity: inPack ? 2 : 1,
      transport: await transportFor(inPack ? 'redis' : t, inPack ? 1 : 2),
      // The same pack, its broker frames unsealed: what authentication costs, side by side.
      ...(t.endsWith('-unsealed') ? { packEntry: UNSEALED_PACK } : {}),
      modulePath,
      params: { value: params },
      operationTimeoutMs: 600_000,
    });
    if (!r.ok) throw new Error(`pair flare over ${t} failed: ${r.failure?.reason} ${JSON.stringify(r.stderr)}`);
    for (const m of r.workers[0]!.result as PairMeasure[]) addPairSample(t, inPack ? 2 : 1, m.bytes, m.count, m.streamSeconds, m.rttSeconds);
  }
}

/**
 * What authentication costs at 1 MiB, measured as the goal states it: the stream's throughput with its
 * frames sealed next to the same flare unsealed. Each round runs one flare of each, back to back, in
 * alternating order, and contributes one ratio; the cost is one minus the median ratio, so a slow minute
 * of the machine hits a pair of flares, not one side. Each process's CPU time per MiB comes with it (the
 * two packs from process.cpuUsage, the broker from /proc when it runs here): on two cores, with the
 * sender, the broker and the receiver competing for them, CPU is what a MAC takes from throughput.
 */
async function authAB(brokers: string[], rounds: number): Promise<void> {
  const modulePath = join(root, 'bench', 'dist', 'workers', 'pair.js');
  for (const b of brokers) {
    const brokerPid = onlyProcessNamed(b === 'redis' ? 'redis-server' : 'nats-server');
    const params: PairParams = { sizes: [MiB], bytesPerRun: 256 * MiB, minCount: 4, maxCount: 4000, runs: 5, pings: 5, ...(brokerPid !== undefined ? { brokerPid } : {}) };
    const runs = new Map<string, { perMessage: number[]; cpu: { sender: number[]; receiver: number[]; broker: number[] } }>();
    const ratios: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      const order = round % 2 === 1 ? [b, `${b}-unsealed`] : [`${b}-unsealed`, b];
      const roundMedian = new Map<string, number>();
      for (const t of order) {
        log(`authentication A/B (round ${round}/${rounds}): ${t}`);
        const r = await runLocalFlare({
          size: 2,
          granularity: 1,
          transport: await transportFor(t, 2),
          ...(t.endsWith('-unsealed') ? { packEntry: UNSEALED_PACK } : {}),
          modulePath,
          params: { value: params },
          operationTimeoutMs: 600_000,
        });
        if (!r.ok) throw new Error(`A/B flare over ${t} failed: ${r.failure?.reason} ${JSON.stringify(r.stderr)}`);
        const [send, recv] = [0, 1].map((w) => (r.workers[w]!.result as PairMeasure[])[0]!);
        const mib = (send!.bytes * send!.count) / MiB;
        const acc = runs.get(t) ?? { perMessage: [], cpu: { sender: [], receiver: [], broker: [] } };
        acc.perMessage.push(...send!.streamSeconds.map((s) => s / send!.count));
        acc.cpu.sender.push(...send!.cpuSeconds.map((c) => c / mib));
        acc.cpu.receiver.push(...recv!.cpuSeconds.map((c) => c / mib));
        acc.cpu.broker.push(...(send!.brokerCpuSeconds ?? []).map((c) => c / mib));
        runs.set(t, acc);
        roundMedian.set(t, median(send!.streamSeconds));
      }
      // Throughput ratio = the inverse ratio of times.
      ratios.push(roundMedian.get(`${b}-unsealed`)! / roundMedian.get(b)!);
    }
    for (const [t, acc] of runs) {
      const perMessage = median(acc.perMessage);
      records.push({
        kind: 'auth-ab',
        transport: t,
        operation: `send/recv stream, ${rounds} flares alternating with ${t.endsWith('-unsealed') ? 'the sealed' : 'the unsealed'} one`,
        payloadBytes: MiB,
        burstSize: 2,
        granularity: 1,
        medianSeconds: perMessage,
        throughputMiBps: 1 / perMessage,
        messages: acc.perMessage.length,
        cpuPerMiB: { sender: median(acc.cpu.sender), receiver: median(acc.cpu.receiver), broker: median(acc.cpu.broker) },
        ...(t === b ? { pairedRatios: ratios } : {}),
      });
    }
  }
}

const peers = new Set<ReturnType<typeof spawn>>();
process.on('exit', () => peers.forEach((p) => p.kill()));

function runPeer(args: string[]): { proc: ReturnType<typeof spawn>; line: Promise<string> } {
  const proc = spawn(process.execPath, [join(root, 'bench', 'dist', 'raw', 'peer.js'), ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = new Promise<string>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf('\n');
      if (i >= 0) resolve(buf.slice(0, i));
    });
    proc.on('exit', (code) => (code !== 0 ? reject(new Error(`raw peer ${args.join(' ')} exited ${code}`)) : undefined));
    peers.add(proc);
    proc.on('exit', () => peers.delete(proc));
  });
  return { proc, line };
}

async function raw(kinds: string[], round: number): Promise<void> {
  for (const kind of kinds) {
    log(`raw (round ${round}): ${kind}`);
    for (const bytes of SIZES) {
      const count = Math.min(4000, Math.max(4, Math.ceil(BYTES_PER_RUN / bytes)));
      const pings = Math.max(5, Math.min(400, Math.ceil((400 * 64 * KiB) / bytes)));
      const ns = randomBytes(4).toString('hex');
      const url = kind === 'redis' ? REDIS : kind === 'nats' ? NATS : '0';
      const recv = runPeer([kind, 'recv', url, String(bytes), String(count), '3', String(pings), ns]);
      const ready = await recv.line;
      const port = kind === 'tcp' ? ready.split(' ')[1]! : url;
      const send = runPeer([kind, 'send', port, String(bytes), String(count), '3', String(pings), ns]);
      const res = JSON.parse(await send.line) as { streamSeconds: number[]; rttSeconds: number[] };
      await Promise.all([send.proc, recv.proc].map((p) => new Promise((r) => (p.exitCode !== null ? r(0) : p.once('exit', r)))));
      addPairSample(`raw-${kind}`, 1, bytes, count, res.streamSeconds, res.rttSeconds);
    }
  }
}

async function collectives(transports: string[]): Promise<void> {
  const modulePath = join(root, 'test', 'fixtures', 'dist', 'collective.js');
  const rootWorker = 5; // a non-leader root in most layouts
  for (const t of transports) {
    for (const g of GRANULARITIES) {
      log(`collectives: ${t} G=${g}`);
      const layout = PackLayout.fromGranularity(COLL_BURST, g);
      const r = await runLocalFlare({
        size: COLL_BURST,
        granularity: g,
        transport: await transportFor(t, layout.packCount),
        modulePath,
        params: { value: { ops: COLLECTIVES, bytes: COLL_BYTES, root: rootWorker, reps: args.quick ? 3 : 7 } },
        operationTimeoutMs: 600_000,
        joinTimeoutMs: 300_000,
      });
      if (!r.ok) throw new Error(`collective flare ${t} G=${g} failed: ${r.failure?.reason}`);
      COLLECTIVES.forEach((op: CollectiveName, i) => {
        const per = r.workers.map((w) => (w.result as OpMeasure[])[i]!);
        const reps = per[0]!.seconds.length;
        const slowest = Array.from({ length: reps }, (_, k) => Math.max(...per.map((m) => m.seconds[k]!)));
        const min = minimumRemote(op, layout, COLL_BYTES, rootWorker);
        records.push({
          kind: 'collective',
          transport: t,
          operation: op,
          payloadBytes: COLL_BYTES,
          burstSize: COLL_BURST,
          granularity: g,
          medianSeconds: median(slowest),
          remoteBytes: per.reduce((a, m) => a + m.traffic.remoteBytesSent, 0),
          remoteMessages: per.reduce((a, m) => a + m.traffic.remoteMsgsSent, 0),
          minRemoteBytes: min.bytes,
          minRemoteMessages: min.messages,
        });
      });
    }
  }
}

function find(kind: string, transport: string, bytes: number): BenchRecord | undefined {
  return records.find((r) => r.kind === kind && r.transport === transport && r.payloadBytes === bytes);
}

interface Target {
  goal: string;
  measured: string;
  met: boolean | null;
}

function targets(memcpy: number, pmRtt: number): Target[] {
  const out: Target[] = [];
  const ratio = (a?: number, b?: number): number => (a !== undefined && b !== undefined ? a / b : NaN);
  const inPack64 = find('pair-stream', 'in-pack', 64 * MiB)?.medianSeconds;
  const redis64 = find('pair-stream', 'redis', 64 * MiB)?.medianSeconds;
  const r1 = ratio(redis64, inPack64);
  out.push({
    goal: 'in-pack 64 MiB send ≥ 20× faster than through Redis',
    measured: `${r1.toFixed(0)}× (${fmtSeconds(inPack64 ?? NaN)} vs ${fmtSeconds(redis64 ?? NaN)} per message)`,
    met: Number.isFinite(r1) ? r1 >= 20 : null,
  });
  const r2 = ratio(inPack64, memcpy);
  out.push({
    goal: 'in-pack delivery of 64 MiB ≤ 0.1× one 64 MiB memcpy (zero copy)',
    measured: `${r2.toFixed(3)}× (${fmtSeconds(inPack64 ?? NaN)} vs memcpy ${fmtSeconds(memcpy)})`,
    met: Number.isFinite(r2) ? r2 <= 0.1 : null,
  });
  for (const b of ['redis', 'nats']) {
    const bcm = find('pair-stream', b, MiB)?.throughputMiBps;
    const rawT = find('pair-stream', `raw-${b}`, MiB)?.throughputMiBps;
    const r = ratio(bcm, rawT);
    out.push({
      goal: `BCM over ${b} at 1 MiB ≥ 0.9× the raw client`,
      measured: `${r.toFixed(2)}× (${bcm?.toFixed(0)} vs ${rawT?.toFixed(0)} MiB/s)`,
      met: Number.isFinite(r) ? r >= 0.9 : null,
    });
  }
  // 1 MiB: the alternating A/B decides (authAB): one minus the median of the rounds' throughput ratios.
  // Next to it: where the CPU went, and the in-process cost of sealing and opening one 1 MiB frame.
  const sealMiB = find('reference', 'sealed', MiB)?.medianSeconds;
  for (const b of ['redis', 'nats']) {
    const sealedAB = find('auth-ab', b, MiB);
    const unsealedAB = find('auth-ab', `${b}-unsealed`, MiB);
    const unsealed = find('pair-stream', `${b}-unsealed`, MiB)?.throughputMiBps;
    if (sealedAB !== undefined && unsealedAB !== undefined) {
      const costs = sealedAB.pairedRatios!.map((r) => 1 - r);
      const cost = 1 - median(sealedAB.pairedRatios!);
      const cpu = (r: BenchRecord): number => r.cpuPerMiB!.sender + r.cpuPerMiB!.receiver + (Number.isFinite(r.cpuPerMiB!.broker) ? r.cpuPerMiB!.broker : 0);
      const ms = (x: number): string => (x * 1e3).toFixed(2);
      const side = (k: 'sender' | 'receiver' | 'broker'): string => `${k} ${ms(sealedAB.cpuPerMiB![k])} vs ${ms(unsealedAB.cpuPerMiB![k])}`;
      out.push({
        goal: `authentication over ${b} costs ≤ 5 % of 1 MiB throughput`,
        measured: `${(cost * 100).toFixed(1)} % (median of ${costs.length} rounds of a sealed and an unsealed flare back to back, rounds ${(Math.min(...costs) * 100).toFixed(1)} … ${(Math.max(...costs) * 100).toFixed(1)} %; ${sealedAB.throughputMiBps!.toFixed(0)} vs ${unsealedAB.throughputMiBps!.toFixed(0)} MiB/s). CPU ms per MiB sealed vs unsealed: ${side('sender')}, ${side('receiver')}, ${side('broker')}; all ${ms(cpu(sealedAB))} vs ${ms(cpu(unsealedAB))} (+${((cpu(sealedAB) / cpu(unsealedAB) - 1) * 100).toFixed(1)} %). Seal + open of one 1 MiB frame in process: ${fmtSeconds(sealMiB ?? NaN)}`,
        met: Number.isFinite(cost) ? cost <= 0.05 : null,
      });
    }
    const encrypted = find('pair-stream', `${b}-encrypted`, MiB)?.throughputMiBps;
    const enc = 1 - ratio(encrypted, unsealed);
    if (Number.isFinite(enc))
      out.push({
        goal: `encryption over ${b} (spec.transport.encryption), cost at 1 MiB`,
        measured: `${(enc * 100).toFixed(1)} % (${encrypted?.toFixed(0)} vs ${unsealed?.toFixed(0)} MiB/s unsealed)`,
        met: null,
      });
  }
  // The round trip: the in-process cost decides (a broker round trip's noise on a busy machine is larger
  // than the cost); the pair medians are shown next to it.
  const seal = find('reference', 'sealed', SMALL_FRAME)?.medianSeconds;
  if (seal !== undefined) {
    const pairs = ['redis', 'nats']
      .map((b) => [b, find('pair-rtt', b, 8)?.medianSeconds, find('pair-rtt', `${b}-unsealed`, 8)?.medianSeconds] as const)
      .filter(([, s, u]) => s !== undefined && u !== undefined)
      .map(([b, s, u]) => `${b} ${fmtSeconds(s!)} sealed vs ${fmtSeconds(u!)} unsealed`);
    out.push({
      goal: 'authentication adds ≤ 10 µs to an 8 B round trip (broker transports; direct authenticates only its handshake)',
      measured: `${fmtSeconds(seal)} (sealing and opening ping and pong, in process)${pairs.length > 0 ? `; pair medians: ${pairs.join(', ')}` : ''}`,
      met: seal <= 10e-6,
    });
  }
  const direct = find('pair-stream', 'direct', MiB)?.throughputMiBps;
  const redis1 = find('pair-stream', 'redis', MiB)?.throughputMiBps;
  if (direct !== undefined) {
    const r = ratio(direct, redis1);
    out.push({ goal: 'direct transport ≥ 3× Redis at 1 MiB', measured: `${r.toFixed(2)}× (${direct.toFixed(0)} vs ${redis1?.toFixed(0)} MiB/s)`, met: r >= 3 });
  }
  const small = find('pair-rtt', 'in-pack', 8)?.medianSeconds;
  const r3 = ratio(small, pmRtt);
  out.push({
    goal: 'in-pack small-message (8 B) round trip ≤ 0.7× a postMessage round trip',
    measured: `${r3.toFixed(2)}× (${fmtSeconds(small ?? NaN)} vs ${fmtSeconds(pmRtt)})`,
    met: Number.isFinite(r3) ? r3 <= 0.7 : null,
  });
  const colls = records.filter((r) => r.kind === 'collective');
  if (colls.length > 0) {
    const off = colls.filter((r) => r.remoteBytes !== r.minRemoteBytes);
    out.push({
      goal: 'every collective moves the minimum remote bytes',
      measured:
        off.length === 0
          ? `${colls.length}/${colls.length} runs at the minimum`
          : `${off.length} runs above: ${off.map((r) => `${r.transport} ${r.operation} G=${r.granularity}`).join(', ')}`,
      met: off.length === 0,
    });
  }
  return out;
}

function markdown(meta: Record<string, unknown>, memcpy: number, pmRtt: number, tg: Target[]): string {
  const transports = [...new Set(records.filter((r) => r.kind === 'pair-stream').map((r) => r.transport))];
  const sizes = [...new Set(records.filter((r) => r.kind === 'pair-stream').map((r) => r.payloadBytes))];
  const cell = (kind: string, t: string, b: number, f: (r: BenchRecord) => string): string => {
    const r = find(kind, t, b);
    return r ? f(r) : '—';
  };
  const colls = records.filter((r) => r.kind === 'collective');
  const collT = [...new Set(colls.map((r) => r.transport))];
  const ab = records.filter((r) => r.kind === 'auth-ab');
  return [
    '# BCM benchmark',
    '',
    `Generated by \`npm run bench:bcm${args.quick ? ' -- --quick' : ''}\` on ${meta.date} (commit ${meta.commit}; ${meta.cpus} × ${meta.cpuModel}; Node ${meta.node}). All numbers come from this one run; medians.`,
    `NODE_EXTRA_CA_CERTS is ${meta.nodeExtraCaCerts}: it slows process start, not the steady-state numbers below.`,
    '',
    '## Targets',
    '',
    table(
      ['goal', 'measured', 'met'],
      tg.map((t) => [t.goal, t.measured, t.met === null ? 'n/a' : t.met ? 'yes' : '**no**']),
    ),
    '',
    `Reference points measured in the same run: one 64 MiB memcpy ${fmtSeconds(memcpy)} (${(64 / memcpy / 1024).toFixed(1)} GiB/s); postMessage round trip ${fmtSeconds(pmRtt)}; sealing and opening an 8 B message's ping and pong (transport/sealed.ts between two packs in one process, minus the same loop unsealed) ${fmtSeconds(find('reference', 'sealed', SMALL_FRAME)?.medianSeconds ?? NaN)} authenticated, ${fmtSeconds(find('reference', 'encrypted', SMALL_FRAME)?.medianSeconds ?? NaN)} encrypted; sealing and opening one 1 MiB frame (likewise) ${fmtSeconds(find('reference', 'sealed', MiB)?.medianSeconds ?? NaN)}.`,
    '',
    '## Pair throughput (MiB/s), worker 0 streaming to worker 1',
    '',
    'in-pack = both workers in one pack (shared memory; payloads from ctx.alloc, up to 64 KiB copied through the mailbox ring, larger ones passed by reference); redis / nats / direct = one worker per pack (two processes) through the BCM, direct over TCP on loopback as between pods; direct-unix = the direct transport over Unix sockets, as `kubeburst run` uses it; *-unsealed = the same pack with its broker frames not sealed (no MAC, no counter: what authentication costs at 1 MiB; sealed packs also send the frames of messages up to 64 KiB in bundles under one MAC, unsealed ones send them one broker message each, so up to 64 KiB the two columns differ by more than the MAC); *-encrypted = spec.transport.encryption (AES-256-GCM); raw-* = the bare client (ioredis RPUSH/BLPOP, nats pub/sub, a TCP socket) in two processes, no BCM.',
    '',
    table(
      ['payload', ...transports],
      sizes.map((b) => [fmtBytes(b), ...transports.map((t) => cell('pair-stream', t, b, (r) => r.throughputMiBps!.toFixed(r.throughputMiBps! < 10 ? 2 : 0)))]),
    ),
    '',
    '## Pair latency: median ping-pong round trip',
    '',
    table(
      ['payload', ...transports],
      sizes.map((b) => [fmtBytes(b), ...transports.map((t) => cell('pair-rtt', t, b, (r) => fmtSeconds(r.medianSeconds)))]),
    ),
    '',
    ...(ab.length === 0
      ? []
      : [
          '## Authentication at 1 MiB: sealed and unsealed flares back to back',
          '',
          'Worker 0 streams 256 MiB of 1 MiB messages to worker 1, five runs a flare; each round runs the sealed flare and the unsealed one back to back, in alternating order. CPU = user + system time per MiB streamed: of each pack process (main thread and worker thread) and of the broker (from /proc, when it runs on this machine); medians over runs.',
          '',
          table(
            ['transport', 'MiB/s', 'sender CPU / MiB', 'receiver CPU / MiB', 'broker CPU / MiB', 'sealed / unsealed, by round'],
            ab.map((r) => [
              r.transport,
              r.throughputMiBps!.toFixed(0),
              fmtSeconds(r.cpuPerMiB!.sender),
              fmtSeconds(r.cpuPerMiB!.receiver),
              fmtSeconds(r.cpuPerMiB!.broker),
              r.pairedRatios?.map((x) => x.toFixed(3)).join(' ') ?? '',
            ]),
          ),
          '',
        ]),
    `## Collectives at burst ${COLL_BURST}, ${fmtBytes(COLL_BYTES)} per part, root worker 5`,
    '',
    'Time = median over repetitions of the slowest worker. Remote = payload bytes that crossed pack boundaries (BCM headers and batch tables excluded), summed over workers; min = the theoretical minimum (worker-runtime/src/collectives/minimum.ts).',
    '',
    ...collT.flatMap((t) => [
      `### ${t}`,
      '',
      table(
        ['op', ...GRANULARITIES.map((g) => `G=${g} time`), ...GRANULARITIES.map((g) => `G=${g} remote / min`)],
        COLLECTIVES.map((op) => {
          const rs = GRANULARITIES.map((g) => colls.find((r) => r.transport === t && r.operation === op && r.granularity === g));
          return [
            op,
            ...rs.map((r) => (r ? fmtSeconds(r.medianSeconds) : '—')),
            ...rs.map((r) => (r ? `${fmtBytes(r.remoteBytes!)} / ${fmtBytes(r.minRemoteBytes!)}${r.remoteBytes === r.minRemoteBytes ? '' : ' ✗'}` : '—')),
          ];
        }),
      ),
      '',
    ]),
  ].join('\n');
}

const COMBINE_BURST = 8;
const COMBINE_GRANULARITIES = [8, 2];
const COMBINE_SIZES = args.quick ? [64, 256 * KiB, 4 * MiB] : [64, 8 * KiB, 256 * KiB, 4 * MiB];

/**
 * allReduce with a user reduce function next to the built-in 'sum', interleaved in one flare per layout:
 * what the private copies a user function gets (ops.ts ReduceFn) cost. One pack, and packs of 2 over the
 * direct transport (TCP on loopback).
 */
async function combiners(): Promise<BenchRecord[]> {
  const out: BenchRecord[] = [];
  const modulePath = join(root, 'bench', 'dist', 'workers', 'combine.js');
  for (const g of COMBINE_GRANULARITIES) {
    log(`combiners: burst ${COMBINE_BURST} G=${g}`);
    const params: CombineParams = { sizes: COMBINE_SIZES, reps: args.quick ? 7 : 15 };
    const r = await runLocalFlare({
      size: COMBINE_BURST,
      granularity: g,
      transport: await transportFor('direct', Math.ceil(COMBINE_BURST / g)),
      modulePath,
      params: { value: params },
      operationTimeoutMs: 600_000,
    });
    if (!r.ok) throw new Error(`combiner flare G=${g} failed: ${r.failure?.reason} ${JSON.stringify(r.stderr)}`);
    const per = r.workers.map((w) => w.result as CombineMeasure[]);
    per[0]!.forEach((m, i) => {
      const slowest = m.seconds.map((_, k) => Math.max(...per.map((w) => w[i]!.seconds[k]!)));
      out.push({
        kind: 'combiner',
        transport: g === COMBINE_BURST ? 'in-pack' : 'direct',
        operation: m.op,
        payloadBytes: m.bytes,
        burstSize: COMBINE_BURST,
        granularity: g,
        medianSeconds: median(slowest),
      });
    });
  }
  return out;
}

function combinerMarkdown(meta: Record<string, unknown>, rs: BenchRecord[], load: { before: number[]; after: number[] }): string {
  const fmtLoad = (l: number[]): string => l.map((x) => x.toFixed(2)).join(' ');
  return [
    '# allReduce: user reduce function vs built-in op',
    '',
    `Generated by \`npm run bench:bcm -- --only combiners${args.quick ? ' --quick' : ''}\` on ${meta.date} (commit ${meta.commit}; ${meta.cpus} × ${meta.cpuModel}; Node ${meta.node}). Load average (1, 5, 15 min) before ${fmtLoad(load.before)}, after ${fmtLoad(load.after)}: on a busy machine compare columns, not runs.`,
    '',
    `Burst ${COMBINE_BURST}, every worker passes a plain Float64Array. Time = median over repetitions of the slowest worker; the ops are interleaved in one flare. A user function gets private arguments (worker-runtime/src/ops.ts, ReduceFn): a copy of each combining worker's input, and of an input in shared memory sent up the tree; a built-in op copies the input into its accumulator too. \`fn: sum into a\` writes into its first argument; \`fn: new array\` allocates its result.`,
    '',
    ...COMBINE_GRANULARITIES.flatMap((g) => [
      `## G=${g} (${Math.ceil(COMBINE_BURST / g)} pack${g === COMBINE_BURST ? '' : 's, direct transport'})`,
      '',
      table(
        ['payload', ...COMBINE_OPS, ...COMBINE_OPS.slice(1).map((op) => `${op} / built-in`)],
        COMBINE_SIZES.map((b) => {
          const at = (op: string): BenchRecord | undefined => rs.find((r) => r.granularity === g && r.payloadBytes === b && r.operation === op);
          const base = at(COMBINE_OPS[0])?.medianSeconds;
          return [
            fmtBytes(b),
            ...COMBINE_OPS.map((op) => fmtSeconds(at(op)?.medianSeconds ?? NaN)),
            ...COMBINE_OPS.slice(1).map((op) => `${((at(op)?.medianSeconds ?? NaN) / (base ?? NaN)).toFixed(2)}×`),
          ];
        }),
      ),
      '',
    ]),
  ].join('\n');
}

async function writeCombiners(meta: Record<string, unknown>): Promise<void> {
  const before = loadavg();
  const rs = await combiners();
  const load = { before, after: loadavg() };
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'bcm-combiners.json'), JSON.stringify({ machine: { ...meta, loadavg: load }, records: rs }, null, 2) + '\n');
  const md = combinerMarkdown(meta, rs, load);
  writeFileSync(join(args.out, 'bcm-combiners.md'), md + '\n');
  log(md);
}

async function main(): Promise<void> {
  const meta = machine();
  if (args.only !== undefined) {
    if (args.only !== 'combiners') throw new Error(`--only: '${args.only}' is not a case (the only one is combiners)`);
    return writeCombiners(meta);
  }
  const transports = await availableTransports();
  log('reference: memcpy and postMessage');
  const memcpy = memcpySeconds();
  const pmRtt = await postMessageRttSeconds();
  records.push({
    kind: 'reference',
    transport: 'memory',
    operation: 'memcpy',
    payloadBytes: 64 * MiB,
    burstSize: 1,
    granularity: 1,
    medianSeconds: memcpy,
    throughputMiBps: 64 / memcpy,
  });
  records.push({ kind: 'reference', transport: 'worker_threads', operation: 'postMessage round trip', payloadBytes: 8, burstSize: 1, granularity: 1, medianSeconds: pmRtt });
  log('reference: what sealing adds to a small-message round trip and to a 1 MiB frame');
  for (const encrypt of [false, true])
    records.push({
      kind: 'reference',
      transport: encrypt ? 'encrypted' : 'sealed',
      operation: 'seal + open of ping and pong, minus the same loop unsealed',
      payloadBytes: SMALL_FRAME,
      burstSize: 2,
      granularity: 1,
      medianSeconds: await sealRoundTripSeconds({ frameBytes: SMALL_FRAME, encrypt }),
    });
  // A 1 MiB frame's ping and pong: two frames sealed and opened, so half of it is one frame's seal + open.
  records.push({
    kind: 'reference',
    transport: 'sealed',
    operation: 'seal + open of one 1 MiB frame, minus the same unsealed',
    payloadBytes: MiB,
    burstSize: 2,
    granularity: 1,
    medianSeconds: (await sealRoundTripSeconds({ frameBytes: MiB, reps: 100, rounds: 9 })) / 2,
  });
  if (!args['skip-pairs']) {
    for (let round = 1; round <= Number(args.rounds); round++) {
      await pairs(transports, round);
      await raw(['redis', 'nats', 'tcp'], round);
    }
    pairRecordsFromSamples();
    const brokers = ['redis', 'nats'].filter((b) => transports.includes(b) && transports.includes(`${b}-unsealed`));
    await authAB(brokers, Number(args['auth-rounds'] ?? (args.quick ? 3 : 8)));
  }
  if (!args['skip-collectives']) await collectives(transports.filter((t) => !['direct-unix'].includes(t) && !t.includes('-')));
  const tg = targets(memcpy, pmRtt);
  mkdirSync(args.out, { recursive: true });
  writeFileSync(join(args.out, 'bcm.json'), JSON.stringify({ machine: meta, targets: tg, records }, null, 2) + '\n');
  writeFileSync(join(args.out, 'bcm.md'), markdown(meta, memcpy, pmRtt, tg) + '\n');
  log(markdown(meta, memcpy, pmRtt, tg).split('## Pair throughput')[0]!);
  await writeCombiners(meta);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
