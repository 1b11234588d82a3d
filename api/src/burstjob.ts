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

/** A CEL rule the API server enforces (x-kubernetes-validations); the zod refinements say the same thing. */
export interface CelRule {
  rule: string;
  message: string;
  fieldPath?: string;
  reason?: 'FieldValueInvalid' | 'FieldValueForbidden' | 'FieldValueRequired' | 'FieldValueDuplicate';
}
const cel = (...rules: CelRule[]) => ({ 'x-kubernetes-validations': rules });
/**
 * Fields that cannot change once the BurstJob exists (the pods of a running attempt were built from them).
 * A marker rather than a rule, because a second .meta() on the same schema replaces the first: the CRD
 * generator turns it into a `self == oldSelf` rule next to the field's own rules, and, for an optional
 * field, a `has(self.f) == has(oldSelf.f)` rule on the parent object (a rule on the field itself only runs
 * when the old and the new object both have it, so adding or removing it would slip through).
 */
export const IMMUTABLE_KEY = 'x-kubeburst-immutable';
export const IMMUTABLE_RULE: CelRule = { rule: 'self == oldSelf', message: 'is immutable (delete and re-create the BurstJob)' };
export const immutablePresenceRule = (field: string): CelRule => ({
  rule: `has(self.${field}) == has(oldSelf.${field})`,
  message: `${field} is immutable: it cannot be added or removed (delete and re-create the BurstJob)`,
  fieldPath: `.${field}`,
});
const immutable = { [IMMUTABLE_KEY]: true };

const quantity = z.string().regex(/^[0-9]+(\.[0-9]+)?(m|k|Ki|M|Mi|G|Gi|T|Ti)?$/, 'must be a Kubernetes quantity such as 500m, 1, 2Gi');

