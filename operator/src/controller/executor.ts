import { randomBytes } from 'node:crypto';
import { cleanupBurst, createRedisBurstUser, deleteRedisBurstUser, mintNatsBurstUser, natsCredsFile, type NatsAccountKey } from '@kubeburst/worker-runtime';
import { BROKER_FINALIZER, EVENT, GANG_SCHEDULING_GATE } from '@kubeburst/api';
import { decodeLayout } from '../planner/layout.js';
import { controllerOf } from './observe.js';
import {
  attemptSecret,
  attemptSecretName,
  burstIdOf,
  headlessService,
  networkPolicyName,
  packNetworkPolicy,
  packPod,
  packPodGroup,
  packPodName,
  paramsConfigMap,
  natsUserLifetime,
  paramsConfigMapName,
  resultsConfigMap,
  serviceName,
  type K8sObject,
  type PodOptions,
} from '../planner/pods.js';
import type { Action, JobView } from '../planner/types.js';
import type { EventRecorder } from './events.js';
import { ApiError, isAlreadyExists, isConflict, isNotFound, PATCH, paths, type Json, type KubeClient } from './kube.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/**
 * Applies a plan's actions to the API server. Every action is idempotent (deterministic names, create
 * tolerates AlreadyExists, delete tolerates NotFound), so re-applying a plan after a crash or a stale
 * cache is harmless. Pod creations, gate lifts and deletions run concurrently in a bounded pool: a
 * 1 000-pod flare is created in parallel, not one request after another.
 *
 * Expectations: a pod this operator just created (or deleted) is not created (or deleted) again until
 * the informer has seen it or a while has passed, so reconciles that run before the cache catches up do
 * not send hundreds of redundant requests. The mark is set before the request (the watch event may arrive
 * before the response does) and cleared when the request did not do what it was for.
 */
export interface ExecutorOptions {
  podCreateConcurrency: number;
  /** Apply a NetworkPolicy per job (--network-policy). */
  networkPolicy?: boolean;
  /** Redis admin credential: a Redis ACL user per burst, and key clean-up without reading job Secrets. */
  redisAdminUrl?: string;
  /**
   * NATS account key (brokers.natsAccount): a NATS user per burst, minted here and handed to its packs in
   * the attempt Secret. Nothing is created on the server, so nothing is deleted: the user's JWT expires.
   */
  natsAccount?: NatsAccountKey;
  pod: PodOptions;
}

export interface ExecResult {
  /** The BurstJob as last returned by the API server (a finalizer patch changes its resourceVersion). */
  latest: Json;
  errors: Error[];
  /** A failure that must keep the status from moving on (results not stored yet). */
  blocking: boolean;
}

const EXPECTATION_TTL_MS = 30_000;

export class Expectations {
  private readonly pending = new Map<string, number>();
  expect(key: string): void {
    this.pending.set(key, Date.now() + EXPECTATION_TTL_MS);
  }
  observed(key: string): void {
    this.pending.delete(key);
  }
  isPending(key: string): boolean {
    const until = this.pending.get(key);
    if (until === undefined) return false;
    if (until < Date.now()) {
      this.pending.delete(key);
      return false;
    }
    return true;
  }
}

