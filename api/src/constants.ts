/**
 * Names the operator writes onto objects and reads back: label and annotation keys, the scheduling gate,
 * the finalizer, condition types, reasons and event reasons. One place, so `kubectl get -l`, the planner,
 * the executor and the tests agree on spelling.
 * @module
 */
import { API_GROUP } from './burstjob.js';

export const LABELS = {
  /** Name of the owning BurstJob (pods, Service, ConfigMaps). */
  jobName: `${API_GROUP}/job-name`,
  /** UID of the owning BurstJob: a job deleted and re-created under the same name never adopts old pods. */
  jobUid: `${API_GROUP}/job-uid`,
  /** Attempt number (0, 1, …): pods of different attempts are never mixed. */
  attempt: `${API_GROUP}/attempt`,
  /** Index of the pack inside the burst. */
  packIndex: `${API_GROUP}/pack-index`,
  /** What an owned object is for: pack, params, results, peers. */
  component: `${API_GROUP}/component`,
} as const;

export const ANNOTATIONS = {
  /** Worker ids of a pack, `start-end` inclusive: for humans and `kubectl get -o wide`. */
  workers: `${API_GROUP}/workers`,
  /** Burst id of the attempt (namespaces broker keys). */
  burstId: `${API_GROUP}/burst-id`,
} as const;

export const COMPONENTS = { pack: 'pack', params: 'params', results: 'results', peers: 'peers', secret: 'secret', network: 'network', gang: 'gang' } as const;

/** The Workload API's PodGroup (gang.backend PodGroup): one per attempt, `<job>-a<attempt>`. */
export const PODGROUP_API = { group: 'scheduling.k8s.io', version: 'v1beta1', resource: 'podgroups', kind: 'PodGroup' } as const;
/** The PodGroup condition kube-scheduler sets once it placed the group (terminal once True). */
export const PODGROUP_SCHEDULED_CONDITION = 'PodGroupInitiallyScheduled';

/**
 * Kueue's plain-pod group integration (gang.backend Kueue): what the pack pods carry, what Kueue adds
 * (its admission gate, the managed label) and the API the operator discovers and reads Workloads from.
 */
export const KUEUE = {
  /** On the BurstJob (and copied to its pods): the LocalQueue. Its presence makes gang.backend Auto pick Kueue. */
  queueLabel: 'kueue.x-k8s.io/queue-name',
  /** On the BurstJob (and copied to its pods): a WorkloadPriorityClass. */
  priorityLabel: 'kueue.x-k8s.io/priority-class',
  /** On every pack pod: the attempt's group, `<job>-a<attempt>` (also the name of Kueue's Workload). */
  groupLabel: 'kueue.x-k8s.io/pod-group-name',
  /** On every pack pod: how many pods the group has (the packs). */
  totalCountAnnotation: 'kueue.x-k8s.io/pod-group-total-count',
  /** "false" on every pack pod: a failed pack ends the group; kubeburst restarts the gang as a new group. */
  retriableAnnotation: 'kueue.x-k8s.io/retriable-in-group',
  /** Added by Kueue's webhook to a pod it manages. */
  managedLabel: 'kueue.x-k8s.io/managed',
  /** Added by Kueue's webhook; lifted from every pod of the group once Kueue admits it. */
  gate: 'kueue.x-k8s.io/admission',
  /** Every gate Kueue adds starts so (kueue.x-k8s.io/topology too, lifted at admission for a flavor without topology). */
  gatePrefix: 'kueue.x-k8s.io/',
  /** The pod condition Kueue sets on the pods of a group it evicts or preempts, before deleting them. */
  stopCondition: 'TerminationTarget',
  api: { group: 'kueue.x-k8s.io', version: 'v1beta2', resource: 'workloads' },
} as const;

/** Every pack pod carries this gate until the whole gang is admitted. */
export const GANG_SCHEDULING_GATE = `${API_GROUP}/gang`;

/** Held only while broker state outside the cluster (Redis keys) may need deleting. */
export const BROKER_FINALIZER = `${API_GROUP}/broker-cleanup`;

/**
 * Pending: pods being created, or all created and gated, waiting for room. Starting: gates lifted, packs being
 * scheduled and started. Running: every pack runs. Restarting: an attempt ended early; the next starts after a
 * backoff. Suspended: spec.suspend, no pods. Succeeded / Failed: final.
 */
