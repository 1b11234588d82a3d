import {
  BROKER_FINALIZER,
  CONDITION,
  EVENT,
  FINISHED_PHASES,
  KUEUE,
  REASON,
  type ConditionType,
  type EventReason,
  type Phase,
  type Reason,
  type BurstJobStatus,
  type PackCounts,
} from '@kubeburst/api';
import { urlSecrets } from '@kubeburst/worker-runtime';
import { getCondition, setCondition } from './conditions.js';
import { gangBackend, podGroupName, resolveGangBackend } from './gang.js';
import { decodeLayout, encodeLayout, layoutFor, packRanges } from './layout.js';
import { burstIdOf, gangDemand, perWorker, specBrokerUrl } from './pods.js';
import { clipRedacted, collectResults, failureMessage, rootCause } from './results.js';
import type { Action, GangBackendName, JobView, Observed, ObservedPod, ObservedPodGroup, Plan, Policy } from './types.js';

/** For how long after a job finishes its last attempt's Secret is deleted again on every reconcile (see whileFinished). */
export const SECRET_DELETE_RETRY_MS = 10 * 60_000;

/**
 * plan(job, observed, now) → { actions, status }: every decision the operator makes, as a pure function of
 * the BurstJob (spec + the status it wrote last time), the pods and room it observes, and the clock.
 *
 * The life of an attempt:
 *
 *   new attempt ──► create every pack pod, gated ──► all exist ──► room for all? ──no──► wait (Admitted=False, why)
 *                   (PodGroup: the PodGroup first,                  (PodGroup: always yes: kube-scheduler places
 *                    then pods naming it, no gates)                  the group all or nothing, or not at all)
 *                                                                    │yes
 *                                                                    ▼
 *                   lift every gate at once (Admitted) ──► all bound within scheduleSeconds? ──no──► tear down (and the PodGroup),
 *                                                                    │yes                          retry after backoff
 *                                                                    ▼                             (maxScheduleRetries)
 *                   all Running ──► all Ready (joined: Started) within ──no──► (the same)
 *                                   scheduleSeconds + joinSeconds?
 *                                                                    │yes
 *                                                                    ▼
 *                   all Succeeded ──► results, Succeeded
 *                        any pack Failed or lost ──► tear down ──► restart after backoff (maxRestarts), else Failed
 *
 * Pods carry their attempt number; pods of another attempt are deleted, and a new attempt's pods are
 * created only once every old pod is gone, so two attempts never share a burst. The planner never
 * assumes its last actions happened: it re-derives from what it observes (an ungated pod means the
 * gang was admitted, a missing pod is created again while gated), so a failed write or an operator
 * restart at any point converges.
 */
export function plan(job: JobView, observed: Observed, now: number, policy: Policy): Plan {
  return new Planner(job, observed, now, policy).run();
}

const iso = (ms: number): string => new Date(ms).toISOString();
const ms = (t: string | undefined): number | undefined => (t === undefined ? undefined : Date.parse(t));
const secondsBetween = (from: string, to: number): number => Math.max(0, Math.round(to - Date.parse(from)) / 1000);

export function backoffMs(policy: Policy, n: number): number {
  return Math.min(policy.backoffMaxMs, policy.backoffBaseMs * 2 ** Math.max(0, n - 1));
}

class Planner {
  private readonly actions: Action[] = [];
  private readonly status: BurstJobStatus;
  private readonly conditions;
  private wakeAt: number | undefined;
  private admitted: Plan['admitted'];
  private readonly nowIso: string;

  constructor(
    private readonly job: JobView,
    private readonly observed: Observed,
    private readonly now: number,
    private readonly policy: Policy,
  ) {
    this.status = structuredClone(job.status);
    this.status.conditions ??= [];
    this.conditions = this.status.conditions;
    this.nowIso = iso(now);
  }

  run(): Plan {
    const job = this.job;
    if (job.deletionTimestamp !== undefined) {
      if (job.finalizers.includes(BROKER_FINALIZER)) {
        this.act({ kind: 'finalize', burstIds: this.burstIds(), giveUp: this.now - job.deletionTimestamp >= this.policy.brokerCleanupGiveUpMs });
      }
      return { actions: this.actions, status: undefined };
    }
    if (job.spec.transport.kind === 'redis' && !job.finalizers.includes(BROKER_FINALIZER)) this.act({ kind: 'addFinalizer' });
    this.status.observedGeneration = job.generation;
    this.step();
    return {
      actions: this.actions,
      status: this.status,
      ...(this.wakeAt !== undefined ? { requeueAfterMs: Math.max(0, this.wakeAt - this.now) } : {}),
      ...(this.admitted !== undefined ? { admitted: this.admitted } : {}),
    };
  }

