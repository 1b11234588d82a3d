import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintNatsBurstUser, natsCredsFile, packConfigFromEnv, PACK_POD } from '@kubeburst/worker-runtime';
import { parseDirectUrl } from '../../../worker-runtime/src/transport/direct-address.js';
import { GANG_SCHEDULING_GATE, LABELS } from '@kubeburst/api';
import { createAccount } from 'nkeys.js';
import {
  attemptSecret,
  attemptSecretName,
  burstIdOf,
  gangDemand,
  headlessService,
  natsUserLifetime,
  packEnv,
  packNetworkPolicy,
  packPod,
  packPodName,
  paramsConfigMap,
} from './pods.js';
import { burstJob } from '../testing/planner.js';
import type { JobView } from './types.js';

const envOf = (env: Record<string, unknown>[]) => Object.fromEntries(env.map((e) => [e.name, e.value ?? e.valueFrom]));

describe('pack pods', () => {
  const job = burstJob('pr').size(100).granularity(48).cpu('500m').memory('1Gi').obj();
  const pod = packPod(job, 2, burstIdOf(job.uid, 2), 2, [48, 48, 4], { defaultImage: 'kubeburst/worker:dev' }) as any;

  it('is created gated, owned by the job, labelled with its attempt and pack', () => {
    expect(pod.metadata.name).toBe('pr-a2-2');
    expect(pod.spec.schedulingGates).toEqual([{ name: GANG_SCHEDULING_GATE }]);
    expect(pod.metadata.labels).toMatchObject({ [LABELS.jobName]: 'pr', [LABELS.jobUid]: job.uid, [LABELS.attempt]: '2', [LABELS.packIndex]: '2', [LABELS.component]: 'pack' });
    expect(pod.metadata.ownerReferences).toEqual([{ apiVersion: 'kubeburst.io/v1alpha1', kind: 'BurstJob', name: 'pr', uid: job.uid, controller: true, blockOwnerDeletion: true }]);
    expect(pod.metadata.annotations['kubeburst.io/workers']).toBe('96-99');
    expect(pod.spec.restartPolicy).toBe('Never');
  });

  it('has a stable DNS name under the job’s headless Service, and the direct transport finds peers through it', () => {
    expect([pod.spec.hostname, pod.spec.subdomain]).toEqual(['pr-a2-2', 'pr']);
    const svc = headlessService(job) as any;
    expect(svc.spec).toMatchObject({ clusterIP: 'None', publishNotReadyAddresses: true, selector: { [LABELS.jobUid]: job.uid, [LABELS.component]: 'pack' } });
    expect(envOf(pod.spec.containers[0].env).KB_TRANSPORT_URL).toBe('tcp://pr-a2-{pack}.pr:7100');
  });

  it('requests granularity × per-worker resources and reports joins through readiness', () => {
    const c = pod.spec.containers[0];
    expect(c.resources).toEqual({ requests: { cpu: '2', memory: '4Gi' }, limits: { memory: '4Gi' } });
    expect(c.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'kb-http' });
    expect(c.terminationMessagePolicy).toBe('FallbackToLogsOnError');
    expect(c.image).toBe('kubeburst/worker:dev');
  });

  it('keeps the labels and variables it relies on its own, whatever a template stored before the schema refused them says', () => {
    const sneaky = burstJob('pr').size(4).obj();
    // (As stored: the builder parses with today's schema, which refuses these.)
    sneaky.spec.template = {
      labels: { [LABELS.jobUid]: 'other-uid', [LABELS.component]: 'x', team: 'a' },
      env: [
        { name: 'KB_TRANSPORT_ENCRYPT', value: 'false' },
        { name: 'TZ', value: 'UTC' },
      ],
    };
    sneaky.spec.transport.encryption = true;
    const p = packPod(sneaky, 0, burstIdOf(sneaky.uid, 0), 0, [4], { defaultImage: 'w' }) as any;
    expect(p.metadata.labels).toMatchObject({ [LABELS.jobUid]: sneaky.uid, [LABELS.component]: 'pack', team: 'a' });
    // Where a name repeats, the container gets the last: the operator's.
    const env = p.spec.containers[0].env as { name: string; value?: string }[];
    expect(env.filter((e) => e.name === 'KB_TRANSPORT_ENCRYPT').at(-1)?.value).toBe('true');
    expect(env[0]).toEqual({ name: 'KB_TRANSPORT_ENCRYPT', value: 'false' });
    expect(env.find((e) => e.name === 'TZ')?.value).toBe('UTC');
  });

  it('tells the pack who it is through env', () => {
    expect(envOf(packEnv(job, 2, 'b-a2', 1, [48, 48, 4]))).toEqual({
      KB_BURST_ID: 'b-a2',
      KB_BURST_SIZE: '100',
      KB_GRANULARITY: '48',
      KB_PACK_INDEX: '1',
      KB_TRANSPORT: 'direct',
      KB_TRANSPORT_URL: 'tcp://pr-a2-{pack}.pr:7100',
      KB_CHUNK_BYTES: '1048576',
      KB_FUNCTION: '/app/worker.js',
      KB_PARAMS_FILE: '/etc/kubeburst/params/params.json',
      KB_SECRET_FILE: '/etc/kubeburst/secret/secret',
      KB_LINK_URL: 'tcp://pr-a2-{pack}.pr:7101',
      KB_JOIN_TIMEOUT_MS: '120000',
      KB_OPERATION_TIMEOUT_MS: '300000',
      KB_HTTP_HOST: '0.0.0.0',
      KB_HTTP_PORT: '8080',
      KB_TERMINATION_LOG: '/dev/termination-log',
    });
    expect(envOf(packEnv(job, 0, 'b', 0, [40, 48, 12])).KB_PACK_SIZES).toBe('40,48,12');
    // 100 000 packs of 2 around one of 1 at each end: a dozen bytes in every pod, not one number per pack.
    expect(envOf(packEnv(job, 0, 'b', 0, [1, ...new Array<number>(99_998).fill(2), 1])).KB_PACK_SIZES).toBe('1x1,99998x2,1x1');
  });

  it('takes a broker URL from a Secret without the operator reading it', () => {
    const j = burstJob('r')
      .with({ transport: { kind: 'redis', secretRef: { name: 'redis-cred', key: 'url' } } })
      .obj();
    // A file from the Secret, mounted (optional: a missing Secret is the pack's error, naming it), not a variable.
    expect(envOf(packEnv(j, 0, 'b', 0, [4])).KB_TRANSPORT_URL).toBeUndefined();
    expect(envOf(packEnv(j, 0, 'b', 0, [4])).KB_TRANSPORT_URL_FILE).toBe('/etc/kubeburst/transport/url');
    const pod = packPod(j, 0, 'b', 0, [4], { defaultImage: 'img' }) as any;
    expect(pod.spec.volumes).toContainEqual({ name: 'transport', secret: { secretName: 'redis-cred', items: [{ key: 'url', path: 'url' }], defaultMode: 0o440, optional: true } });
    expect(pod.spec.containers[0].volumeMounts).toContainEqual({ name: 'transport', mountPath: '/etc/kubeburst/transport', readOnly: true });
    // A broker that cannot be reached is blamed on where its URL came from.
    expect(envOf(packEnv(j, 0, 'b', 0, [4])).KB_TRANSPORT_URL_SOURCE).toBe('key url of Secret redis-cred (spec.transport.secretRef)');
    const inSpec = burstJob('r')
      .with({ transport: { kind: 'nats', url: 'nats://n:4222' } })
      .obj();
    expect(envOf(packEnv(inSpec, 0, 'b', 0, [4])).KB_TRANSPORT_URL_SOURCE).toBe('spec.transport.url');
  });

  it('mounts params as one JSON document', () => {
    const j = burstJob('p')
      .size(3)
      .params({ list: [1, 'a', { b: 2 }] })
      .obj();
    expect((paramsConfigMap(j) as any).data).toEqual({ 'params.json': '{"list":[1,"a",{"b":2}]}' });
  });

  it('groups identical packs in the gang demand', () => {
    expect(gangDemand(job, [48, 48, 4]).groups.map((g) => [g.count, g.request.cpu])).toEqual([
      [2, 24_000],
      [1, 2_000],
    ]);
  });

  it('passes Pod Security Standards "restricted": non-root, no capabilities, RuntimeDefault seccomp, read-only root', () => {
    expect(pod.spec.securityContext).toEqual({ runAsNonRoot: true, runAsUser: 1000, runAsGroup: 1000, fsGroup: 1000, seccompProfile: { type: 'RuntimeDefault' } });
    expect(pod.spec.containers[0].securityContext).toEqual({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } });
    expect(pod.spec.containers[0].volumeMounts).toContainEqual({ name: 'tmp', mountPath: '/tmp' });
  });
});

