import { runLocalFlare, type FlareResult } from '@kubeburst/worker-runtime/launch';
import type { TransportKind } from '@kubeburst/worker-runtime';
import type { EvalApp } from './apps.js';
import { cpuSnapshot, otherCores, oursSeconds } from './cpu.js';

/** One flare of the evaluation: what ran, what it cost, and whether its output was right. */
export interface RunRecord {
  app: string;
  transport: TransportKind;
  size: number;
  granularity: number;
  packs: number;
  repeat: number;
  ok: boolean;
  verified: boolean;
  problem?: string;
  /** Launch of the first pack process → every result collected (runLocalFlare's wall time). */
  wallMs: number;
  /** Launch → the last pack joined the start barrier (process start, module load, connect, join). */
  startupMs: number;
  /** First function start → last function end. */
  functionMs: number;
  /** Per app phase: the slowest worker's time in it. */
  phasesMs: Record<string, number>;
  /** Payload bytes sent across packs (through the transport) and within packs (shared memory). */
  remoteBytes: number;
  localBytes: number;
  remoteMsgs: number;
  localMsgs: number;
  /** Bytes the packs put on the transport, headers and control messages included. */
  wireBytes: number;
  /** Cores kept busy by other processes during the flare, brokers included (Linux /proc; NaN elsewhere). */
  otherCores: number;
  /** CPU seconds the flare's pack processes used (user + system, all threads; Linux /proc). */
  cpuSeconds: number;
  /**
   * Per worker, ms since launch: its pack process started, its thread loaded the function module, the start
   * barrier passed (every pack joined), its function started.
   */
  starts: { processStart: number[]; loaded: number[]; joined: number[]; functionStart: number[] };
}

export interface TransportSpec {
  kind: TransportKind;
  url?: string;
}

export async function runOnce(app: EvalApp, t: TransportSpec, size: number, granularity: number, repeat: number): Promise<RunRecord> {
  const cpu = cpuSnapshot();
  const launch = Date.now();
  const flare = await runLocalFlare({
    size,
    granularity,
    transport: t.url === undefined ? { kind: t.kind } : { kind: t.kind, url: t.url },
    modulePath: app.modulePath,
    params: { value: app.params },
    joinTimeoutMs: 60_000,
    operationTimeoutMs: 120_000,
    wallTimeoutMs: 300_000,
  });
  const after = cpuSnapshot();
  return { ...record(app, t, flare, launch, granularity, repeat), otherCores: otherCores(cpu, after, Date.now() - launch), cpuSeconds: oursSeconds(cpu, after) };
}

function record(app: EvalApp, t: TransportSpec, f: FlareResult, launch: number, granularity: number, repeat: number): RunRecord {
  const w = f.workers;
  const phasesMs: Record<string, number> = {};
  for (const r of w) {
    const phases = (r.result as { phases?: Record<string, number> } | undefined)?.phases ?? {};
    for (const [k, v] of Object.entries(phases)) phasesMs[k] = Math.max(phasesMs[k] ?? 0, v);
  }
  const problem = f.ok ? app.verify(w.map((r) => r.result)) : `flare failed: ${f.failure?.reason ?? 'unknown'} ${JSON.stringify(f.stderr).slice(0, 300)}`;
  // A pack that died reports zero timestamps: leave those out rather than report nonsense.
  const since = (xs: number[]): number[] => xs.map((x) => (x > 0 ? x - launch : Number.NaN));
  const valid = (xs: number[]): number[] => xs.filter((x) => x > 0);
  const joined = valid(w.map((r) => r.timings.joined));
  const fnStart = valid(w.map((r) => r.timings.functionStart));
  const fnEnd = valid(w.map((r) => r.timings.functionEnd));
  return {
    app: app.name,
    transport: t.kind,
    size: f.layout.size,
    granularity,
    packs: f.layout.packSizes.length,
    repeat,
    ok: f.ok,
    verified: problem === null,
    ...(problem !== null ? { problem } : {}),
    wallMs: f.wallMs,
    startupMs: f.ok ? Math.max(...joined) - launch : Number.NaN,
    functionMs: f.ok ? Math.max(...fnEnd) - Math.min(...fnStart) : Number.NaN,
    phasesMs,
    remoteBytes: f.counters.remoteBytesSent,
    localBytes: f.counters.localBytesSent,
    remoteMsgs: f.counters.remoteMsgsSent,
    localMsgs: f.counters.localMsgsSent,
    wireBytes: f.packs.reduce((s, p) => s + p.wire.bytesSent, 0),
    otherCores: Number.NaN,
    cpuSeconds: Number.NaN,
    starts: {
      processStart: since(w.map((r) => r.timings.processStart)),
      loaded: since(w.map((r) => r.timings.loaded)),
      joined: since(w.map((r) => r.timings.joined)),
      functionStart: since(w.map((r) => r.timings.functionStart)),
    },
  };
}

/** Whether a transport carries a small two-pack flare on this machine: the reason it does not, or null. */
export async function probeTransport(t: TransportSpec, probeModule: string): Promise<string | null> {
  try {
    const f = await runLocalFlare({
      size: 2,
      granularity: 1,
      transport: t.url === undefined ? { kind: t.kind } : { kind: t.kind, url: t.url },
      modulePath: probeModule,
      joinTimeoutMs: 10_000,
      operationTimeoutMs: 10_000,
      wallTimeoutMs: 20_000,
    });
    if (f.ok && f.workers.every((w) => w.result === 3)) return null;
    return f.failure?.reason ?? (Object.values(f.stderr)[0] ?? 'the probe flare failed').split('\n').find((l) => l.trim() !== '') ?? 'the probe flare failed';
  } catch (err) {
    return (err as Error).message;
  }
}