  // ---- the decision --------------------------------------------------------------------------------

  private step(): void {
    const { job, status: s } = this;
    if (job.specError !== undefined) {
      if (!this.finished()) return this.failJob(REASON.InvalidSpec, job.specError);
      return this.whileFinished();
    }
    if (this.finished()) return this.whileFinished();

    const attempt = s.attempt;
    const current = this.podsOf(attempt?.index);
    this.deleteStalePods();
    this.deletePodGroups(
      (this.observed.podGroups ?? []).filter((g) => g.attempt !== attempt?.index || job.spec.suspend),
      job.spec.suspend ? 'spec.suspend is true' : 'PodGroup of an earlier attempt',
    );

    if (job.spec.suspend) return this.suspend();
    let needNewAttempt = attempt === undefined;
    if (s.phase === 'Suspended') {
      this.event('Normal', EVENT.Resumed, 'spec.suspend is false: starting a new attempt');
      this.condition(CONDITION.Suspended, 'False', REASON.JobResumed, 'resumed');
      // The suspended attempt's pods may still be terminating: Restarting (due now) waits until they are
      // gone and then starts the next attempt; the old attempt is never taken for a live one.
      s.phase = 'Restarting';
      s.nextAttemptTime = this.nowIso;
    }

    s.startTime ??= this.nowIso;
    if (job.spec.activeDeadlineSeconds !== undefined) {
      const deadline = ms(s.startTime)! + job.spec.activeDeadlineSeconds * 1000;
      if (this.now >= deadline) return this.failJob(REASON.DeadlineExceeded, `ran longer than spec.activeDeadlineSeconds (${job.spec.activeDeadlineSeconds} s)`);
      this.wake(deadline);
    }

    if (s.phase === 'Restarting') {
      this.deleteAll(current.filter(isLive), 'the attempt ended');
      const next = ms(s.nextAttemptTime) ?? this.now;
      if (this.now < next) {
        this.wake(next);
        return this.count(current);
      }
      needNewAttempt = true;
    }

    if (needNewAttempt) {
      if (this.observed.pods.length > 0) {
        // Old pods still terminating: a new attempt starts on an empty slate.
        this.deleteAll(this.observed.pods, 'a new attempt starts');
        this.condition(CONDITION.Admitted, 'False', REASON.WaitingForOldPods, `waiting for ${this.observed.pods.length} pod(s) of the previous attempt to terminate`);
        this.status.phase = s.phase ?? 'Pending';
        return this.count([]);
      }
      return this.startAttempt();
    }
    return this.progress(current);
  }

  private startAttempt(): void {
    const { job, status: s } = this;
    const index = s.attempt === undefined ? 0 : s.attempt.index + 1;
    const resolved = resolveGangBackend(job.spec.gang, job.kueue?.queueName, { podGroup: this.observed.podGroupApi ?? false, kueue: this.observed.kueueApi ?? false });
    if ('error' in resolved) return this.failJob(REASON.GangBackendUnavailable, resolved.error);
    const sizes = layoutFor(job.spec, perWorker(job), this.observed.nodes);
    s.attempt = { index, burstId: burstIdOf(job.uid, index), layout: encodeLayout(sizes), gangBackend: resolved.backend, startTime: this.nowIso };
    // Again, in case deleting it when the last attempt ended failed (a missing one is no error).
    if (index > 0) this.act({ kind: 'deleteSecrets', attempts: [index - 1] });
    else if (urlSecrets(specBrokerUrl(job)).length > 0) {
      // The packs get it from the attempt Secret, but the BurstJob itself still holds it.
      this.event(
        'Warning',
        EVENT.CredentialsInSpec,
        'spec.transport.url holds a password, readable by whoever may read this BurstJob: name a Secret in spec.transport.secretRef instead',
      );
    }
    delete s.nextAttemptTime;
    s.phase = 'Pending';
    s.packs = emptyCounts(sizes.length);
    this.condition(CONDITION.Admitted, 'False', REASON.CreatingPods, `creating ${sizes.length} ${this.packPods()}`);
    this.condition(CONDITION.PacksScheduled, 'False', REASON.WaitingForScheduler, 'not admitted yet');
    this.condition(CONDITION.Started, 'False', REASON.WaitingForJoin, 'not admitted yet');
    this.progress([]);
  }

