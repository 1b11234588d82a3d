import { directUrlTemplate, natsUserTtlSeconds, newSecret, PACK_ENV as ENV, PACK_POD as POD, redisUserOf } from '@kubeburst/worker-runtime';
import { API_GROUP, API_VERSION, KIND, ANNOTATIONS, COMPONENTS, KUEUE, LABELS, PODGROUP_API } from '@kubeburst/api';
import type { GangDemand, Resources } from './capacity.js';
import { gangBackend, podGroupName } from './gang.js';
import { encodeLayout, packRanges, uniformGranularity } from './layout.js';
import { bytes, cpuMillis, formatBytes, formatCpu } from './quantity.js';
import type { GangBackendName, JobView } from './types.js';

/**
 * The objects a BurstJob owns, built as plain values (the executor only sends them):
 *
 *   Service   <job>                headless, publishNotReadyAddresses: packs resolve each other before joining
 *   ConfigMap <job>-params         params.json, mounted into every pack (KB_PARAMS_FILE)
 *   Pod       <job>-a<attempt>-<p> one per pack; hostname = pod name, subdomain = <job>, so pack p of
 *                                  attempt a is reachable at <job>-a<a>-<p>.<job>:7100 (direct transport)
 *   ConfigMap <job>-results        results.json once the burst succeeded
 *   Secret    <job>-a<attempt>-key the attempt's secret, mounted into its packs (they authenticate each other
 *                                  with it); deleted when the attempt ends
 *   NetworkPolicy <job>            the packs' ports (7100 direct, 7101 links) open to the job's own packs only
 *   PodGroup  <job>-a<attempt>     gang.backend PodGroup: the attempt's gang (minCount = packs), created before
 *                                  its pods; they name it in spec.schedulingGroup.podGroupName
 *                                  (gang.backend Kueue: the pods' kueue.x-k8s.io/pod-group-name instead; Kueue
 *                                  makes a Workload of that name)
 *
 * Names are deterministic, so creating twice is a harmless AlreadyExists and a restarted operator can
 * never duplicate a pod.
 */
export const packPodName = (job: string, attempt: number, pack: number | string): string => `${job}-a${attempt}-${pack}`;
export const serviceName = (job: string): string => job;
export const paramsConfigMapName = (job: string): string => `${job}-params`;
export const resultsConfigMapName = (job: string): string => `${job}-results`;
export const attemptSecretName = (job: string, attempt: number): string => `${job}-a${attempt}-key`;
export const networkPolicyName = (job: string): string => job;
/** Unique per attempt (namespaces broker keys): a new attempt never reads an old one's messages. */
export const burstIdOf = (uid: string, attempt: number): string => `${uid.replaceAll('-', '').slice(0, 10)}-a${attempt}`;

export interface PodOptions {
  /** Worker image when spec.function.image is not set (operator flag --worker-image). */
  defaultImage: string;
  imagePullPolicy?: 'Always' | 'IfNotPresent' | 'Never';
  /** Redis-transport bursts get an ACL user of their own (the operator holds a Redis admin credential). */
  redisUsers?: boolean;
  /**
   * NATS-transport bursts get a user of their own (the operator holds an account key): its `.creds` file is
   * in the attempt Secret under PACK_POD.natsCredsKey, mounted with the flare key.
   */
  natsUsers?: boolean;
}

/** What the attempt Secret carries for the burst's broker user, if it has one. */
export interface BrokerUserSecrets {
  /** The Redis ACL user's password. */
  password?: string;
  /** The NATS user's `.creds` file (JWT and nkey seed). */
  natsCreds?: string;
}

export type K8sObject = Record<string, unknown> & { metadata: Record<string, unknown> };

export function ownerReference(job: JobView): Record<string, unknown> {
  return { apiVersion: `${API_GROUP}/${API_VERSION}`, kind: KIND, name: job.name, uid: job.uid, controller: true, blockOwnerDeletion: true };
}

