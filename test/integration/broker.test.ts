import { Redis } from 'ioredis';
import { BROKER_FINALIZER } from '@kubeburst/api';
import { redisInboxKey } from '../../worker-runtime/src/transport/redis.js';
import type { Flares } from './harness/flare.js';
import { paths, type Json } from './harness/kube.js';
import { operatorSuite } from './harness/suite.js';
import { waitFor } from './harness/wait.js';

/**
 * State outside the cluster: a Redis-transport BurstJob holds a finalizer, and its broker keys (the packs'
 * inboxes, left behind when packs are killed) are deleted after a failed attempt and before the BurstJob
 * goes. Real Redis on 127.0.0.1:6379 (make services).
 */
const REDIS = 'redis://127.0.0.1:6379';
// The broker URL is in a Secret: cleanup needs the chart's opt-in Secret access.
const suite = operatorSuite('it-broker', { values: ['rbac.readBrokerSecrets=true'] });
const { ns } = suite;
let redis: Redis;
let flares: Flares;

beforeAll(async () => {
  redis = new Redis(REDIS, { lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  flares = await suite.poolOf('pool', 1, 16);
});

afterAll(() => redis?.disconnect());

/** What a killed pack leaves behind: its inbox list. */
const leaveInbox = (burstId: string, pack: number): Promise<number> => redis.rpush(redisInboxKey(burstId, pack), 'frame');

describe('broker cleanup (Redis transport)', () => {
  it('deletes a failed attempt’s keys, and every attempt’s keys before the finalizer lets the BurstJob go', async () => {
    // A Secret holds the URL: pods mount it as a file, the operator reads it only to clean up.
    await suite.kube.create(`/api/v1/namespaces/${ns}/secrets`, { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'redis' }, stringData: { url: REDIS } });
    await flares.create('rj', { size: 4, granularity: 2, maxRestarts: 1, transport: { kind: 'redis', secretRef: { name: 'redis' } } });
    const running = await flares.waitPhase('rj', 'Running');
    expect(running.metadata.finalizers).toEqual([BROKER_FINALIZER]);
    const pod = (await flares.pods('rj'))[0]!;
    expect(pod.spec.containers[0].env.find((e: Json) => e.name === 'KB_TRANSPORT_URL')).toBeUndefined();
    expect(pod.spec.containers[0].env.find((e: Json) => e.name === 'KB_TRANSPORT_URL_FILE')).toEqual({ name: 'KB_TRANSPORT_URL_FILE', value: '/etc/kubeburst/transport/url' });
    expect(pod.spec.volumes.find((v: Json) => v.name === 'transport')).toMatchObject({ secret: { secretName: 'redis', items: [{ key: 'url', path: 'url' }], optional: true } });

    const first = running.status.attempt.burstId as string;
    await leaveInbox(first, 1);
    await flares.fail('rj-a0-0', 'killed');
    const second = await flares.waitStatus('rj', 'attempt 1 running', (s) => s.attempt?.index === 1 && s.phase === 'Running');
    await waitFor('attempt 0 inbox deleted', async () => (await redis.exists(redisInboxKey(first, 1))) === 0);

    const burstId = second.status.attempt.burstId as string;
    await leaveInbox(burstId, 0);
    await leaveInbox(burstId, 1);
    await flares.delete('rj');
    await waitFor(
      'the BurstJob gone',
      () =>
        suite.kube.get(paths.burstjob(ns, 'rj')).then(
          () => false,
          () => true,
        ),
      30_000,
    );
    expect(await redis.exists(redisInboxKey(burstId, 0), redisInboxKey(burstId, 1))).toBe(0);
  });

  it('holds no finalizer when nothing lives outside the cluster', async () => {
    await flares.create('dj', { size: 2, granularity: 1 });
    const running = await flares.waitPhase('dj', 'Running');
    expect(running.metadata.finalizers ?? []).toEqual([]);
  });
});
