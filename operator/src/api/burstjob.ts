import { z } from 'zod';

/**
 * The BurstJob API (kubeburst.io/v1alpha1), written once: the CLI validates manifests with it, the operator
 * reads specs with it, and crds/ is generated from it (see crd.ts; a test fails when they drift).
 * Every field carries its description, default and limits here, so `kubectl explain burstjob.spec` and
 * CLI error messages say the same thing.
 */
export const API_GROUP = 'kubeburst.io';
export const API_VERSION = 'v1alpha1';
export const KIND = 'BurstJob';
export const PLURAL = 'burstjobs';
export const SHORT_NAMES = ['bj', 'burst'];

const quantity = z
  .string()
  .regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/, 'must be a Kubernetes quantity such as 500m, 1, 2Gi');

export const TransportSpec = z
  .object({
    kind: z
      .enum(['direct', 'nats', 'redis'])
      .default('direct')
      .describe('How packs talk to each other: direct (TCP between packs, no broker), nats or redis.'),
    url: z
      .string()
      .min(1)
      .optional()
      .describe('Broker URL (redis://host:6379, nats://host:4222). Not used by the direct transport.'),
    secretRef: z
      .object({
        name: z.string().min(1).describe('Secret in the BurstJob namespace.'),
        key: z.string().min(1).default('url').describe('Key of the Secret holding the broker URL.'),
      })
      .optional()
      .describe('Read the broker URL from a Secret instead of url (credentials stay out of the spec).'),
    chunkBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(1024 * 1024)
      .describe('Messages larger than this are split into chunks of this size (bytes).'),
  })
  .describe('The transport between packs. Inside a pack workers always share memory.');

