import { LABELS } from '@kubeburst/api';
import { add, ZERO, type GangDemand, type NodeView, type Resources } from '../planner/capacity.js';
import { decodeLayout } from '../planner/layout.js';
import { gangDemand } from '../planner/pods.js';
import type { JobView } from '../planner/types.js';
import type { Json } from './kube.js';
import { burstJobOwnerOf, nodeView, podRequests, type BoundPod } from './observe.js';

/**
 * The cluster as gang admission sees it, assembled from the informer caches for one reconcile:
 *
 *   nodes     allocatable − requests of bound, unfinished pods (the cluster-wide cache, united with the
 *             pack pods' cache: whichever saw a binding first counts it)
 *   reserved  other BurstJobs' admitted-but-unbound pods: room promised to them
 *   ahead     older BurstJobs waiting for admission (queue order: creation time, namespace, name)
 *
 * The ledger closes the gap between "this reconcile lifted the gates" and "the caches show it": an
 * admission is recorded synchronously, in the same turn of the event loop as the plan that made it,
 * so the next reconcile (of any job) already counts that room as taken. Two gangs competing for the
 * same room are therefore admitted one after the other, never both.
 */
export class AdmissionLedger {
  private readonly admitted = new Map<string, { attempt: number; at: number }>();

  record(jobKey: string, attempt: number): void {
    this.admitted.set(jobKey, { attempt, at: Date.now() });
  }
  attemptOf(jobKey: string): number | undefined {
    return this.admitted.get(jobKey)?.attempt;
  }
  forget(jobKey: string): void {
    this.admitted.delete(jobKey);
  }
  /** Entries older than `ms` are dropped: by then the caches show the admission. */
  prune(ms: number): void {
    const cutoff = Date.now() - ms;
    for (const [k, v] of this.admitted) if (v.at < cutoff) this.admitted.delete(k);
  }
}

/** What the room is computed from: anything that lists cached objects (informers). */
export interface Listing<T> {
  list(): T[];
}

export interface RoomSources {
  nodes: Listing<Json>;
  boundPods: Listing<BoundPod>;
  ownPods: Listing<Json>;
  /** Parsed BurstJobs by namespace/name. */
  jobs: () => Iterable<JobView>;
}

const orderKey = (j: Pick<JobView, 'creationTimestamp' | 'namespace' | 'name'>): [number, string] => [j.creationTimestamp, `${j.namespace}/${j.name}`];
export const isOlder = (a: JobView, b: JobView): boolean => {
  const [ta, ka] = orderKey(a);
  const [tb, kb] = orderKey(b);
  return ta < tb || (ta === tb && ka < kb);
};

/**
 * Waiting for the operator's own admission (gates backend): a PodGroup gang waits in kube-scheduler
 * instead, a Kueue gang in Kueue's queue (neither is ahead of a gates gang in its FIFO). Once admitted, a
 * Kueue gang's unbound pods do count as reserved room (reserved()): they are about to bind.
 */
export function waitingForAdmission(j: JobView): boolean {
  return (
    j.deletionTimestamp === undefined &&
    !j.spec.suspend &&
    j.specError === undefined &&
    j.status.phase === 'Pending' &&
    j.status.attempt !== undefined &&
    (j.status.attempt.gangBackend ?? 'SchedulingGates') === 'SchedulingGates' &&
    j.status.attempt.admittedTime === undefined
  );
}

export class Room {
  constructor(
    private readonly src: RoomSources,
    private readonly ledger: AdmissionLedger,
  ) {}

