import { randomBytes } from 'node:crypto';
import { KubeConfig } from '@kubernetes/client-node';
import { Informer } from '../../operator/src/controller/informer.js';
import { KubeClient, loadKubeConfig, type Json } from '../../operator/src/controller/kube.js';
import { Logger } from '../../operator/src/controller/log.js';
import { clusterEnv } from './harness/env.js';
import { adminClient, createNamespace, deleteNamespace } from './harness/kube.js';
import { waitFor } from './harness/wait.js';

/** The self-healing informer against the real API server: watch restarts, errors, the watchdog. */
const ns = `it-inf-${randomBytes(3).toString('hex')}`;
const quiet = new Logger('error');
let kube: KubeClient;
const informers: Informer[] = [];

const cm = (name: string, v: string): Json => ({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name }, data: { v } });

/** Compacts etcd's history up to its current revision (what the API server does every 5 minutes). */
async function compactEtcd(): Promise<void> {
  const post = async (path: string, body: Json): Promise<Json> => {
    const res = await fetch(`${clusterEnv().etcd}${path}`, { method: 'POST', body: JSON.stringify(body) });
    if (!res.ok) throw new Error(`etcd ${path}: ${res.status} ${await res.text()}`);
    return (await res.json()) as Json;
  };
  const { header } = await post('/v3/kv/range', { key: Buffer.from('compact').toString('base64') });
  await post('/v3/kv/compaction', { revision: header.revision, physical: true });
}
const cmPath = `/api/v1/namespaces/${ns}/configmaps`;

function informer(client: KubeClient, opts: Partial<ConstructorParameters<typeof Informer>[1]> = {}): Informer {
  const inf = new Informer(client, { name: 'cms', path: cmPath, backoffBaseMs: 50, backoffMaxMs: 200, ...opts }, quiet);
  informers.push(inf);
  return inf;
}

beforeAll(async () => {
  kube = await adminClient();
  await createNamespace(kube, ns);
});

afterAll(async () => {
  await Promise.all(informers.map((i) => i.stop()));
  await deleteNamespace(kube, ns);
  kube?.close();
});

