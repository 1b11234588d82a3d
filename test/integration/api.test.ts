import { randomBytes } from 'node:crypto';
import { resolve } from 'node:path';
import type { KubeClient } from '../../operator/src/controller/kube.js';
import { ApiError } from '../../operator/src/controller/kube.js';
import { clusterEnv, helm, kubectl, REPO } from './harness/env.js';
import { adminClient, createNamespace, deleteNamespace, paths, type Json } from './harness/kube.js';
import { OperatorUnderTest } from './harness/operator.js';

/**
 * What the API server itself enforces from the generated CRD (OpenAPI schema and CEL rules), what
 * `kubectl explain` and `kubectl get` show, and that the Helm chart renders to objects the API server
 * accepts. No operator runs here: this is the API, as a user meets it.
 */
const ns = `it-api-${randomBytes(3).toString('hex')}`;
let kube: KubeClient;

beforeAll(async () => {
  kube = await adminClient();
  await createNamespace(kube, ns);
});

afterAll(async () => {
  await deleteNamespace(kube, ns);
  kube?.close();
});

const base = (name: string, spec: Json = {}): Json => ({
  apiVersion: 'kubeburst.io/v1alpha1',
  kind: 'BurstJob',
  metadata: { name },
  spec: { size: 8, granularity: 4, function: { module: '/app/w.js' }, ...spec },
});

/**
 * A CEL rule's error as 1.37 words it: older API servers put the value's type after "Invalid value:"
 * (`Invalid value: "object": granularity must be <= size`), 1.37 does not; compare without it.
 */
const withoutCelType = (message: string): string => message.replace(/Invalid value: "(object|integer|string|array)": /g, 'Invalid value: ');

async function rejection(obj: Json): Promise<string> {
  try {
    await kube.create(paths.burstjobs(ns), obj);
  } catch (err) {
    if (err instanceof ApiError && err.status === 422) return withoutCelType(err.message);
    throw err;
  }
  throw new Error(`the API server accepted ${JSON.stringify(obj.spec)}`);
}