  /**
   * Nodes with their free room. A pack pod the pack-pod cache shows bound is no longer "reserved" (that counts
   * only unbound pods), while the cluster-wide cache may not have its binding yet: counting it from either
   * cache (once, by pod uid) keeps its room from looking free to the next gang.
   */
  nodes(): NodeView[] {
    const byPod = new Map<string, { nodeName: string; requests: Resources; pack: boolean }>();
    for (const p of this.src.boundPods.list()) byPod.set(p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`, p);
    for (const p of this.src.ownPods.list()) {
      if (!p.spec?.nodeName || p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed') continue;
      const key = p.metadata.uid ?? `${p.metadata.namespace}/${p.metadata.name}`;
      if (!byPod.has(key)) byPod.set(key, { nodeName: p.spec.nodeName, requests: podRequests(p), pack: true });
    }
    const used = new Map<string, Resources>();
    const usedByOthers = new Map<string, Resources>();
    for (const p of byPod.values()) {
      used.set(p.nodeName, add(used.get(p.nodeName) ?? ZERO, p.requests));
      if (!p.pack) usedByOthers.set(p.nodeName, add(usedByOthers.get(p.nodeName) ?? ZERO, p.requests));
    }
    return this.src.nodes.list().map((n) => nodeView(n, used.get(n.metadata.name) ?? ZERO, usedByOthers.get(n.metadata.name) ?? ZERO));
  }

  /**
   * Unbound pods of other jobs' admitted attempts, grouped per job: pods the job controls (its uid in the
   * label and the controller owner reference) in the job's namespace. A label alone is anyone's to set: a
   * tenant's never-scheduled pods carrying some job's uid held room that no gang could then be admitted to.
   */
  reserved(exceptUid: string, jobsByUid: Map<string, JobView>): GangDemand[] {
    const byJob = new Map<string, Json[]>();
    for (const p of this.src.ownPods.list()) {
      const uid = p.metadata.labels?.[LABELS.jobUid];
      if (uid === undefined || uid === exceptUid || burstJobOwnerOf(p) !== uid) continue;
      const known = jobsByUid.get(uid);
      if (known !== undefined && p.metadata.namespace !== known.namespace) continue;
      const list = byJob.get(uid) ?? [];
      list.push(p);
      byJob.set(uid, list);
    }
    const out: GangDemand[] = [];
    for (const [uid, pods] of byJob) {
      const job = jobsByUid.get(uid);
      // A PodGroup gang's unbound pods are kube-scheduler's to place or not: they promise no room.
      if (job?.status.attempt?.gangBackend === 'PodGroup') continue;
      const key = job ? `${job.namespace}/${job.name}` : uid;
      const attempt = (job?.status.attempt?.admittedTime !== undefined ? job.status.attempt.index : undefined) ?? this.ledger.attemptOf(key) ?? ungatedAttempt(pods);
      if (attempt === undefined) continue;
      const unbound = pods.filter(
        (p) =>
          Number(p.metadata.labels?.[LABELS.attempt]) === attempt &&
          !p.spec?.nodeName &&
          !p.metadata.deletionTimestamp &&
          p.status?.phase !== 'Succeeded' &&
          p.status?.phase !== 'Failed',
      );
      if (unbound.length === 0) continue;
      const groups = new Map<string, { request: Resources; count: number }>();
      for (const p of unbound) {
        const r = podRequests(p);
        const k = `${r.cpu}/${r.memory}`;
        const g = groups.get(k) ?? { request: r, count: 0 };
        g.count++;
        groups.set(k, g);
      }
      out.push({
        key,
        groups: [...groups.values()],
        ...(job?.spec.template?.nodeSelector ? { nodeSelector: job.spec.template.nodeSelector } : {}),
        ...(job?.spec.template?.tolerations ? { tolerations: job.spec.template.tolerations } : {}),
      });
    }
    return out;
  }

  /** Older jobs still waiting to be admitted, oldest first. */
  ahead(job: JobView, all: readonly JobView[]): GangDemand[] {
    return all
      .filter((j) => j.uid !== job.uid && waitingForAdmission(j) && this.ledger.attemptOf(`${j.namespace}/${j.name}`) === undefined && isOlder(j, job))
      .sort((a, b) => (isOlder(a, b) ? -1 : 1))
      .flatMap((j) => {
        try {
          return [{ ...gangDemand(j, decodeLayout(j.status.attempt!.layout)), waitingSince: Date.parse(j.status.attempt!.startTime) }];
        } catch {
          return [];
        }
      });
  }
}

function ungatedAttempt(pods: Json[]): number | undefined {
  const p = pods.find((x) => !(x.spec?.schedulingGates ?? []).length && !x.metadata.deletionTimestamp);
  return p ? Number(p.metadata.labels?.[LABELS.attempt]) : undefined;
}