function ownedMeta(job: JobView, name: string, component: string, extra: Record<string, string> = {}): Record<string, unknown> {
  return {
    name,
    namespace: job.namespace,
    // The operator's labels last: it finds its objects by them, and NetworkPolicies admit pods by them.
    labels: { ...extra, 'app.kubernetes.io/managed-by': 'kubeburst', [LABELS.jobName]: job.name, [LABELS.jobUid]: job.uid, [LABELS.component]: component },
    ownerReferences: [ownerReference(job)],
  };
}

export const perWorker = (job: JobView): Resources => ({
  cpu: cpuMillis(job.spec.resources.cpu, 'spec.resources.cpu'),
  memory: bytes(job.spec.resources.memory, 'spec.resources.memory'),
  pods: 0,
});

export const packRequest = (job: JobView, workers: number): Resources => {
  const w = perWorker(job);
  return { cpu: w.cpu * workers, memory: w.memory * workers, pods: 1 };
};

/** What the gang needs from the cluster, for admission. */
export function gangDemand(job: JobView, sizes: readonly number[]): GangDemand {
  const counts = new Map<number, number>();
  for (const s of sizes) counts.set(s, (counts.get(s) ?? 0) + 1);
  return {
    key: `${job.namespace}/${job.name}`,
    groups: [...counts].map(([workers, count]) => ({ request: packRequest(job, workers), count })),
    ...(job.spec.template?.nodeSelector ? { nodeSelector: job.spec.template.nodeSelector } : {}),
    ...(job.spec.template?.tolerations ? { tolerations: job.spec.template.tolerations } : {}),
  };
}

export function headlessService(job: JobView): K8sObject {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: ownedMeta(job, serviceName(job.name), COMPONENTS.peers),
    spec: {
      clusterIP: 'None',
      publishNotReadyAddresses: true,
      selector: { [LABELS.jobUid]: job.uid, [LABELS.component]: COMPONENTS.pack },
      ports: [
        { name: POD.directPortName, port: POD.directPort, targetPort: POD.directPort, protocol: 'TCP' },
        { name: POD.linkPortName, port: POD.linkPort, targetPort: POD.linkPort, protocol: 'TCP' },
      ],
    },
  };
}

export function paramsConfigMap(job: JobView): K8sObject {
  const p = job.spec.params;
  const doc = p?.list !== undefined ? { list: p.list } : { value: p?.value ?? null };
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: ownedMeta(job, paramsConfigMapName(job.name), COMPONENTS.params), data: { [POD.paramsKey]: JSON.stringify(doc) } };
}

/**
 * The attempt's secret: fresh random bytes every time it is built (creating it twice keeps the first), and
 * the credentials of the burst's broker user when there is one (the Redis user's password, the NATS user's
 * `.creds`), and a broker URL written into spec.transport.url (which may hold a password: out of the pod
 * spec, its variables and every child process's environment, as a secretRef URL is). Owned by the
 * BurstJob and deleted when the attempt ends.
 */
export function attemptSecret(job: JobView, attempt: number, broker: BrokerUserSecrets = {}): K8sObject {
  const url = specBrokerUrl(job);
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: ownedMeta(job, attemptSecretName(job.name, attempt), COMPONENTS.secret, { [LABELS.attempt]: String(attempt) }),
    type: 'Opaque',
    stringData: {
      [POD.secretKey]: newSecret(),
      ...(broker.password !== undefined ? { [POD.brokerPasswordKey]: broker.password } : {}),
      ...(broker.natsCreds !== undefined ? { [POD.natsCredsKey]: broker.natsCreds } : {}),
      ...(url !== undefined ? { [POD.brokerUrlKey]: url } : {}),
    },
  };
}

/** The broker URL the spec writes out (not a secretRef's): the attempt Secret carries it to the packs. */
export function specBrokerUrl(job: JobView): string | undefined {
  const t = job.spec.transport;
  return t.kind !== 'direct' && t.secretRef === undefined ? t.url : undefined;
}

/**
 * How long a burst's NATS user lives: the job's activeDeadlineSeconds from now (the attempt cannot outlive
 * it: the deadline counts from the job's start, which is earlier) plus a margin, else a day. The server
 * disconnects a client whose JWT expires, so a flare that runs longer needs a deadline.
 */
export const natsUserLifetime = (job: JobView): number => natsUserTtlSeconds(job.spec.activeDeadlineSeconds);

