/**
 * Readable builders for planner tests: `burstJob('j').size(960).granularity(48).obj()`,
 * `node('n1').cpu(48).free(12).obj()`, and a tiny in-memory World that applies a plan's actions the way
 * the executor would, so a test can walk a BurstJob through its life one reconcile at a time. Test support:
 * src/testing is not compiled into dist (operator/tsconfig.json); tsconfig.test.json type-checks it.
 * @module
 */
import { BurstJobSpec, type BurstJobSpecInput, type BurstJobStatus } from '@kubeburst/api';
import { parseTerminationReport } from '@kubeburst/worker-runtime';
import type { NodeView, Resources, Taint } from '../planner/capacity.js';
import { decodeLayout, packRanges } from '../planner/layout.js';
import { plan } from '../planner/plan.js';
import { packPodName } from '../planner/pods.js';
import type { Action, JobView, Observed, ObservedPod, ObservedPodGroup, ObservedService, Plan, Policy } from '../planner/types.js';

export const T0 = Date.parse('2026-01-01T00:00:00.000Z');
export const GI = 2 ** 30;

class JobBuilder {
  private spec: BurstJobSpecInput = { size: 4, function: { module: '/app/worker.js' } };
  private meta: Partial<JobView> = {};
  constructor(private readonly name: string) {}
  size(n: number): this {
    this.spec.size = n;
    return this;
  }
  granularity(g: number): this {
    this.spec.granularity = g;
    return this;
  }
  auto(maxGranularity?: number): this {
    this.spec.packing = { mode: 'Auto', ...(maxGranularity ? { maxGranularity } : {}) };
    return this;
  }
  cpu(cpu: string): this {
    this.spec.resources = { ...this.spec.resources, cpu };
    return this;
  }
  memory(memory: string): this {
    this.spec.resources = { ...this.spec.resources, memory };
    return this;
  }
  transport(kind: 'direct' | 'redis' | 'nats', url?: string): this {
    this.spec.transport = { kind, ...(url ? { url } : {}) };
    return this;
  }
  maxRestarts(n: number): this {
    this.spec.maxRestarts = n;
    return this;
  }
  maxScheduleRetries(n: number): this {
    this.spec.gang = { ...this.spec.gang, maxScheduleRetries: n };
    return this;
  }
  /** The BurstJob's kueue.x-k8s.io/queue-name (and priority-class) labels. */
  queue(queueName: string, priorityClass?: string): this {
    this.meta.kueue = { queueName, ...(priorityClass ? { priorityClass } : {}) };
    return this;
  }
  backend(b: 'Auto' | 'SchedulingGates' | 'PodGroup' | 'Kueue'): this {
    this.spec.gang = { ...this.spec.gang, backend: b };
    return this;
  }
  scheduleSeconds(s: number): this {
    this.spec.timeouts = { ...this.spec.timeouts, scheduleSeconds: s };
    return this;
  }
  deadline(s: number): this {
    this.spec.activeDeadlineSeconds = s;
    return this;
  }
  ttl(s: number): this {
    this.spec.ttlSecondsAfterFinished = s;
    return this;
  }
  suspended(on = true): this {
    this.spec.suspend = on;
    return this;
  }
  nodeSelector(sel: Record<string, string>): this {
    this.spec.template = { ...this.spec.template, nodeSelector: sel };
    return this;
  }
  params(p: BurstJobSpecInput['params']): this {
    this.spec.params = p;
    return this;
  }
  with(patch: Partial<BurstJobSpecInput>): this {
    this.spec = { ...this.spec, ...patch };
    return this;
  }
  created(at: number): this {
    this.meta.creationTimestamp = at;
    return this;
  }
  status(s: BurstJobStatus): this {
    this.meta.status = s;
    return this;
  }
  obj(): JobView {
    return {
      name: this.name,
      namespace: 'ns',
      uid: `uid-${this.name}-0000-0000`,
      generation: 1,
      creationTimestamp: T0,
      finalizers: [],
      status: {},
      ...this.meta,
      spec: BurstJobSpec.parse(this.spec),
    };
  }
}
export const burstJob = (name: string): JobBuilder => new JobBuilder(name);

