import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadManifest, ManifestError, pickBurstJob, resolveModule } from './manifest.js';

const JOB = `apiVersion: kubeburst.io/v1alpha1
kind: BurstJob
metadata:
  name: demo
spec:
  size: 6
  granularity: 2
  function:
    module: ./worker.js
`;

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-manifest-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function load(text: string, o: Parameters<typeof loadManifest>[2] = {}) {
  writeFileSync(join(dir, 'job.yaml'), text);
  return loadManifest('job.yaml', dir, o);
}

function errorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ManifestError);
    return (err as Error).message;
  }
  throw new Error('expected a ManifestError');
}

describe('manifest loading', () => {
  test('picks the BurstJob out of a multi-document file and applies the schema defaults', () => {
    const m = load(`apiVersion: v1\nkind: Service\nmetadata: {name: other}\n---\n${JOB}---\n`);
    expect(m.job.metadata.name).toBe('demo');
    expect(m.job.spec.transport.kind).toBe('direct');
    expect(m.job.spec.timeouts.joinSeconds).toBe(120);
    expect(m.path).toBe(join(dir, 'job.yaml'));
  });

  test('overrides are validated with the same rules, and the message says which flags were applied', () => {
    expect(load(JOB, { overrides: { size: 3, granularity: 3 } }).job.spec).toMatchObject({ size: 3, granularity: 3 });
    expect(errorOf(() => load(JOB, { overrides: { size: 1 } }))).toBe("job.yaml: invalid BurstJob 'demo' (with --size 1):\n  spec.granularity: must be <= size (1)");
  });

  test("changing the transport kind drops the other transport's URL but keeps the chunk size", () => {
    const m = load(JOB.replace('spec:\n', 'spec:\n  transport: {kind: redis, url: "redis://x:1", chunkBytes: 4096}\n'), { overrides: { transportKind: 'nats' } });
    expect(m.job.spec.transport).toEqual({ kind: 'nats', chunkBytes: 4096, encryption: false });
  });

  test.each([
    ['spec:\n  size: 0\n', /spec\.size: .*>=1/, null],
    ['  granularity: 2\n', /spec\.granularity: must be <= size \(1\)/, (t: string) => t.replace('size: 6', 'size: 1')],
    ['', /spec\.function: .*/, (t: string) => t.replace(/  function:\n    module: \.\/worker\.js\n/, '')],
    ['', /apiVersion: .*kubeburst\.io\/v1alpha1/, (t: string) => t.replace('kubeburst.io/v1alpha1', 'kubeburst.io/v1')],
    ['', /spec\.transport\.url: the direct transport takes no url/, (t: string) => `${t}  transport: {kind: direct, url: "tcp://x:1"}\n`],
    ['', /metadata\.name: must be /, (t: string) => t.replace('name: demo', 'name: Demo_Job')],
  ])('invalid manifest %# names the field and the rule', (replacement, message, edit: ((t: string) => string) | null) => {
    const text = edit ? edit(JOB) : JOB.replace('spec:\n  size: 6\n', replacement);
    expect(errorOf(() => load(text))).toMatch(message);
  });

  test.each([
    ['a misspelled spec field', (t: string) => t.replace('granularity: 2', 'granularty: 2'), 'spec.granularty: unknown field (did you mean granularity?)'],
    ['a misspelled nested field', (t: string) => `${t}  transport: {kind: redis, urll: "redis://x:1"}\n`, 'spec.transport.urll: unknown field (did you mean url?)'],
    [
      'a field in a list item',
      (t: string) => `${t}  template:\n    env: [{name: A, value: b, valueFrom: {}}]\n`,
      'spec.template.env[0].valueFrom: unknown field (known fields: name, value)',
    ],
    ['a misspelled metadata field', (t: string) => t.replace('  name: demo\n', '  name: demo\n  lables: {a: b}\n'), 'metadata.lables: unknown field (did you mean labels?)'],
    [
      'a field nothing resembles',
      (t: string) => t.replace('    module: ./worker.js\n', '    module: ./worker.js\n    replicas: 3\n'),
      'spec.function.replicas: unknown field (known fields: image, module, imagePullPolicy)',
    ],
    ['a top-level field', (t: string) => `${t}specs: {}\n`, 'specs: unknown field (did you mean spec?)'],
  ])('%s is refused with its path and the nearest known name', (_what, edit, line) => {
    expect(errorOf(() => load(edit(JOB))).split('\n')).toContain(`  ${line}`);
  });

  test('standard ObjectMeta fields are accepted (what kubectl get -o yaml prints can be run again)', () => {
    const meta =
      '  namespace: ns\n  uid: u1\n  resourceVersion: "7"\n  generation: 2\n  generateName: demo-\n  ownerReferences: [{apiVersion: v1, kind: ConfigMap, name: c, uid: u2}]\n  managedFields: [{manager: kubectl, operation: Apply}]\n  finalizers: [kubeburst.io/cleanup]\n';
    expect(load(JOB.replace('  name: demo\n', `  name: demo\n${meta}`)).job.metadata).toMatchObject({ name: 'demo', namespace: 'ns', generation: 2 });
  });

  test.each([
    ['apiVersion: v1\nkind: ConfigMap\n', /no BurstJob found \(it holds: ConfigMap\)/],
    ['', /no BurstJob found \(the file is empty\)/],
    ['spec: [1, 2\n', /^job\.yaml:\d+:\d+: not valid YAML: /],
    ['- a\n- b\n', /every YAML document must be a Kubernetes object/],
    [`${JOB}---\n${JOB.replace('name: demo', 'name: demo2')}`, /holds 2 BurstJobs \(demo, demo2\): choose one with --name/],
    ['spec: *nowhere\n', /^job\.yaml: not valid YAML: .*nowhere/],
    // An expansion attack: ten levels of ten aliases each.
    [
      ['a0: &a0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 9 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`)].join('\n') + '\n',
      /^job\.yaml: not valid YAML: /,
    ],
  ])('file-level problem %#', (text, message) => {
    expect(errorOf(() => pickBurstJob('job.yaml', text))).toMatch(message);
  });

  test('params that JSON cannot hold are refused, naming where: .nan, .inf, an alias inside its own anchor', () => {
    expect(errorOf(() => load(`${JOB}  params:\n    value: {lr: .nan}\n`))).toMatch(/spec\.params\.value: holds NaN at \.lr, which is no JSON number/);
    expect(errorOf(() => load(`${JOB}  params:\n    list: [1, 2, 3, 4, 5, [-.inf]]\n`))).toMatch(/spec\.params\.list\[5\]: holds -Infinity at \[0\], which is no JSON number/);
    expect(errorOf(() => load(`${JOB}  params:\n    value: &v {me: *v}\n`))).toMatch(/spec\.params\.value: refers to itself at \.me/);
    // One anchor used twice is no cycle.
    expect(load(`${JOB}  params:\n    value: {a: &x {k: 1}, b: *x}\n`).job.spec.params?.value).toEqual({ a: { k: 1 }, b: { k: 1 } });
  });

  test('params may repeat one anchored map per worker, up to 10 000 aliases', () => {
    expect(errorOf(() => load(JOB + `  params:\n    list:\n      - &p {lr: 0.1}\n${'      - *p\n'.repeat(10_001)}`))).toMatch(/more than 10000 YAML aliases/);
    const workers = 2_000;
    const text = JOB.replace('  size: 6\n', `  size: ${workers}\n`) + `  params:\n    list:\n      - &p {lr: 0.1}\n${'      - *p\n'.repeat(workers - 1)}`;
    expect(load(text).job.spec.params?.list).toHaveLength(workers);
  });

  test('--name picks among several BurstJobs', () => {
    const text = `${JOB}---\n${JOB.replace('name: demo', 'name: demo2').replace('size: 6', 'size: 4')}`;
    expect(load(text, { name: 'demo2' }).job.spec.size).toBe(4);
    expect(errorOf(() => load(text, { name: 'nope' }))).toMatch(/no BurstJob named 'nope' \(it holds: demo, demo2\)/);
  });

  test('a missing file is named', () => {
    expect(errorOf(() => loadManifest('absent.yaml', dir))).toBe('cannot read absent.yaml: no such file');
  });

  test('the module resolves against the manifest directory and must exist', () => {
    const m = load(JOB);
    expect(errorOf(() => resolveModule(m))).toMatch(/^spec\.function\.module: .*worker\.js does not exist \(a relative module is resolved against the manifest's directory/);
    writeFileSync(join(dir, 'worker.js'), 'export default 1;\n');
    expect(resolveModule(m)).toBe(join(dir, 'worker.js'));
    // A directory is no module (an import of it fails in every thread).
    const inDir = load(JOB.replace('./worker.js', '.'));
    expect(errorOf(() => resolveModule(inDir))).toMatch(/^spec\.function\.module: .* is not a file/);
  });
});
