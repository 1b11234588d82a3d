import { isConflict, isNotFound, paths, sleep, type Json, type KubeClient } from './kube.js';
import type { Logger } from './log.js';

/**
 * Leader election on a coordination.k8s.io/v1 Lease, the same protocol as client-go's leaderelection, so
 * only one operator replica reconciles at a time:
 *
 *  - acquire: the Lease is free (absent, released, or not renewed for leaseDuration as measured on *our*
 *    clock since we last saw it change, so clock skew between replicas does not matter);
 *  - renew every retryPeriod; if no renewal succeeds for renewDeadline, leadership is lost (the caller
 *    exits so a fresh process starts clean). Each renewal races the time left until renewDeadline, so a
 *    request that hangs cannot keep a replica believing it leads after another may have taken over
 *    (renewDeadline < leaseDuration). The caller gives this elector a client of its own: Lease requests must
 *    not wait behind a flare's pod creations in a shared rate limiter or connection pool;
 *  - release on shutdown, so a successor takes over without waiting out the lease.
 * Updates carry the resourceVersion they read: two candidates can never both win.
 */
export interface LeaderOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs: number;
  renewDeadlineMs: number;
  retryPeriodMs: number;
}

const microTime = (ms = Date.now()): string => new Date(ms).toISOString().replace('Z', '000Z');

/**
 * Deadlines and what was seen when count on the monotonic clock: with the wall clock, a step back on the
 * leader kept it leading past its renew deadline while renewals failed, and a step forward on a standby made
 * it take over early, both at once. Only the Lease's own times (renewTime, acquireTime) are wall-clock.
 */
const clock = (): number => performance.now();

/** `p`'s value, or false once `ms` have passed (the request may still complete; its result is ignored). */
async function raceDeadline(p: Promise<boolean>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([p, late]);
  } finally {
    clearTimeout(timer);
  }
}

export class LeaderElector {
  private leading = false;
  private observed: { record: string; at: number } | undefined;
  private stopped = false;

  constructor(
    private readonly kube: KubeClient,
    private readonly o: LeaderOptions,
    private readonly log: Logger,
  ) {}

  /** Resolves once this instance leads; then keeps renewing until `onLost` or `stop()`. */
  async acquire(onLost: () => void): Promise<void> {
    let announced = false;
    let sent = 0;
    while (!this.stopped) {
      sent = clock();
      if (await this.tryAcquireOrRenew()) break;
      if (!announced) {
        this.log.info('waiting for leadership', { lease: `${this.o.namespace}/${this.o.name}`, holder: this.observedHolder() });
        announced = true;
      }
      await sleep(this.o.retryPeriodMs * (1 + Math.random() * 0.2));
    }
    if (this.stopped) return;
    this.leading = true;
    this.log.info('became leader', { lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity });
    void this.renewLoop(onLost, sent);
  }

  /**
   * `acquiredAt`: when the winning request was sent. The deadline counts from there, not from its answer:
   * others see the lease as ours from its write on, which is after that, so this replica stops believing it
   * leads (renewDeadline after the send) before any other can take over (leaseDuration after the write).
   */
  private async renewLoop(onLost: () => void, acquiredAt: number): Promise<void> {
    // When the last successful renewal was sent.
    let lastRenew = acquiredAt;
    while (!this.stopped && this.leading) {
      await sleep(Math.min(this.o.retryPeriodMs, Math.max(0, lastRenew + this.o.renewDeadlineMs - clock())));
      if (this.stopped) return;
      const sent = clock();
      const left = lastRenew + this.o.renewDeadlineMs - sent;
      if (left > 0 && (await raceDeadline(this.tryAcquireOrRenew(), left))) {
        lastRenew = sent;
        continue;
      }
      if (left > 0 && clock() - sent >= left) this.log.warn('lease renewal got no answer in time', { waitedMs: clock() - sent });
      if (clock() - lastRenew >= this.o.renewDeadlineMs) {
        this.leading = false;
        if (this.stopped) return;
        this.log.error('lost leadership: could not renew the lease', { renewDeadlineMs: this.o.renewDeadlineMs });
        onLost();
        return;
      }
    }
  }

  /** Gives the lease up (shutdown), so another replica takes over at once. */
  async release(): Promise<void> {
    this.stopped = true;
    if (!this.leading) return;
    this.leading = false;
    try {
      const lease = await this.kube.get<Json>(paths.lease(this.o.namespace, this.o.name));
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      lease.spec = { ...lease.spec, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime() };
      await this.kube.replace(paths.lease(this.o.namespace, this.o.name), lease);
      this.log.info('released leadership');
    } catch (err) {
      this.log.warn('could not release the lease', { error: (err as Error).message });
    }
  }

  private observedHolder(): string | undefined {
    return this.observed ? (JSON.parse(this.observed.record) as { holderIdentity?: string }).holderIdentity : undefined;
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const path = paths.lease(this.o.namespace, this.o.name);
    const leaseSeconds = Math.max(1, Math.round(this.o.leaseDurationMs / 1000));
    const now = Date.now();
    try {
      let lease: Json;
      try {
        lease = await this.kube.get<Json>(path);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await this.kube.create(paths.leases(this.o.namespace), {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: this.o.name, namespace: this.o.namespace },
          spec: { holderIdentity: this.o.identity, leaseDurationSeconds: leaseSeconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 },
        });
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify({ holderIdentity: spec.holderIdentity, renewTime: spec.renewTime, leaseDurationSeconds: spec.leaseDurationSeconds });
      // Seen at the answer, not at the request: a slow GET must not move another holder's expiry earlier.
      const seenAt = clock();
      if (this.observed?.record !== record) this.observed = { record, at: seenAt };
      const holder: string = spec.holderIdentity ?? '';
      const theirDuration = (spec.leaseDurationSeconds ?? leaseSeconds) * 1000;
      if (holder !== '' && holder !== this.o.identity && this.observed.at + theirDuration > seenAt) return false;
      const mine = holder === this.o.identity;
      lease.spec = {
        ...spec,
        holderIdentity: this.o.identity,
        leaseDurationSeconds: leaseSeconds,
        renewTime: microTime(now),
        acquireTime: mine ? spec.acquireTime : microTime(now),
        leaseTransitions: (spec.leaseTransitions ?? 0) + (mine ? 0 : 1),
      };
      await this.kube.replace(path, lease);
      return true;
    } catch (err) {
      if (!isConflict(err)) this.log.warn('lease update failed', { error: (err as Error).message });
      return false;
    }
  }
}
