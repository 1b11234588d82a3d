import type { RunRecord } from './run.js';
import { median } from './stats.js';

/** Medians over the repeats of one (app, transport, granularity) cell: the measured fields are RunRecord's. */
export interface Summary extends Pick<
  RunRecord,
  | 'app'
  | 'size'
  | 'granularity'
  | 'packs'
  | 'wallMs'
  | 'startupMs'
  | 'functionMs'
  | 'phasesMs'
  | 'remoteBytes'
  | 'localBytes'
  | 'remoteMsgs'
  | 'wireBytes'
  | 'cpuSeconds'
  | 'otherCores'
> {
  transport: string;
  runs: number;
  /** Repeats that failed or gave a wrong answer (left out of the medians). */
  failed: number;
  /** Every repeat succeeded and matched the sequential reference. */
  verified: boolean;
  /** Last minus first pack process start (ms). */
  processStartSpreadMs: number;
  /** Last minus first function start (ms). */
  functionStartSpreadMs: number;
}

export interface Target {
  id: string;
  description: string;
  transport: string;
  measured: number;
  threshold: number;
  /** How `measured` is shown: a percentage or a factor. */
  unit: '%' | '×';
  met: boolean;
}

const spread = (xs: number[]): number => {
  const ok = xs.filter(Number.isFinite);
  return ok.length === 0 ? Number.NaN : Math.max(...ok) - Math.min(...ok);
};

export function summarize(runs: readonly RunRecord[]): Summary[] {
  const cells = new Map<string, RunRecord[]>();
  for (const r of runs) {
    const k = `${r.app}|${r.transport}|${r.granularity}`;
    cells.set(k, [...(cells.get(k) ?? []), r]);
  }
  return [...cells.values()].map((all) => {
    const first = all[0]!;
    // Times and bytes come from the flares that succeeded; a failed flare only counts in `failed`.
    const rs = all.filter((r) => r.ok && r.verified);
    const phaseNames = [...new Set(rs.flatMap((r) => Object.keys(r.phasesMs)))];
    return {
      app: first.app,
      transport: first.transport,
      size: first.size,
      granularity: first.granularity,
      packs: first.packs,
      runs: all.length,
      failed: all.length - rs.length,
      verified: rs.length === all.length,
      wallMs: median(rs.map((r) => r.wallMs)),
      startupMs: median(rs.map((r) => r.startupMs)),
      functionMs: median(rs.map((r) => r.functionMs)),
      phasesMs: Object.fromEntries(phaseNames.map((p) => [p, median(rs.map((r) => r.phasesMs[p] ?? 0))])),
      remoteBytes: median(rs.map((r) => r.remoteBytes)),
      localBytes: median(rs.map((r) => r.localBytes)),
      remoteMsgs: median(rs.map((r) => r.remoteMsgs)),
      wireBytes: median(rs.map((r) => r.wireBytes)),
      cpuSeconds: median(rs.map((r) => r.cpuSeconds ?? Number.NaN)),
      otherCores: median(rs.map((r) => r.otherCores)),
      processStartSpreadMs: median(rs.map((r) => spread(r.starts.processStart))),
      functionStartSpreadMs: median(rs.map((r) => spread(r.starts.functionStart))),
    };
  });
}

export function cell(s: readonly Summary[], app: string, transport: string, g: number): Summary | undefined {
  return s.find((x) => x.app === app && x.transport === transport && x.granularity === g);
}

/**
 * The paper's targets at this machine's scale, per transport: PageRank remote traffic ≥ 98.5 % lower at the
 * largest granularity than at G = 1 and ≥ 5× faster; TeraSort ≥ 2× faster than FaaS mode (G = 1).
 * Speed is the median end-to-end wall time (launch → results), which is what a FaaS user waits for.
 */
export function targets(s: readonly Summary[], transports: readonly string[], gMax: number): Target[] {
  const out: Target[] = [];
  for (const t of transports) {
    const pr1 = cell(s, 'pagerank', t, 1);
    const prG = cell(s, 'pagerank', t, gMax);
    if (pr1 && prG) {
      const cut = pr1.remoteBytes > 0 ? 100 * (1 - prG.remoteBytes / pr1.remoteBytes) : Number.NaN;
      out.push({
        id: 'pagerank-remote',
        description: `PageRank remote bytes, G=${gMax} vs G=1: reduction`,
        transport: t,
        measured: cut,
        threshold: 98.5,
        unit: '%',
        met: cut >= 98.5,
      });
      const sp = pr1.wallMs / prG.wallMs;
      out.push({ id: 'pagerank-speedup', description: `PageRank wall time, G=1 / G=${gMax}`, transport: t, measured: sp, threshold: 5, unit: '×', met: sp >= 5 });
    }
    const ts1 = cell(s, 'terasort', t, 1);
    const tsG = cell(s, 'terasort', t, gMax);
    if (ts1 && tsG) {
      const sp = ts1.wallMs / tsG.wallMs;
      out.push({ id: 'terasort-speedup', description: `TeraSort wall time, G=1 / G=${gMax}`, transport: t, measured: sp, threshold: 2, unit: '×', met: sp >= 2 });
    }
  }
  return out;
}