describe('the BurstJob API on a real API server', () => {
  it.each([
    ['granularity above size', base('a', { size: 4, granularity: 8 }), 'spec.granularity: Invalid value: granularity must be <= size'],
    ['both params.list and params.value', base('b', { params: { list: [1], value: 2 } }), 'spec.params: Too many: 2: must have at most 1 item'],
    ['a url for the direct transport', base('c', { transport: { kind: 'direct', url: 'redis://x' } }), 'the direct transport takes no url or secretRef'],
    ['url and secretRef together', base('d', { transport: { kind: 'redis', url: 'redis://x', secretRef: { name: 's' } } }), 'transport: set either url or secretRef, not both'],
    ['granularity with Auto packing', base('e', { packing: { mode: 'Auto' } }), 'granularity must not be set when packing.mode is Auto (use packing.maxGranularity)'],
    ['size 0', base('f', { size: 0, granularity: undefined }), 'spec.size: Invalid value: 0: spec.size in body should be greater than or equal to 1'],
    ['an unknown transport', base('g', { transport: { kind: 'tcp' } }), 'spec.transport.kind: Unsupported value: "tcp": supported values: "direct", "nats", "redis"'],
    ['a CPU that is no quantity', base('h', { resources: { cpu: 'lots' } }), 'spec.resources.cpu: Invalid value: "lots"'],
    ['no function', { ...base('i'), spec: { size: 2 } }, 'spec.function: Required value'],
    ['a name that is no DNS-1035 label', base('9lives'), 'metadata.name must be at most 48 lowercase letters, digits and -, starting with a letter'],
    ['a name too long for pod hostnames', base('x'.repeat(49)), 'pack pods <name>-a<attempt>-<pack> must fit in 63 characters'],
    // A job could label its pods as another job's (and pass its NetworkPolicy), or turn its own encryption off.
    [
      'a label the operator sets',
      base('j', { template: { labels: { 'kubeburst.io/job-uid': 'x' } } }),
      'spec.template.labels: Invalid value: labels kubeburst.io/*, kueue.x-k8s.io/* and app.kubernetes.io/managed-by are set by the operator',
    ],
    [
      'an environment variable the operator sets',
      base('k', { template: { env: [{ name: 'KB_TRANSPORT_ENCRYPT', value: 'false' }] } }),
      'spec.template.env: Invalid value: environment variables KB_* are set by the operator',
    ],
  ])('rejects %s with a message naming the field and rule', async (_, obj, message) => {
    expect(await rejection(obj)).toContain(message);
  });

  it('fills defaults, lets lifecycle fields change and refuses changes to what pods are built from', async () => {
    const created = await kube.create<Json>(paths.burstjobs(ns), base('ok'));
    expect(created.spec).toMatchObject({
      transport: { kind: 'direct', chunkBytes: 1048576 },
      timeouts: { joinSeconds: 120, operationSeconds: 300, scheduleSeconds: 60 },
      resources: { cpu: '1', memory: '256Mi' },
      gang: { backend: 'Auto', maxScheduleRetries: 3 },
      maxRestarts: 0,
      suspend: false,
    });
    await kube.patch(paths.burstjob(ns, 'ok'), { spec: { suspend: true, maxRestarts: 2, ttlSecondsAfterFinished: 60 } });
    const e = await kube.patch(paths.burstjob(ns, 'ok'), { spec: { size: 16 } }).catch((err: unknown) => err as ApiError);
    expect(e).toBeInstanceOf(ApiError);
    // The value's type ("integer", before 1.37) or the value itself (16, 1.37) precedes the rule's message.
    expect((e as ApiError).message).toMatch(/spec\.size: Invalid value: [^:]+: is immutable \(delete and re-create the BurstJob\)/);
  });

  it('refuses adding or removing an optional field pods are built from (self == oldSelf alone misses that)', async () => {
    await kube.create(paths.burstjobs(ns), base('opt'));
    await kube.create(paths.burstjobs(ns), base('opt-params', { params: { value: 1 } }));
    const refused = async (name: string, spec: Json): Promise<string> => {
      const e = await kube.patch(paths.burstjob(ns, name), { spec }).then(
        () => undefined,
        (err: unknown) => err,
      );
      if (e instanceof ApiError && e.status === 422) return withoutCelType(e.message);
      throw new Error(`the API server ${e === undefined ? 'accepted' : `failed on`} ${JSON.stringify(spec)}${e ? `: ${(e as Error).message}` : ''}`);
    };
    expect(await refused('opt', { params: { value: 2 } })).toContain(
      'spec.params: Invalid value: params is immutable: it cannot be added or removed (delete and re-create the BurstJob)',
    );
    expect(await refused('opt', { template: { nodeSelector: { pool: 'x' } } })).toContain('template is immutable: it cannot be added or removed');
    expect(await refused('opt', { packing: { mode: 'Fixed' } })).toContain('packing is immutable: it cannot be added or removed');
    expect(await refused('opt', { granularity: null })).toContain('granularity is immutable: it cannot be added or removed');
    expect(await refused('opt-params', { params: null })).toContain('params is immutable: it cannot be added or removed');
    // Lifecycle fields still come and go.
    await kube.patch(paths.burstjob(ns, 'opt'), { spec: { activeDeadlineSeconds: 60, timeouts: { joinSeconds: 30 } } });
    await kube.patch(paths.burstjob(ns, 'opt'), { spec: { activeDeadlineSeconds: null } });
  });

  it('refuses an unknown field under kubectl apply --validate=strict (its default) and only warns under warn', () => {
    const typo = (name: string): string =>
      `apiVersion: kubeburst.io/v1alpha1\nkind: BurstJob\nmetadata: {name: ${name}, namespace: ${ns}}\nspec:\n  size: 8\n  granularty: 4\n  function: {module: /app/w.js, imag: x}\n`;
    for (const flags of [['--validate=strict'], []]) {
      const r = kubectl(['apply', ...flags, '-f', '-'], { input: typo('typo-strict'), check: false });
      expect(r.code).not.toBe(0);
      expect(r.stderr).toContain('strict decoding error: unknown field "spec.function.imag", unknown field "spec.granularty"');
    }
    const warned = kubectl(['apply', '--validate=warn', '-f', '-'], { input: typo('typo-warn') });
    expect(warned.stderr).toContain('Warning: unknown field "spec.granularty"');
    // Stored pruned: one pack of 8, which is what `kubeburst validate` refuses to let happen silently.
    const stored = JSON.parse(kubectl(['get', 'bj', 'typo-warn', '-n', ns, '-o', 'json']).stdout) as Json;
    expect(stored.spec.granularity).toBeUndefined();
    expect(stored.spec.granularty).toBeUndefined();
  });

  it('explains every field (kubectl explain) and prints the columns users look at (kubectl get)', () => {
    const explain = kubectl(['explain', 'burstjob.spec.gang']).stdout;
    expect(explain).toContain('maxScheduleRetries');
    expect(explain).toContain('Gang scheduling: all packs start together or none does.');
    expect(kubectl(['explain', 'burstjob.status.startupLatency']).stdout).toContain('workersJoinedSeconds');
    const header = kubectl(['get', 'bj', '-n', ns]).stdout.split('\n')[0]!.split(/\s+/);
    expect(header).toEqual(['NAME', 'SIZE', 'GRANULARITY', 'PACKS', 'PHASE', 'RESTARTS', 'AGE']);
    expect(kubectl(['get', 'burst', '-n', ns, '-o', 'wide']).stdout.split('\n')[0]).toMatch(/JOINED\s+LAYOUT\s+TRANSPORT/);
  });
});