  /** The current attempt, from what is observed. */
  private progress(current: ObservedPod[]): void {
    const { job, status: s } = this;
    const attempt = s.attempt!;
    const sizes = decodeLayout(attempt.layout);
    const byPack = new Map<number, ObservedPod>();
    for (const p of current) if (p.pack < sizes.length && (!byPack.has(p.pack) || byPack.get(p.pack)!.deleting)) byPack.set(p.pack, p);
    this.count(current, sizes.length);
    // Every reconcile of a live attempt: a Service deleted meanwhile, or left by an earlier BurstJob of the
    // same name (and about to be garbage-collected), is replaced.
    if (!this.serviceIsOurs()) this.act({ kind: 'ensureService' });

    // An ungated pod means the gates were lifted even if that status write was lost; a PodGroup gang's pods
    // are never gated, and it is re-admitted (at once) from what exists.
    const admitted = attempt.admittedTime !== undefined || (this.backend() === 'SchedulingGates' && current.some((p) => !p.gated));
    if (!admitted) return this.admission(sizes, byPack);
    attempt.admittedTime ??= this.nowIso;

    // A pack that failed or vanished after admission ends the attempt: its workers cannot rejoin a running burst.
    const failed = [...byPack.values()].filter((p) => p.phase === 'Failed');
    if (failed.length > 0) {
      const cause = rootCause(failed);
      const why = cause.pod !== undefined ? failureMessage(cause.pod) : `pack ${cause.witness!.pack} reports ${failureMessage(cause.witness!)}`;
      return this.attemptFailed(REASON.PackFailed, cause.pack, `pack ${cause.pack} (workers ${workersOf(sizes, cause.pack)}) failed: ${why}`);
    }
    for (let p = 0; p < sizes.length; p++) {
      const pod = byPack.get(p);
      if (pod === undefined || (pod.deleting && pod.phase !== 'Succeeded')) {
        return this.attemptFailed(
          REASON.PackLost,
          p,
          `pack ${p} (workers ${workersOf(sizes, p)}) ${pod === undefined ? 'pod disappeared' : 'pod is being deleted'}${lostBecause(pod)} after the gang was admitted`,
        );
      }
    }
    const pods = [...byPack.values()];
    const stillGated = pods.filter((p) => p.gated).map((p) => p.name);
    if (stillGated.length > 0) this.act({ kind: 'ungatePods', pods: stillGated });

    const bound = pods.filter((p) => p.nodeName !== undefined || p.phase !== 'Pending').length;
    const scheduleDeadline = ms(attempt.admittedTime)! + job.spec.timeouts.scheduleSeconds * 1000;
    if (bound === sizes.length) {
      if (attempt.scheduledTime === undefined) attempt.scheduledTime = this.nowIso;
      this.condition(CONDITION.PacksScheduled, 'True', REASON.AllPacksScheduled, `all ${sizes.length} pack(s) bound to nodes`);
    } else {
      if (this.now >= scheduleDeadline) return this.scheduleTimeout(bound, sizes.length, pods);
      // Deleted by someone else: the pods wait for it to exist again (else the schedule timeout ends it).
      if (gangBackend(this.backend()).podGroup && this.podGroup() === undefined) this.act({ kind: 'ensurePodGroup', attempt: attempt.index, minCount: sizes.length });
      const why = schedulerSays(this.podGroup(), pods);
      this.condition(CONDITION.PacksScheduled, 'False', REASON.WaitingForScheduler, `${bound} of ${sizes.length} pack(s) bound${why ? `; scheduler: ${why}` : ''}`);
      this.wake(scheduleDeadline);
    }

    const done = (p: ObservedPod): boolean => p.phase === 'Succeeded';
    const running = pods.filter((p) => p.phase === 'Running' || done(p)).length;
    const joined = pods.filter((p) => (p.phase === 'Running' && p.ready) || done(p)).length;
    s.phase = running === sizes.length ? 'Running' : 'Starting';
    if (running === sizes.length && attempt.runningTime === undefined) {
      attempt.runningTime = this.nowIso;
      s.startupLatency = { packsRunningSeconds: secondsBetween(attempt.startTime, this.now) };
    }
    if (joined === sizes.length) {
      if (attempt.joinedTime === undefined) {
        attempt.joinedTime = this.nowIso;
        const latency = secondsBetween(attempt.startTime, this.now);
        s.startupLatency = { ...s.startupLatency, workersJoinedSeconds: latency };
        this.event('Normal', EVENT.Started, `all ${sizes.length} pack(s) (${job.spec.size} workers) joined ${latency} s after the attempt started`);
      }
      this.condition(CONDITION.Started, 'True', REASON.AllPacksJoined, `all ${sizes.length} pack(s) joined the start barrier`);
    } else if (attempt.joinedTime === undefined) {
      // Bound is not started: a pack whose image never pulls would hold the gang's capacity forever.
      const joinDeadline = scheduleDeadline + job.spec.timeouts.joinSeconds * 1000;
      if (this.now >= joinDeadline) return this.startTimeout(joined, sizes.length, pods);
      this.condition(CONDITION.Started, 'False', REASON.WaitingForJoin, `${joined} of ${sizes.length} pack(s) joined${notStarted(pods)}`);
      this.wake(joinDeadline);
    } else {
      this.condition(CONDITION.Started, 'False', REASON.WaitingForJoin, `${joined} of ${sizes.length} pack(s) joined`);
    }
    if (pods.every(done)) this.succeed(pods, sizes);
  }

