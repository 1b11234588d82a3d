import { parseNatsCreds } from '../../../worker-runtime/src/transport/nats-users.js';
import { createAccount, createUser } from 'nkeys.js';
import { burstIdOf } from '../planner/pods.js';
import { burstJob } from '../testing/planner.js';
import type { EventRecorder } from './events.js';
import { Executor } from './executor.js';
import { ApiError, type Json, type KubeClient } from './kube.js';
import { Logger } from './log.js';
import type { Metrics } from './metrics.js';

/** A KubeClient stand-in: records requests; `on` decides each answer. */
function fakeKube(on: (verb: string, path: string, body?: Json) => Promise<Json>): { kube: KubeClient; calls: string[] } {
  const calls: string[] = [];
  const call = (verb: string) => (path: string, body?: Json) => {
    calls.push(`${verb} ${path}${verb === 'DELETE' && body?.preconditions ? ` uid=${body.preconditions.uid}` : ''}`);
    return on(verb, path, body);
  };
  const kube = { create: call('POST'), get: call('GET'), patch: call('PATCH'), delete: call('DELETE'), replace: call('PUT') } as unknown as KubeClient;
  return { kube, calls };
}

const metrics = { podsCreated: { inc: () => undefined }, podsDeleted: { inc: () => undefined } } as unknown as Metrics;
const recorder = { record: async () => undefined } as unknown as EventRecorder;
const job = { ...burstJob('j').size(4).granularity(2).obj(), uid: 'uid-new' };
const gated = [{ name: 'kubeburst.io/gang' }];

function executor(kube: KubeClient): Executor {
  return new Executor(kube, recorder, metrics, { podCreateConcurrency: 4, pod: { defaultImage: 'w:1' } }, () => gated, new Logger('error'));
}