describe('the Helm chart', () => {
  const chart = resolve(REPO, 'helm/kubeburst');

  it('lints clean', () => {
    const r = helm(['lint', chart, '--strict']);
    expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
    expect(r.stdout).not.toMatch(/\[(WARNING|ERROR|INFO)\]/);
  });

  it.each([
    ['defaults', []],
    [
      'watching two namespaces, Secret access for broker cleanup, no leader election',
      ['--set', `watchNamespaces={${ns},default}`, '--set', 'rbac.readBrokerSecrets=true', '--set', 'leaderElection.enabled=false'],
    ],
    [
      'three replicas, no metrics Service, custom images',
      ['--set', 'replicaCount=3', '--set', 'metrics.service.enabled=false', '--set', 'image.tag=dev', '--set', 'workerImage.repository=registry.local/worker'],
    ],
  ])('renders (%s) to manifests the API server accepts (apply --dry-run=server)', (_, args) => {
    const manifests = helm(['template', 'kb', chart, '--namespace', ns, '--include-crds', '--kube-version', clusterEnv().kubeVersion, ...args]).stdout;
    const out = kubectl(['apply', '--dry-run=server', '-f', '-'], { input: manifests }).stdout.trim().split('\n');
    const kinds = out.map((l) => l.split('/')[0]);
    expect(out.every((l) => /(created|configured|unchanged) \(server dry run\)$/.test(l))).toBe(true);
    expect(kinds).toEqual(
      expect.arrayContaining([
        'customresourcedefinition.apiextensions.k8s.io',
        'serviceaccount',
        'clusterrole.rbac.authorization.k8s.io',
        'clusterrolebinding.rbac.authorization.k8s.io',
        'deployment.apps',
      ]),
    );
  });

  it('refuses values the schema does not know, naming them', () => {
    const r = helm(['template', 'kb', chart, '--kube-version', clusterEnv().kubeVersion, '--set', 'operator.wrokers=3'], { check: false });
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('wrokers');
  });

  it('grants the operator exactly what it uses, writes only in the watched namespaces (least privilege, checked by the API server)', async () => {
    kubectl(['apply', '-f', '-'], { input: OperatorUnderTest.manifests('kb', ns) });
    try {
      const sa = `system:serviceaccount:${ns}:kb-kubeburst`;
      // resource/subresource, or resource:name for one object of it.
      const can = (verb: string, resource: string, where = ns): string => {
        const [res, sub] = resource.replace(':', '\0').split('/');
        return kubectl(['auth', 'can-i', verb, res!.replace('\0', '/'), ...(sub ? [`--subresource=${sub}`] : []), '-n', where, `--as=${sa}`], { check: false }).stdout.trim();
      };
      const check = (list: [string, string, string?][]) => list.map(([v, r, w]) => `${v} ${r}${w ? ` in ${w}` : ''}: ${can(v, r, w)}`);
      const expected = (list: [string, string, string?][], answer: string) => list.map(([v, r, w]) => `${v} ${r}${w ? ` in ${w}` : ''}: ${answer}`);
      // Everything operator/src/controller does (the chart watches this namespace only).
      const allowed: [string, string, string?][] = [
        ['list', 'burstjobs.kubeburst.io'],
        ['watch', 'burstjobs.kubeburst.io'],
        ['patch', 'burstjobs.kubeburst.io'],
        ['delete', 'burstjobs.kubeburst.io'],
        ['update', 'burstjobs.kubeburst.io/status'],
        ['update', 'burstjobs.kubeburst.io/finalizers'],
        ['create', 'pods'],
        ['patch', 'pods'],
        ['delete', 'pods'],
        ['watch', 'pods'],
        ['list', 'pods', 'default'], // bound pods everywhere: the nodes' room
        ['list', 'nodes'],
        ['watch', 'nodes'],
        ['watch', 'services'],
        ['get', 'services'],
        ['create', 'services'],
        ['delete', 'services'],
        ['create', 'configmaps'],
        ['patch', 'configmaps'],
        ['create', 'secrets'],
        ['delete', 'secrets'],
        ['create', 'networkpolicies.networking.k8s.io'],
        ['patch', 'networkpolicies.networking.k8s.io'],
        ['create', 'events'],
        ['patch', 'events'],
        ['list', 'podgroups.scheduling.k8s.io'],
        ['watch', 'podgroups.scheduling.k8s.io'],
        ['create', 'podgroups.scheduling.k8s.io'],
        ['delete', 'podgroups.scheduling.k8s.io'],
        ['get', 'leases.coordination.k8s.io:kb-kubeburst'],
        ['create', 'leases.coordination.k8s.io'],
        ['update', 'leases.coordination.k8s.io:kb-kubeburst'],
      ];
      const denied: [string, string, string?][] = [
        ['get', 'burstjobs.kubeburst.io'],
        ['update', 'burstjobs.kubeburst.io'],
        ['create', 'burstjobs.kubeburst.io'],
        ['update', 'pods'],
        ['get', 'pods'],
        ['get', 'configmaps'],
        ['update', 'services'],
        ['patch', 'nodes'],
        ['get', 'secrets'],
        ['list', 'secrets'],
        ['update', 'secrets'],
        ['create', 'secrets', 'default'],
        ['delete', 'networkpolicies.networking.k8s.io'],
        ['update', 'podgroups.scheduling.k8s.io'],
        ['create', 'podgroups.scheduling.k8s.io', 'default'],
        ['create', 'pods/exec'],
        ['update', 'pods/status'],
        ['update', 'leases.coordination.k8s.io', 'default'],
        // Only its own Lease: not kube-scheduler's, were it installed in kube-system.
        ['get', 'leases.coordination.k8s.io:kube-scheduler'],
        ['update', 'leases.coordination.k8s.io:kube-scheduler'],
        ['create', 'deployments.apps'],
        // Outside the watched namespaces: nothing but reading pods.
        ['create', 'pods', 'default'],
        ['delete', 'pods', 'default'],
        ['create', 'services', 'default'],
        ['patch', 'configmaps', 'default'],
        ['watch', 'burstjobs.kubeburst.io', 'default'],
      ];
      expect(check(allowed)).toEqual(expected(allowed, 'yes'));
      expect(check(denied)).toEqual(expected(denied, 'no'));

      // Secrets only when asked for (broker cleanup of secretRef URLs), and only where BurstJobs are watched.
      kubectl(['apply', '-f', '-'], { input: OperatorUnderTest.manifests('kb', ns, ['--set', 'rbac.readBrokerSecrets=true']) });
      const secrets: [string, string, string?][] = [
        ['get', 'secrets'],
        ['list', 'secrets'],
        ['get', 'secrets', 'default'],
      ];
      expect(check(secrets)).toEqual(['get secrets: yes', 'list secrets: no', 'get secrets in default: no']);
    } finally {
      OperatorUnderTest.uninstallManifests('kb', ns);
    }
  });
});
