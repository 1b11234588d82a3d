import { redactText } from '@kubeburst/worker-runtime';
import { COMPONENTS, EVENT, KUEUE, LABELS, PODGROUP_API, type Phase, type BurstJobStatus } from '@kubeburst/api';
import { plan } from '../planner/plan.js';
import { podGroupName } from '../planner/gang.js';
import { serviceName } from '../planner/pods.js';
import type { JobView, ObservedWorkload, Policy } from '../planner/types.js';
import type { Config } from './config.js';
import { EventRecorder } from './events.js';
import { Executor } from './executor.js';
import { Informer, keyOf } from './informer.js';
import { isConflict, isNotFound, paths, type Json, type KubeClient } from './kube.js';
import type { Logger } from './log.js';
import { Metrics } from './metrics.js';
import { burstJobOwnerOf, jobView, observePod, observePodGroup, observeService, observeWorkload, slimBoundPod, slimPackPod, type BoundPod } from './observe.js';
import { AdmissionLedger, Room, waitingForAdmission, type Listing } from './room.js';
import { WorkQueue } from './queue.js';

/**
 * The BurstJob controller: informers feed a keyed work queue; a worker takes a key, reads the current
 * state from the caches, asks the planner what to do, lets the executor do it, and writes the status
 * once. Nothing here decides anything: decisions are in planner/plan.ts.
 *
 * Caches:
 *   burstjobs   (watched namespaces)            the jobs
 *   own pods    (watched namespaces, labelled)  every pack pod, any phase
 *   services    (watched namespaces, labelled)  the jobs' headless Services (recreated when lost)
 *   bound pods  (cluster-wide, unfinished)      slim {node, requests}: what the nodes' room is used by
 *   nodes       (cluster-wide)                  allocatable, taints, labels, readiness
 *   podgroups   (watched namespaces, labelled)  the jobs' PodGroups (gang.backend PodGroup), only where the
 *                                               API server serves scheduling.k8s.io/v1beta1 podgroups
 *   workloads   (watched namespaces, slim)      Kueue's Workloads (gang.backend Kueue: why a group waits),
 *                                               only where kueue.x-k8s.io/v1beta2 is served
 *
 * Whether they are served is discovered at start and re-checked every minute until both are (a cluster
 * upgraded, or Kueue installed, under a running operator); the planner sees it as data (`podGroupApi`,
 * `kueueApi`), true once that cache is synced.
 */
const DISCOVERY_INTERVAL_MS = 60_000;

/** An API the operator uses only where the cluster serves it (discovered, then watched). */
interface OptionalApi {
  /** Discovery path of its group/version, and the resource to find there. */
  discovery: string;
  resource: string;
  /** Logged once it is found. */
  found: string;
  informers: Informer<Json>[];
  informer(ns: string | undefined): Informer<Json>;
  /** A change to one of its objects: reconcile the job it belongs to. */
  enqueue(obj: Json): void;
}

const optional = <K extends string, V>(key: K, v: V | undefined): { [P in K]?: V } => (v === undefined ? {} : ({ [key]: v } as { [P in K]?: V }));

const ACTIVE_PHASES: readonly (Phase | undefined)[] = ['Starting', 'Running', 'Succeeded', 'Failed'];

export class Controller {
  readonly jobs: Informer<Json>[];
  readonly ownPods: Informer<Json>[];
  readonly services: Informer<Json>[];
  readonly boundPods: Informer<BoundPod>;
  readonly nodes: Informer<Json>;
  /** PodGroups (gang.backend PodGroup): informers created once discovery finds them served. */
  readonly podGroupApi: OptionalApi;
  /** Kueue's Workloads (gang.backend Kueue), slimmed to why they wait: likewise. */
  readonly kueueApi: OptionalApi;
  readonly queue: WorkQueue;
  readonly ledger = new AdmissionLedger();
  readonly metrics: Metrics;
  readonly executor: Executor;
  private readonly recorder: EventRecorder;
  private readonly room: Room;
  private readonly podsByJob = new Map<string, Set<string>>();
  private readonly views = new Map<string, { rv: string; view: JobView }>();
  /**
   * Our last status write per job: until the cache shows it, reconciling would act on a stale status. Matched
   * by resourceVersion or by the status itself (a later write, e.g. a finalizer patch, changes the version).
   */
  private readonly written = new Map<string, { rv: string; status: string; at: number }>();
  private readonly lastWrite = new Map<string, number>();
  private readonly policy: Policy;
  private running = false;
  private workers: Promise<void>[] = [];
  private timers: NodeJS.Timeout[] = [];
  private kickTimer: NodeJS.Timeout | undefined;
  private inFlight = 0;
  private informersStarted = false;