describe('executor expectations', () => {
  it('does not keep a "just created" mark when the watch saw the pod before the create returned', async () => {
    let ex: Executor | undefined;
    const { kube } = fakeKube(async (verb, path, body) => {
      // The informer's ADDED event is handled before the response arrives.
      if (verb === 'POST' && path.endsWith('/pods')) ex!.creates.observed(`ns/${body!.metadata.name}`);
      return body ?? {};
    });
    ex = executor(kube);
    await ex.apply(job, { metadata: {} }, [{ kind: 'createPods', attempt: 0, burstId: 'b', layout: '2x2', packs: [0, 1], backend: 'SchedulingGates' }]);
    expect(ex.creates.isPending('ns/j-a0-0')).toBe(false);
    expect(ex.creates.isPending('ns/j-a0-1')).toBe(false);
  });

  it('marks a pod as being created while the request is out, and unmarks it when the request failed', async () => {
    let ex: Executor | undefined;
    let pendingDuringRequest: boolean | undefined;
    const { kube } = fakeKube(async (verb, path, body) => {
      pendingDuringRequest = ex!.creates.isPending(`ns/${body!.metadata.name}`);
      throw new ApiError(500, 'InternalError', 'etcd is slow', verb, path);
    });
    ex = executor(kube);
    const res = await ex.apply(job, { metadata: {} }, [{ kind: 'createPods', attempt: 0, burstId: 'b', layout: '2x2', packs: [0], backend: 'SchedulingGates' }]);
    expect(res.errors).toHaveLength(1);
    expect(pendingDuringRequest).toBe(true);
    expect(ex.creates.isPending('ns/j-a0-0')).toBe(false);
  });

  it('says so when a pod of the attempt’s name exists and is not the job’s (it would stall the attempt silently); waits for one being deleted', async () => {
    const other = (deleting: boolean): Json => ({
      metadata: { name: 'j-a0-0', ownerReferences: [{ kind: 'BurstJob', name: 'old', uid: 'uid-old', controller: true }], ...(deleting ? { deletionTimestamp: 'now' } : {}) },
    });
    for (const deleting of [false, true]) {
      const { kube, calls } = fakeKube(async (verb, path) => {
        if (verb === 'POST') throw new ApiError(409, 'AlreadyExists', 'pods "j-a0-0" already exists', verb, path);
        return { items: [other(deleting)] };
      });
      const ex = executor(kube);
      const res = await ex.apply(job, { metadata: {} }, [{ kind: 'createPods', attempt: 0, burstId: 'b', layout: '2x2', packs: [0], backend: 'SchedulingGates' }]);
      expect(calls).toEqual(['POST /api/v1/namespaces/ns/pods', 'GET /api/v1/namespaces/ns/pods?fieldSelector=metadata.name%3Dj-a0-0']);
      expect(res.errors.map((e) => e.message)).toEqual(
        deleting ? [] : [expect.stringContaining("pod ns/j-a0-0 exists and is not this BurstJob's (its controller is BurstJob old): delete it, or rename the BurstJob")],
      );
    }
  });

  it('retries a gate lift refused with 422 at the next reconcile, not 30 s later', async () => {
    const { kube, calls } = fakeKube(async (verb, path) => {
      throw new ApiError(422, 'Invalid', 'test operation failed', verb, path);
    });
    const ex = executor(kube);
    await ex.apply(job, { metadata: {} }, [{ kind: 'ungatePods', pods: ['j-a0-0'] }]);
    expect(ex.ungates.isPending('ns/j-a0-0')).toBe(false);
    await ex.apply(job, { metadata: {} }, [{ kind: 'ungatePods', pods: ['j-a0-0'] }]);
    expect(calls).toEqual(['PATCH /api/v1/namespaces/ns/pods/j-a0-0', 'PATCH /api/v1/namespaces/ns/pods/j-a0-0']);
  });

  it('lifts a gate once while the cache still shows it', async () => {
    const { kube, calls } = fakeKube(async () => ({}));
    const ex = executor(kube);
    await ex.apply(job, { metadata: {} }, [{ kind: 'ungatePods', pods: ['j-a0-0'] }]);
    await ex.apply(job, { metadata: {} }, [{ kind: 'ungatePods', pods: ['j-a0-0'] }]);
    expect(calls).toEqual(['PATCH /api/v1/namespaces/ns/pods/j-a0-0']);
    ex.ungates.observed('ns/j-a0-0');
    expect(ex.ungates.isPending('ns/j-a0-0')).toBe(false);
  });
});

describe('executor: objects named after the job (params, results, NetworkPolicy)', () => {
  const exists = (verb: string, path: string) => new ApiError(409, 'AlreadyExists', 'already exists', verb, path);
  const withPolicy = (kube: KubeClient): Executor =>
    new Executor(kube, recorder, metrics, { podCreateConcurrency: 4, pod: { defaultImage: 'w:1' }, networkPolicy: true }, () => gated, new Logger('error'));

  it('creates them; where one of the name is there, updates it only through a patch that first tests the job owns it', async () => {
    const bodies: Json[] = [];
    const { kube, calls } = fakeKube(async (verb, path, body) => {
      if (verb === 'POST') throw exists(verb, path);
      bodies.push(body!);
      return {};
    });
    const res = await withPolicy(kube).apply(job, { metadata: {} }, [{ kind: 'ensureParams' }, { kind: 'ensureNetworkPolicy' }]);
    expect(res.errors).toEqual([]);
    expect(calls).toEqual([
      'POST /api/v1/namespaces/ns/configmaps',
      'PATCH /api/v1/namespaces/ns/configmaps/j-params',
      'POST /apis/networking.k8s.io/v1/namespaces/ns/networkpolicies',
      'PATCH /apis/networking.k8s.io/v1/namespaces/ns/networkpolicies/j',
    ]);
    for (const [i, field] of ['data', 'spec'].entries())
      expect(bodies[i]).toEqual([
        { op: 'test', path: '/metadata/ownerReferences/0/uid', value: 'uid-new' },
        { op: 'add', path: `/${field}`, value: expect.any(Object) },
      ]);
  });

  it('leaves anyone else’s as it is, and says so', async () => {
    const { kube, calls } = fakeKube(async (verb, path) => {
      if (verb === 'POST') throw exists(verb, path);
      throw new ApiError(422, 'Invalid', 'the server rejected our request due to an error in our request', verb, path);
    });
    const res = await withPolicy(kube).apply(job, { metadata: {} }, [{ kind: 'ensureNetworkPolicy' }]);
    expect(res.errors.map((e) => e.message)).toEqual([expect.stringContaining("NetworkPolicy ns/j exists and is not this BurstJob's")]);
    expect(calls.filter((c) => c.startsWith('DELETE'))).toEqual([]);
  });
});