export const FunctionSpec = z
  .object({
    image: z.string().min(1).optional().describe('Container image holding the worker runtime and the function (cluster runs).'),
    module: z
      .string()
      .min(1)
      .describe('Path of the worker module: inside the image for cluster runs, relative to the manifest for `kubeburst run`.'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional().describe('Pull policy of the image.'),
  })
  .describe('The function every worker runs: a module whose default export is defineWorker(...).');

export const ParamsSpec = z
  .object({
    list: z.array(z.unknown()).optional().describe('One entry per worker (length must equal spec.size).'),
    value: z.unknown().optional().describe('The same value for every worker; each knows its own id.'),
  })
  .refine((p) => !(p.list !== undefined && p.value !== undefined), { message: 'set either list or value, not both' })
  .describe('Per-worker parameters.');

export const TimeoutsSpec = z
  .object({
    joinSeconds: z.number().int().min(1).max(86_400).default(120).describe('Every pack must join the start barrier within this time.'),
    operationSeconds: z.number().int().min(1).max(86_400).default(300).describe('Default timeout of every blocking BCM call (send/recv/collective).'),
    scheduleSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe('All pack pods must be scheduled within this time once ungated, or the attempt is torn down and retried.'),
  })
  .describe('Timeouts.');

export const ResourcesSpec = z
  .object({
    cpu: quantity.default('1').describe('CPU per worker; a pack requests granularity × cpu.'),
    memory: quantity.default('256Mi').describe('Memory per worker; a pack requests granularity × memory.'),
  })
  .describe('Resources per worker.');

export const PackingSpec = z
  .object({
    mode: z
      .enum(['Fixed', 'Auto'])
      .default('Fixed')
      .describe('Fixed: packs of spec.granularity workers. Auto: the largest packs that fit the nodes (by allocatable CPU and memory).'),
    maxGranularity: z.number().int().min(1).optional().describe('Auto mode: never put more workers than this in one pack.'),
  })
  .describe('How workers are grouped into packs (pods).');

export const GangSpec = z
  .object({
    backend: z
      .enum(['SchedulingGates'])
      .default('SchedulingGates')
      .describe('How all-or-nothing admission is enforced. SchedulingGates: pods are created gated and ungated together once the cluster has room for all.'),
  })
  .describe('Gang scheduling: all packs start together or none does.');

export const PodTemplateSpec = z
  .object({
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z
      .array(
        z.object({
          key: z.string().optional(),
          operator: z.enum(['Exists', 'Equal']).optional(),
          value: z.string().optional(),
          effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
          tolerationSeconds: z.number().int().optional(),
        }),
      )
      .optional(),
    serviceAccountName: z.string().optional(),
    priorityClassName: z.string().optional(),
    env: z.array(z.object({ name: z.string().min(1), value: z.string() })).optional(),
  })
  .describe('Extra settings for the pack pods.');

export const BurstJobSpec = z
  .object({
    size: z.number().int().min(1).max(100_000).describe('Number of workers in the burst.'),
    granularity: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Workers per pack (pod). Packs hold contiguous worker ids; the last may be smaller. Default: the whole burst in one pack (Fixed mode).'),
    packing: PackingSpec.optional(),
    function: FunctionSpec,
    params: ParamsSpec.optional(),
    transport: TransportSpec.default({ kind: 'direct', chunkBytes: 1024 * 1024 }),
    timeouts: TimeoutsSpec.default({ joinSeconds: 120, operationSeconds: 300, scheduleSeconds: 60 }),
    resources: ResourcesSpec.default({ cpu: '1', memory: '256Mi' }),
    gang: GangSpec.default({ backend: 'SchedulingGates' }),
    maxRestarts: z.number().int().min(0).max(100).default(0).describe('Restart the whole flare this many times after a failed attempt.'),
    activeDeadlineSeconds: z.number().int().min(1).optional().describe('Fail the BurstJob when it runs longer than this (all attempts).'),
    ttlSecondsAfterFinished: z.number().int().min(0).optional().describe('Delete the BurstJob this long after it succeeds or fails.'),
    suspend: z.boolean().default(false).describe('While true, no pods exist; setting it back to false starts a new attempt.'),
    template: PodTemplateSpec.optional(),
  })
  .superRefine((s, ctx) => {
    if (s.params?.list !== undefined && s.params.list.length !== s.size) {
      ctx.addIssue({ code: 'custom', path: ['params', 'list'], message: `has ${s.params.list.length} entries but size is ${s.size} (one entry per worker)` });
    }
    if (s.granularity !== undefined && s.granularity > s.size) {
      ctx.addIssue({ code: 'custom', path: ['granularity'], message: `must be <= size (${s.size})` });
    }
    if (s.packing?.mode === 'Auto' && s.granularity !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['granularity'], message: 'must not be set when packing.mode is Auto (use packing.maxGranularity)' });
    }
    if (s.transport.url !== undefined && s.transport.secretRef !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['transport', 'secretRef'], message: 'set either url or secretRef, not both' });
    }
    if (s.transport.kind === 'direct' && (s.transport.url !== undefined || s.transport.secretRef !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['transport', 'url'], message: 'the direct transport takes no url (packs find each other by the job’s headless Service)' });
    }
  })
  .describe('What to run: a flare of `size` workers packed `granularity` per pod.');

export type BurstJobSpec = z.infer<typeof BurstJobSpec>;
export type BurstJobSpecInput = z.input<typeof BurstJobSpec>;

export const ObjectMeta = z.object({
  name: z.string().min(1).max(63).regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a DNS label: lowercase letters, digits and -, at most 63 characters'),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  finalizers: z.array(z.string()).optional(),
});

/** A BurstJob manifest (what `kubectl apply` and `kubeburst run` read). */
export const BurstJobManifest = z.object({
  apiVersion: z.literal(`${API_GROUP}/${API_VERSION}`),
  kind: z.literal(KIND),
  metadata: ObjectMeta,
  spec: BurstJobSpec,
  status: z.unknown().optional(),
});
export type BurstJobManifest = z.infer<typeof BurstJobManifest>;

/** Invalid manifest: names the field path and the rule, like the API server would. */
export class InvalidBurstJobError extends Error {
  constructor(readonly issues: { path: string; rule: string }[]) {
    super(`invalid BurstJob:\n${issues.map((i) => `  ${i.path}: ${i.rule}`).join('\n')}`);
    this.name = 'InvalidBurstJobError';
  }
}

export function parseBurstJob(doc: unknown): BurstJobManifest {
  const r = BurstJobManifest.safeParse(doc);
  if (r.success) return r.data;
  throw new InvalidBurstJobError(
    r.error.issues.map((i) => ({ path: i.path.length ? i.path.join('.') : '(root)', rule: i.message })),
  );
}