  constructor(
    private readonly cfg: Config,
    private readonly kube: KubeClient,
    private readonly log: Logger,
  ) {
    // Timers longer than the resync period are pointless (every job is re-queued then anyway).
    this.queue = new WorkQueue(100, 300_000, cfg.resyncPeriod);
    const scopes = cfg.namespaces.length > 0 ? cfg.namespaces : [undefined];
    const informerOpts = { watchdogMs: cfg.watchdog };
    this.jobs = scopes.map((ns) => new Informer<Json>(kube, { name: `burstjobs${ns ? `/${ns}` : ''}`, path: paths.burstjobs(ns), ...informerOpts }, log));
    this.ownPods = scopes.map(
      (ns) =>
        new Informer<Json>(kube, { name: `pack-pods${ns ? `/${ns}` : ''}`, path: paths.pods(ns), labelSelector: LABELS.jobUid, transform: slimPackPod, ...informerOpts }, log),
    );
    this.services = scopes.map(
      (ns) =>
        new Informer<Json>(
          kube,
          { name: `services${ns ? `/${ns}` : ''}`, path: paths.services(ns), labelSelector: `${LABELS.component}=${COMPONENTS.peers}`, ...informerOpts },
          log,
        ),
    );
    this.boundPods = new Informer<BoundPod>(
      kube,
      { name: 'bound-pods', path: paths.pods(), fieldSelector: 'spec.nodeName!=,status.phase!=Succeeded,status.phase!=Failed', transform: slimBoundPod, ...informerOpts },
      log,
    );
    this.nodes = new Informer<Json>(kube, { name: 'nodes', path: paths.nodes(), ...informerOpts }, log);
    const scoped = (ns: string | undefined): string => (ns ? `/${ns}` : '');
    this.podGroupApi = {
      discovery: paths.podGroupApi(),
      resource: PODGROUP_API.resource,
      found: 'scheduling.k8s.io/v1beta1 podgroups served: gang.backend Auto uses PodGroup',
      informers: [],
      informer: (ns) => new Informer<Json>(kube, { name: `podgroups${scoped(ns)}`, path: paths.podGroups(ns), labelSelector: LABELS.jobUid, ...informerOpts }, log),
      enqueue: (g) => this.enqueueOwner(g),
    };
    this.kueueApi = {
      discovery: paths.kueueApi(),
      resource: KUEUE.api.resource,
      found: `${KUEUE.api.group}/${KUEUE.api.version} workloads served: gang.backend Kueue (and Auto for jobs labelled ${KUEUE.queueLabel}) available`,
      informers: [],
      // Unlabelled (Kueue makes them): every Workload of the watched namespaces, slimmed to a name and a reason.
      informer: (ns) =>
        new Informer<Json>(
          kube,
          {
            name: `kueue-workloads${scoped(ns)}`,
            path: paths.workloads(ns),
            transform: (w: Json) => ({
              metadata: { namespace: w.metadata.namespace, name: w.metadata.name, resourceVersion: w.metadata.resourceVersion },
              view: observeWorkload(w),
            }),
            ...informerOpts,
          },
          log,
        ),
      // A pod group's Workload is named <job>-a<attempt>.
      enqueue: (w) => {
        const job = /^(.+)-a\d+$/.exec(w.metadata.name)?.[1];
        if (job !== undefined) this.queue.add(`${w.metadata.namespace}/${job}`);
      },
    };
    this.metrics = new Metrics(
      () => {
        const counts = new Map<string, number>();
        for (const j of this.allJobs()) counts.set(j.status?.phase ?? 'Unknown', (counts.get(j.status?.phase ?? 'Unknown') ?? 0) + 1);
        return counts;
      },
      () => this.queue.depth,
    );
    this.recorder = new EventRecorder(kube, cfg.identity, log);
    this.executor = new Executor(
      kube,
      this.recorder,
      this.metrics,
      {
        podCreateConcurrency: cfg.podCreateConcurrency,
        networkPolicy: cfg.networkPolicy,
        ...(cfg.redisAdminUrl ? { redisAdminUrl: cfg.redisAdminUrl } : {}),
        ...(cfg.natsAccountSeed ? { natsAccount: { seed: cfg.natsAccountSeed, ...(cfg.natsAccount ? { account: cfg.natsAccount } : {}) } } : {}),
        pod: {
          defaultImage: cfg.workerImage,
          ...(cfg.imagePullPolicy ? { imagePullPolicy: cfg.imagePullPolicy } : {}),
          redisUsers: cfg.redisAdminUrl !== undefined,
          natsUsers: cfg.natsAccountSeed !== undefined,
        },
      },
      (ns, name) => this.findPod(ns, name)?.spec?.schedulingGates,
      log,
    );
    this.room = new Room({ nodes: this.nodes, boundPods: this.boundPods, ownPods: this.mergedPods(), jobs: () => this.allViews() }, this.ledger);
    this.policy = {
      backoffBaseMs: cfg.restartBackoff,
      backoffMaxMs: cfg.restartBackoffMax,
      admissionRecheckMs: cfg.admissionRecheck,
      brokerCleanupGiveUpMs: cfg.brokerCleanupTimeout,
      strictFifoAfterMs: cfg.strictFifoAfter,
    };
    this.wire();
  }