describe('executor: the headless Service', () => {
  const exists = (verb: string, path: string) => new ApiError(409, 'AlreadyExists', 'services "j" already exists', verb, path);
  const service = (owner?: Json): Json => ({ metadata: { name: 'j', uid: 'svc-old', ownerReferences: owner ? [owner] : [] } });

  it('replaces a Service an earlier BurstJob of the same name left behind', async () => {
    let creates = 0;
    const { kube, calls } = fakeKube(async (verb, path) => {
      if (verb === 'POST' && creates++ === 0) throw exists(verb, path);
      if (verb === 'GET') return service({ kind: 'BurstJob', uid: 'uid-old', controller: true });
      return {};
    });
    const res = await executor(kube).apply(job, { metadata: {} }, [{ kind: 'ensureService' }]);
    expect(res.errors).toEqual([]);
    expect(calls).toEqual([
      'POST /api/v1/namespaces/ns/services',
      'GET /api/v1/namespaces/ns/services/j',
      'DELETE /api/v1/namespaces/ns/services/j uid=svc-old',
      'POST /api/v1/namespaces/ns/services',
    ]);
  });

  it('keeps its own Service, and refuses to delete one no BurstJob owns', async () => {
    const ours = fakeKube(async (verb, path) => {
      if (verb === 'POST') throw exists(verb, path);
      return service({ kind: 'BurstJob', uid: 'uid-new', controller: true });
    });
    expect((await executor(ours.kube).apply(job, { metadata: {} }, [{ kind: 'ensureService' }])).errors).toEqual([]);
    expect(ours.calls).toEqual(['POST /api/v1/namespaces/ns/services', 'GET /api/v1/namespaces/ns/services/j']);

    const theirs = fakeKube(async (verb, path) => {
      if (verb === 'POST') throw exists(verb, path);
      return service();
    });
    const res = await executor(theirs.kube).apply(job, { metadata: {} }, [{ kind: 'ensureService' }]);
    expect(res.errors.map((e) => e.message)).toEqual([expect.stringContaining('Service ns/j exists and is not owned by a BurstJob; delete it or rename the BurstJob')]);
    expect(theirs.calls.some((c) => c.startsWith('DELETE'))).toBe(false);
  });
});