class NodeBuilder {
  private n: NodeView;
  constructor(name: string) {
    const alloc: Resources = { cpu: 32_000, memory: 128 * GI, pods: 110 };
    this.n = { name, labels: { 'kubernetes.io/hostname': name }, taints: [], schedulable: true, allocatable: alloc, free: { ...alloc }, burstable: { ...alloc } };
  }
  cpu(cores: number): this {
    this.n.allocatable = { ...this.n.allocatable, cpu: cores * 1000 };
    this.n.free = { ...this.n.free, cpu: cores * 1000 };
    this.n.burstable = { ...this.n.burstable, cpu: cores * 1000 };
    return this;
  }
  memoryGi(gi: number): this {
    this.n.allocatable = { ...this.n.allocatable, memory: gi * GI };
    this.n.free = { ...this.n.free, memory: gi * GI };
    this.n.burstable = { ...this.n.burstable, memory: gi * GI };
    return this;
  }
  /** Free CPU cores (what bound pods leave; here, other bursts' pods). */
  free(cores: number): this {
    this.n.free = { ...this.n.free, cpu: cores * 1000 };
    return this;
  }
  /** CPU cores held by pods that are not bursts (a DaemonSet): taken from free and from burstable. */
  heldByOthers(cores: number): this {
    this.n.free = { ...this.n.free, cpu: this.n.free.cpu - cores * 1000 };
    this.n.burstable = { ...this.n.burstable, cpu: this.n.burstable.cpu - cores * 1000 };
    return this;
  }
  label(k: string, v: string): this {
    this.n.labels = { ...this.n.labels, [k]: v };
    return this;
  }
  taint(key: string, effect: Taint['effect'], value?: string): this {
    this.n.taints = [...this.n.taints, { key, effect, ...(value ? { value } : {}) }];
    return this;
  }
  cordoned(): this {
    this.n.schedulable = false;
    return this;
  }
  obj(): NodeView {
    return this.n;
  }
}
export const node = (name: string): NodeBuilder => new NodeBuilder(name);
export const nodes = (count: number, cores: number): NodeView[] => Array.from({ length: count }, (_, i) => node(`n${i}`).cpu(cores).obj());

export const TEST_POLICY: Policy = { backoffBaseMs: 10_000, backoffMaxMs: 60_000, admissionRecheckMs: 30_000, brokerCleanupGiveUpMs: 300_000, strictFifoAfterMs: 600_000 };

/** A pack report as the runtime writes it into the termination message. */
export function reportMessage(first: number, results: unknown[], ok = true): string {
  return JSON.stringify({ v: 1, burst: 'b', pack: 0, ok, first, results, joined: 1, finished: 2 });
}

/** A pack container's termination as observePod files it: the report when `message` is one, else the text. */
export function termination(exitCode: number, reason: string, message: string): NonNullable<ObservedPod['terminated']> {
  const report = parseTerminationReport(message);
  return { exitCode, reason, ...(report !== undefined ? { report } : { message }) };
}

/**
 * A cluster in miniature: pods as the planner sees them, nodes, and a clock. `reconcile()` runs the planner
 * and applies its actions like the executor: creates gated pods, lifts gates, deletes pods, keeps the status.
 */
export class World {
  pods = new Map<string, ObservedPod>();
  events: Extract<Action, { kind: 'event' }>[] = [];
  actions: Action[] = [];
  last!: Plan;
  now = T0;
  results: Record<string, string> | undefined;
  deleted = false;
  /** Attempts whose Secret exists. */
  readonly secrets = new Set<number>();
  observed: Omit<Observed, 'pods' | 'service' | 'podGroups'>;
  /** PodGroups by name (ensurePodGroup creates them; deletes wait for finishDeletes, like the protection finalizer). */
  podGroups = new Map<string, ObservedPodGroup & { minCount: number }>();
  /** The job's headless Service (ensureService creates it owned by the job). */
  service: ObservedService | undefined;
  /** Kueue's webhook selects the namespace (gang.backend Kueue). */
  kueueTakesPods = true;

  constructor(
    public job: JobView,
    nodeList: NodeView[] = nodes(4, 64),
    readonly policy: Policy = TEST_POLICY,
  ) {
    this.observed = { nodes: nodeList, reserved: [], ahead: [] };
  }

  reconcile(): Plan {
    const groups = [...this.podGroups.values()].map(({ minCount: _m, ...g }) => g);
    const p = plan(this.job, { ...this.observed, pods: [...this.pods.values()], podGroups: groups, ...(this.service ? { service: this.service } : {}) }, this.now, this.policy);
    this.last = p;
    this.actions.push(...p.actions);
    for (const a of p.actions) this.apply(a);
    if (p.status !== undefined) this.job = { ...this.job, status: p.status };
    return p;
  }

  /** Reconciles until nothing changes (at most n times). */
  settle(n = 10): Plan {
    let before = '';
    for (let i = 0; i < n; i++) {
      const p = this.reconcile();
      const after = JSON.stringify([p.status, [...this.pods.values()]]);
      if (after === before && p.actions.every((a) => a.kind === 'event')) return p;
      before = after;
    }
    return this.last;
  }

  advance(ms: number): this {
    this.now += ms;
    return this;
  }

  get status(): BurstJobStatus {
    return this.job.status;
  }

  podList(): ObservedPod[] {
    return [...this.pods.values()].sort((a, b) => a.attempt - b.attempt || a.pack - b.pack);
  }

