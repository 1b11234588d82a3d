import { writeFileSync } from 'node:fs';
import type { PackReport } from './reports.js';

/**
 * A compact pack report for the pod's termination message (/dev/termination-log), which is how the
 * operator learns a pack's results and failure reason without any extra permission: the kubelet copies
 * the file into the pod status. Kubernetes keeps at most 4096 bytes of it, so results that do not fit are
 * left out (`truncated`) rather than cut mid-JSON; large results belong in the function's own storage.
 */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

export interface TerminationReport {
  v: 1;
  burst: string;
  pack: number;
  ok: boolean;
  /** First worker id of the pack: results[i] belongs to worker first + i. */
  first: number;
  results?: unknown[];
  /** Results were left out: they did not fit. */
  truncated?: true;
  /** With truncated: the bytes the full report would have taken. */
  fullBytes?: number;
  /** Why the burst failed, as this pack learned it. */
  abort?: { reason: string; failedWorker?: number; failedPack?: number };
  /** Start barrier passed / pack finished (ms since the epoch; 0 if never). */
  joined: number;
  finished: number;
}

export function terminationReport(report: PackReport, first: number, maxBytes = TERMINATION_MESSAGE_MAX_BYTES): string {
  const base: TerminationReport = {
    v: 1,
    burst: report.burstId,
    pack: report.packId,
    ok: report.ok,
    first,
    joined: report.timings.joined,
    finished: report.timings.finished,
  };
  if (report.abort !== undefined) base.abort = { ...report.abort };
  const full = JSON.stringify({ ...base, results: report.workers.map((w) => w.result ?? null) });
  const fullBytes = Buffer.byteLength(full);
  if (fullBytes <= maxBytes) return full;
  const lean: TerminationReport = { ...base, truncated: true, fullBytes };
  let text = JSON.stringify(lean);
  if (Buffer.byteLength(text) > maxBytes && lean.abort !== undefined) {
    // Only a huge abort reason can overflow what is left: shorten it. Every code unit cut takes at least
    // one byte with it, but not half a surrogate pair: the half left would be written as a 6-byte escape.
    const reason = lean.abort.reason;
    let keep = Math.max(0, reason.length - (Buffer.byteLength(text) - maxBytes) - 3);
    if (keep > 0 && isHighSurrogate(reason.charCodeAt(keep - 1))) keep--;
    lean.abort.reason = reason.slice(0, keep) + '...';
    text = JSON.stringify(lean);
  }
  return text;
}

const isHighSurrogate = (c: number): boolean => c >= 0xd800 && c <= 0xdbff;

/**
 * The report a termination message holds, or undefined when it holds none: a log's tail
 * (FallbackToLogsOnError), or text that is not a report of exactly this shape. A pod's status says what
 * anything running in the pod wrote, so every field is checked here, once, for what its readers (the
 * operator's planner, `kubeburst status`) take it to be: text with a field of another type is no report,
 * never a crash or a misreading further on.
 */
export function parseTerminationReport(text: string | undefined): TerminationReport | undefined {
  if (text === undefined || text === '') return undefined;
  let r: unknown;
  try {
    r = JSON.parse(text);
  } catch {
    return undefined;
  }
  return isReport(r) ? r : undefined;
}

/** Who ended the burst, and why, as a report's `abort` says it: "worker 3: TypeError: …". */
export function abortSummary(abort: NonNullable<TerminationReport['abort']>): string {
  const who = abort.failedWorker !== undefined ? `worker ${abort.failedWorker}` : abort.failedPack !== undefined ? `pack ${abort.failedPack}` : 'the burst';
  return `${who}: ${abort.reason}`;
}

const isIndex = (x: unknown): x is number => Number.isSafeInteger(x) && (x as number) >= 0;
const isTime = (x: unknown): x is number => typeof x === 'number' && Number.isFinite(x);
const absentOr = (x: unknown, is: (x: unknown) => boolean): boolean => x === undefined || is(x);

function isReport(x: unknown): x is TerminationReport {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const r = x as Record<string, unknown>;
  return (
    r.v === 1 &&
    typeof r.burst === 'string' &&
    isIndex(r.pack) &&
    typeof r.ok === 'boolean' &&
    isIndex(r.first) &&
    absentOr(r.results, Array.isArray) &&
    absentOr(r.truncated, (t) => t === true) &&
    absentOr(r.fullBytes, isIndex) &&
    absentOr(r.abort, isAbort) &&
    isTime(r.joined) &&
    isTime(r.finished)
  );
}

function isAbort(x: unknown): boolean {
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return false;
  const a = x as Record<string, unknown>;
  return typeof a.reason === 'string' && absentOr(a.failedWorker, isIndex) && absentOr(a.failedPack, isIndex);
}

export function writeTerminationReport(path: string, report: PackReport, first: number): void {
  writeFileSync(path, terminationReport(report, first));
}