export const PHASES = ['Pending', 'Starting', 'Running', 'Restarting', 'Suspended', 'Succeeded', 'Failed'] as const;
export type Phase = (typeof PHASES)[number];
export const FINISHED_PHASES: readonly Phase[] = ['Succeeded', 'Failed'];

/** metav1.Condition types on a BurstJob. */
export const CONDITION = {
  /** The gang fits and its gates were lifted (False: why it waits). */
  Admitted: 'Admitted',
  /** Every pack pod of the current attempt is bound to a node. */
  PacksScheduled: 'PacksScheduled',
  /** Every pack joined the start barrier (every pod Ready). */
  Started: 'Started',
  Suspended: 'Suspended',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
} as const;
export type ConditionType = (typeof CONDITION)[keyof typeof CONDITION];

/** Condition reasons (CamelCase, as metav1.Condition requires). Also used as event reasons where they match. */
export const REASON = {
  // Admitted
  CreatingPods: 'CreatingPods',
  GangAdmitted: 'GangAdmitted',
  InsufficientCapacity: 'InsufficientCapacity',
  PackTooLarge: 'PackTooLarge',
  QueuedBehind: 'QueuedBehind',
  /** PodGroup backend: every pod exists; kube-scheduler places the group all or nothing. */
  HandedToScheduler: 'HandedToScheduler',
  /** Kueue backend: every pod exists; Kueue has not admitted the pod group yet (quota, queue order). */
  QueuedInKueue: 'QueuedInKueue',
  /** Kueue backend: Kueue admitted the pod group and lifted its gate from every pod. */
  AdmittedByKueue: 'AdmittedByKueue',
  /** spec.gang.backend names an API the cluster does not serve (PodGroup, Kueue), or Kueue is missing its label. */
  GangBackendUnavailable: 'GangBackendUnavailable',
  // PacksScheduled
  WaitingForScheduler: 'WaitingForScheduler',
  AllPacksScheduled: 'AllPacksScheduled',
  ScheduleTimeout: 'ScheduleTimeout',
  // Started
  WaitingForJoin: 'WaitingForJoin',
  AllPacksJoined: 'AllPacksJoined',
  StartTimeout: 'StartTimeout',
  // Attempts and outcomes
  PackFailed: 'PackFailed',
  PackLost: 'PackLost',
  BackoffRestart: 'BackoffRestart',
  MaxRestartsExceeded: 'MaxRestartsExceeded',
  MaxScheduleRetriesExceeded: 'MaxScheduleRetriesExceeded',
  DeadlineExceeded: 'DeadlineExceeded',
  AllPacksSucceeded: 'AllPacksSucceeded',
  JobSuspended: 'JobSuspended',
  JobResumed: 'JobResumed',
  InvalidSpec: 'InvalidSpec',
  WaitingForOldPods: 'WaitingForOldPods',
} as const;
export type Reason = (typeof REASON)[keyof typeof REASON];

/** Event reasons (kubectl describe burstjob). */
export const EVENT = {
  GangAdmitted: REASON.GangAdmitted,
  HandedToScheduler: REASON.HandedToScheduler,
  QueuedInKueue: REASON.QueuedInKueue,
  AdmittedByKueue: REASON.AdmittedByKueue,
  InsufficientCapacity: REASON.InsufficientCapacity,
  PackTooLarge: REASON.PackTooLarge,
  QueuedBehind: REASON.QueuedBehind,
  ScheduleTimeout: REASON.ScheduleTimeout,
  StartTimeout: REASON.StartTimeout,
  Started: 'Started',
  PackFailed: REASON.PackFailed,
  PackLost: REASON.PackLost,
  Restarting: 'Restarting',
  Succeeded: 'Succeeded',
  Failed: 'Failed',
  Suspended: 'Suspended',
  Resumed: 'Resumed',
  DeadlineExceeded: REASON.DeadlineExceeded,
  ResultsIncomplete: 'ResultsIncomplete',
  BrokerCleanupFailed: 'BrokerCleanupFailed',
  CredentialsInSpec: 'CredentialsInSpec',
  ReconcileError: 'ReconcileError',
  InvalidSpec: REASON.InvalidSpec,
} as const;
export type EventReason = (typeof EVENT)[keyof typeof EVENT];