  /** Before admission: make every pod exist (gated), then admit the gang whole or explain why not. */
  private admission(sizes: number[], byPack: Map<number, ObservedPod>): void {
    const { job, status: s } = this;
    const attempt = s.attempt!;
    s.phase = 'Pending';
    const missing: number[] = [];
    let terminating = 0;
    for (let p = 0; p < sizes.length; p++) {
      const pod = byPack.get(p);
      if (pod === undefined) missing.push(p);
      else if (pod.deleting) terminating++;
    }
    const backend = gangBackend(this.backend());
    // The PodGroup goes first (the executor creates it before any pod, and creates no pod if it fails):
    // kube-scheduler holds pods whose PodGroup does not exist yet.
    const groupMissing = backend.podGroup && this.podGroup() === undefined;
    if (groupMissing) this.act({ kind: 'ensurePodGroup', attempt: attempt.index, minCount: sizes.length });
    if (missing.length > 0 || terminating > 0) {
      if (missing.length > 0) {
        if (missing.length === sizes.length) this.act({ kind: 'ensureParams' });
        // Before any pod of the attempt: its NetworkPolicy (blocking, as the Secret is: no pod is created
        // without them), and the Secret replaced if one of its name was there first.
        this.act(
          { kind: 'ensureNetworkPolicy' },
          { kind: 'ensureSecret', attempt: attempt.index, fresh: missing.length === sizes.length, packs: sizes.length },
          { kind: 'createPods', attempt: attempt.index, burstId: this.burstId(), layout: attempt.layout, packs: missing, backend: backend.name },
        );
      }
      this.condition(CONDITION.Admitted, 'False', REASON.CreatingPods, `${sizes.length - missing.length - terminating} of ${sizes.length} ${this.packPods()} exist`);
      return;
    }
    if (backend.kueue) return this.kueueAdmission(sizes, [...byPack.values()]);
    if (backend.podGroup) {
      if (groupMissing) {
        this.condition(CONDITION.Admitted, 'False', REASON.CreatingPods, `all ${sizes.length} pack pod(s) exist; creating PodGroup ${podGroupName(job.name, attempt.index)}`);
        return;
      }
      // Every member exists: kube-scheduler takes it from here, all or nothing. The schedule timeout counts now.
      attempt.admittedTime = this.nowIso;
      s.phase = 'Starting';
      const msg = `all ${sizes.length} pack pod(s) of PodGroup ${podGroupName(job.name, attempt.index)} (minCount ${sizes.length}) exist; kube-scheduler places them all or none`;
      this.condition(CONDITION.Admitted, 'True', REASON.HandedToScheduler, msg);
      this.event('Normal', EVENT.HandedToScheduler, `attempt ${attempt.index}: ${msg}`);
      this.wake(this.now + job.spec.timeouts.scheduleSeconds * 1000);
      return;
    }
    const demand = gangDemand(job, sizes);
    const decision = backend.admit(demand, this.observed, { now: this.now, strictFifoAfterMs: this.policy.strictFifoAfterMs });
    if (decision.admit) {
      this.act({ kind: 'ungatePods', pods: [...byPack.values()].map((p) => p.name) });
      attempt.admittedTime = this.nowIso;
      this.admitted = demand;
      s.phase = 'Starting';
      const msg = `room for all ${sizes.length} pack(s); scheduling gates lifted together`;
      this.condition(CONDITION.Admitted, 'True', REASON.GangAdmitted, msg);
      this.event('Normal', EVENT.GangAdmitted, `attempt ${attempt.index}: ${msg}`);
      this.wake(this.now + job.spec.timeouts.scheduleSeconds * 1000);
      return;
    }
    const reason = REASON[decision.reason];
    const before = getCondition(this.conditions, CONDITION.Admitted);
    this.condition(CONDITION.Admitted, 'False', reason, decision.message);
    if (before?.reason !== reason) this.event('Warning', EVENT[decision.reason], decision.message);
    this.wake(this.now + this.policy.admissionRecheckMs);
  }