export async function pool<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<Error[]> {
  const errors: Error[] = [];
  let next = 0;
  const run = async (): Promise<void> => {
    while (next < items.length) {
      const item = items[next++]!;
      try {
        await fn(item);
      } catch (err) {
        errors.push(err as Error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
  return errors;
}

export class Executor {
  readonly creates = new Expectations();
  readonly deletes = new Expectations();
  readonly ungates = new Expectations();

  constructor(
    private readonly kube: KubeClient,
    private readonly recorder: EventRecorder,
    private readonly metrics: Metrics,
    private readonly opts: ExecutorOptions,
    private readonly podGates: (ns: string, name: string) => Json[] | undefined,
    private readonly log: Logger,
  ) {}

  async apply(job: JobView, raw: Json, actions: readonly Action[]): Promise<ExecResult> {
    const res: ExecResult = { latest: raw, errors: [], blocking: false };
    const ns = job.namespace;
    const events: Promise<void>[] = [];
    const attempt = async (what: string, f: () => Promise<void>, blocking = false): Promise<void> => {
      try {
        await f();
      } catch (err) {
        res.errors.push(new Error(`${what}: ${(err as Error).message}`));
        if (blocking) res.blocking = true;
      }
    };
    const order: Action['kind'][] = [
      'addFinalizer',
      'ensureService',
      'ensureParams',
      'ensureNetworkPolicy',
      'ensureSecret',
      'ensurePodGroup',
      'createPods',
      'ungatePods',
      'deletePods',
      'deletePodGroups',
      'deleteSecrets',
      'writeResults',
      'cleanupBroker',
      'finalize',
      'deleteJob',
      'event',
    ];
    const sorted = [...actions].sort((a, b) => order.indexOf(a.kind) - order.indexOf(b.kind));
    for (const a of sorted) {
      switch (a.kind) {
        case 'addFinalizer':
          await attempt('add finalizer', async () => {
            const finalizers = [...(res.latest.metadata.finalizers ?? []), BROKER_FINALIZER];
            res.latest = await this.kube.patch(paths.burstjob(ns, job.name), { metadata: { finalizers, resourceVersion: res.latest.metadata.resourceVersion } });
          });
          break;
        case 'ensureService':
          await attempt('ensure the headless Service', () => this.ensureService(job));
          break;
        case 'ensureParams':
          await attempt('create params ConfigMap', () => this.ensureOwned(job, paths.configmap(ns, paramsConfigMapName(job.name)), paramsConfigMap(job), 'data'));
          break;
        case 'ensureNetworkPolicy':
          // Blocking: the packs' ports are open to the whole cluster network without it.
          if (this.opts.networkPolicy)
            await attempt('apply the NetworkPolicy', () => this.ensureOwned(job, paths.networkPolicy(ns, networkPolicyName(job.name)), packNetworkPolicy(job), 'spec'), true);
          break;
        case 'ensureSecret':
          // Pods cannot start without it: the pods wait for it (blocking). Once a pod of the attempt exists, the
          // Secret there is kept; before, it is replaced (see the action).
          await attempt(
            'create the attempt Secret',
            async () => {
              // The burst's Redis user gets the password this Secret carries, set only when the Secret is
              // created: one that already exists got its user then (a crash in between fails that attempt
              // on authentication, clearly, and the next one starts afresh).
              const admin = job.spec.transport.kind === 'redis' ? this.opts.redisAdminUrl : undefined;
              const password = admin !== undefined ? randomBytes(24).toString('base64url') : undefined;
              // The burst's NATS user needs nothing on the server: minting it is signing a JWT. A Secret that
              // already exists keeps the user it was made with (this one is never used).
              const account = job.spec.transport.kind === 'nats' ? this.opts.natsAccount : undefined;
              const natsCreds =
                account !== undefined
                  ? natsCredsFile(
                      await mintNatsBurstUser(account, burstIdOf(job.uid, a.attempt), {
                        expiresInSeconds: natsUserLifetime(job),
                        field: 'the NATS account key (chart value brokers.natsAccount)',
                      }),
                    )
                  : undefined;
              const secret = attemptSecret(job, a.attempt, { ...(password !== undefined ? { password } : {}), ...(natsCreds !== undefined ? { natsCreds } : {}) });
              const name = attemptSecretName(job.name, a.attempt);
              try {
                await this.kube.create(paths.secrets(ns), secret);
              } catch (err) {
                if (!isAlreadyExists(err)) throw err;
                // Pods of the attempt mount the one there (some this executor created may not be in the cache
                // yet, and the plan did not see them): keep it.
                const created = Array.from({ length: a.packs }, (_, p) => `${ns}/${packPodName(job.name, a.attempt, p)}`).some((k) => this.creates.isPending(k));
                if (!a.fresh || created) return;
                // None does yet: whoever made it (someone who may create Secrets here, knowing its key, or
                // this operator before a crash), the attempt's key is made now. (The operator cannot read
                // Secrets, so it cannot tell which.)
                await this.kube.delete(paths.secret(ns, name)).catch((e: unknown) => {
                  if (!isNotFound(e)) throw e;
                });
                try {
                  await this.kube.create(paths.secrets(ns), secret);
                } catch (again) {
                  if (isAlreadyExists(again)) throw new Error(`Secret ${name} was there again right after the operator replaced it: something else creates Secrets of that name`);
                  throw again;
                }
              }
              if (admin !== undefined) await withTimeout(createRedisBurstUser(admin, burstIdOf(job.uid, a.attempt), password!), 10_000, "creating the burst's Redis user");
            },
            true,
          );
          break;
        case 'deleteSecrets':
          for (const at of a.attempts) {
            // Not blocking (the status that ends an attempt must not wait on it): the planner asks again.
            await attempt(`delete the Secret of attempt ${at}`, async () => {
              try {
                await this.kube.delete(paths.secret(ns, attemptSecretName(job.name, at)));
              } catch (err) {
                if (!isNotFound(err)) throw err;
              }
            });
          }
          break;
        case 'ensurePodGroup':
          // Before any pod (blocking): pods naming a PodGroup that does not exist wait in the scheduler, and a
          // PodGroup created after its pods would leave the gang's first cycle to chance.
          await attempt(
            `create PodGroup of attempt ${a.attempt}`,
            async () => {
              try {
                await this.kube.create(paths.podGroups(ns), packPodGroup(job, a.attempt, a.minCount));
              } catch (err) {
                if (!isAlreadyExists(err)) throw err;
              }
            },
            true,
          );
          break;
        case 'deletePodGroups': {
          const errs = await pool(a.names, this.opts.podCreateConcurrency, async (name) => {
            try {
              await this.kube.delete(paths.podGroup(ns, name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          });
          if (errs.length) res.errors.push(summarize(`delete PodGroup(s) ${a.names.join(', ')} (${a.why})`, errs));
          break;
        }
        case 'createPods': {
          if (res.blocking) break; // no Secret or no PodGroup: the pods could not start
          const sizes = decodeLayout(a.layout);
          const burstId = a.burstId;
          const todo = a.packs.filter((p) => !this.creates.isPending(`${ns}/${packPodName(job.name, a.attempt, p)}`));
          const errs = await pool(todo, this.opts.podCreateConcurrency, async (pack) => {
            const pod = packPod(job, a.attempt, burstId, pack, sizes, this.opts.pod, a.backend);
            const key = `${ns}/${pod.metadata.name as string}`;
            this.creates.expect(key);
            try {
              await this.kube.create(paths.pods(ns), pod);
              this.metrics.podsCreated.inc();
            } catch (err) {
              if (!isAlreadyExists(err)) {
                this.creates.observed(key);
                throw err;
              }
              // AlreadyExists: this job's pod, which the cache will show; or one it does not own (an earlier
              // job's, going: the pod's delete event re-queues the job; or someone else's, which would stall
              // the attempt without a word: say so).
              // (A list by name: the operator may list pods, not get them.)
              const found = await this.kube
                .get<{ items?: Json[] }>(`${paths.pods(ns)}?fieldSelector=${encodeURIComponent(`metadata.name=${pod.metadata.name as string}`)}`)
                .catch(() => undefined);
              const have = found?.items?.[0];
              const owner = controllerOf(have);
              if (have !== undefined && owner?.uid !== job.uid && !have.metadata.deletionTimestamp) {
                this.creates.observed(key);
                throw new Error(
                  `pod ${ns}/${pod.metadata.name as string} exists and is not this BurstJob's (${owner === undefined ? 'it has no controller' : `its controller is ${owner.kind} ${owner.name}`}): delete it, or rename the BurstJob`,
                );
              }
            }
          });
          if (errs.length) res.errors.push(summarize(`create ${errs.length} of ${todo.length} pod(s)`, errs));
          break;
        }
        case 'ungatePods': {
          // Right after admission the cache still shows most gates: lift each once, not once per reconcile.
          const todo = a.pods.filter((n) => !this.ungates.isPending(`${ns}/${n}`));
          const errs = await pool(todo, this.opts.podCreateConcurrency, async (name) => {
            const key = `${ns}/${name}`;
            this.ungates.expect(key);
            let lifted = false;
            try {
              lifted = await this.ungate(ns, name);
            } finally {
              if (!lifted) this.ungates.observed(key);
            }
          });
          if (errs.length) res.errors.push(summarize(`lift the gate of ${errs.length} of ${todo.length} pod(s)`, errs));
          break;
        }
        case 'deletePods': {
          const todo = a.pods.filter((n) => !this.deletes.isPending(`${ns}/${n}`));
          const errs = await pool(todo, this.opts.podCreateConcurrency, async (name) => {
            const key = `${ns}/${name}`;
            this.deletes.expect(key);
            try {
              await this.kube.delete(paths.pod(ns, name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background' });
              this.metrics.podsDeleted.inc();
            } catch (err) {
              this.deletes.observed(key);
              if (!isNotFound(err)) throw err;
            }
          });
          if (errs.length) res.errors.push(summarize(`delete ${errs.length} of ${todo.length} pod(s) (${a.why})`, errs));
          if (todo.length) this.log.info('deleted pods', { count: todo.length, why: a.why });
          break;
        }
        case 'writeResults':
          await attempt('write results ConfigMap', () => this.ensureOwned(job, paths.configmap(ns, a.ref.configMap), resultsConfigMap(job, a.data), 'data'), true);
          break;
        case 'cleanupBroker': {
          const failed = await this.cleanupBroker(job, a.burstIds);
          if (failed !== undefined) events.push(this.recorder.record(job, 'Warning', EVENT.BrokerCleanupFailed, `${failed.message}; the keys expire on their own (TTL)`));
          break;
        }
        case 'finalize':
          await attempt('finalize', async () => {
            const failed = await this.cleanupBroker(job, a.burstIds);
            if (failed !== undefined && !a.giveUp && !failed.hopeless) throw new Error(`${failed.message} (will retry; the finalizer is dropped after --broker-cleanup-timeout)`);
            if (failed !== undefined) events.push(this.recorder.record(job, 'Warning', EVENT.BrokerCleanupFailed, `${failed.message}; the keys expire on their own (TTL)`));
            const finalizers = (res.latest.metadata.finalizers ?? []).filter((f: string) => f !== BROKER_FINALIZER);
            try {
              res.latest = await this.kube.patch(paths.burstjob(ns, job.name), { metadata: { finalizers, resourceVersion: res.latest.metadata.resourceVersion } });
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          });
          break;
        case 'deleteJob':
          await attempt('delete BurstJob', async () => {
            try {
              await this.kube.delete(paths.burstjob(ns, job.name), { apiVersion: 'v1', kind: 'DeleteOptions', propagationPolicy: 'Background', preconditions: { uid: job.uid } });
              this.log.info('deleted BurstJob', { why: a.why });
            } catch (err) {
              if (!isNotFound(err)) throw err;
            }
          });
          break;
        case 'event':
          events.push(this.recorder.record(job, a.type, a.reason, a.message));
          break;
      }
    }
    await Promise.all(events);
    return res;
  }

  /**
   * Creates the job's headless Service. One that exists already is kept if this job owns it; one owned by an
   * earlier BurstJob of the same name (deleted, its Service not yet garbage-collected) is replaced, so the
   * new job's packs do not lose their DNS names when the collector gets to it. Anything else is not ours
   * to delete: the error names it.
   */
  private async ensureService(job: JobView): Promise<void> {
    const ns = job.namespace;
    const want = headlessService(job);
    try {
      await this.kube.create(paths.services(ns), want);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const have = await this.kube.get<Json>(paths.service(ns, serviceName(job.name)));
    const owner = controllerOf(have);
    if (owner?.uid === job.uid) return;
    if (owner?.kind !== 'BurstJob') {
      throw new Error(`Service ${ns}/${serviceName(job.name)} exists and is not owned by a BurstJob; delete it or rename the BurstJob (packs need that name)`);
    }
    this.log.info('replacing the Service of an earlier BurstJob of the same name', { service: serviceName(job.name), ownerUid: owner.uid });
    try {
      await this.kube.delete(paths.service(ns, serviceName(job.name)), { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: have.metadata.uid } });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
    await this.kube.create(paths.services(ns), want);
  }

  /**
   * Creates `want` at `path`, or, where an object of its name is there, sets its `field` to want's, but
   * only if it is this job's: one JSON patch that first tests that its first owner reference (the
   * controller one the operator writes, and its only) carries the job's uid, so that for anyone else's the
   * patch changes nothing and fails. (Server-side apply took any object of the name: a BurstJob named
   * like the namespace's own NetworkPolicy rewrote it, and made itself its owner, so the garbage collector
   * deleted it with the job.) Without `get`: the operator may not read ConfigMaps.
   */
  private async ensureOwned(job: JobView, path: string, want: K8sObject, field: 'data' | 'spec'): Promise<void> {
    try {
      await this.kube.create(path.slice(0, path.lastIndexOf('/')), want);
      return;
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
    }
    const ops = [
      { op: 'test', path: '/metadata/ownerReferences/0/uid', value: job.uid },
      { op: 'add', path: `/${field}`, value: want[field] },
    ];
    try {
      await this.kube.patch(path, ops, PATCH.json);
    } catch (err) {
      // 422 is the failed test (the ops are well-formed, and the content is what a create accepts).
      if (!(err instanceof ApiError && err.status === 422)) throw err;
      throw new Error(
        `${String(want.kind)} ${job.namespace}/${String(want.metadata.name)} exists and is not this BurstJob's (someone else's, or an earlier BurstJob's of this name that the garbage collector has yet to remove): the operator changes nothing in it; delete it, or rename the BurstJob`,
      );
    }
  }

  /**
   * Removes only the gang gate, checking it is where we think (other gates may be added by others).
   * True when the gate was lifted by this call.
   */
  private async ungate(ns: string, name: string): Promise<boolean> {
    const gates = this.podGates(ns, name);
    const i = gates === undefined ? 0 : gates.findIndex((g) => g.name === GANG_SCHEDULING_GATE);
    if (i < 0) return false;
    try {
      await this.kube.patch(
        paths.pod(ns, name),
        [
          { op: 'test', path: `/spec/schedulingGates/${i}/name`, value: GANG_SCHEDULING_GATE },
          { op: 'remove', path: `/spec/schedulingGates/${i}` },
        ],
        'application/json-patch+json',
      );
      return true;
    } catch (err) {
      // NotFound: the planner will see the pod is gone. 422: the gate moved or is gone already; the next
      // reconcile, with a fresher cache, tries again if it is still there.
      if (isNotFound(err) || (err instanceof ApiError && err.status === 422)) return false;
      throw err;
    }
  }

  /**
   * Deletes the bursts' broker keys; returns why it failed (`hopeless`: retrying cannot help, e.g. the chart
   * grants no Secret access), or undefined.
   */
  private async cleanupBroker(job: JobView, burstIds: readonly string[]): Promise<{ message: string; hopeless: boolean } | undefined> {
    const t = job.spec.transport;
    if (t.kind !== 'redis') return undefined;
    // With the admin credential: its keys and its users go, and no job Secret needs reading.
    const admin = this.opts.redisAdminUrl;
    let url = admin ?? t.url;
    try {
      if (admin !== undefined) {
        for (const id of burstIds) await withTimeout(deleteRedisBurstUser(admin, id), 10_000, `deleting the Redis user of burst ${id}`);
      } else if (t.secretRef !== undefined) {
        let secret: Json;
        try {
          secret = await this.kube.get<Json>(paths.secret(job.namespace, t.secretRef.name));
        } catch (err) {
          if (err instanceof ApiError && err.status === 403) {
            return {
              message: `cannot read Secret ${t.secretRef.name} for the broker URL (install the chart with rbac.readBrokerSecrets=true to clean broker keys)`,
              hopeless: true,
            };
          }
          throw err;
        }
        const b64 = secret.data?.[t.secretRef.key];
        if (b64 === undefined) return { message: `Secret ${t.secretRef.name} has no key ${t.secretRef.key}`, hopeless: false };
        url = Buffer.from(b64, 'base64').toString('utf8');
      }
      let deleted = 0;
      for (const id of burstIds) deleted += await withTimeout(cleanupBurst('redis', url, id), 10_000, `cleaning Redis keys of burst ${id}`);
      if (deleted > 0) this.log.info('deleted broker keys', { keys: deleted, bursts: burstIds.length });
      return undefined;
    } catch (err) {
      return { message: `cannot delete broker keys of ${burstIds.join(', ')}: ${(err as Error).message}`, hopeless: false };
    }
  }
}

function summarize(what: string, errs: Error[]): Error {
  const first = [...new Set(errs.map((e) => e.message))].slice(0, 3).join('; ');
  return new Error(`could not ${what}: ${first}`);
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
