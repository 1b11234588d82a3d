import { abortSummary, decodeLayout as decodeRuns, PACK_POD, parseTerminationReport, redactText } from '@kubeburst/worker-runtime';
import { ANNOTATIONS, LABELS, readStatus, type Condition, type FailureInfo, type PackCounts, type Phase, type ResultsRef, type StartupLatency } from '@kubeburst/api';
import type { Json } from './kube.js';

/**
 * What `kubeburst status` and `kubeburst results` print, built as plain values from what the API server
 * returned (the BurstJob, its pods, its results ConfigMap), so the shapes are table-tested without a
 * cluster. `-o json|yaml` prints these objects as they are: their fields are the CLI's machine contract
 * (documented in README.md, "Cluster commands"); a field is only ever added, never renamed or removed,
 * within `version: 1`.
 */

export type PackState = 'Gated' | 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Terminating' | 'Missing';

export interface PackView {
  pack: number;
  /** null when the current attempt has no pod for this pack (state Missing). */
  pod: string | null;
  /** Worker ids, "first-last". */
  workers: string | null;
  state: PackState;
  /** Joined the start barrier (the pod is Ready). */
  ready: boolean;
  restarts: number;
  node: string | null;
  exitCode?: number;
  /** Kubernetes' short reason: Unschedulable, ContainerCreating, Error, OOMKilled, … */
  reason?: string;
  /** Why it failed (the pack's own abort reason when it wrote one) or waits. */
  message?: string;
}

export interface StatusView {
  kind: 'BurstJobStatus';
  version: 1;
  name: string;
  namespace: string;
  /** The BurstJob's phase; Unknown until the operator first wrote a status. */
  phase: Phase | 'Unknown';
  /** true for Succeeded and Failed. */
  finished: boolean;
  size: number | null;
  /** Current attempt (0, 1, …); null before the first. */
  attempt: number | null;
  burstId: string | null;
  restarts: number;
  /** Pack sizes, run-length encoded ("4x2"). */
  layout: string | null;
  packCount: number | null;
  startTime: string | null;
  completionTime: string | null;
  startupLatency: StartupLatency | null;
  /** The operator's counts (status.packs). */
  counts: PackCounts | null;
  /** Every pack of the current attempt, in pack order, from its pod. */
  packs: PackView[];
  /** Packs of the current attempt without a pod. */
  missingPacks: number[];
  conditions: Condition[];
  lastFailure: FailureInfo | null;
  results: ResultsRef | null;
}

export const FINISHED: readonly string[] = ['Succeeded', 'Failed'];

export function statusView(job: Json, pods: readonly Json[]): StatusView {
  const s = readStatus(job.status);
  const attempt = s.attempt?.index ?? null;
  const sizes = s.attempt?.layout !== undefined ? decodeLayout(s.attempt.layout) : fixedSizes(job.spec);
  const mine = pods.filter((p) => attempt === null || p.metadata?.labels?.[LABELS.attempt] === String(attempt));
  const byPack = new Map<number, Json>();
  for (const p of mine) {
    const pack = Number(p.metadata?.labels?.[LABELS.packIndex]);
    if (Number.isInteger(pack) && pack >= 0) byPack.set(pack, p);
  }
  const packs: PackView[] = [];
  const missingPacks: number[] = [];
  const count = sizes?.length ?? Math.max(-1, ...byPack.keys()) + 1;
  let start = 0;
  for (let pack = 0; pack < count; pack++) {
    const size = sizes?.[pack];
    const range = size !== undefined ? `${start}-${start + size - 1}` : null;
    start += size ?? 0;
    const pod = byPack.get(pack);
    if (pod !== undefined) {
      packs.push(packView(pack, pod, range));
    } else if (attempt !== null) {
      // Before the first attempt there are no pods to miss.
      missingPacks.push(pack);
      packs.push({ pack, pod: null, workers: range, state: 'Missing', ready: false, restarts: 0, node: null });
    }
  }
  const phase = s.phase ?? 'Unknown';
  return {
    kind: 'BurstJobStatus',
    version: 1,
    name: job.metadata?.name,
    namespace: job.metadata?.namespace,
    phase,
    finished: FINISHED.includes(phase),
    size: typeof job.spec?.size === 'number' ? job.spec.size : null,
    attempt,
    burstId: s.attempt?.burstId ?? null,
    restarts: s.restarts ?? 0,
    layout: s.attempt?.layout ?? null,
    packCount: sizes?.length ?? null,
    startTime: s.startTime ?? null,
    completionTime: s.completionTime ?? null,
    startupLatency: s.startupLatency ?? null,
    counts: s.packs ?? null,
    packs,
    missingPacks,
    conditions: (s.conditions ?? []).map((c) => ({ ...c, message: redactText(c.message) })),
    lastFailure: s.lastFailure ? { ...s.lastFailure, message: redactText(s.lastFailure.message) } : null,
    results: s.results ? { ...s.results, ...(s.results.message !== undefined ? { message: redactText(s.results.message) } : {}) } : null,
  };
}