export const TransportSpec = z
  .strictObject({
    kind: z.enum(['direct', 'nats', 'redis']).default('direct').describe('How packs talk to each other: direct (TCP between packs, no broker), nats or redis.'),
    url: z.string().min(1).optional().describe('Broker URL (redis://host:6379, nats://host:4222). Not used by the direct transport.'),
    secretRef: z
      .strictObject({
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
    encryption: z
      .boolean()
      .default(false)
      .describe(
        'Through a broker, encrypt every frame (AES-256-GCM under the attempt key) instead of only authenticating it: other clients of the broker then cannot read the flare. Frames are always authenticated; the direct transport authenticates its connections.',
      ),
  })
  .describe('The transport between packs. Inside a pack workers always share memory.');

export const FunctionSpec = z
  .strictObject({
    image: z.string().min(1).optional().describe('Container image holding the worker runtime and the function (cluster runs).'),
    module: z.string().min(1).describe('Path of the worker module: inside the image for cluster runs, relative to the manifest for `kubeburst run`.'),
    imagePullPolicy: z.enum(['Always', 'IfNotPresent', 'Never']).optional().describe('Pull policy of the image.'),
  })
  .describe('The function every worker runs: a module whose default export is defineWorker(...).');

/** How deep a params value may nest: far past any real one, and within what every reader can walk. */
const MAX_JSON_DEPTH = 1000;

/**
 * Where `v` is not plain JSON, what is wrong and where in it (a path like `.a[2]`): a YAML manifest can
 * hold what JSON cannot (`.nan`, `.inf`, an alias inside its own anchor), which the packs would get as
 * null, or a run would crash on. Iterative, each shared subtree (a YAML anchor used again) walked once, and
 * at most MAX_JSON_DEPTH deep: a deeply nested value must be a spec error, not a stack overflow where the
 * operator parses every job.
 */
export function jsonProblem(v: unknown): string | undefined {
  interface Frame {
    v: unknown;
    key: string;
    parent: Frame | undefined;
    depth: number;
    leaving?: boolean;
  }
  const pathOf = (f: Frame): string => {
    const keys: string[] = [];
    for (let g: Frame | undefined = f; g !== undefined; g = g.parent) keys.push(g.key);
    const at = keys.reverse().join('');
    return at === '' ? '' : ` at ${at}`;
  };
  const walked = new WeakSet<object>();
  const open = new WeakSet<object>();
  const stack: Frame[] = [{ v, key: '', parent: undefined, depth: 0 }];
  while (stack.length > 0) {
    const f = stack.pop()!;
    const x = f.v;
    if (f.leaving) {
      open.delete(x as object);
      walked.add(x as object);
      continue;
    }
    if (typeof x === 'number') {
      if (!Number.isFinite(x)) return `holds ${x}${pathOf(f)}, which is no JSON number`;
      continue;
    }
    if (x === null || typeof x === 'string' || typeof x === 'boolean') continue;
    if (typeof x !== 'object') return `holds a ${typeof x}${pathOf(f)}, which is not JSON`;
    if (open.has(x)) return `refers to itself${pathOf(f)} (a YAML alias inside its own anchor)`;
    if (walked.has(x)) continue;
    if (f.depth >= MAX_JSON_DEPTH) return `nests deeper than ${MAX_JSON_DEPTH} levels${pathOf(f)}`;
    open.add(x);
    stack.push({ ...f, leaving: true });
    const entries: [string, unknown][] = Array.isArray(x) ? x.map((y, i) => [`[${i}]`, y]) : Object.entries(x).map(([k, y]) => [`.${k}`, y]);
    for (let i = entries.length - 1; i >= 0; i--) stack.push({ v: entries[i]![1], key: entries[i]![0], parent: f, depth: f.depth + 1 });
  }
  return undefined;
}

const JsonValue = z.unknown().superRefine((v, ctx) => {
  const p = jsonProblem(v);
  if (p !== undefined) ctx.addIssue({ code: 'custom', message: p });
});

export const ParamsSpec = z
  .strictObject({
    list: z.array(JsonValue).max(100_000).optional().describe('One entry per worker (length must equal spec.size).'),
    value: JsonValue.optional().describe('The same value for every worker; each knows its own id.'),
  })
  .refine((p) => !(p.list !== undefined && p.value !== undefined), { message: 'set either list or value, not both' })
  // CEL cannot see untyped fields (list items and value are any JSON), so the API server checks this one
  // with maxProperties.
  .meta({ maxProperties: 1 })
  .describe('Per-worker parameters, mounted into every pack as a file (KB_PARAMS_FILE).');

export const TimeoutsSpec = z
  .strictObject({
    joinSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(120)
      .describe(
        'Every pack must join the start barrier within this time after it starts; the operator also tears down an admitted attempt whose packs have not all joined (pod Ready) within scheduleSeconds + joinSeconds.',
      ),
    operationSeconds: z.number().int().min(1).max(86_400).default(300).describe('Default timeout of every blocking BCM call (send/recv/collective).'),
    scheduleSeconds: z
      .number()
      .int()
      .min(1)
      .max(86_400)
      .default(60)
      .describe(
        'Once the gang is admitted (gates lifted), every pack pod must be bound to a node within this time, and every pack must have joined (pod Ready) within scheduleSeconds + joinSeconds (an image that never pulls counts as not joined); otherwise the attempt is torn down, so it holds no capacity, and retried (spec.gang.maxScheduleRetries).',
      ),
  })
  .describe('Timeouts.');

export const ResourcesSpec = z
  .strictObject({
    cpu: quantity.default('1').describe('CPU per worker; a pack requests granularity × cpu.'),
    memory: quantity.default('256Mi').describe('Memory per worker; a pack requests granularity × memory.'),
  })
  .describe('Resources per worker.');

export const PackingSpec = z
  .strictObject({
    mode: z
      .enum(['Fixed', 'Auto'])
      .default('Fixed')
      .describe('Fixed: packs of spec.granularity workers. Auto: the largest packs that fit the nodes (by allocatable CPU and memory).'),
    maxGranularity: z.number().int().min(1).max(100_000).optional().describe('Auto mode: never put more workers than this in one pack.'),
  })
  .describe('How workers are grouped into packs (pods).');

/** spec.gang.backend values; Auto resolves to one of the others per attempt (status.attempt.gangBackend). */
export const GANG_BACKENDS = ['Auto', 'SchedulingGates', 'PodGroup', 'Kueue'] as const;

export const GangSpec = z
  .strictObject({
    backend: z
      .enum(GANG_BACKENDS)
      .default('Auto')
      .describe(
        'How all-or-nothing admission is enforced. SchedulingGates: pods are created gated and ungated together once the cluster has room for all of them (nodes’ allocatable minus what bound pods request). PodGroup: a scheduling.k8s.io/v1beta1 PodGroup (gang minCount = packs) is created before the pods, and kube-scheduler places them all or none (Kubernetes ≥ 1.37, feature gate GenericWorkload). Kueue: the packs are one Kueue pod group in the LocalQueue named by the BurstJob’s label kueue.x-k8s.io/queue-name; Kueue admits the group against its ClusterQueue’s quota and lifts its own gate from every pod (Kueue ≥ 0.17 with the pod integration). Auto: Kueue when the BurstJob carries that label, else PodGroup when the API server serves it, else SchedulingGates; status.attempt.gangBackend says which.',
      ),
    maxScheduleRetries: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(3)
      .describe(
        'Admitted attempts torn down because not every pack was bound within timeouts.scheduleSeconds, or joined within scheduleSeconds + joinSeconds, are retried (with backoff) this many times; then the BurstJob fails. Does not count against maxRestarts.',
      ),
  })
  .describe('Gang scheduling: all packs start together or none does.');

/**
 * Labels and environment variables the operator sets on pack pods and relies on: a template may not set
 * them (a job could otherwise label its pods as another job's, and pass that job's NetworkPolicy, or turn
 * its own encryption or broker user off unseen). kueue.x-k8s.io/*: the Kueue backend's pod group labels
 * are the operator's, and under another backend they would hand the pods to Kueue, outside the gang.
 */
export const RESERVED_LABEL_PREFIXES = ['kubeburst.io/', 'kueue.x-k8s.io/'];
export const RESERVED_LABELS = ['app.kubernetes.io/managed-by'];
export const RESERVED_ENV_PREFIX = 'KB_';
const reservedLabel = (k: string): boolean => RESERVED_LABEL_PREFIXES.some((p) => k.startsWith(p)) || RESERVED_LABELS.includes(k);
const RESERVED_LABEL_WORDS = `${RESERVED_LABEL_PREFIXES.map((p) => `${p}*`).join(', ')} and ${RESERVED_LABELS.join(', ')}`;

/**
 * Why `key: value` is no Kubernetes label (or node selector term), if it is not: checked here, where the
 * manifest is read, since the API server would refuse every pod of it, and the operator retry, forever.
 */
export function labelProblem(key: string, value: string): string | undefined {
  const slash = key.lastIndexOf('/');
  const prefix = slash < 0 ? undefined : key.slice(0, slash);
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (prefix !== undefined && (prefix.length > 253 || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix)))
    return "the key's prefix must be a DNS subdomain (lower-case letters, digits, - and ., at most 253 characters)";
  if (name.length > 63 || !LABEL_NAME.test(name)) return "the key's name must be 1-63 letters, digits, -, _ or ., starting and ending with a letter or digit";
  if (value.length > 63 || (value !== '' && !LABEL_NAME.test(value))) return 'the value must be at most 63 letters, digits, -, _ or ., starting and ending with a letter or digit';
  return undefined;
}
const LABEL_NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

const labelMap = (labels: Record<string, string>, ctx: z.RefinementCtx): void => {
  for (const [k, v] of Object.entries(labels)) {
    const p = labelProblem(k, v);
    if (p !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: p });
  }
};