describe('informer', () => {
  it('lists, then follows adds, updates and deletes across watches the server ends', async () => {
    await kube.create(cmPath, cm('before', '1'));
    const inf = informer(kube, { watchTimeoutSeconds: 1 });
    const seen: string[] = [];
    inf.on({
      add: (o) => seen.push(`add ${o.metadata.name}`),
      update: (o) => seen.push(`update ${o.metadata.name}=${o.data.v}`),
      delete: (o) => seen.push(`delete ${o.metadata.name}`),
    });
    inf.start();
    await inf.waitForSync(10_000);
    expect(inf.get(`${ns}/before`)?.kind).toBe('ConfigMap');
    // Each watch ends after about a second; 30 s is for a loaded machine (under the whole suite, 10 s once ran
    // out). A timeout says how far it got.
    await waitFor(
      'two watches ended by the server',
      () => {
        if (inf.watches >= 3) return true;
        throw new Error(`${inf.watches} watch(es) started, ${inf.relists} list(s), last error: ${inf.lastError ?? 'none'}`);
      },
      30_000,
    );
    await kube.create(cmPath, cm('after', '1'));
    await kube.patch(`${cmPath}/before`, { data: { v: '2' } });
    await kube.delete(`${cmPath}/after`);
    await waitFor('the changes in the cache', () => inf.get(`${ns}/before`)?.data.v === '2' && inf.get(`${ns}/after`) === undefined, 10_000);
    expect(seen.filter((s) => s.includes('before') || s.includes('after'))).toEqual(['add before', 'add after', 'update before=2', 'delete after']);
    expect(inf.relists).toBe(1);
  });

  it('keeps retrying after errors and recovers once they stop (here: RBAC granted late)', async () => {
    await kube.create(`/api/v1/namespaces/${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: 'late' } });
    const tr = await kube.create<{ status: { token: string } }>(`/api/v1/namespaces/${ns}/serviceaccounts/late/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 600 },
    });
    const admin = new KubeConfig();
    admin.loadFromFile(clusterEnv().kubeconfig);
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ ...admin.getCurrentCluster()!, name: 'c' }],
      users: [{ name: 'late', token: tr.status.token }],
      contexts: [{ name: 'c', cluster: 'c', user: 'late' }],
      currentContext: 'c',
    });
    const client = await KubeClient.create(kc, { qps: 100, burst: 100 });
    try {
      const inf = informer(client);
      inf.start();
      await waitFor('a 403 from the API server', () => inf.lastError?.includes('403'), 10_000);
      expect(inf.synced).toBe(false);
      await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/roles`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'Role',
        metadata: { name: 'read-cms' },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs: ['list', 'watch'] }],
      });
      await kube.create(`/apis/rbac.authorization.k8s.io/v1/namespaces/${ns}/rolebindings`, {
        apiVersion: 'rbac.authorization.k8s.io/v1',
        kind: 'RoleBinding',
        metadata: { name: 'late' },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'read-cms' },
        subjects: [{ kind: 'ServiceAccount', name: 'late', namespace: ns }],
      });
      await inf.waitForSync(30_000);
      expect(inf.get(`${ns}/before`)).toBeDefined();
    } finally {
      client.close();
    }
  });

  it('re-lists when the API server answers a watch with 410 Gone (etcd compacted past its resourceVersion), missing nothing', async () => {
    // Events are watched straight from etcd (the API server keeps no watch cache for them), so compacting
    // etcd past the informer's resourceVersion makes its next watch fail with 410 Expired.
    const evPath = `/api/v1/namespaces/${ns}/events`;
    const inf = informer(kube, { name: 'events', path: evPath });
    inf.start();
    await inf.waitForSync(10_000);
    await inf.stop();
    // While it is stopped: an event it can only learn about by listing again, and etcd compacted.
    await kube.create(evPath, {
      apiVersion: 'v1',
      kind: 'Event',
      metadata: { name: 'while-away' },
      involvedObject: { apiVersion: 'v1', kind: 'ConfigMap', name: 'before', namespace: ns },
      reason: 'Test',
      message: 'created while the informer was not watching',
      type: 'Normal',
    });
    await kube.create(cmPath, cm('bump', '1'));
    await compactEtcd();
    inf.start(); // resumes from its old resourceVersion
    await waitFor('the re-list after 410 Gone', () => inf.relists === 2 && inf.get(`${ns}/while-away`) !== undefined, 15_000);
    expect(inf.lastError).toBeUndefined(); // 410 is a re-list, not an error with backoff
  });

  it('re-lists when its watch stays silent past the watchdog', async () => {
    const inf = informer(kube, { path: `/api/v1/namespaces/${ns}/secrets`, watchdogMs: 500 });
    inf.start();
    await inf.waitForSync(10_000);
    await waitFor('the watchdog to re-list', () => inf.relists >= 3, 15_000);
  });

  it('watches take none of the sockets requests need: with two sockets, four watches open and a GET still answers', async () => {
    const small = await KubeClient.create(loadKubeConfig(clusterEnv().kubeconfig), { qps: 100, burst: 100, maxSockets: 2 });
    const stop = new AbortController();
    let events = 0;
    const watches = Array.from({ length: 4 }, () =>
      small.watch(`/api/v1/namespaces/${ns}/configmaps`, { timeoutSeconds: '60' }, () => void events++, stop.signal).catch(() => undefined),
    );
    try {
      await kube.create(`/api/v1/namespaces/${ns}/configmaps`, cm('sockets', '1'));
      await waitFor('every watch to see the ConfigMap', () => events >= 4, 10_000);
      let timer: NodeJS.Timeout | undefined;
      const answer = await Promise.race([
        small.get<Json>(`/api/v1/namespaces/${ns}/configmaps/sockets`),
        new Promise<undefined>((r) => (timer = setTimeout(() => r(undefined), 10_000))),
      ]);
      clearTimeout(timer);
      expect(answer?.data).toEqual({ v: '1' });
    } finally {
      stop.abort();
      await Promise.all(watches);
      small.close();
    }
  });
});
