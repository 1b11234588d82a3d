import type { FlareResult } from '@kubeburst/worker-runtime/launch';

/**
 * What `kubeburst run` reports when a flare ends, computed from the FlareResult alone (pure, so it is
 * table-tested), printed for people or as JSON (`--json`).
 */
export interface RunSummary {
  job: string;
  burstId: string;
  ok: boolean;
  size: number;
  packSizes: number[];
  transport: string;
  wallSeconds: number;
  phases: {
    /** From the launch to the last pack passing the start barrier (undefined if some pack never joined). */
    spawnToJoinedSeconds?: number;
    /** Spread of the pack processes' start times. */
    packStartSpreadSeconds?: number;
    /** User function time per worker (workers that ran it). */
    functionSeconds?: { median: number; max: number };
    /** From the last function end to the launcher seeing every pack exit (results, cleanup, exit). */
    teardownSeconds?: number;
  };
  /** Payload bytes and messages sent (the receiving side counts the same). */
  traffic: { local: { bytes: number; messages: number }; remote: { bytes: number; messages: number }; remoteWire: { bytes: number; frames: number } };
  failure?: { worker?: number; pack?: number; reason: string; detail?: string };
  /** Each worker's return value (null for workers that failed). */
  results: unknown[];
}

export function summarize(job: string, r: FlareResult, launchedAt: number, endedAt: number): RunSummary {
  const joined = r.packs.map((p) => p.timings.joined);
  const allJoined = r.packs.length === r.layout.packSizes.length && joined.every((t) => t > 0);
  const starts = r.packs.map((p) => p.timings.processStart).filter((t) => t > 0);
  const fn = r.workers
    .filter((w) => w.timings.functionStart > 0 && w.timings.functionEnd >= w.timings.functionStart)
    .map((w) => (w.timings.functionEnd - w.timings.functionStart) / 1000);
  const lastEnd = Math.max(0, ...r.workers.map((w) => w.timings.functionEnd));
  const wire = r.packs.reduce((a, p) => ({ bytes: a.bytes + p.wire.bytesSent, frames: a.frames + p.wire.framesSent }), { bytes: 0, frames: 0 });
  const phases: RunSummary['phases'] = {};
  if (allJoined) phases.spawnToJoinedSeconds = (Math.max(...joined) - launchedAt) / 1000;
  if (starts.length > 1) phases.packStartSpreadSeconds = (Math.max(...starts) - Math.min(...starts)) / 1000;
  if (fn.length > 0) phases.functionSeconds = { median: median(fn), max: Math.max(...fn) };
  if (lastEnd > 0 && endedAt >= lastEnd) phases.teardownSeconds = (endedAt - lastEnd) / 1000;
  return {
    job,
    burstId: r.burstId,
    ok: r.ok,
    size: r.layout.size,
    packSizes: r.layout.packSizes,
    transport: transportInUse(r.transport, r.layout.packSizes.length),
    wallSeconds: (endedAt - launchedAt) / 1000,
    phases,
    traffic: {
      local: { bytes: r.counters.localBytesSent, messages: r.counters.localMsgsSent },
      remote: { bytes: r.counters.remoteBytesSent, messages: r.counters.remoteMsgsSent },
      remoteWire: wire,
    },
    ...(r.ok ? {} : { failure: failureOf(r) }),
    results: r.workers.map((w) => (w.ok ? (w.result ?? null) : null)),
  };
}

/**
 * The transport as the start line and the summary both say it: with one pack nothing crosses packs, so it
 * is named but marked unused. `detail` (its address) replaces the bare kind when packs use it.
 */
export function transportInUse(kind: string, packs: number, detail: string = kind): string {
  return packs > 1 ? detail : `${kind} (unused: one pack)`;
}