/**
 * Only the job's own packs may reach its packs' direct and link ports (the readiness port stays open: the
 * kubelet probes it). Enforced by the cluster's network plugin, if it enforces NetworkPolicy at all; the
 * handshake on those ports holds either way.
 */
export function packNetworkPolicy(job: JobView): K8sObject {
  const packs = { matchLabels: { [LABELS.jobUid]: job.uid, [LABELS.component]: COMPONENTS.pack } };
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: ownedMeta(job, networkPolicyName(job.name), COMPONENTS.network),
    spec: {
      podSelector: packs,
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [{ podSelector: packs }],
          ports: [
            { protocol: 'TCP', port: POD.directPort },
            { protocol: 'TCP', port: POD.linkPort },
          ],
        },
        { ports: [{ protocol: 'TCP', port: POD.httpPort }] },
      ],
    },
  };
}

export function resultsConfigMap(job: JobView, data: Record<string, string>): K8sObject {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: ownedMeta(job, resultsConfigMapName(job.name), COMPONENTS.results), data };
}

/**
 * The pack's environment, named by the runtime's own ENV (worker-runtime/src/pack/config.ts parses it;
 * pods.test.ts feeds this to that parser). One function, so a transport's addressing convention changes
 * in one place.
 */
/** Packs up to which KB_PACK_SIZES is a plain list (a few kilobytes at most). */
const PLAIN_PACK_SIZES_MAX = 1000;

export function packEnv(
  job: JobView,
  attempt: number,
  burstId: string,
  pack: number,
  sizes: readonly number[],
  opts: Pick<PodOptions, 'redisUsers' | 'natsUsers'> = {},
): Record<string, unknown>[] {
  const s = job.spec;
  // The template's first: where a name repeats, the container gets the last one, the operator's (the
  // schema refuses KB_* in the template; this holds for a BurstJob stored before it did).
  const env: Record<string, unknown>[] = (s.template?.env ?? []).map((e) => ({ name: e.name, value: e.value }));
  const set = (name: string, value: string | number): void => void env.push({ name, value: String(value) });
  set(ENV.burstId, burstId);
  set(ENV.burstSize, s.size);
  const g = uniformGranularity(sizes);
  if (g !== undefined) set(ENV.granularity, g);
  // As a list while it is short (what runtimes before runs read: a worker image may be older than its
  // operator), as runs past that (a number per pack, in every pod, was megabytes for 100 000 packs).
  else set(ENV.packSizes, sizes.length <= PLAIN_PACK_SIZES_MAX ? sizes.join(',') : encodeLayout(sizes));
  set(ENV.packIndex, pack);
  set(ENV.transport, s.transport.kind);
  if (s.transport.kind === 'direct') {
    // Pack p is reached at its pod's DNS name under the headless Service; each pack listens on 0.0.0.0:7100.
    set(
      ENV.transportUrl,
      directUrlTemplate((p) => `${packPodName(job.name, attempt, p)}.${serviceName(job.name)}`, POD.directPort),
    );
  } else if (s.transport.secretRef !== undefined) {
    // A file from the Secret, not a variable: the URL's password stays out of the environment that the
    // pack's child processes inherit (volume below).
    set(ENV.transportUrlFile, `${POD.transportDir}/${POD.transportUrlKey}`);
    set(ENV.transportUrlSource, `key ${s.transport.secretRef.key} of Secret ${s.transport.secretRef.name} (spec.transport.secretRef)`);
  } else if (specBrokerUrl(job) !== undefined) {
    set(ENV.transportUrlFile, `${POD.secretDir}/${POD.brokerUrlKey}`);
    set(ENV.transportUrlSource, 'spec.transport.url');
  } else {
    set(ENV.transportUrlSource, 'the default: spec.transport has no url or secretRef');
  }
  if (s.transport.kind === 'redis' && opts.redisUsers) {
    set(ENV.transportUser, redisUserOf(burstId));
  }
  // Files in the mounted attempt Secret, not variables: the password and the seed stay out of the
  // environment, which worker threads and their child processes inherit.
  if (s.transport.kind === 'redis' && opts.redisUsers) set(ENV.transportPasswordFile, `${POD.secretDir}/${POD.brokerPasswordKey}`);
  if (s.transport.kind === 'nats' && opts.natsUsers) set(ENV.transportCredsFile, `${POD.secretDir}/${POD.natsCredsKey}`);
  set(ENV.chunkBytes, s.transport.chunkBytes);
  if (s.transport.encryption) set(ENV.transportEncrypt, 'true');
  set(ENV.function, s.function.module);
  set(ENV.paramsFile, `${POD.paramsDir}/${POD.paramsKey}`);
  set(ENV.secretFile, `${POD.secretDir}/${POD.secretKey}`);
  set(
    ENV.linkUrl,
    directUrlTemplate((p) => `${packPodName(job.name, attempt, p)}.${serviceName(job.name)}`, POD.linkPort),
  );
  set(ENV.joinTimeoutMs, s.timeouts.joinSeconds * 1000);
  set(ENV.operationTimeoutMs, s.timeouts.operationSeconds * 1000);
  set(ENV.httpHost, '0.0.0.0');
  set(ENV.httpPort, POD.httpPort);
  set(ENV.terminationLog, POD.terminationLog);
  return env;
}