  /**
   * Kueue backend, every pod created: Kueue's webhook gated each one, and Kueue lifts every gate once the
   * group fits its ClusterQueue. A pod Kueue did not take would run unqueued: the job fails instead.
   */
  private kueueAdmission(sizes: number[], pods: ObservedPod[]): void {
    const { job, status: s } = this;
    const attempt = s.attempt!;
    const group = podGroupName(job.name, attempt.index);
    const untaken = pods.filter((p) => !p.kueue?.managed);
    if (untaken.length > 0) {
      return this.failJob(
        REASON.GangBackendUnavailable,
        `Kueue did not take pack pod ${untaken[0]!.name} (no ${KUEUE.managedLabel} label from its webhook): the namespace ${job.namespace} is not selected by Kueue's managedJobsNamespaceSelector, or its "pod" integration is off`,
      );
    }
    const gated = pods.filter((p) => p.kueue!.gated).length;
    if (gated > 0) {
      const pending = this.observed.workload?.pending;
      const msg = `all ${sizes.length} pack pod(s) exist as Kueue pod group ${group} in LocalQueue ${job.kueue!.queueName}; ${gated} still gated by Kueue${pending ? `: ${pending.slice(0, 500)}` : ''}`;
      const before = getCondition(this.conditions, CONDITION.Admitted);
      this.condition(CONDITION.Admitted, 'False', REASON.QueuedInKueue, msg);
      if (before?.reason !== REASON.QueuedInKueue) this.event('Normal', EVENT.QueuedInKueue, `attempt ${attempt.index}: ${msg}`);
      return;
    }
    attempt.admittedTime = this.nowIso;
    s.phase = 'Starting';
    const msg = `Kueue admitted pod group ${group} (${sizes.length} pack pod(s)) from LocalQueue ${job.kueue!.queueName} and lifted its gates`;
    this.condition(CONDITION.Admitted, 'True', REASON.AdmittedByKueue, msg);
    this.event('Normal', EVENT.AdmittedByKueue, `attempt ${attempt.index}: ${msg}`);
    this.wake(this.now + job.spec.timeouts.scheduleSeconds * 1000);
  }

  private scheduleTimeout(bound: number, total: number, pods: ObservedPod[]): void {
    const t = this.job.spec.timeouts;
    const why = schedulerSays(this.podGroup(), pods);
    const msg = `only ${bound} of ${total} pack(s) were scheduled within spec.timeouts.scheduleSeconds (${t.scheduleSeconds} s)${why ? `; scheduler: ${why}` : ''}: attempt torn down so it holds no capacity`;
    this.condition(CONDITION.PacksScheduled, 'False', REASON.ScheduleTimeout, msg);
    this.gangTimedOut(REASON.ScheduleTimeout, msg);
  }

  private startTimeout(joined: number, total: number, pods: ObservedPod[]): void {
    const t = this.job.spec.timeouts;
    const msg = `only ${joined} of ${total} pack(s) joined within spec.timeouts.scheduleSeconds + joinSeconds (${t.scheduleSeconds + t.joinSeconds} s) of admission${notStarted(pods)}: attempt torn down so it holds no capacity`;
    this.gangTimedOut(REASON.StartTimeout, msg);
  }