describe('executor: the attempt Secret', () => {
  const exists = (verb: string, path: string) => new ApiError(409, 'AlreadyExists', 'secrets "j-a0-key" already exists', verb, path);
  const secretOf = (body: Json | undefined): string | undefined => (body?.stringData as Record<string, string> | undefined)?.secret;

  it('replaces a Secret of its name that was there before any pod of the attempt: whoever made it, the key is made now', async () => {
    let posts = 0;
    const keys: (string | undefined)[] = [];
    const { kube, calls } = fakeKube(async (verb, path, body) => {
      if (verb === 'POST' && path.endsWith('/secrets')) {
        keys.push(secretOf(body));
        if (posts++ === 0) throw exists(verb, path);
      }
      return {};
    });
    const res = await executor(kube).apply(job, { metadata: {} }, [{ kind: 'ensureSecret', attempt: 0, fresh: true, packs: 2 }]);
    expect(res.errors).toEqual([]);
    // (No GET: the operator may not read Secrets.)
    expect(calls).toEqual(['POST /api/v1/namespaces/ns/secrets', 'DELETE /api/v1/namespaces/ns/secrets/j-a0-key', 'POST /api/v1/namespaces/ns/secrets']);
    expect(keys[1]).toBe(keys[0]);
  });

  it('keeps the Secret once a pod of the attempt exists (the pods mount it), and fails, blocking the pods, when one keeps reappearing', async () => {
    const kept = fakeKube(async (verb, path) => {
      if (verb === 'POST') throw exists(verb, path);
      return {};
    });
    const res = await executor(kept.kube).apply(job, { metadata: {} }, [{ kind: 'ensureSecret', attempt: 0, fresh: false, packs: 2 }]);
    expect(res.errors).toEqual([]);
    expect(kept.calls).toEqual(['POST /api/v1/namespaces/ns/secrets']);

    // A plan made before the cache showed the pods this executor just created: fresh, but kept all the same.
    const early = fakeKube(async (verb, path) => {
      if (verb === 'POST' && path.endsWith('/secrets')) throw exists(verb, path);
      return {};
    });
    const ex = executor(early.kube);
    ex.creates.expect('ns/j-a0-1');
    expect((await ex.apply(job, { metadata: {} }, [{ kind: 'ensureSecret', attempt: 0, fresh: true, packs: 2 }])).errors).toEqual([]);
    expect(early.calls).toEqual(['POST /api/v1/namespaces/ns/secrets']);

    const squatted = fakeKube(async (verb, path) => {
      if (verb === 'POST') throw exists(verb, path);
      return {};
    });
    const again = await executor(squatted.kube).apply(job, { metadata: {} }, [
      { kind: 'ensureSecret', attempt: 0, fresh: true, packs: 2 },
      { kind: 'createPods', attempt: 0, burstId: burstIdOf('uid-new', 0), layout: '2x2', packs: [0, 1], backend: 'SchedulingGates' },
    ]);
    expect(again.blocking).toBe(true);
    expect(again.errors.map((e) => e.message)).toEqual([
      'create the attempt Secret: Secret j-a0-key was there again right after the operator replaced it: something else creates Secrets of that name',
    ]);
    expect(squatted.calls.filter((c) => c.includes('/pods'))).toEqual([]);
  });

  it('a failed delete does not hold the status back (the planner asks for it again while the job is freshly finished)', async () => {
    const { kube } = fakeKube(async (verb, path) => {
      if (verb === 'DELETE') throw new ApiError(500, 'InternalError', 'etcd timeout', verb, path);
      return {};
    });
    const res = await executor(kube).apply(job, { metadata: {} }, [{ kind: 'deleteSecrets', attempts: [0] }]);
    expect(res.blocking).toBe(false);
    expect(res.errors.map((e) => e.message)).toEqual([expect.stringContaining('delete the Secret of attempt 0')]);
  });
});

describe('executor: broker cleanup without Secret access', () => {
  it('lets a Redis job whose URL is in a Secret go at once when the chart grants no Secret access (retrying cannot help)', async () => {
    const redisJob = {
      ...burstJob('r')
        .transport('redis')
        .with({ transport: { kind: 'redis', secretRef: { name: 'redis' } } })
        .obj(),
      uid: 'uid-r',
    };
    const { kube, calls } = fakeKube(async (verb, path) => {
      if (verb === 'GET') throw new ApiError(403, 'Forbidden', 'secrets "redis" is forbidden', verb, path);
      return { metadata: { finalizers: [] } };
    });
    const events: string[] = [];
    const rec = { record: async (_: unknown, type: string, reason: string, message: string) => void events.push(`${type} ${reason}: ${message}`) } as unknown as EventRecorder;
    const ex = new Executor(kube, rec, metrics, { podCreateConcurrency: 4, pod: { defaultImage: 'w:1' } }, () => gated, new Logger('error'));
    const res = await ex.apply(redisJob, { metadata: { finalizers: ['kubeburst.io/broker-cleanup'], resourceVersion: '7' } }, [
      { kind: 'finalize', burstIds: ['b-a0'], giveUp: false },
    ]);
    expect(res.errors).toEqual([]);
    expect(calls).toEqual(['GET /api/v1/namespaces/ns/secrets/redis', 'PATCH /apis/kubeburst.io/v1alpha1/namespaces/ns/burstjobs/r']);
    expect(events).toEqual([
      expect.stringContaining('Warning BrokerCleanupFailed: cannot read Secret redis for the broker URL (install the chart with rbac.readBrokerSecrets=true'),
    ]);
  });
});