export const PodTemplateSpec = z
  .strictObject({
    labels: z
      .record(z.string(), z.string())
      .superRefine((labels, ctx) => {
        for (const k of Object.keys(labels))
          if (reservedLabel(k)) ctx.addIssue({ code: 'custom', path: [k], message: `is set by the operator (labels ${RESERVED_LABEL_WORDS} are reserved)` });
        labelMap(labels, ctx);
      })
      .optional()
      .describe(`Extra labels on every pack pod (not ${RESERVED_LABEL_WORDS}: the operator sets those).`),
    annotations: z.record(z.string(), z.string()).optional().describe('Extra annotations on every pack pod.'),
    nodeSelector: z
      .record(z.string(), z.string())
      .superRefine(labelMap)
      .optional()
      .describe('Pack pods only run on nodes with these labels (also limits where the gang looks for room).'),
    tolerations: z
      .array(
        z.strictObject({
          key: z.string().optional(),
          operator: z.enum(['Exists', 'Equal']).optional(),
          value: z.string().optional(),
          effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
          tolerationSeconds: z.number().int().optional(),
        }),
      )
      .optional()
      .describe('Tolerations of the pack pods (core/v1 Toleration); nodes whose taints they do not tolerate are not counted as room.'),
    serviceAccountName: z.string().optional().describe('ServiceAccount the pack pods run as (default: the namespace default).'),
    priorityClassName: z.string().optional().describe('PriorityClass of the pack pods.'),
    schedulerName: z
      .string()
      .min(1)
      .optional()
      .describe(
        'Scheduler that binds the pack pods (default: the cluster default scheduler). The gang is still admitted by the operator; spec.timeouts.scheduleSeconds bounds how long that scheduler may take.',
      ),
    env: z
      .array(
        z.strictObject({
          name: z
            .string()
            .min(1)
            .refine((n) => /^[ -<>-~]+$/.test(n), 'must be printable ASCII without =')
            .refine((n) => !n.startsWith(RESERVED_ENV_PREFIX), `is set by the operator (variables ${RESERVED_ENV_PREFIX}* configure the pack: use the BurstJob's fields)`),
          value: z.string().refine((v) => !v.includes('\0'), 'must not hold a NUL character'),
        }),
      )
      .optional()
      .describe(`Extra environment variables of the pack container (not ${RESERVED_ENV_PREFIX}*: the operator sets those).`),
  })
  .meta(
    cel(
      {
        rule: `!has(self.labels) || self.labels.all(k, ${[...RESERVED_LABEL_PREFIXES.map((p) => `!k.startsWith('${p}')`), ...RESERVED_LABELS.map((l) => `k != '${l}'`)].join(' && ')})`,
        message: `labels ${RESERVED_LABEL_WORDS} are set by the operator`,
        fieldPath: '.labels',
      },
      {
        rule: `!has(self.env) || self.env.all(e, !e.name.startsWith('${RESERVED_ENV_PREFIX}'))`,
        message: `environment variables ${RESERVED_ENV_PREFIX}* are set by the operator`,
        fieldPath: '.env',
      },
    ),
  )
  .describe('Extra settings for the pack pods.');