function packView(pack: number, pod: Json, range: string | null): PackView {
  const st = pod.status ?? {};
  const cs: Json | undefined = (st.containerStatuses ?? []).find((c: Json) => c.name === PACK_POD.container) ?? st.containerStatuses?.[0];
  const gated = (pod.spec?.schedulingGates ?? []).length > 0;
  const state: PackState = pod.metadata?.deletionTimestamp
    ? 'Terminating'
    : st.phase === 'Succeeded' || st.phase === 'Failed' || st.phase === 'Running'
      ? st.phase
      : gated
        ? 'Gated'
        : 'Pending';
  const view: PackView = {
    pack,
    pod: pod.metadata?.name ?? null,
    workers: pod.metadata?.annotations?.[ANNOTATIONS.workers] ?? range,
    state,
    ready: (st.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True'),
    restarts: (st.containerStatuses ?? []).reduce((n: number, c: Json) => n + (Number(c.restartCount) || 0), 0),
    node: pod.spec?.nodeName ?? null,
  };
  const terminated: Json | undefined = cs?.state?.terminated;
  const waiting: Json | undefined = cs?.state?.waiting;
  if (terminated !== undefined) {
    view.exitCode = terminated.exitCode;
    if (terminated.reason) view.reason = terminated.reason;
    const why = terminationSummary(terminated.message);
    if (why !== undefined && state === 'Failed') view.message = why;
  } else if (waiting?.reason) {
    view.reason = waiting.reason;
    if (waiting.message) view.message = oneLine(waiting.message);
  } else if (state === 'Pending') {
    const sched = (st.conditions ?? []).find((c: Json) => c.type === 'PodScheduled' && c.status === 'False');
    if (sched?.reason) view.reason = sched.reason;
    if (sched?.message) view.message = oneLine(sched.message);
  }
  if (st.reason && view.reason === undefined) view.reason = st.reason;
  if (st.message && view.message === undefined && state === 'Failed') view.message = oneLine(st.message);
  return view;
}

/** A pack's termination message is its JSON report (worker-runtime/src/pack/termination.ts) or a log tail. */
function terminationSummary(message: unknown): string | undefined {
  if (typeof message !== 'string' || message.trim() === '') return undefined;
  const report = parseTerminationReport(message);
  if (report !== undefined) return report.abort !== undefined ? oneLine(abortSummary(report.abort)) : undefined;
  // FallbackToLogsOnError: the tail of the pack's log.
  return oneLine(message.trim().split('\n').slice(-1)[0]!);
}

const oneLine = (s: string): string => redactText(s.replace(/\s+/g, ' ').trim()).slice(0, 300);

/** "2x48,1x16" → [48, 48, 16]; undefined for anything else (a status edited by hand). */
export function decodeLayout(text: string): number[] | undefined {
  try {
    return decodeRuns(text, 'status.attempt.layout');
  } catch {
    return undefined;
  }
}

/** Pack sizes before the operator chose a layout: known only for a fixed granularity. */
function fixedSizes(spec: Json | undefined): number[] | undefined {
  const size = spec?.size;
  if (spec === undefined || typeof size !== 'number' || size < 1 || spec.packing?.mode === 'Auto') return undefined;
  const g = typeof spec.granularity === 'number' && spec.granularity > 0 ? spec.granularity : size;
  return Array.from({ length: Math.ceil(size / g) }, (_, p) => Math.min(g, size - p * g));
}

export interface ResultsView {
  kind: 'BurstJobResults';
  version: 1;
  name: string;
  namespace: string;
  attempt: number | null;
  configMap: string;
  /** Workers in the burst. */
  workers: number;
  /** Workers whose result was collected. */
  collected: number;
  missing: number;
  /** Packs whose results were not collected (all of them, from summary.json). */
  missingPacks: number[];
  /** Why they are missing, pack by pack (the operator's words). */
  message: string | null;
  /** results[w] is worker w's result; null where it was not collected. */
  results: unknown[];
}

export const RESULTS_DEFAULT_KEY = 'results.json';
export const SUMMARY_KEY = 'summary.json';
/** The operator's name for a job's results ConfigMap (operator/src/planner/pods.ts resultsConfigMapName). */
export const resultsConfigMapOf = (job: string): string => `${job}-results`;

/**
 * The results ConfigMap the operator writes for a succeeded burst (operator/src/planner/results.ts):
 * results.json `{"workers": [...]}` (or `{"workers": null, "error"}` when they did not fit) and
 * summary.json `{burstId, attempt, packs, workers, collected, missing, missingPacks}`.
 */
export function resultsView(job: Json, cm: Json): ResultsView {
  const s = readStatus(job.status);
  const key = s.results?.key ?? RESULTS_DEFAULT_KEY;
  const data: Record<string, string> = cm.data ?? {};
  const parsed = parseJson(data[key]);
  const summary = parseJson(data[SUMMARY_KEY]) ?? {};
  const list: unknown[] = Array.isArray(parsed?.workers) ? parsed.workers : [];
  const size = typeof job.spec?.size === 'number' ? job.spec.size : typeof summary.workers === 'number' ? summary.workers : list.length;
  const results = Array.from({ length: size }, (_, w) => (w < list.length ? list[w] : null));
  const missingPacks: number[] = Array.isArray(summary.missingPacks) ? summary.missingPacks : (s.results?.missingPacks ?? []);
  const collected = typeof summary.collected === 'number' ? summary.collected : Array.isArray(parsed?.workers) ? (s.results?.workers ?? size) : 0;
  const error = typeof parsed?.error === 'string' ? parsed.error : undefined;
  const message = error ?? s.results?.message ?? (parsed === undefined ? `the ConfigMap has no readable ${key}` : undefined);
  return {
    kind: 'BurstJobResults',
    version: 1,
    name: job.metadata?.name,
    namespace: job.metadata?.namespace,
    attempt: typeof summary.attempt === 'number' ? summary.attempt : (s.attempt?.index ?? null),
    configMap: cm.metadata?.name,
    workers: size,
    collected,
    missing: size - collected,
    missingPacks,
    message: message !== undefined ? redactText(message) : null,
    results,
  };
}

function parseJson(text: string | undefined): Json | undefined {
  if (text === undefined) return undefined;
  try {
    const v = JSON.parse(text) as unknown;
    return typeof v === 'object' && v !== null ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}