  // ---- caches and event handlers ---------------------------------------------------------------------

  private wire(): void {
    for (const inf of this.jobs) {
      inf.on({
        add: (j) => this.queue.add(keyOf(j)),
        update: (j, old) => {
          const key = keyOf(j);
          const w = this.written.get(key);
          if (w !== undefined && caughtUp(w, j)) this.written.delete(key);
          this.queue.add(key);
          // A job that stopped waiting (admitted, finished, suspended) may free the queue for younger ones.
          if (old.status?.phase !== j.status?.phase) this.kickWaiting();
        },
        delete: (j) => {
          const key = keyOf(j);
          this.ledger.forget(key);
          this.views.delete(key);
          this.written.delete(key);
          this.lastWrite.delete(key);
          this.kickWaiting();
        },
      });
    }
    for (const inf of this.ownPods) {
      inf.on({
        add: (p) => {
          this.index(p, true);
          this.executor.creates.observed(keyOf(p));
          this.enqueueOwner(p);
        },
        update: (p, old) => {
          if (!(p.spec?.schedulingGates ?? []).length) this.executor.ungates.observed(keyOf(p));
          this.enqueueOwner(p);
          if (isFinished(p) && !isFinished(old)) this.kickWaiting();
        },
        delete: (p) => {
          this.index(p, false);
          this.executor.deletes.observed(keyOf(p));
          // A create that met AlreadyExists (an earlier job's pod of the same name, still terminating) waits for
          // an add event; once that pod is gone the name is free: create again at the next reconcile.
          this.executor.creates.observed(keyOf(p));
          this.enqueueOwner(p);
          this.kickWaiting();
        },
      });
    }
    for (const inf of this.services) {
      const owner = (s: Json): void => this.enqueueOwner(s);
      inf.on({ add: owner, update: owner, delete: owner });
    }
    this.boundPods.on({ delete: () => this.kickWaiting() });
    this.nodes.on({ add: () => this.kickWaiting(), update: (n, old) => nodeChanged(n, old) && this.kickWaiting(), delete: () => this.kickWaiting() });
  }