export const BurstJobSpec = z
  .strictObject({
    size: z.number().int().min(1).max(100_000).meta(immutable).describe('Number of workers in the burst.'),
    granularity: z
      .number()
      .int()
      .min(1)
      .max(100_000)
      .optional()
      .meta(immutable)
      .describe('Workers per pack (pod). Packs hold contiguous worker ids; the last may be smaller. Default: the whole burst in one pack (Fixed mode).'),
    packing: PackingSpec.optional().meta(immutable),
    function: FunctionSpec.meta(immutable),
    params: ParamsSpec.optional().meta(immutable),
    transport: TransportSpec.default({ kind: 'direct', chunkBytes: 1024 * 1024, encryption: false }).meta(immutable),
    timeouts: TimeoutsSpec.default({ joinSeconds: 120, operationSeconds: 300, scheduleSeconds: 60 }),
    resources: ResourcesSpec.default({ cpu: '1', memory: '256Mi' }).meta(immutable),
    gang: GangSpec.default({ backend: 'Auto', maxScheduleRetries: 3 }).meta(immutable),
    maxRestarts: z.number().int().min(0).max(100).default(0).describe('Restart the whole flare this many times after a failed attempt.'),
    activeDeadlineSeconds: z.number().int().min(1).max(31_536_000).optional().describe('Fail the BurstJob when it runs longer than this (all attempts).'),
    ttlSecondsAfterFinished: z.number().int().min(0).max(31_536_000).optional().describe('Delete the BurstJob this long after it succeeds or fails.'),
    suspend: z.boolean().default(false).describe('While true, no pods exist; setting it back to false starts a new attempt.'),
    template: PodTemplateSpec.optional().meta(immutable),
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
  .meta(
    // params.list has untyped items, which CEL cannot see: its length is checked by the operator (InvalidSpec).
    cel(
      { rule: '!has(self.granularity) || self.granularity <= self.size', message: 'granularity must be <= size', fieldPath: '.granularity' },
      {
        rule: "!has(self.granularity) || !has(self.packing) || !has(self.packing.mode) || self.packing.mode != 'Auto'",
        message: 'granularity must not be set when packing.mode is Auto (use packing.maxGranularity)',
        fieldPath: '.granularity',
      },
      {
        rule: '!has(self.transport) || !(has(self.transport.url) && has(self.transport.secretRef))',
        message: 'transport: set either url or secretRef, not both',
        fieldPath: '.transport',
      },
      {
        rule: "!has(self.transport) || !has(self.transport.kind) || self.transport.kind != 'direct' || !(has(self.transport.url) || has(self.transport.secretRef))",
        message: 'the direct transport takes no url or secretRef (packs find each other through the job’s headless Service)',
        fieldPath: '.transport',
      },
    ),
  )
  .describe('What to run: a flare of `size` workers packed `granularity` per pod.');

export type BurstJobSpec = z.infer<typeof BurstJobSpec>;
export type BurstJobSpecInput = z.input<typeof BurstJobSpec>;

const NAME_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
/** Pack pods are named (and DNS-addressed) `<name>-a<attempt>-<pack>`, which must fit a 63-character label. */
export const MAX_NAME_LENGTH = 48;
const NAME_RULE = `must be at most ${MAX_NAME_LENGTH} lowercase letters, digits and -, starting with a letter (it names the job’s Service, and pack pods <name>-a<attempt>-<pack> must fit in 63 characters)`;
/** Why `name` cannot name a BurstJob, if it cannot: NAME_RULE (what `kubeburst init` checks a name against). */
export function nameProblem(name: string): string | undefined {
  return name.length <= MAX_NAME_LENGTH && NAME_PATTERN.test(name) ? undefined : NAME_RULE;
}

/** The same rule on metadata.name, for the CRD (CEL at the root may read metadata.name). */
export const NAME_CEL: CelRule = {
  rule: `size(self.metadata.name) <= ${MAX_NAME_LENGTH} && self.metadata.name.matches('${NAME_PATTERN.source}')`,
  message: `metadata.name ${NAME_RULE}`,
};

/**
 * metadata: every field of a Kubernetes ObjectMeta (what `kubectl get -o yaml` prints may be applied
 * again), and nothing else, so a misspelled `lables` is refused rather than dropped.
 */
export const ObjectMeta = z.strictObject({
  // The name also names the job's headless Service, so it must be a DNS-1035 label (starts with a letter).
  name: z.string().min(1).max(MAX_NAME_LENGTH, NAME_RULE).regex(NAME_PATTERN, NAME_RULE),
  generateName: z.string().optional(),
  namespace: z.string().optional(),
  labels: z.record(z.string(), z.string()).optional(),
  annotations: z.record(z.string(), z.string()).optional(),
  uid: z.string().optional(),
  generation: z.number().optional(),
  resourceVersion: z.string().optional(),
  selfLink: z.string().optional(),
  creationTimestamp: z.string().optional(),
  deletionTimestamp: z.string().optional(),
  deletionGracePeriodSeconds: z.number().optional(),
  finalizers: z.array(z.string()).optional(),
  // Written by the API server; their content is its business.
  ownerReferences: z.array(z.unknown()).optional(),
  managedFields: z.array(z.unknown()).optional(),
});

/** A BurstJob manifest (what `kubectl apply` and `kubeburst run` read). */
export const BurstJobManifest = z.strictObject({
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
  throw new InvalidBurstJobError(describeIssues(r.error, BurstJobManifest));
}

/**
 * zod's issues as `{ path, rule }`, paths written `spec.template.env[0].name` (prefixed with `prefix` when the
 * schema is a part, e.g. `spec`). An unknown field gets an issue of its own at its full path, with the
 * nearest known name when one is close (`spec.granularty: unknown field (did you mean granularity?)`).
 */
export function describeIssues(error: z.ZodError, schema: z.ZodType, prefix?: string): { path: string; rule: string }[] {
  // As the API server writes them: spec.template.env[0].name.
  const at = (path: PropertyKey[]): string =>
    [...(prefix !== undefined ? [prefix] : []), ...path].map((seg, i) => (typeof seg === 'number' ? `[${seg}]` : `${i > 0 ? '.' : ''}${String(seg)}`)).join('') || '(root)';
  return error.issues.flatMap((i) => {
    if (i.code !== 'unrecognized_keys') return [{ path: at(i.path), rule: i.message }];
    const known = fieldsAt(schema, i.path);
    return i.keys.map((k) => ({ path: at([...i.path, k]), rule: unknownFieldRule(k, known) }));
  });
}

export function unknownFieldRule(key: string, known: readonly string[]): string {
  const near = nearest(key, known);
  if (near !== undefined) return `unknown field (did you mean ${near}?)`;
  return known.length > 0 ? `unknown field (known fields: ${known.join(', ')})` : 'unknown field';
}

/** The field names of the object schema at `path` under `schema` (through optional, default, arrays, maps). */
function fieldsAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: z.core.$ZodType | undefined = schema;
  const unwrap = (): void => {
    for (;;) {
      const def: z.core.$ZodTypeDef | undefined = node?._zod.def;
      if (def === undefined) return;
      if (def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'readonly' || def.type === 'prefault')
        node = (def as unknown as { innerType: z.core.$ZodType }).innerType;
      else if (def.type === 'pipe') node = (def as unknown as { in: z.core.$ZodType }).in;
      else return;
    }
  };
  for (const seg of path) {
    unwrap();
    const def: z.core.$ZodTypeDef | undefined = node?._zod.def;
    if (def?.type === 'object') node = (def as z.core.$ZodObjectDef).shape[String(seg)];
    else if (def?.type === 'array') node = (def as z.core.$ZodArrayDef).element;
    else if (def?.type === 'record') node = (def as z.core.$ZodRecordDef).valueType;
    else return [];
  }
  unwrap();
  const def: z.core.$ZodTypeDef | undefined = node?._zod.def;
  return def?.type === 'object' ? Object.keys((def as z.core.$ZodObjectDef).shape) : [];
}

/** The known name closest to `key`, if it is close: a typo, a wrong case, a letter or two off. */
function nearest(key: string, known: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const k of known) {
    const d = k.toLowerCase() === key.toLowerCase() ? 0.5 : editDistance(key, k);
    if (d < bestDistance) [best, bestDistance] = [k, d];
  }
  // At most one edit in four characters (and at least one): granularty → granularity, lables → labels.
  return best !== undefined && bestDistance <= Math.max(1, Math.floor(Math.min(key.length, best.length) / 4)) ? best : undefined;
}

/** Optimal string alignment distance: insertions, deletions, substitutions and swaps of neighbours. */
export function editDistance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  }
  return d[a.length]![b.length]!;
}
