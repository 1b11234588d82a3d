import { BurstJobSpec, describeIssues, GANG_SCHEDULING_GATE, KIND, KUEUE, LABELS, PODGROUP_SCHEDULED_CONDITION, readStatus } from '@kubeburst/api';
import { PACK_POD as POD, parseTerminationReport, type TerminationReport } from '@kubeburst/worker-runtime';
import { add, ZERO, type NodeView, type Resources } from '../planner/capacity.js';
import { bytes, cpuMillis } from '../planner/quantity.js';
import type { JobView, ObservedPod, ObservedPodGroup, ObservedService, ObservedWorkload, PodPhase } from '../planner/types.js';
import type { Json } from './kube.js';

/** Kubernetes objects → the planner's views. Pure; the controller calls these on informer objects. */

export function jobView(obj: Json): JobView {
  const m = obj.metadata ?? {};
  // A spec the schema itself cannot get through (it throws) is an invalid spec too: one job's spec must not
  // take down the reconcile of every job that lists it.
  let parsed: ReturnType<typeof BurstJobSpec.safeParse>;
  let thrown: string | undefined;
  try {
    parsed = BurstJobSpec.safeParse(obj.spec ?? {});
  } catch (err) {
    parsed = { success: false } as ReturnType<typeof BurstJobSpec.safeParse>;
    thrown = `spec: cannot be read (${(err as Error).message})`;
  }
  const specError = parsed.success
    ? undefined
    : (thrown ??
      describeIssues(parsed.error, BurstJobSpec, 'spec')
        .map((i) => `${i.path}: ${i.rule}`)
        .join('; '));
  return {
    name: m.name,
    namespace: m.namespace,
    uid: m.uid,
    generation: m.generation ?? 0,
    creationTimestamp: Date.parse(m.creationTimestamp ?? new Date(0).toISOString()),
    ...(m.deletionTimestamp ? { deletionTimestamp: Date.parse(m.deletionTimestamp) } : {}),
    finalizers: m.finalizers ?? [],
    ...kueueOf(m.labels ?? {}),
    // An invalid spec still needs a value for the planner's bookkeeping; it is never used to build pods.
    // Its lifecycle knobs are kept when they are valid on their own, so a failed job still expires (TTL).
    spec: parsed.success ? parsed.data : placeholderSpec(obj.spec),
    ...(specError !== undefined ? { specError } : {}),
    status: readStatus(obj.status),
  };
}

function kueueOf(labels: Record<string, string>): Pick<JobView, 'kueue'> {
  const queueName = labels[KUEUE.queueLabel];
  if (!queueName) return {};
  const priorityClass = labels[KUEUE.priorityLabel];
  return { kueue: { queueName, ...(priorityClass ? { priorityClass } : {}) } };
}

/** Kueue's Workload of a pod group: why it waits, in Kueue's words (QuotaReserved=False). */
export function observeWorkload(w: Json): ObservedWorkload {
  const c = (w.status?.conditions ?? []).find((x: Json) => x.type === 'QuotaReserved');
  return { name: w.metadata.name, ...(c?.status === 'False' && c.message ? { pending: String(c.message) } : {}) };
}

function placeholderSpec(raw: unknown): BurstJobSpec {
  const ttl = BurstJobSpec.shape.ttlSecondsAfterFinished.safeParse((raw as Json | undefined)?.ttlSecondsAfterFinished);
  return BurstJobSpec.parse({ size: 1, function: { module: '-' }, ...(ttl.success && ttl.data !== undefined ? { ttlSecondsAfterFinished: ttl.data } : {}) });
}

/** An object's controller (the ownerReference with controller: true), if it has one. */
export function controllerOf(obj: Json | undefined): { kind: string; name: string; uid: string } | undefined {
  return (obj?.metadata?.ownerReferences ?? []).find((o: Json) => o.controller === true);
}

/** The uid of the BurstJob that controls `obj`, if one does. */
export function burstJobOwnerOf(obj: Json | undefined): string | undefined {
  const c = controllerOf(obj);
  return c?.kind === KIND ? c.uid : undefined;
}