  /**
   * Asks the API server whether it serves the optional APIs (podgroups, Kueue's workloads); the first time
   * one is served, starts its informers. Errors other than 404 leave the answer as it was (a flaky discovery
   * must not flip a job's backend). True once every one is found (nothing left to look for).
   */
  async discoverApis(): Promise<boolean> {
    const scopes = this.cfg.namespaces.length > 0 ? this.cfg.namespaces : [undefined];
    for (const api of [this.podGroupApi, this.kueueApi]) {
      if (api.informers.length > 0) continue;
      let served: boolean;
      try {
        const list = await this.kube.get<Json>(api.discovery);
        served = (list.resources ?? []).some((r: Json) => r.name === api.resource);
      } catch (err) {
        if (!isNotFound(err)) this.log.warn(`discovery of ${api.discovery} failed; will retry`, { error: (err as Error).message });
        continue;
      }
      if (!served) continue;
      api.informers = scopes.map((ns) => api.informer(ns));
      for (const inf of api.informers) {
        inf.on({ add: api.enqueue, update: api.enqueue, delete: api.enqueue });
        if (this.informersStarted) inf.start();
      }
      this.log.info(api.found);
    }
    return this.podGroupApi.informers.length > 0 && this.kueueApi.informers.length > 0;
  }

  /** What the planner is told: the API is served and its cache is complete. */
  private static served(api: OptionalApi): boolean {
    return api.informers.length > 0 && api.informers.every((i) => i.synced);
  }

  /** Kueue's Workload of the job's current attempt (named after the attempt's pod group). */
  private workloadOf(job: JobView): ObservedWorkload | undefined {
    const attempt = job.status.attempt;
    if (attempt === undefined) return undefined;
    const key = `${job.namespace}/${podGroupName(job.name, attempt.index)}`;
    for (const inf of this.kueueApi.informers) {
      const w = inf.get(key);
      if (w !== undefined) return w.view as ObservedWorkload;
    }
    return undefined;
  }

  /**
   * Files a pack pod under its BurstJob: the one its label names, if that job also owns it (its controller
   * ownerReference). A label anyone can set on a pod of their own, in any namespace, would otherwise make
   * the operator count, fail, or delete pods for a job that never made them.
   */
  private index(p: Json, present: boolean): void {
    const uid = p.metadata.labels?.[LABELS.jobUid];
    if (uid === undefined) return;
    const owned = burstJobOwnerOf(p) === uid;
    const set = this.podsByJob.get(uid) ?? new Set<string>();
    if (present && owned) set.add(keyOf(p));
    else set.delete(keyOf(p));
    if (set.size === 0) this.podsByJob.delete(uid);
    else this.podsByJob.set(uid, set);
  }

  private enqueueOwner(p: Json): void {
    const name = p.metadata.labels?.[LABELS.jobName];
    if (name !== undefined) this.queue.add(`${p.metadata.namespace}/${name}`);
  }

  /** Room may have freed up: every job waiting for admission takes another look (debounced). */
  private kickWaiting(): void {
    if (this.kickTimer !== undefined) return;
    this.kickTimer = setTimeout(() => {
      this.kickTimer = undefined;
      for (const v of this.allViews()) if (waitingForAdmission(v)) this.queue.add(`${v.namespace}/${v.name}`);
    }, 100);
  }

  private findPod(ns: string, name: string): Json | undefined {
    for (const inf of this.ownPods) {
      const p = inf.get(`${ns}/${name}`);
      if (p !== undefined) return p;
    }
    return undefined;
  }

  private findService(ns: string, name: string): Json | undefined {
    for (const inf of this.services) {
      const s = inf.get(`${ns}/${name}`);
      if (s !== undefined) return s;
    }
    return undefined;
  }

  private podGroupsOf(job: JobView): ReturnType<typeof observePodGroup>[] {
    return this.podGroupApi.informers
      .flatMap((inf) => inf.list())
      .filter((g) => g.metadata?.namespace === job.namespace && g.metadata?.labels?.[LABELS.jobUid] === job.uid)
      .map(observePodGroup);
  }

