import { abortSummary, redactText, TERMINATION_MESSAGE_MAX_BYTES, type TerminationReport } from '@kubeburst/worker-runtime';
import type { ResultsRef } from '@kubeburst/api';
import { packRanges } from './layout.js';
import { resultsConfigMapName } from './pods.js';
import type { ObservedPod } from './types.js';

/**
 * Results of a succeeded burst, gathered from the packs' termination messages (each pack writes a compact
 * report, worker-runtime/src/pack/termination.ts) into a ConfigMap owned by the BurstJob:
 *
 *   results.json   {"workers": [result of worker 0, 1, …]}   null where a result was not collected
 *   summary.json   {"burstId", "attempt", "packs", "workers", "collected", "missing", "missingPacks"}
 *                  (missingPacks: the first 100; `missing` counts them all)
 *
 * No pod needs API access and no extra RBAC is involved; the price is Kubernetes' 4 KiB per termination
 * message and 1 MiB per ConfigMap. Results larger than that belong in the function's own storage; they
 * are reported as missing, never silently cut.
 */
export const RESULTS_KEY = 'results.json';
export const SUMMARY_KEY = 'summary.json';
/** ConfigMaps hold at most 1 MiB; leave room for the summary and metadata. */
export const MAX_RESULTS_BYTES = 900 * 1024;
/** Packs named in status.results.missingPacks and summary.json (their count is given in full). */
const MAX_LISTED_PACKS = 100;

export interface CollectedResults {
  data: Record<string, string>;
  ref: ResultsRef;
  /** Why some results are missing, if any are. */
  problem?: string;
}

export function collectResults(jobName: string, attempt: number, burstId: string, pods: readonly ObservedPod[], sizes: readonly number[]): CollectedResults {
  const size = sizes.reduce((a, b) => a + b, 0);
  const workers: unknown[] = new Array(size).fill(null);
  const ranges = packRanges(sizes);
  const missingPacks: number[] = [];
  const why: string[] = [];
  let collected = 0;
  const byPack = new Map(pods.filter((x) => x.attempt === attempt).map((x) => [x.pack, x]));
  for (let p = 0; p < sizes.length; p++) {
    const pod = byPack.get(p);
    const report = pod?.terminated?.report;
    const { start, end } = ranges[p]!;
    if (report?.results === undefined || report.first !== start || report.results.length !== end - start) {
      missingPacks.push(p);
      why.push(`pack ${p} (workers ${start}-${end - 1}): ${lostBecause(report, start, end)}`);
      continue;
    }
    for (let i = 0; i < report.results.length; i++) workers[start + i] = report.results[i];
    collected += end - start;
  }
  let resultsJson = JSON.stringify({ workers });
  let problem: string | undefined;
  if (missingPacks.length > 0) {
    problem = `results of ${missingPacks.length} pack(s) were not collected: ${why.slice(0, 8).join('; ')}${why.length > 8 ? `; and ${why.length - 8} more` : ''}`;
  }
  if (Buffer.byteLength(resultsJson) > MAX_RESULTS_BYTES) {
    problem = `results take ${Buffer.byteLength(resultsJson)} bytes, more than a ConfigMap holds (${MAX_RESULTS_BYTES}); write large results to storage from the function`;
    resultsJson = JSON.stringify({ workers: null, error: problem });
    collected = 0;
  }
  const missing = size - collected;
  // At most as many packs as the status names: a ConfigMap holds 1 MiB, and 100 000 pack numbers take most of it.
  const summary = { burstId, attempt, packs: sizes.length, workers: size, collected, missing, missingPacks: missingPacks.slice(0, MAX_LISTED_PACKS) };
  return {
    data: { [RESULTS_KEY]: resultsJson, [SUMMARY_KEY]: JSON.stringify(summary) },
    ref: {
      configMap: resultsConfigMapName(jobName),
      key: RESULTS_KEY,
      workers: collected,
      missing,
      ...(missingPacks.length > 0 ? { missingPacks: missingPacks.slice(0, MAX_LISTED_PACKS) } : {}),
      ...(problem !== undefined ? { message: problem.slice(0, 4096) } : {}),
    },
    ...(problem !== undefined ? { problem } : {}),
  };
}

/**
 * Which pack ended the attempt, among the failed ones. A pack that aborted because of another names it in
 * its report (abort.failedPack); a pack that crashed or was killed leaves no report. So: the pack most
 * reports blame; else a failed pack that blames no other (a crash, or its own worker's error), earliest
 * first; else the earliest to fail. Lowest index breaks ties. Packs fail within milliseconds of each other,
 * and the kubelet reports them in any order: the index or the order seen says nothing about the cause.
 */
export function rootCause(failed: readonly ObservedPod[]): { pack: number; pod?: ObservedPod; witness?: ObservedPod } {
  const reports = new Map(failed.map((p) => [p, p.terminated?.report]));
  const blames = new Map<number, ObservedPod[]>();
  for (const [pod, r] of reports) {
    const blamed = r?.abort?.failedPack;
    if (blamed !== undefined && blamed !== pod.pack) blames.set(blamed, [...(blames.get(blamed) ?? []), pod]);
  }
  const finished = (p: ObservedPod): number => Date.parse(p.terminated?.finishedAt ?? '') || Number.MAX_SAFE_INTEGER;
  const order = (a: ObservedPod, b: ObservedPod): number => finished(a) - finished(b) || a.pack - b.pack;
  const mostBlamed = [...blames].sort((a, b) => b[1].length - a[1].length || a[0] - b[0])[0];
  if (mostBlamed !== undefined) {
    const [pack, witnesses] = mostBlamed;
    const pod = failed.find((p) => p.pack === pack);
    return pod !== undefined ? { pack, pod } : { pack, witness: [...witnesses].sort(order)[0]! };
  }
  const selfBlamed = [...reports].filter(([pod, r]) => r?.abort?.failedPack === undefined || r.abort.failedPack === pod.pack).map(([pod]) => pod);
  const pod = [...(selfBlamed.length > 0 ? selfBlamed : failed)].sort(order)[0]!;
  return { pack: pod.pack, pod };
}

/** Why a pack failed, for status and events: the pack's own abort reason, else what Kubernetes says. */
export function failureMessage(pod: ObservedPod): string {
  const abort = pod.terminated?.report?.abort;
  if (abort !== undefined) return abortSummary(abort);
  const t = pod.terminated;
  const parts = [t ? `exit code ${t.exitCode}${t.reason ? ` (${t.reason})` : ''}` : undefined, pod.reason, t?.message?.trim() || pod.message].filter((x) => x);
  return clipRedacted(parts.join(': ') || 'failed', 1024);
}

/**
 * `text` redacted, then cut to `max` characters: in that order, since a URL cut before its `@` would no
 * longer look like one, and its password would pass the redaction the status gets later. (The operator's
 * own credentials are masked before the planner sees a pod's text, cut ones included: observePod.)
 */
export function clipRedacted(text: string, max: number): string {
  return redactText(text).slice(0, max);
}

function lostBecause(report: TerminationReport | undefined, start: number, end: number): string {
  if (report === undefined) return 'it wrote no report to its termination message';
  if (report.truncated) {
    return `its report with results takes ${report.fullBytes ?? `more than ${TERMINATION_MESSAGE_MAX_BYTES}`} bytes, over the ${TERMINATION_MESSAGE_MAX_BYTES}-byte termination message Kubernetes keeps per container; write large results to storage from the function`;
  }
  return `its report covers workers ${report.first}-${report.first + (report.results?.length ?? 0) - 1}, not ${start}-${end - 1}`;
}