export function observeService(svc: Json | undefined): ObservedService | undefined {
  if (svc === undefined) return undefined;
  return { ownerUid: burstJobOwnerOf(svc), deleting: svc.metadata?.deletionTimestamp !== undefined && svc.metadata?.deletionTimestamp !== null };
}

export function observePodGroup(g: Json): ObservedPodGroup {
  const c = (g.status?.conditions ?? []).find((x: Json) => x.type === PODGROUP_SCHEDULED_CONDITION);
  return {
    name: g.metadata.name,
    attempt: Number(g.metadata.labels?.[LABELS.attempt] ?? -1),
    deleting: g.metadata.deletionTimestamp !== undefined && g.metadata.deletionTimestamp !== null,
    ...(c ? { scheduled: { status: c.status, ...(c.reason ? { reason: c.reason } : {}), ...(c.message ? { message: c.message } : {}) } } : {}),
  };
}

/**
 * A pod as the planner sees it, its pack's termination report parsed (once, here). `redact` is applied to
 * the text the pod's status quotes from the pack or the kubelet (a termination message that is not the
 * pack's report, waiting and pod messages), which
 * Kubernetes may have cut: before the planner composes it into Events and status, so a secret cut there is
 * masked where the cut is. A pack's report is kept as it is: it holds the workers' results, which are
 * theirs (a URL or a number in them is data), and it is written to fit, never cut; what the planner quotes
 * of it (the abort reason) is redacted with the status.
 */