  private findJob(key: string): Json | undefined {
    for (const inf of this.jobs) {
      const j = inf.get(key);
      if (j !== undefined) return j;
    }
    return undefined;
  }

  private allJobs(): Json[] {
    return this.jobs.flatMap((i) => i.list());
  }

  private view(raw: Json): JobView {
    const key = keyOf(raw);
    const rv = raw.metadata.resourceVersion as string;
    const hit = this.views.get(key);
    if (hit !== undefined && hit.rv === rv) return hit.view;
    const view = jobView(raw);
    this.views.set(key, { rv, view });
    return view;
  }

  private allViews(): JobView[] {
    return this.allJobs().map((j) => this.view(j));
  }

  private mergedPods(): Listing<Json> {
    const all = this.ownPods;
    return { list: () => all.flatMap((i) => i.list()) };
  }

  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- informers of different object types, listed for start/stop only
  get informers(): Informer<any>[] {
    return [...this.jobs, ...this.ownPods, ...this.services, this.boundPods, this.nodes, ...this.podGroupApi.informers, ...this.kueueApi.informers];
  }

  get synced(): boolean {
    return this.informers.every((i) => i.synced);
  }

  // ---- lifecycle -----------------------------------------------------------------------------------

  startInformers(): void {
    this.informersStarted = true;
    for (const i of this.informers) i.start();
  }

  async waitForSync(timeoutMs = 120_000): Promise<void> {
    await Promise.all(this.informers.map((i) => i.waitForSync(timeoutMs)));
  }

  /** Starts the reconcile workers (only the leader does this). */
  run(): void {
    if (this.running) return;
    this.running = true;
    for (const j of this.allJobs()) this.queue.add(keyOf(j));
    this.workers = Array.from({ length: this.cfg.workers }, () => this.worker());
    this.timers.push(
      setInterval(() => {
        for (const j of this.allJobs()) this.queue.add(keyOf(j));
        this.ledger.prune(120_000);
      }, this.cfg.resyncPeriod),
    );
    const t = setInterval(() => {
      void this.discoverApis().then((all) => all && clearInterval(t));
    }, DISCOVERY_INTERVAL_MS);
    this.timers.push(t);
  }

  /** Leadership lost: take no more work, now. In-flight reconciles are not waited for (the process exits). */
  abandon(): void {
    this.queue.shutdown();
    for (const t of this.timers) clearInterval(t);
    if (this.kickTimer) clearTimeout(this.kickTimer);
  }

  async stop(graceMs = 10_000): Promise<void> {
    this.queue.shutdown();
    for (const t of this.timers) clearInterval(t);
    if (this.kickTimer) clearTimeout(this.kickTimer);
    const deadline = Date.now() + graceMs;
    while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await Promise.all(this.informers.map((i) => i.stop()));
  }