  /** The admitted gang did not get going in time: tear it down and retry (spec.gang.maxScheduleRetries), or fail. */
  private gangTimedOut(reason: typeof REASON.ScheduleTimeout | typeof REASON.StartTimeout, msg: string): void {
    const { job, status: s } = this;
    s.scheduleRetries = (s.scheduleRetries ?? 0) + 1;
    this.event('Warning', EVENT[reason], msg);
    this.endAttempt(reason, undefined, msg);
    if (s.scheduleRetries > job.spec.gang.maxScheduleRetries) {
      return this.failJob(REASON.MaxScheduleRetriesExceeded, `${msg}; gave up after ${job.spec.gang.maxScheduleRetries} retries (spec.gang.maxScheduleRetries)`);
    }
    this.restartAfter(backoffMs(this.policy, s.scheduleRetries), `schedule retry ${s.scheduleRetries} of ${job.spec.gang.maxScheduleRetries}`);
  }

  private attemptFailed(reason: Reason, pack: number, message: string): void {
    const { job, status: s } = this;
    this.event('Warning', reason === REASON.PackLost ? EVENT.PackLost : EVENT.PackFailed, `attempt ${s.attempt!.index}: ${message}`);
    this.endAttempt(reason, pack, message);
    const restarts = s.restarts ?? 0;
    if (restarts >= job.spec.maxRestarts) {
      return this.failJob(
        job.spec.maxRestarts > 0 ? REASON.MaxRestartsExceeded : reason,
        job.spec.maxRestarts > 0 ? `${message}; no restarts left (spec.maxRestarts: ${job.spec.maxRestarts})` : message,
      );
    }
    s.restarts = restarts + 1;
    this.restartAfter(backoffMs(this.policy, s.restarts), `restart ${s.restarts} of ${job.spec.maxRestarts}`);
  }

  /** Tear the attempt down: every pod goes (none may hold capacity or join a later burst), broker keys too. */
  private endAttempt(reason: Reason, pack: number | undefined, message: string): void {
    const s = this.status;
    s.lastFailure = { attempt: s.attempt!.index, ...(pack !== undefined ? { pack } : {}), reason, message: clipRedacted(message, 4096) };
    // Failed pods stay until the next attempt starts (for `kubectl logs`); none of them holds capacity.
    this.deleteAll(this.podsOf(s.attempt!.index).filter(isLive), `attempt ${s.attempt!.index} ended (${reason})`);
    this.deletePodGroups(this.podGroupsOf(s.attempt!.index), `attempt ${s.attempt!.index} ended (${reason})`);
    this.attemptOver();
  }

  private restartAfter(delay: number, what: string): void {
    const s = this.status;
    s.phase = 'Restarting';
    s.nextAttemptTime = iso(this.now + delay);
    this.condition(CONDITION.Admitted, 'False', REASON.BackoffRestart, `${what}: the next attempt starts at ${s.nextAttemptTime}`);
    this.condition(CONDITION.Started, 'False', REASON.BackoffRestart, `attempt ${s.attempt!.index} ended`);
    this.event('Normal', EVENT.Restarting, `${what} in ${delay / 1000} s`);
    this.wake(this.now + delay);
  }

  private succeed(pods: ObservedPod[], sizes: number[]): void {
    const { job, status: s } = this;
    const attempt = s.attempt!;
    const results = collectResults(job.name, attempt.index, this.burstId(), pods, sizes);
    this.act({ kind: 'writeResults', data: results.data, ref: results.ref });
    s.results = results.ref;
    if (results.problem !== undefined) this.event('Warning', EVENT.ResultsIncomplete, results.problem);
    s.phase = 'Succeeded';
    s.completionTime = this.nowIso;
    delete s.nextAttemptTime;
    this.condition(CONDITION.Succeeded, 'True', REASON.AllPacksSucceeded, `all ${sizes.length} pack(s) succeeded; results in ConfigMap ${results.ref.configMap}`);
    this.event(
      'Normal',
      EVENT.Succeeded,
      `attempt ${attempt.index}: all ${job.spec.size} workers succeeded; results in ConfigMap ${results.ref.configMap} (${results.ref.workers} collected, ${results.ref.missing} missing)`,
    );
    this.attemptOver();
    this.whileFinished();
  }

  private failJob(reason: Reason, message: string): void {
    const s = this.status;
    s.phase = 'Failed';
    s.completionTime = this.nowIso;
    delete s.nextAttemptTime;
    this.condition(CONDITION.Failed, 'True', reason, message);
    this.event('Warning', reason === REASON.DeadlineExceeded ? EVENT.DeadlineExceeded : EVENT.Failed, message);
    if (s.attempt !== undefined) this.attemptOver();
    this.whileFinished();
  }