/**
 * The operator–pack contract, checked end to end without a cluster: the pod the planner builds is handed to
 * the runtime's own parser the way a kubelet would (env values, the Secret's value for secretKeyRef, the
 * params ConfigMap's file at its mount path), and what the pack then believes must match the pod around it.
 */
describe('a planned pack pod, read by the pack runtime', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kb-contract-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /**
   * The env a container of `pod` would see. Its params ConfigMap and attempt Secret are "mounted" into
   * `dir` (each volume's files, by key), and env values naming a file under a mount point follow them.
   */
  function kubeletEnv(job: JobView, pod: any, secrets: Record<string, Record<string, string>> = {}, attemptSecretObj?: any): NodeJS.ProcessEnv {
    const c = pod.spec.containers[0];
    const attempt = Number(pod.metadata.labels['kubeburst.io/attempt']);
    const cm = paramsConfigMap(job) as any;
    const sources: Record<string, Record<string, string>> = {
      ...secrets,
      [cm.metadata.name]: cm.data,
      [attemptSecretName(job.name, attempt)]: (attemptSecretObj ?? attemptSecret(job, attempt)).stringData,
    };
    const mounts = new Map<string, string>();
    for (const m of c.volumeMounts) {
      const v = pod.spec.volumes.find((x: any) => x.name === m.name);
      const source = v.configMap?.name ?? v.secret?.secretName;
      if (source === undefined) continue;
      // A dir of its own per call: what an earlier pod mounted is not this one's.
      const at = mkdtempSync(join(dir, `${m.name}-`));
      mounts.set(m.mountPath, at);
      // An optional Secret that is not there mounts as an empty dir.
      if (sources[source] === undefined && v.secret?.optional === true) continue;
      expect(sources[source]).toBeDefined();
      const items: { key: string; path: string }[] | undefined = v.secret?.items;
      for (const [key, text] of Object.entries(sources[source]!)) {
        const path = items === undefined ? key : items.find((i) => i.key === key)?.path;
        if (path !== undefined) writeFileSync(join(at, path), text);
      }
    }
    const env: NodeJS.ProcessEnv = { HOSTNAME: pod.spec.hostname };
    for (const e of c.env) {
      let v = e.value !== undefined ? (e.value as string) : secrets[e.valueFrom.secretKeyRef.name]?.[e.valueFrom.secretKeyRef.key];
      for (const [path, at] of mounts) if (v?.startsWith(`${path}/`)) v = join(at, v.slice(path.length + 1));
      env[e.name] = v;
    }
    return env;
  }

  it('knows its burst, layout, pack, params, timeouts and where to listen and report', () => {
    const job = burstJob('pr')
      .size(10)
      .granularity(4)
      .params({ list: Array.from({ length: 10 }, (_, w) => ({ w })) })
      .obj();
    const sizes = [4, 4, 2];
    const pod = packPod(job, 1, burstIdOf(job.uid, 1), 1, sizes, { defaultImage: 'img' }) as any;
    const cfg = packConfigFromEnv(kubeletEnv(job, pod));
    const c = pod.spec.containers[0];
    expect(cfg.burstId).toBe(pod.metadata.annotations['kubeburst.io/burst-id']);
    expect([cfg.layout.burstSize, cfg.layout.packCount, cfg.packId]).toEqual([10, 3, 1]);
    expect([...cfg.params]).toEqual([4, 5, 6, 7].map((w) => [w, { w }]));
    expect(pod.metadata.annotations['kubeburst.io/workers']).toBe('4-7');
    expect(cfg.modulePath).toBe(job.spec.function.module);
    expect([cfg.joinTimeoutMs, cfg.operationTimeoutMs]).toEqual([job.spec.timeouts.joinSeconds * 1000, job.spec.timeouts.operationSeconds * 1000]);
    // The probe asks the port the pack serves; the kubelet reads the file the pack writes.
    expect(cfg.http).toEqual({ host: '0.0.0.0', port: c.ports.find((p: any) => p.name === c.readinessProbe.httpGet.port).containerPort });
    expect(c.readinessProbe.httpGet.path).toBe(PACK_POD.readinessPath);
    expect(cfg.terminationLog).toBe(c.terminationMessagePath);
    // The attempt's secret, from the Secret the pod mounts.
    expect(cfg.secret!.byteLength).toBe(32);
  });

  it('over any transport, reaches its ring neighbours’ liveness links at their pods’ DNS names, on the port the Service and the NetworkPolicy open', () => {
    const job = burstJob('pr').size(12).granularity(4).transport('redis', 'redis://r:6379').obj();
    const svc = headlessService(job) as any;
    const np = packNetworkPolicy(job) as any;
    const cfg = packConfigFromEnv(kubeletEnv(job, packPod(job, 1, 'b', 0, [4, 4, 4], { defaultImage: 'img' })));
    const links = parseDirectUrl(cfg.linkUrl!, 3, 0);
    const port = svc.spec.ports.find((p: any) => p.name === 'kb-link').port;
    expect(links.peer(1)).toEqual({ kind: 'tcp', host: `${packPodName('pr', 1, 1)}.pr`, port });
    expect(links.listen).toEqual({ kind: 'tcp', host: '0.0.0.0', port });
    expect(np.spec.ingress[0].ports.map((p: any) => p.port)).toEqual([7100, port]);
    expect(np.spec.ingress[0].from).toEqual([{ podSelector: np.spec.podSelector }]);
    expect(np.spec.podSelector.matchLabels).toEqual(svc.spec.selector);
  });

  it('over the direct transport, reaches pack p at the DNS name of pack p’s pod under the job’s Service', () => {
    const job = burstJob('pr').size(12).granularity(4).obj();
    const svc = headlessService(job) as any;
    const cfg = packConfigFromEnv(kubeletEnv(job, packPod(job, 3, 'b', 2, [4, 4, 4], { defaultImage: 'img' })));
    const addrs = parseDirectUrl(cfg.transport.url, cfg.layout.packCount, cfg.packId);
    for (let p = 0; p < 3; p++) {
      const peer = packPod(job, 3, 'b', p, [4, 4, 4], { defaultImage: 'img' }) as any;
      expect(peer.spec.subdomain).toBe(svc.metadata.name);
      expect(addrs.peer(p)).toEqual({ kind: 'tcp', host: `${peer.spec.hostname}.${svc.metadata.name}`, port: svc.spec.ports[0].port });
      expect(peer.spec.hostname).toBe(packPodName('pr', 3, p));
    }
    expect(addrs.listen).toEqual({ kind: 'tcp', host: '0.0.0.0', port: svc.spec.ports[0].targetPort });
  });

  it('with per-burst Redis users, connects as the burst’s user with the password from the attempt Secret, whatever the URL says', () => {
    const job = burstJob('r').size(8).granularity(4).transport('redis', 'redis://other:pw@redis.infra:6379/0').obj();
    const pod = packPod(job, 2, burstIdOf(job.uid, 2), 0, [4, 4], { defaultImage: 'img', redisUsers: true }) as any;
    const env = kubeletEnv(job, pod, {}, attemptSecret(job, 2, { password: 's3cr3t/+=' }));
    expect(envOf(pod.spec.containers[0].env).KB_TRANSPORT_PASSWORD_FILE).toBe('/etc/kubeburst/secret/broker-password');
    expect(envOf(pod.spec.containers[0].env).KB_TRANSPORT_PASSWORD).toBeUndefined();
    expect(packConfigFromEnv(env).transport.url).toBe(`redis://kb-${burstIdOf(job.uid, 2)}:s3cr3t%2F%2B%3D@redis.infra:6379/0`);
    // Without the option the URL is the job's own.
    const plain = packConfigFromEnv(kubeletEnv(job, packPod(job, 2, 'b', 0, [4, 4], { defaultImage: 'img' })));
    expect(plain.transport.url).toBe('redis://other:pw@redis.infra:6379/0');
  });

  it('with per-burst NATS users, connects as the burst’s user from the .creds file in the mounted attempt Secret, whatever the URL says', async () => {
    const job = burstJob('n').size(8).granularity(4).transport('nats', 'nats://other:pw@nats.infra:4222').obj();
    const burstId = burstIdOf(job.uid, 1);
    const user = await mintNatsBurstUser({ seed: new TextDecoder().decode(createAccount().getSeed()) }, burstId, { expiresInSeconds: 60 });
    const secret = attemptSecret(job, 1, { natsCreds: natsCredsFile(user) }) as any;
    expect(Object.keys(secret.stringData).sort()).toEqual(['broker-url', 'nats.creds', 'secret']);
    expect(secret.metadata.ownerReferences).toEqual([expect.objectContaining({ kind: 'BurstJob', uid: job.uid, controller: true })]);
    const pod = packPod(job, 1, burstId, 0, [4, 4], { defaultImage: 'img', natsUsers: true }) as any;
    // The creds are a file in the Secret volume the pod already mounts, not a variable.
    expect(envOf(pod.spec.containers[0].env).KB_TRANSPORT_CREDS_FILE).toBe('/etc/kubeburst/secret/nats.creds');
    expect(pod.spec.containers[0].env.some((e: any) => e.valueFrom?.secretKeyRef?.key === 'nats.creds')).toBe(false);
    expect(pod.spec.volumes.find((v: any) => v.name === 'secret').secret.secretName).toBe(secret.metadata.name);
    const cfg = packConfigFromEnv(kubeletEnv(job, pod, {}, secret));
    expect(cfg.transport).toMatchObject({ kind: 'nats', url: 'nats://other:pw@nats.infra:4222', natsUser: { jwt: user.jwt, seed: user.seed } });
    // Without the option (or on another transport), no creds.
    expect(envOf((packPod(job, 1, burstId, 0, [4, 4], { defaultImage: 'img' }) as any).spec.containers[0].env).KB_TRANSPORT_CREDS_FILE).toBeUndefined();
    const redis = burstJob('r').size(8).granularity(4).transport('redis').obj();
    expect(envOf((packPod(redis, 1, 'b', 0, [4, 4], { defaultImage: 'img', natsUsers: true }) as any).spec.containers[0].env).KB_TRANSPORT_CREDS_FILE).toBeUndefined();
  });

  it('gives a burst’s NATS user the job’s deadline plus a margin, else a day', () => {
    expect(natsUserLifetime(burstJob('n').obj())).toBe(86_400);
    expect(natsUserLifetime(burstJob('n').with({ activeDeadlineSeconds: 3600 }).obj())).toBe(3600 + 600);
  });

  it('takes a broker URL written into the spec from the attempt Secret: its password is nowhere in the pod', () => {
    const url = 'redis://app:hunter2-Pa55@redis.brokers:6379/2';
    const job = burstJob('r').size(4).granularity(2).transport('redis', url).obj();
    const pod = packPod(job, 0, 'b', 0, [2, 2], { defaultImage: 'img' });
    expect(JSON.stringify(pod)).not.toContain('hunter2');
    const env = kubeletEnv(job, pod);
    expect(env.KB_TRANSPORT_URL).toBeUndefined();
    expect(packConfigFromEnv(env).transport).toMatchObject({ kind: 'redis', url });
    expect(env.KB_TRANSPORT_URL_SOURCE).toBe('spec.transport.url');
  });

  it('takes its broker URL from the Secret the spec names', () => {
    const job = burstJob('r')
      .size(8)
      .granularity(4)
      .with({ transport: { kind: 'nats', secretRef: { name: 'nats-cred', key: 'url' } } })
      .obj();
    const pod = packPod(job, 0, 'b', 0, [4, 4], { defaultImage: 'img' });
    // As `kubectl create secret --from-file` leaves it: a newline after the URL.
    const env = kubeletEnv(job, pod, { 'nats-cred': { url: 'nats://u:p@nats:4222\n', other: 'x' } });
    expect(packConfigFromEnv(env).transport).toMatchObject({ kind: 'nats', url: 'nats://u:p@nats:4222' });
    // The Secret is not there (or lacks the key): the pack says which Secret and key it wanted.
    expect(() => packConfigFromEnv(kubeletEnv(job, pod))).toThrow(
      /KB_TRANSPORT_URL_FILE: cannot read the broker URL \(key url of Secret nats-cred \(spec\.transport\.secretRef\)\) from .*url: ENOENT/,
    );
  });
});