  private async worker(): Promise<void> {
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      this.inFlight++;
      const t0 = process.hrtime.bigint();
      let result = 'ok';
      try {
        const ok = await this.reconcile(key);
        if (ok) this.queue.forget(key);
        else {
          result = 'error';
          this.queue.addRateLimited(key);
        }
      } catch (err) {
        result = 'error';
        const delay = this.queue.addRateLimited(key);
        this.log.error('reconcile failed', { job: key, error: (err as Error).message, retryInMs: delay });
      } finally {
        this.metrics.reconcileDuration.observe({ result }, Number(process.hrtime.bigint() - t0) / 1e9);
        this.inFlight--;
        this.queue.done(key);
      }
    }
  }

  // ---- reconcile -----------------------------------------------------------------------------------

  /** One reconcile of one BurstJob; false: retry with backoff. */
  async reconcile(key: string): Promise<boolean> {
    const raw = this.findJob(key);
    if (raw === undefined) {
      this.ledger.forget(key);
      return true;
    }
    const w = this.written.get(key);
    if (w !== undefined) {
      // Our last status write is not in the cache yet: acting on the older status would repeat decisions
      // (count a restart twice, delete the new attempt's pods). The cache update re-queues the key.
      if (!caughtUp(w, raw) && Date.now() - w.at < 15_000) {
        this.queue.addAfter(key, 15_000);
        return true;
      }
      this.written.delete(key);
    }
    const job = this.view(raw);
    const log = this.log.child({ job: key });
    // (Owned pods of the job's own namespace: an ownerReference names no namespace, and owners live in their dependents'.)
    const pods = [...(this.podsByJob.get(job.uid) ?? [])]
      .map((k) => split(k) as [string, string])
      .filter(([ns]) => ns === job.namespace)
      .map((k) => this.findPod(...k))
      .filter((p): p is Json => p !== undefined);
    const needRoom = job.deletionTimestamp === undefined && !job.spec.suspend && !ACTIVE_PHASES.includes(job.status.phase);
    const jobsByUid = needRoom ? new Map(this.allViews().map((v) => [v.uid, v])) : new Map<string, JobView>();
    const p = plan(
      job,
      {
        pods: pods.map((p) => observePod(p, (t) => this.log.redactCut(t))),
        nodes: needRoom ? this.room.nodes() : [],
        reserved: needRoom ? this.room.reserved(job.uid, jobsByUid) : [],
        ahead: needRoom ? this.room.ahead(job, [...jobsByUid.values()]) : [],
        service: observeService(this.findService(job.namespace, serviceName(job.name))),
        podGroupApi: Controller.served(this.podGroupApi),
        podGroups: this.podGroupsOf(job),
        kueueApi: Controller.served(this.kueueApi),
        ...optional('workload', this.workloadOf(job)),
      },
      Date.now(),
      this.policy,
    );
    // Recorded before any await: the next reconcile of a competing gang already sees this room taken.
    if (p.admitted !== undefined && p.status?.attempt !== undefined) {
      this.ledger.record(key, p.status.attempt.index);
      this.metrics.admissions.inc();
    }
    // The status as it will be written (redacted), so an unchanged one compares equal to what is stored.
    if (p.status !== undefined) p.status = redactedStatus(p.status, (t) => this.log.redact(t));
    const interesting = p.actions.filter((a) => a.kind !== 'event').map((a) => a.kind);
    if (interesting.length > 0) log.debug('plan', { actions: interesting, phase: p.status?.phase });

    // A new attempt is remembered before its pods exist: an operator that dies while creating them leaves a
    // status that names the attempt, so its successor adopts those pods instead of starting over.
    let changed = p.status !== undefined && JSON.stringify(p.status) !== JSON.stringify(job.status);
    // Pod counts move with every pod event of a 1 000-pod flare: write them at most once a second, unless
    // something else (phase, a condition, the attempt) changed too.
    if (changed && onlyCountsDiffer(job.status, p.status!)) {
      const since = Date.now() - (this.lastWrite.get(key) ?? 0);
      if (since < COUNTS_WRITE_INTERVAL_MS) {
        changed = false;
        this.queue.addAfter(key, COUNTS_WRITE_INTERVAL_MS - since);
      }
    }
    const startsAttempt = p.status?.attempt !== undefined && p.status.attempt.index !== job.status.attempt?.index;
    let latest = raw;
    if (changed && startsAttempt) {
      const written = await this.writeStatus(key, job, raw, p.status!, log);
      if (written === 'conflict') return false;
      if (written === undefined) return true;
      latest = written;
    }
    const res = await this.executor.apply(job, latest, p.actions);
    const ok = res.errors.length === 0;
    if (changed && !startsAttempt && !res.blocking) {
      const written = await this.writeStatus(key, job, res.latest, p.status!, log);
      if (written === 'conflict') return false;
      if (written === undefined) return true;
    }
    if (!ok) {
      const message = res.errors.map((e) => e.message).join('; ');
      log.warn('some actions failed; retrying with backoff', { errors: message });
      void this.recorder.record(job, 'Warning', EVENT.ReconcileError, message);
    }
    if (p.requeueAfterMs !== undefined) this.queue.addAfter(key, p.requeueAfterMs + 5);
    return ok;
  }

  /**
   * The one status write of a reconcile; 'conflict' when it lost a race (the caller re-queues the key with
   * its backoff: while the cache lags, a fixed short retry re-ran the job's actions twenty times a second),
   * undefined when the job is gone.
   */
  private async writeStatus(key: string, job: JobView, latest: Json, planned: BurstJobStatus, log: Logger): Promise<Json | 'conflict' | undefined> {
    const status = redactedStatus(planned, (t) => this.log.redact(t));
    try {
      const updated = await this.kube.replace<Json>(`${paths.burstjob(job.namespace, job.name)}/status`, { ...latest, status });
      this.written.set(key, { rv: updated.metadata.resourceVersion, status: JSON.stringify(updated.status), at: Date.now() });
      this.lastWrite.set(key, Date.now());
      this.observeTransitions(job.status, status, log);
      return updated;
    } catch (err) {
      if (isConflict(err)) {
        log.debug('status write conflict; retrying with the newer object');
        return 'conflict';
      }
      if (isNotFound(err)) return undefined;
      throw err;
    }
  }

  private observeTransitions(before: BurstJobStatus, after: BurstJobStatus, log: Logger): void {
    if (before.phase !== after.phase) log.info('phase', { from: before.phase ?? '', to: after.phase, attempt: after.attempt?.index });
    const a = after.attempt;
    if (a === undefined) return;
    const sameAttempt = before.attempt?.index === a.index;
    if (a.runningTime !== undefined && !(sameAttempt && before.attempt?.runningTime !== undefined)) {
      this.metrics.startup.observe({ stage: 'running' }, (Date.parse(a.runningTime) - Date.parse(a.startTime)) / 1000);
    }
    if (a.joinedTime !== undefined && !(sameAttempt && before.attempt?.joinedTime !== undefined)) {
      this.metrics.startup.observe({ stage: 'joined' }, (Date.parse(a.joinedTime) - Date.parse(a.startTime)) / 1000);
    }
    if (after.lastFailure !== undefined && JSON.stringify(after.lastFailure) !== JSON.stringify(before.lastFailure)) {
      this.metrics.attemptsEnded.inc({ reason: after.lastFailure.reason });
    }
  }
}