  /** Finished: no pod keeps running (failed ones stay for `kubectl logs`), and the TTL runs out. */
  private whileFinished(): void {
    const live = this.observed.pods.filter((p) => !p.deleting && isLive(p));
    if (live.length > 0) this.act({ kind: 'deletePods', pods: live.map((p) => p.name), why: `BurstJob ${this.status.phase}` });
    this.count(this.podsOf(this.status.attempt?.index));
    // The attempt's Secret was deleted as it ended; a delete that failed then (the status moved on) is
    // asked for again by every reconcile for a while (a failed action re-queues with backoff), so the key
    // does not outlive its attempt for as long as the BurstJob stays. (Not found is success.)
    const done = ms(this.status.completionTime);
    if (this.status.attempt !== undefined && done !== undefined && this.now - done < SECRET_DELETE_RETRY_MS)
      this.act({ kind: 'deleteSecrets', attempts: [this.status.attempt.index] });
    const ttl = this.job.spec.ttlSecondsAfterFinished;
    if (ttl === undefined) return;
    const expires = ms(this.status.completionTime)! + ttl * 1000;
    if (this.now >= expires) this.act({ kind: 'deleteJob', why: `spec.ttlSecondsAfterFinished (${ttl} s) passed` });
    else this.wake(expires);
  }

  private suspend(): void {
    const s = this.status;
    this.deleteAll(this.observed.pods, 'spec.suspend is true');
    if (s.phase !== 'Suspended') {
      this.event('Normal', EVENT.Suspended, 'spec.suspend is true: pods deleted');
      if (s.attempt !== undefined) this.attemptOver();
    }
    s.phase = 'Suspended';
    delete s.startTime;
    delete s.nextAttemptTime;
    this.condition(CONDITION.Suspended, 'True', REASON.JobSuspended, 'spec.suspend is true');
    this.condition(CONDITION.Admitted, 'False', REASON.JobSuspended, 'suspended');
    this.condition(CONDITION.Started, 'False', REASON.JobSuspended, 'suspended');
    this.count(this.podsOf(s.attempt?.index));
  }

  // ---- helpers -------------------------------------------------------------------------------------

  private finished(): boolean {
    return this.status.phase !== undefined && FINISHED_PHASES.includes(this.status.phase);
  }

  private serviceIsOurs(): boolean {
    const svc = this.observed.service;
    return svc !== undefined && svc.ownerUid === this.job.uid && !svc.deleting;
  }

  /** The current attempt's backend; an attempt recorded before backends were recorded used gates. */
  private backend(): GangBackendName {
    return this.status.attempt?.gangBackend ?? 'SchedulingGates';
  }

  /** The attempt's pack pods and how they are held back, for messages. */
  private packPods(): string {
    const group = podGroupName(this.job.name, this.status.attempt!.index);
    switch (this.backend()) {
      case 'PodGroup':
        return `pack pod(s) of PodGroup ${group}`;
      case 'Kueue':
        return `pack pod(s) of Kueue pod group ${group}`;
      case 'SchedulingGates':
        return 'gated pack pod(s)';
    }
  }

  /** The current attempt's PodGroup, unless it is being deleted. */
  private podGroup(): ObservedPodGroup | undefined {
    return this.podGroupsOf(this.status.attempt?.index).find((g) => !g.deleting);
  }

  private podGroupsOf(attempt: number | undefined): ObservedPodGroup[] {
    return attempt === undefined ? [] : (this.observed.podGroups ?? []).filter((g) => g.attempt === attempt);
  }

  private deletePodGroups(groups: readonly ObservedPodGroup[], why: string): void {
    const names = groups.filter((g) => !g.deleting).map((g) => g.name);
    if (names.length > 0) this.act({ kind: 'deletePodGroups', names, why });
  }

  private podsOf(attempt: number | undefined): ObservedPod[] {
    return attempt === undefined ? [] : this.observed.pods.filter((p) => p.attempt === attempt);
  }

  private deleteStalePods(): void {
    const current = this.status.attempt?.index;
    this.deleteAll(
      this.observed.pods.filter((p) => p.attempt !== current),
      'pod of an earlier attempt',
    );
  }

  private deleteAll(pods: readonly ObservedPod[], why: string): void {
    const names = pods.filter((p) => !p.deleting).map((p) => p.name);
    if (names.length === 0) return;
    const existing = this.actions.find((a): a is Extract<Action, { kind: 'deletePods' }> => a.kind === 'deletePods');
    if (existing !== undefined) existing.pods.push(...names.filter((n) => !existing.pods.includes(n)));
    else this.act({ kind: 'deletePods', pods: names, why });
  }

