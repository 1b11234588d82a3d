import { z } from 'zod';
import { PHASES } from './constants.js';

/**
 * BurstJob status: written only by the operator, through the status subresource, once per reconcile.
 * It is also the operator's memory: everything the planner must remember between reconciles (attempt
 * number, when gates were lifted, when the next attempt may start) lives here, so a restarted operator
 * carries on where the last one stopped.
 */

/** RFC 3339 time; the operator writes milliseconds (metav1.Time keeps only seconds). */
const timestamp = z.string().meta({ format: 'date-time' });
const count = z.number().int().min(0);

/** metav1.Condition, field for field. */
export const Condition = z
  .object({
    type: z.string().min(1).max(316).describe('Condition type: Admitted, PacksScheduled, Started, Suspended, Succeeded, Failed.'),
    status: z.enum(['True', 'False', 'Unknown']).describe('True, False or Unknown.'),
    observedGeneration: count.optional().describe('metadata.generation the condition was set for.'),
    lastTransitionTime: timestamp.describe('When status last changed.'),
    reason: z
      .string()
      .min(1)
      .max(1024)
      .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
      .describe('Machine-readable CamelCase reason of the last transition.'),
    message: z.string().max(32768).describe('Human-readable details.'),
  })
  .describe('A metav1.Condition.');
export type Condition = z.infer<typeof Condition>;

export const PackCounts = z
  .object({
    total: count.describe('Packs (pods) in the burst.'),
    gated: count.describe('Pods created and still holding the gang scheduling gate (gang.backend Kueue: Kueue’s admission gate).'),
    pending: count.describe('Pods ungated but not running yet (being scheduled or started).'),
    running: count.describe('Pods running (not necessarily joined).'),
    ready: count.describe('Pods ready: their pack joined the start barrier.'),
    succeeded: count.describe('Pods that exited 0.'),
    failed: count.describe('Pods that failed.'),
  })
  .describe('Pods of the current attempt by state.');
export type PackCounts = z.infer<typeof PackCounts>;

export const AttemptStatus = z
  .object({
    index: count.describe('Attempt number, from 0. Pods carry it in the kubeburst.io/attempt label.'),
    burstId: z.string().min(1).describe('Burst id of the attempt (KB_BURST_ID): namespaces broker keys.'),
    layout: z.string().min(1).describe('Pack sizes, run-length encoded: "20x48" is 20 packs of 48 workers, "2x48,1x16" three packs.'),
    gangBackend: z
      .enum(['SchedulingGates', 'PodGroup', 'Kueue'])
      .optional()
      .describe(
        'How this attempt is gang-admitted: spec.gang.backend, with Auto resolved when the attempt started (Kueue when the BurstJob carried kueue.x-k8s.io/queue-name, else PodGroup when the API server served scheduling.k8s.io/v1beta1 podgroups).',
      ),
    startTime: timestamp.describe('When the operator started creating the attempt.'),
    admittedTime: timestamp
      .optional()
      .describe('When the gang was admitted: scheduling gates lifted, (PodGroup) every pod created and handed to the scheduler, or (Kueue) Kueue admitted the pod group.'),
    scheduledTime: timestamp.optional().describe('When every pack pod was bound to a node.'),
    runningTime: timestamp.optional().describe('When every pack pod was running.'),
    joinedTime: timestamp.optional().describe('When every pack had joined (every pod ready).'),
  })
  .describe('The current attempt.');
export type AttemptStatus = z.infer<typeof AttemptStatus>;

export const StartupLatency = z
  .object({
    packsRunningSeconds: z.number().min(0).optional().describe('Attempt start → every pack pod running.'),
    workersJoinedSeconds: z.number().min(0).optional().describe('Attempt start → every pack joined the start barrier.'),
  })
  .describe('Startup latency of the attempt that started last. The first attempt starts when the operator sees the new BurstJob.');
export type StartupLatency = z.infer<typeof StartupLatency>;

export const ResultsRef = z
  .object({
    configMap: z.string().min(1).describe('ConfigMap (owned by the BurstJob) holding the results.'),
    key: z.string().min(1).describe('Key of results.json: {"workers": [result of worker 0, 1, …]}.'),
    workers: count.describe('Workers whose result was collected.'),
    missing: count.describe('Workers whose result was not collected (too large for a termination message, or a pack wrote none).'),
    missingPacks: z.array(count).max(100).optional().describe('Packs whose results were not collected (the first 100).'),
    message: z.string().max(4096).optional().describe('Why results are missing, pack by pack.'),
  })
  .describe('Where the results of a succeeded burst are.');
export type ResultsRef = z.infer<typeof ResultsRef>;

export const FailureInfo = z
  .object({
    attempt: count.describe('Attempt that failed.'),
    pack: count.optional().describe('Pack that failed first.'),
    reason: z.string().describe('Why: PackFailed, PackLost, ScheduleTimeout, StartTimeout, DeadlineExceeded.'),
    message: z.string().max(4096).describe('Details, e.g. the pack’s termination message.'),
  })
  .describe('The last failure.');
export type FailureInfo = z.infer<typeof FailureInfo>;

export const BurstJobStatus = z
  .object({
    observedGeneration: count.optional().describe('metadata.generation the operator last acted on.'),
    phase: z.enum(PHASES).optional().describe('Pending, Starting, Running, Restarting, Suspended, Succeeded or Failed.'),
    conditions: z
      .array(Condition)
      .max(16)
      .optional()
      .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
      .describe('Admitted, PacksScheduled, Started, Suspended, Succeeded, Failed.'),
    packs: PackCounts.optional(),
    attempt: AttemptStatus.optional(),
    restarts: count.optional().describe('Attempts restarted after a failure (bounded by spec.maxRestarts).'),
    scheduleRetries: count.optional().describe('Attempts torn down because not every pack was scheduled in time (bounded by spec.gang.maxScheduleRetries).'),
    nextAttemptTime: timestamp.optional().describe('While Restarting: when the next attempt starts (exponential backoff).'),
    startTime: timestamp.optional().describe('When the BurstJob started (reset by suspend); spec.activeDeadlineSeconds counts from here.'),
    completionTime: timestamp.optional().describe('When it succeeded or failed.'),
    startupLatency: StartupLatency.optional(),
    results: ResultsRef.optional(),
    lastFailure: FailureInfo.optional(),
  })
  .describe('Observed state, written by the operator.');
export type BurstJobStatus = z.infer<typeof BurstJobStatus>;

/**
 * Reads a status off an object field by field, dropping only what does not parse: a hand-edited or older
 * status field must not erase the attempt number the planner relies on.
 */
export function readStatus(raw: unknown): BurstJobStatus {
  if (typeof raw !== 'object' || raw === null) return {};
  const whole = BurstJobStatus.safeParse(raw);
  if (whole.success) return whole.data;
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(BurstJobStatus.shape)) {
    const r = field.safeParse((raw as Record<string, unknown>)[key]);
    if (r.success && r.data !== undefined) out[key] = r.data;
  }
  return out as BurstJobStatus;
}
