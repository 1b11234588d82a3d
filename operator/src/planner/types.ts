import type { AttemptStatus, BurstJobSpec, EventReason, BurstJobStatus, ResultsRef } from '@kubeburst/api';
import type { TerminationReport } from '@kubeburst/worker-runtime';
import type { GangDemand, NodeView } from './capacity.js';

/** A BurstJob as the planner sees it: parsed spec (defaults applied), status, and the metadata it needs. */
export interface JobView {
  name: string;
  namespace: string;
  uid: string;
  generation: number;
  /** ms since the epoch. */
  creationTimestamp: number;
  deletionTimestamp?: number;
  finalizers: string[];
  /** metadata.labels kueue.x-k8s.io/queue-name and priority-class (gang.backend Kueue). */
  kueue?: { queueName: string; priorityClass?: string };
  spec: BurstJobSpec;
  /** Set when the stored spec fails validation the API server cannot do (e.g. params.list length). */
  specError?: string;
  status: BurstJobStatus;
}

export type PodPhase = 'Pending' | 'Running' | 'Succeeded' | 'Failed' | 'Unknown';

/** A pack pod reduced to what decisions need (the controller derives it from the Pod). */
export interface ObservedPod {
  name: string;
  attempt: number;
  pack: number;
  /** Still holds the gang scheduling gate. */
  gated: boolean;
  nodeName?: string;
  phase: PodPhase;
  /** Ready condition: the pack joined the start barrier. */
  ready: boolean;
  /** Has a deletionTimestamp. */
  deleting: boolean;
  /**
   * The pack container's termination, once it ended: the pack's `report` when its termination message is
   * one (as written: results are data), else the `message` (a log tail; redacted).
   */
  terminated?: { exitCode: number; reason?: string; report?: TerminationReport; message?: string; finishedAt?: string };
  /** Pod-level status reason/message (Evicted, NodeLost…). */
  reason?: string;
  message?: string;
  /** Why the scheduler could not place it (PodScheduled=False). */
  unschedulable?: string;
  /** Why the pack container has not started (state.waiting: ImagePullBackOff, CreateContainerConfigError…). */
  waiting?: { reason: string; message?: string };
  /** A pod of a Kueue pod group (gang.backend Kueue), as Kueue left it. */
  kueue?: {
    /** Kueue's webhook took it (kueue.x-k8s.io/managed): without it, Kueue never admits the group. */
    managed: boolean;
    /** Still holds a gate of Kueue's (admission, topology). */
    gated: boolean;
    /** Kueue evicted or preempted the group (its TerminationTarget condition): reason and message. */
    stopped?: string;
  };
}

/** The job's headless Service as observed (undefined in Observed: there is none). */
export interface ObservedService {
  /** uid of the BurstJob its controller ownerReference names; a Service left by an earlier job of the same name names another. */
  ownerUid: string | undefined;
  deleting: boolean;
}

/** A PodGroup this job owns (gang backend PodGroup), one per attempt. */
export interface ObservedPodGroup {
  name: string;
  attempt: number;
  deleting: boolean;
  /** kube-scheduler's PodGroupInitiallyScheduled condition, once it tried to place the group. */
  scheduled?: { status: 'True' | 'False' | 'Unknown'; reason?: string; message?: string };
}

export interface Observed {
  /** Every pod labelled with this job's uid, of any attempt. */
  pods: ObservedPod[];
  /** Nodes with their free room (allocatable minus bound pods' requests). */
  nodes: NodeView[];
  /** Other gangs admitted but not yet bound: their room is taken. */
  reserved: GangDemand[];
  /** Older BurstJobs waiting for admission, oldest first. */
  ahead: GangDemand[];
  /** The Service named after the job; undefined: none exists. */
  service?: ObservedService;
  /** The API server serves scheduling.k8s.io/v1beta1 podgroups (discovery; the controller caches it). */
  podGroupApi?: boolean;
  /** PodGroups labelled with this job's uid, of any attempt. */
  podGroups?: ObservedPodGroup[];
  /** The API server serves kueue.x-k8s.io/v1beta2 workloads (Kueue is installed). */
  kueueApi?: boolean;
  /** Kueue's Workload of the current attempt (named after its pod group), once Kueue made it. */
  workload?: ObservedWorkload;
}