  private cleanupBroker(burstIds: string[]): void {
    if (this.job.spec.transport.kind === 'redis') this.act({ kind: 'cleanupBroker', burstIds });
  }

  /** The current attempt ended: its broker keys and its secret go. */
  private attemptOver(): void {
    const attempt = this.status.attempt!;
    this.cleanupBroker([this.burstId()]);
    this.act({ kind: 'deleteSecrets', attempts: [attempt.index] });
  }

  /**
   * The current attempt's burst id, as its pods, broker user and keys are named: computed, not read from
   * the status (whoever may write a BurstJob's status could aim the broker clean-up at another burst).
   */
  private burstId(): string {
    return burstIdOf(this.job.uid, this.status.attempt!.index);
  }

  private burstIds(): string[] {
    const last = this.status.attempt?.index ?? -1;
    return Array.from({ length: last + 1 }, (_, i) => burstIdOf(this.job.uid, i));
  }

  /** status.packs from the pods of the current attempt. */
  private count(pods: readonly ObservedPod[], total?: number): void {
    const c = emptyCounts(total ?? (this.status.attempt ? decodeLayout(this.status.attempt.layout).length : 0));
    for (const p of pods) {
      if (p.gated || p.kueue?.gated) c.gated++;
      else if (p.phase === 'Pending') c.pending++;
      else if (p.phase === 'Running') {
        c.running++;
        if (p.ready) c.ready++;
      } else if (p.phase === 'Succeeded') c.succeeded++;
      else if (p.phase === 'Failed') c.failed++;
    }
    this.status.packs = c;
  }

  private condition(type: ConditionType, status: 'True' | 'False', reason: Reason, message: string): void {
    setCondition(this.conditions, type, status, reason, message, this.job.generation, this.nowIso);
  }

  private event(type: 'Normal' | 'Warning', reason: EventReason, message: string): void {
    this.act({ kind: 'event', type, reason, message });
  }

  private act(...a: Action[]): void {
    this.actions.push(...a);
  }

  private wake(at: number): void {
    if (this.wakeAt === undefined || at < this.wakeAt) this.wakeAt = at;
  }
}

/** Why a pack's pod went: Kueue's eviction or preemption, else the pod's status reason. */
function lostBecause(pod: ObservedPod | undefined): string {
  if (pod?.kueue?.stopped) return ` (Kueue stopped its pod group: ${pod.kueue.stopped.slice(0, 300)})`;
  return pod?.reason ? ` (${pod.reason})` : '';
}

/** Why the gang is not placed yet: kube-scheduler's word on the PodGroup, else on the first unschedulable pod. */
function schedulerSays(group: ObservedPodGroup | undefined, pods: readonly ObservedPod[]): string | undefined {
  const c = group?.scheduled;
  if (c !== undefined && c.status === 'False' && c.message) return `PodGroup ${group!.name} ${c.reason ?? 'not scheduled'}: ${c.message.slice(0, 500)}`;
  return pods.find((p) => p.unschedulable !== undefined)?.unschedulable;
}

/** Not terminated: it may hold capacity or still talk to the burst. */
const isLive = (p: ObservedPod): boolean => p.phase !== 'Succeeded' && p.phase !== 'Failed';

/** Waiting reasons every container goes through; anything else (ImagePullBackOff…) is worth reporting. */
const ROUTINE_WAITING = new Set(['ContainerCreating', 'PodInitializing']);

/** Why the first pack that has not joined is stuck, as a message suffix ("" when nothing unusual is known). */
function notStarted(pods: readonly ObservedPod[]): string {
  const p = [...pods].sort((a, b) => a.pack - b.pack).find((x) => x.waiting !== undefined && !ROUTINE_WAITING.has(x.waiting.reason) && !(x.phase === 'Running' && x.ready));
  if (p === undefined) return '';
  const detail = p.waiting!.message ? `: ${clipRedacted(p.waiting!.message, 300)}` : '';
  return `; pack ${p.pack} (pod ${p.name}) is waiting: ${p.waiting!.reason}${detail}`;
}

function emptyCounts(total: number): PackCounts {
  return { total, gated: 0, pending: 0, running: 0, ready: 0, succeeded: 0, failed: 0 };
}

function workersOf(sizes: number[], pack: number): string {
  const r = packRanges(sizes)[pack]!;
  return `${r.start}-${r.end - 1}`;
}

export type { Phase };