describe('executor: the attempt Secret of a NATS burst with brokers.natsAccount', () => {
  const account = createAccount();
  const natsAccount = { seed: new TextDecoder().decode(account.getSeed()) };
  const natsJob = { ...burstJob('n').transport('nats', 'nats://nats:4222').with({ activeDeadlineSeconds: 3600 }).obj(), uid: 'uid-n' };

  function run(opts: { natsAccount?: { seed: string; account?: string } }, j: typeof natsJob = natsJob) {
    const created: Json[] = [];
    const { kube } = fakeKube(async (verb, _path, body) => {
      if (verb === 'POST') created.push(body!);
      return {};
    });
    const lines: string[] = [];
    const events: string[] = [];
    const rec = { record: async (_: unknown, type: string, reason: string, message: string) => void events.push(`${type} ${reason}: ${message}`) } as unknown as EventRecorder;
    const ex = new Executor(
      kube,
      rec,
      metrics,
      { podCreateConcurrency: 4, pod: { defaultImage: 'w:1', natsUsers: true }, ...opts },
      () => gated,
      new Logger('debug', {}, (l) => void lines.push(l)),
    );
    return { created, lines, events, result: ex.apply(j, { metadata: {} }, [{ kind: 'ensureSecret', attempt: 2, fresh: true, packs: 2 }]) };
  }

  it('holds a user of the burst’s own: a .creds file whose JWT the account signed, for kb.<burst>.> only, valid for the deadline plus a margin', async () => {
    const before = Math.floor(Date.now() / 1000);
    const { created, lines, events, result } = run({ natsAccount });
    const res = await result;
    expect(res.errors).toEqual([]);
    expect(created).toHaveLength(1);
    const data = created[0]!.stringData as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual(['broker-url', 'nats.creds', 'secret']);
    const { jwt, seed } = parseNatsCreds(data['nats.creds']!, 'nats.creds');
    const claims = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString());
    const burst = burstIdOf('uid-n', 2);
    expect(claims).toMatchObject({ iss: account.getPublicKey(), nats: { pub: { allow: [`kb.${burst}.>`] }, sub: { allow: [`kb.${burst}.>`] }, type: 'user' } });
    expect(claims.exp - claims.iat).toBe(3600 + 600);
    expect(claims.iat).toBeGreaterThanOrEqual(before);
    // Minting writes nothing (debug level): no log line or Event to carry a seed.
    expect(lines).toEqual([]);
    expect(events).toEqual([]);
    expect(JSON.stringify(created[0]!.metadata)).not.toContain(seed);
  });

  it('holds no NATS user without the account key, or for another transport', async () => {
    const plain = run({});
    await plain.result;
    expect(Object.keys(plain.created[0]!.stringData as object)).toEqual(['secret', 'broker-url']);
    const redis = run({ natsAccount }, { ...burstJob('r').transport('redis').obj(), uid: 'uid-r' });
    await redis.result;
    expect(Object.keys(redis.created[0]!.stringData as object)).toEqual(['secret']);
  });

  it('with a key that cannot sign, creates no Secret and says why, naming the chart value and not the key', async () => {
    const user = new TextDecoder().decode(createUser().getSeed());
    const { created, lines, events, result } = run({ natsAccount: { seed: user } });
    const res = await result;
    expect(created).toEqual([]);
    expect(res.blocking).toBe(true);
    expect(res.errors.map((e) => e.message)).toEqual([expect.stringMatching(/the NATS account key \(chart value brokers\.natsAccount\): the seed is a user seed/)]);
    expect(lines).toEqual([]);
    expect(events).toEqual([]);
    expect(res.errors[0]!.message).not.toContain(user.slice(2, 20));
  });
});