/** The failure to name: the worker (or pack) every pack agreed on, with the failing worker's own error. */
function failureOf(r: FlareResult): NonNullable<RunSummary['failure']> {
  const f = r.failure;
  // A failure that names no worker (a whole pack's, the deadline) is not pinned on some worker that went down with it.
  const worker = f !== undefined ? f.failedWorker : r.workers.find((w) => !w.ok && w.error?.name !== 'BurstAbortedError')?.workerId;
  const report = worker !== undefined ? r.workers.find((w) => w.workerId === worker) : undefined;
  // A worker is named with its own pack.
  const pack = report?.packId ?? f?.failedPack ?? (f === undefined ? firstBadExit(r) : undefined);
  const reason = f?.reason ?? report?.error?.message ?? 'a pack process failed';
  const stderr = pack !== undefined ? r.stderr[pack] : undefined;
  return {
    ...(worker !== undefined ? { worker } : {}),
    ...(pack !== undefined ? { pack } : {}),
    reason,
    ...(stderr ? { detail: tail(stderr, 12) } : {}),
  };
}

function firstBadExit(r: FlareResult): number | undefined {
  const i = r.exitCodes.findIndex((c) => c !== 0);
  return i < 0 ? undefined : i;
}

export function formatSummary(s: RunSummary, extra: { output?: string } = {}): string {
  const packs = s.packSizes.length;
  const g = new Set(s.packSizes).size === 1 ? `${s.packSizes[0]}` : s.packSizes.join('+');
  const lines: string[] = [];
  lines.push(`${s.ok ? 'succeeded' : 'FAILED'}: ${s.job}, ${s.size} workers in ${packs} pack${packs === 1 ? '' : 's'} of ${g}, transport ${s.transport}`);
  if (s.failure) {
    const f = s.failure;
    const who = f.worker !== undefined ? `worker ${f.worker}${f.pack !== undefined ? ` (pack ${f.pack})` : ''}` : f.pack !== undefined ? `pack ${f.pack}` : 'the burst';
    lines.push(`  failed: ${who}: ${f.reason}`);
    if (f.detail) lines.push('  pack stderr (last lines):', ...f.detail.split('\n').map((l) => `    ${l}`));
  }
  const p = s.phases;
  lines.push(`  wall time        ${secs(s.wallSeconds)}`);
  if (p.spawnToJoinedSeconds !== undefined)
    lines.push(`  spawn → joined   ${secs(p.spawnToJoinedSeconds)}${p.packStartSpreadSeconds !== undefined ? ` (pack starts spread over ${secs(p.packStartSpreadSeconds)})` : ''}`);
  if (p.functionSeconds) lines.push(`  function         median ${secs(p.functionSeconds.median)}, max ${secs(p.functionSeconds.max)}`);
  if (p.teardownSeconds !== undefined) lines.push(`  teardown         ${secs(p.teardownSeconds)}`);
  const t = s.traffic;
  lines.push(`  traffic local    ${bytes(t.local.bytes)} in ${t.local.messages} messages (shared memory)`);
  lines.push(
    `  traffic remote   ${bytes(t.remote.bytes)} in ${t.remote.messages} messages (${bytes(t.remoteWire.bytes)} in ${t.remoteWire.frames} frames on the wire, control included)`,
  );
  lines.push(...previewResults(s.results));
  if (extra.output) lines.push(`  results written to ${extra.output}`);
  return lines.join('\n') + '\n';
}

/** The first few workers' results, one short line each. */
function previewResults(results: unknown[], max = 8, width = 100): string[] {
  if (results.every((r) => r === null)) return [];
  const out = ['  results'];
  results.slice(0, max).forEach((r, w) => {
    let text = JSON.stringify(r) ?? 'undefined';
    if (text.length > width) text = `${text.slice(0, width - 1)}…`;
    out.push(`    worker ${w}: ${text}`);
  });
  if (results.length > max) out.push(`    … ${results.length - max} more (-o FILE writes every result)`);
  return out;
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function secs(s: number): string {
  return s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`;
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

function tail(text: string, lines: number): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n');
}
