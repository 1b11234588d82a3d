import type { TerminationReport } from '../../../worker-runtime/src/pack/termination.js';
import type { KubeClient } from '../../../operator/src/controller/kube.js';
import { GANG_SCHEDULING_GATE, LABELS } from '@kubeburst/api';
import { list, paths, type Json } from './kube.js';
import { OperatorUnderTest } from './operator.js';
import type { NodePool } from './pool.js';
import { waitFor } from './wait.js';

/**
 * BurstJobs in a test namespace, on a test node pool, and the stand-in for what kwok cannot do: a pack's
 * exit. kwok runs no containers, so a test ends a pack the way the runtime would, through kwok's stages:
 * `kubeburst.io/kwok-phase: Succeeded|Failed` plus the termination message the pack would have written
 * (`kubeburst.io/kwok-message`), which kwok copies into the pod status like a kubelet.
 */
export class Flares {
  constructor(
    readonly kube: KubeClient,
    readonly ns: string,
    readonly pool: NodePool,
  ) {}

  manifest(name: string, spec: Json, labels: Record<string, string> = {}): Json {
    return {
      apiVersion: 'kubeburst.io/v1alpha1',
      kind: 'BurstJob',
      metadata: { name, namespace: this.ns, labels },
      spec: { function: { module: '/opt/kubeburst/app/worker.js' }, ...spec, template: { ...this.pool.template, ...spec.template } },
    };
  }

  create(name: string, spec: Json, labels?: Record<string, string>): Promise<Json> {
    return this.kube.create(paths.burstjobs(this.ns), this.manifest(name, spec, labels));
  }

  get(name: string): Promise<Json> {
    return this.kube.get(paths.burstjob(this.ns, name));
  }

  async waitStatus(name: string, what: string, pred: (status: Json, job: Json) => boolean, timeoutMs = 60_000): Promise<Json> {
    let last: Json | undefined;
    try {
      return await waitFor(
        `${name}: ${what}`,
        async () => {
          last = await this.get(name);
          return pred(last.status ?? {}, last) ? last : undefined;
        },
        timeoutMs,
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}\nlast status: ${JSON.stringify(last?.status, null, 1)}\n${OperatorUnderTest.describeAll()}`);
    }
  }

  waitPhase(name: string, phase: string, timeoutMs = 60_000): Promise<Json> {
    return this.waitStatus(name, `phase ${phase}`, (s) => s.phase === phase, timeoutMs);
  }

  pods(name: string): Promise<Json[]> {
    return list(this.kube, paths.pods(this.ns), `${LABELS.jobName}=${name}`);
  }

  async events(name: string): Promise<Json[]> {
    const r = await this.kube.get<{ items: Json[] }>(`${paths.events(this.ns)}?fieldSelector=${encodeURIComponent(`involvedObject.name=${name},involvedObject.kind=BurstJob`)}`);
    return r.items;
  }

  /** Every running pack of the current attempt exits 0, reporting results(worker) for its workers. */
  async complete(name: string, results: (worker: number) => unknown = (w) => ({ worker: w, square: w * w })): Promise<void> {
    const job = await this.get(name);
    const attempt = String(job.status.attempt.index);
    const pods = (await this.pods(name)).filter((p) => p.metadata.labels[LABELS.attempt] === attempt);
    await Promise.all(
      pods.map((p) => {
        const [start, end] = (p.metadata.annotations['kubeburst.io/workers'] as string).split('-').map(Number) as [number, number];
        const report: TerminationReport = {
          v: 1,
          burst: p.metadata.annotations['kubeburst.io/burst-id'],
          pack: Number(p.metadata.labels[LABELS.packIndex]),
          ok: true,
          first: start,
          results: Array.from({ length: end - start + 1 }, (_, i) => results(start + i)),
          joined: Date.now() - 10,
          finished: Date.now(),
        };
        return this.annotate(p.metadata.name, { 'kubeburst.io/kwok-phase': 'Succeeded', 'kubeburst.io/kwok-message': JSON.stringify(report) });
      }),
    );
  }

  /** One pack exits 1 with the report a failing pack writes. */
  fail(pod: string, reason: string, failedWorker?: number): Promise<Json> {
    const report = { v: 1, burst: 'x', pack: 0, ok: false, first: 0, abort: { reason, ...(failedWorker !== undefined ? { failedWorker } : {}) }, joined: 0, finished: Date.now() };
    return this.annotate(pod, { 'kubeburst.io/kwok-phase': 'Failed', 'kubeburst.io/kwok-message': JSON.stringify(report) });
  }

  annotate(pod: string, annotations: Record<string, string>): Promise<Json> {
    return this.kube.patch(paths.pod(this.ns, pod), { metadata: { annotations } });
  }

  delete(name: string): Promise<Json> {
    return this.kube.delete(paths.burstjob(this.ns, name));
  }
}

export const condition = (job: Json, type: string): Json | undefined => (job.status?.conditions ?? []).find((c: Json) => c.type === type);

export interface PodRecord {
  name: string;
  /** ms when the test first saw the pod, and whether it had the gang gate then. */
  seen: number;
  gatedWhenCreated: boolean;
  ungatedAt?: number;
  boundAt?: number;
  node?: string;
}

/**
 * Watches a job's pods from the outside and remembers, per pod, when it appeared (and whether it was
 * gated then), when its gate went and when it was bound: the gang invariants are assertions on this.
 */
export class PodRecorder {
  readonly pods = new Map<string, PodRecord>();
  private readonly abort = new AbortController();
  private done: Promise<void> | undefined;

  constructor(
    private readonly kube: KubeClient,
    private readonly ns: string,
    private readonly selector: string,
  ) {}

  async start(): Promise<void> {
    const initial = await this.kube.get<{ metadata: { resourceVersion: string } }>(`${paths.pods(this.ns)}?labelSelector=${encodeURIComponent(this.selector)}`);
    this.done = this.kube
      .watch(paths.pods(this.ns), { labelSelector: this.selector, resourceVersion: initial.metadata.resourceVersion }, (type, pod) => this.observe(type, pod), this.abort.signal)
      .catch(() => undefined);
  }

  private observe(type: string, pod: Json): void {
    if (type !== 'ADDED' && type !== 'MODIFIED') return;
    const now = Date.now();
    const gated = (pod.spec?.schedulingGates ?? []).some((g: Json) => g.name === GANG_SCHEDULING_GATE);
    let r = this.pods.get(pod.metadata.name);
    if (r === undefined) {
      r = { name: pod.metadata.name, seen: now, gatedWhenCreated: type === 'ADDED' && gated };
      this.pods.set(r.name, r);
    }
    if (!gated && r.ungatedAt === undefined) r.ungatedAt = now;
    if (pod.spec?.nodeName && r.boundAt === undefined) {
      r.boundAt = now;
      r.node = pod.spec.nodeName;
    }
  }

  async stop(): Promise<void> {
    this.abort.abort();
    await this.done;
  }
}