  /** The scheduler binds every ungated pod and kwok starts it (Running, Ready = joined). */
  startAll(opts: { ready?: boolean; bindOnly?: number } = {}): this {
    let budget = opts.bindOnly ?? Infinity;
    for (const p of this.podList()) {
      if (p.gated || p.kueue?.gated || p.nodeName !== undefined || p.deleting) continue;
      if (budget-- <= 0) {
        p.unschedulable = '0/4 nodes are available: 4 Insufficient cpu.';
        continue;
      }
      Object.assign(p, { nodeName: 'n0', phase: 'Running', ready: opts.ready ?? true });
    }
    return this;
  }

  /** Every running pod exits 0 with its results (worker id × 10 by default). */
  succeedAll(result: (worker: number) => unknown = (w) => w * 10): this {
    const sizes = decodeLayout(this.status.attempt!.layout);
    const ranges = packRanges(sizes);
    for (const p of this.pods.values()) {
      if (p.phase !== 'Running') continue;
      const r = ranges[p.pack]!;
      const results = Array.from({ length: r.end - r.start }, (_, i) => result(r.start + i));
      Object.assign(p, { phase: 'Succeeded', ready: false, terminated: termination(0, 'Completed', reportMessage(r.start, results)) });
    }
    return this;
  }

  fail(pack: number, message = 'exit code 1'): this {
    const p = this.podList().find((x) => x.pack === pack && x.attempt === this.status.attempt!.index)!;
    Object.assign(p, { phase: 'Failed', ready: false, terminated: termination(1, 'Error', message) });
    return this;
  }

  /** Kueue admits the current attempt's pod group: its gate goes from every pod (or the first `only`). */
  kueueAdmit(only = Infinity): this {
    for (const p of this.podList()) if (p.kueue?.gated && only-- > 0) p.kueue.gated = false;
    return this;
  }

  /** Kueue evicts or preempts the group: TerminationTarget on every live pod of the attempt, then deletes them. */
  kueueStop(why: string): this {
    for (const p of this.podList())
      if (p.kueue && !p.deleting && p.attempt === this.status.attempt!.index) Object.assign(p, { deleting: true, kueue: { ...p.kueue, stopped: why } });
    return this;
  }

  /** Deleted pods disappear (kwok has no grace period), and PodGroups none of whose pods is left. */
  finishDeletes(): this {
    for (const [k, p] of this.pods) if (p.deleting) this.pods.delete(k);
    for (const [k, g] of this.podGroups) if (g.deleting && ![...this.pods.values()].some((p) => p.attempt === g.attempt)) this.podGroups.delete(k);
    return this;
  }

  private apply(a: Action): void {
    switch (a.kind) {
      case 'createPods':
        for (const pack of a.packs) {
          const name = packPodName(this.job.name, a.attempt, pack);
          if (!this.pods.has(name))
            this.pods.set(name, {
              name,
              attempt: a.attempt,
              pack,
              gated: a.backend === 'SchedulingGates',
              phase: 'Pending',
              ready: false,
              deleting: false,
              // Kueue's webhook takes the pod and gates it (unless kueueTakesPods is off: a namespace Kueue ignores).
              ...(a.backend === 'Kueue' ? { kueue: { managed: this.kueueTakesPods, gated: this.kueueTakesPods } } : {}),
            });
        }
        return;
      case 'ensurePodGroup': {
        const name = `${this.job.name}-a${a.attempt}`;
        if (!this.podGroups.has(name)) this.podGroups.set(name, { name, attempt: a.attempt, deleting: false, minCount: a.minCount });
        return;
      }
      case 'deletePodGroups':
        for (const n of a.names) {
          const g = this.podGroups.get(n);
          if (g) g.deleting = true;
        }
        return;
      case 'ensureService':
        if (this.service?.ownerUid !== this.job.uid) this.service = { ownerUid: this.job.uid, deleting: false };
        return;
      case 'ungatePods':
        for (const n of a.pods) this.pods.get(n)!.gated = false;
        return;
      case 'deletePods':
        for (const n of a.pods) {
          const p = this.pods.get(n);
          if (p) p.deleting = true;
        }
        return;
      case 'event':
        this.events.push(a);
        return;
      case 'writeResults':
        this.results = a.data;
        return;
      case 'deleteJob':
        this.deleted = true;
        return;
      case 'addFinalizer':
        this.job = { ...this.job, finalizers: [...this.job.finalizers, 'kubeburst.io/broker-cleanup'] };
        return;
      case 'ensureSecret':
        this.secrets.add(a.attempt);
        return;
      case 'deleteSecrets':
        for (const at of a.attempts) this.secrets.delete(at);
        return;
      default:
        return;
    }
  }
}

export const kinds = (p: Plan): string[] => p.actions.map((a) => (a.kind === 'event' ? `event:${a.reason}` : a.kind));
export const condition = (s: BurstJobStatus, type: string) => s.conditions?.find((c) => c.type === type);