/**
 * The attempt's PodGroup (scheduling.k8s.io/v1beta1): kube-scheduler places its pods once minCount of them
 * exist, all of them in one cycle or none. Every pack pod counts: the gang is the whole burst.
 */
export function packPodGroup(job: JobView, attempt: number, minCount: number): K8sObject {
  return {
    apiVersion: `${PODGROUP_API.group}/${PODGROUP_API.version}`,
    kind: PODGROUP_API.kind,
    metadata: ownedMeta(job, podGroupName(job.name, attempt), COMPONENTS.gang, { [LABELS.attempt]: String(attempt) }),
    spec: { schedulingPolicy: { gang: { minCount } } },
  };
}

/**
 * Pack `pack` of attempt `attempt`, held back until the whole gang is admitted: gated (SchedulingGates), or
 * a member of the attempt's PodGroup, which kube-scheduler holds until every member exists.
 */
export function packPod(
  job: JobView,
  attempt: number,
  burstId: string,
  pack: number,
  sizes: readonly number[],
  opts: PodOptions,
  backend: GangBackendName = 'SchedulingGates',
): K8sObject {
  const s = job.spec;
  const t = s.template ?? {};
  const range = packRanges(sizes)[pack]!;
  const workers = sizes[pack]!;
  const req = packRequest(job, workers);
  const name = packPodName(job.name, attempt, pack);
  const meta = ownedMeta(job, name, COMPONENTS.pack, { ...t.labels, [LABELS.attempt]: String(attempt), [LABELS.packIndex]: String(pack) });
  meta.annotations = { ...t.annotations, [ANNOTATIONS.workers]: `${range.start}-${range.end - 1}`, [ANNOTATIONS.burstId]: burstId };
  if (gangBackend(backend).kueue) kueueGroupMeta(meta, job, attempt, sizes.length);
  const pullPolicy = s.function.imagePullPolicy ?? opts.imagePullPolicy;
  // The broker URL's Secret, mounted (packEnv names the file); the direct transport has no broker.
  const ref = s.transport.kind !== 'direct' ? s.transport.secretRef : undefined;
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: meta,
    spec: {
      ...gangFields(job, attempt, backend),
      restartPolicy: 'Never',
      hostname: name,
      subdomain: serviceName(job.name),
      // Packs never call the API server, and 1 000 pods × every Service's env vars is noise.
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      terminationGracePeriodSeconds: 5,
      // Pod Security Standards "restricted": a fixed non-root uid (an image's named USER cannot be verified
      // as non-root), the runtime's default seccomp profile; the container drops every capability.
      // fsGroup: the Secret's file is group-readable by the pack's group, by no one else.
      securityContext: { runAsNonRoot: true, runAsUser: POD.uid, runAsGroup: POD.uid, fsGroup: POD.uid, seccompProfile: { type: 'RuntimeDefault' } },
      ...(t.nodeSelector ? { nodeSelector: t.nodeSelector } : {}),
      ...(t.tolerations ? { tolerations: t.tolerations } : {}),
      ...(t.serviceAccountName ? { serviceAccountName: t.serviceAccountName } : {}),
      ...(t.priorityClassName ? { priorityClassName: t.priorityClassName } : {}),
      ...(t.schedulerName ? { schedulerName: t.schedulerName } : {}),
      containers: [
        {
          name: POD.container,
          image: s.function.image ?? opts.defaultImage,
          ...(pullPolicy ? { imagePullPolicy: pullPolicy } : {}),
          env: packEnv(job, attempt, burstId, pack, sizes, opts),
          ports: [
            { name: POD.httpPortName, containerPort: POD.httpPort, protocol: 'TCP' },
            { name: POD.directPortName, containerPort: POD.directPort, protocol: 'TCP' },
            { name: POD.linkPortName, containerPort: POD.linkPort, protocol: 'TCP' },
          ],
          resources: {
            requests: { cpu: formatCpu(req.cpu), memory: formatBytes(req.memory) },
            // Memory limit = request: a pack never gets OOM-killed for what another pod uses.
            limits: { memory: formatBytes(req.memory) },
          },
          // Ready = joined the start barrier (/readyz turns 200 then): how the operator sees joins.
          // Ready = joined, seen within a second. The pack's main thread answers the probe and also relays
          // messages: three missed probes in a row, not one, before a joined pack counts as not ready.
          readinessProbe: { httpGet: { path: POD.readinessPath, port: POD.httpPortName }, periodSeconds: 1, timeoutSeconds: 2, failureThreshold: 3, successThreshold: 1 },
          terminationMessagePath: POD.terminationLog,
          // A pack that crashes before writing its report still says why (the tail of its log).
          terminationMessagePolicy: 'FallbackToLogsOnError',
          volumeMounts: [
            { name: 'params', mountPath: POD.paramsDir, readOnly: true },
            { name: 'secret', mountPath: POD.secretDir, readOnly: true },
            ...(ref !== undefined ? [{ name: 'transport', mountPath: POD.transportDir, readOnly: true }] : []),
            { name: 'tmp', mountPath: POD.tmpDir },
          ],
          securityContext: { allowPrivilegeEscalation: false, readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] } },
        },
      ],
      volumes: [
        { name: 'params', configMap: { name: paramsConfigMapName(job.name) } },
        { name: 'secret', secret: { secretName: attemptSecretName(job.name, attempt), defaultMode: 0o440 } },
        ...(ref !== undefined
          ? [{ name: 'transport', secret: { secretName: ref.name, items: [{ key: ref.key, path: POD.transportUrlKey }], defaultMode: 0o440, optional: true } }]
          : []),
        { name: 'tmp', emptyDir: {} },
      ],
    },
  };
}