/** Kueue's Workload for the current attempt's pod group (gang.backend Kueue), reduced to why it waits. */
export interface ObservedWorkload {
  name: string;
  /** QuotaReserved=False: Kueue's word on why the group is not admitted (insufficient quota, queue…). */
  pending?: string;
}

/** Operator-wide policy (flags), not per job. */
export interface Policy {
  /** First restart/retry backoff; doubles each time up to backoffMaxMs. */
  backoffBaseMs: number;
  backoffMaxMs: number;
  /** How often a gang waiting for room is re-checked even without a cluster change (safety net). */
  admissionRecheckMs: number;
  /** After this long, a BurstJob being deleted drops its broker finalizer even if cleanup keeps failing. */
  brokerCleanupGiveUpMs: number;
  /**
   * Bounded overtaking: once an older gang has waited this long for room, younger gangs that could use its
   * nodes are no longer admitted ahead of it (its room drains until it fits).
   */
  strictFifoAfterMs: number;
}

export const DEFAULT_POLICY: Policy = { backoffBaseMs: 10_000, backoffMaxMs: 300_000, admissionRecheckMs: 30_000, brokerCleanupGiveUpMs: 300_000, strictFifoAfterMs: 300_000 };

export type Action =
  /** Headless Service (stable pack DNS names): create it, or replace one an earlier job of the same name left. */
  | { kind: 'ensureService' }
  /** The params ConfigMap: created, or updated where the job's own is there (executor ensureOwned). */
  | { kind: 'ensureParams' }
  /** The NetworkPolicy that opens the packs' ports to the job's own packs only (created, or updated where the job's own is there). */
  | { kind: 'ensureNetworkPolicy' }
  /** The attempt's Secret (its packs authenticate each other with it): create unless it exists. */
  /**
   * `fresh`: no pod of the attempt is observed yet, so a Secret of its name that already exists is none
   * that a pod of it uses (someone else's, or this operator's from before a crash): it is replaced, unless
   * the executor created one of the attempt's `packs` pods that the cache has not shown yet.
   */
  | { kind: 'ensureSecret'; attempt: number; fresh: boolean; packs: number }
  /** Secrets of attempts that ended. */
  | { kind: 'deleteSecrets'; attempts: number[] }
  /** Pack pods of the attempt (layout as in status.attempt.layout): gated (SchedulingGates), naming the attempt's PodGroup, or one Kueue pod group. */
  | { kind: 'createPods'; attempt: number; burstId: string; layout: string; packs: number[]; backend: GangBackendName }
  /** The attempt's PodGroup (gang minCount = packs): created before its pods, which name it. */
  | { kind: 'ensurePodGroup'; attempt: number; minCount: number }
  | { kind: 'deletePodGroups'; names: string[]; why: string }
  | { kind: 'ungatePods'; pods: string[] }
  | { kind: 'deletePods'; pods: string[]; why: string }
  | { kind: 'writeResults'; data: Record<string, string>; ref: ResultsRef }
  /** Delete the broker keys of these bursts (Redis); best effort outside deletion. */
  | { kind: 'cleanupBroker'; burstIds: string[] }
  | { kind: 'addFinalizer' }
  /** Clean the broker, then drop the finalizer; `giveUp`: drop it even if cleaning fails. */
  | { kind: 'finalize'; burstIds: string[]; giveUp: boolean }
  | { kind: 'deleteJob'; why: string }
  | { kind: 'event'; type: 'Normal' | 'Warning'; reason: EventReason; message: string };

export interface Plan {
  actions: Action[];
  /** The status to persist (one write per reconcile); undefined: leave it alone (object being deleted). */
  status: BurstJobStatus | undefined;
  /** Reconcile again after this long even if nothing changes (timeouts, backoff, TTL). */
  requeueAfterMs?: number;
  /** Set when this plan admits the gang: the controller reserves its room until the pods are bound. */
  admitted?: GangDemand;
}

/** A resolved gang backend (spec.gang.backend with Auto decided): what an attempt's pods are built for. */
export type GangBackendName = NonNullable<AttemptStatus['gangBackend']>;