export function observePod(pod: Json, redact: (text: string) => string = (t) => t): ObservedPod {
  const labels = pod.metadata?.labels ?? {};
  const st = pod.status ?? {};
  const container = (st.containerStatuses ?? []).find((c: Json) => c.name === POD.container) ?? st.containerStatuses?.[0];
  const term = container?.state?.terminated;
  const waiting = container?.state?.waiting;
  const ready = (st.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
  const scheduled = (st.conditions ?? []).find((c: Json) => c.type === 'PodScheduled');
  return {
    name: pod.metadata.name,
    attempt: Number(labels[LABELS.attempt] ?? -1),
    pack: Number(labels[LABELS.packIndex] ?? -1),
    gated: (pod.spec?.schedulingGates ?? []).some((g: Json) => g.name === GANG_SCHEDULING_GATE),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    phase: (st.phase ?? 'Pending') as PodPhase,
    ready,
    deleting: pod.metadata.deletionTimestamp !== undefined && pod.metadata.deletionTimestamp !== null,
    ...(term
      ? {
          terminated: {
            exitCode: term.exitCode ?? 0,
            ...(term.reason ? { reason: term.reason } : {}),
            ...terminationText(term.message, redact),
            ...(term.finishedAt ? { finishedAt: term.finishedAt } : {}),
          },
        }
      : {}),
    ...(waiting?.reason ? { waiting: { reason: waiting.reason, ...(waiting.message ? { message: redact(waiting.message) } : {}) } } : {}),
    ...(st.reason ? { reason: st.reason } : {}),
    ...(st.message ? { message: redact(st.message) } : {}),
    ...(scheduled?.status === 'False' && scheduled.reason === 'Unschedulable' && scheduled.message ? { unschedulable: redact(scheduled.message) } : {}),
    ...(labels[KUEUE.groupLabel] !== undefined ? { kueue: kueuePod(pod) } : {}),
  };
}

/** A termination message as the pack's report, when it is one; else as text, redacted. */
function terminationText(message: string | undefined, redact: (text: string) => string): { report?: TerminationReport; message?: string } {
  const report = parseTerminationReport(message);
  if (report !== undefined) return { report };
  return message ? { message: redact(message) } : {};
}

function kueuePod(pod: Json): NonNullable<ObservedPod['kueue']> {
  const stop = (pod.status?.conditions ?? []).find((c: Json) => c.type === KUEUE.stopCondition && c.status === 'True');
  return {
    managed: pod.metadata.labels?.[KUEUE.managedLabel] === 'true',
    gated: (pod.spec?.schedulingGates ?? []).some((g: Json) => String(g.name).startsWith(KUEUE.gatePrefix)),
    ...(stop ? { stopped: [stop.reason, stop.message].filter(Boolean).join(': ') || KUEUE.stopCondition } : {}),
  };
}

/** What the scheduler accounts a pod for: max(sum of containers, largest init container) + overhead. */
export function podRequests(pod: Json): Resources {
  const of = (c: Json): Resources => ({ cpu: cpuMillis(c.resources?.requests?.cpu), memory: bytes(c.resources?.requests?.memory), pods: 0 });
  let sum = ZERO;
  for (const c of pod.spec?.containers ?? []) sum = add(sum, of(c));
  for (const c of pod.spec?.initContainers ?? []) {
    const r = of(c);
    if (c.restartPolicy === 'Always')
      sum = add(sum, r); // sidecars run alongside
    else sum = { cpu: Math.max(sum.cpu, r.cpu), memory: Math.max(sum.memory, r.memory), pods: 0 };
  }
  const o = pod.spec?.overhead ?? {};
  return { cpu: sum.cpu + cpuMillis(o.cpu), memory: sum.memory + bytes(o.memory), pods: 1 };
}

/**
 * What the pack-pod cache keeps of a pod: what observePod, gang admission (podRequests) and the executor
 * (gates, owner) read. The rest, managedFields above all, and the containers' env, mounts and probes,
 * made a pack pod several times the size of what is read (the test shows the slim copy under a third of
 * it): at 100 000 pods past the operator's memory limit, in a crash loop that stopped every job.
 */
export function slimPackPod(pod: Json): Json {
  const { managedFields: _m, ...metadata } = pod.metadata ?? {};
  const container = (c: Json): Json => ({ name: c.name, ...(c.resources ? { resources: c.resources } : {}), ...(c.restartPolicy ? { restartPolicy: c.restartPolicy } : {}) });
  const s = pod.spec ?? {};
  return {
    ...(pod.kind !== undefined ? { apiVersion: pod.apiVersion, kind: pod.kind } : {}),
    metadata,
    spec: {
      ...(s.nodeName ? { nodeName: s.nodeName } : {}),
      ...(s.schedulingGates ? { schedulingGates: s.schedulingGates } : {}),
      containers: (s.containers ?? []).map(container),
      ...(s.initContainers ? { initContainers: s.initContainers.map(container) } : {}),
      ...(s.overhead ? { overhead: s.overhead } : {}),
    },
    status: pod.status ?? {},
  };
}

/** The slim record the cluster-wide pod cache keeps (one per bound, unfinished pod). */
export interface BoundPod {
  metadata: { namespace: string; name: string; uid?: string; resourceVersion?: string };
  nodeName: string;
  requests: Resources;
  /** A BurstJob's pack pod (it ends with its burst; other pods may hold their room for good). */
  pack: boolean;
}

export function slimBoundPod(pod: Json): BoundPod {
  return {
    metadata: { namespace: pod.metadata.namespace, name: pod.metadata.name, uid: pod.metadata.uid, resourceVersion: pod.metadata.resourceVersion },
    nodeName: pod.spec?.nodeName ?? '',
    requests: podRequests(pod),
    pack: pod.metadata.labels?.[LABELS.jobUid] !== undefined,
  };
}

export function nodeAllocatable(node: Json): Resources {
  const a = node.status?.allocatable ?? {};
  return { cpu: cpuMillis(a.cpu), memory: bytes(a.memory), pods: Number(a.pods ?? 0) };
}

/** `used`: requests of every pod bound to the node; `usedByOthers`: of those that are not pack pods. */
export function nodeView(node: Json, used: Resources, usedByOthers: Resources): NodeView {
  const allocatable = nodeAllocatable(node);
  const ready = (node.status?.conditions ?? []).some((c: Json) => c.type === 'Ready' && c.status === 'True');
  return {
    name: node.metadata.name,
    labels: node.metadata.labels ?? {},
    taints: (node.spec?.taints ?? []).map((t: Json) => ({ key: t.key, ...(t.value ? { value: t.value } : {}), effect: t.effect })),
    schedulable: ready && !node.spec?.unschedulable,
    allocatable,
    free: add(allocatable, used, -1),
    burstable: add(allocatable, usedByOthers, -1),
  };
}