/**
 * A Kueue pod group of every pack of the attempt, in the BurstJob's LocalQueue. Not retriable in the group:
 * a failed pack ends Kueue's Workload (and its quota) at once, and kubeburst's restart is a new group.
 */
function kueueGroupMeta(meta: Record<string, unknown>, job: JobView, attempt: number, packs: number): void {
  meta.labels = {
    ...(meta.labels as Record<string, string>),
    [KUEUE.queueLabel]: job.kueue!.queueName,
    ...(job.kueue!.priorityClass !== undefined ? { [KUEUE.priorityLabel]: job.kueue!.priorityClass } : {}),
    [KUEUE.groupLabel]: podGroupName(job.name, attempt),
  };
  meta.annotations = { ...(meta.annotations as Record<string, string>), [KUEUE.totalCountAnnotation]: String(packs), [KUEUE.retriableAnnotation]: 'false' };
}

/** What holds a pack pod back until its gang is admitted. */
function gangFields(job: JobView, attempt: number, backend: GangBackendName): Record<string, unknown> {
  const b = gangBackend(backend);
  return {
    ...(b.gates.length > 0 ? { schedulingGates: b.gates.map((name) => ({ name })) } : {}),
    ...(b.podGroup ? { schedulingGroup: { podGroupName: podGroupName(job.name, attempt) } } : {}),
  };
}