const COUNTS_WRITE_INTERVAL_MS = 1000;

/**
 * The status with every string redacted: conditions' and failures' messages quote pods' termination
 * messages, which may name a broker URL (`kubectl get -o yaml` must not show its password).
 */
export function redactedStatus(s: BurstJobStatus, redact: (text: string) => string = redactText): BurstJobStatus {
  return JSON.parse(JSON.stringify(s, (_k, v: unknown) => (typeof v === 'string' ? redact(v) : v))) as BurstJobStatus;
}

function onlyCountsDiffer(a: BurstJobStatus, b: BurstJobStatus): boolean {
  const { packs: _a, ...restA } = a;
  const { packs: _b, ...restB } = b;
  return JSON.stringify(restA) === JSON.stringify(restB);
}

const caughtUp = (w: { rv: string; status: string }, cached: Json): boolean => cached.metadata.resourceVersion === w.rv || JSON.stringify(cached.status) === w.status;

const split = (k: string): string[] => {
  const i = k.indexOf('/');
  return [k.slice(0, i), k.slice(i + 1)];
};

const isFinished = (p: Json): boolean => p.status?.phase === 'Succeeded' || p.status?.phase === 'Failed';

function nodeChanged(n: Json, old: Json): boolean {
  return (
    JSON.stringify([
      n.status?.allocatable,
      n.spec?.taints,
      n.spec?.unschedulable,
      n.metadata?.labels,
      (n.status?.conditions ?? []).find((c: Json) => c.type === 'Ready')?.status,
    ]) !==
    JSON.stringify([
      old.status?.allocatable,
      old.spec?.taints,
      old.spec?.unschedulable,
      old.metadata?.labels,
      (old.status?.conditions ?? []).find((c: Json) => c.type === 'Ready')?.status,
    ])
  );
}
