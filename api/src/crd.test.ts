import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { buildCrd, CHART_CRD_FILE, CRD_FILE, renderCrdYaml, toStructural } from './crd.js';

const root = resolve(import.meta.dirname, '../..');

type Node = Record<string, unknown>;
function walk(node: Node, path: string, visit: (n: Node, path: string) => void): void {
  visit(node, path);
  for (const [name, sub] of Object.entries((node.properties as Record<string, Node> | undefined) ?? {})) walk(sub, `${path}.${name}`, visit);
  if (node.items) walk(node.items as Node, `${path}[]`, visit);
}
const versionSchema = (): Node => (buildCrd() as any).spec.versions[0].schema.openAPIV3Schema;

describe('generated CRD', () => {
  it.each([CRD_FILE, CHART_CRD_FILE])('%s matches the zod schema (run `npm run gen:crd` after changing api/src)', (file) => {
    expect(readFileSync(resolve(root, file), 'utf8')).toBe(renderCrdYaml());
  });

  it('documents every spec and status field, for kubectl explain', () => {
    const undocumented: string[] = [];
    const s = versionSchema() as any;
    for (const part of ['spec', 'status']) {
      walk(s.properties[part], part, (n, path) => {
        // Elements of documented lists/maps and free-form template maps are described by their parent.
        if (!path.endsWith('[]') && !/template\.(labels|annotations|nodeSelector|tolerations\[\]\.|env\[\]\.)/.test(path) && n.description === undefined) undocumented.push(path);
      });
    }
    expect(undocumented).toEqual([]);
  });

  it('is structural: every node has a type or says it preserves unknown fields', () => {
    const untyped: string[] = [];
    walk(versionSchema(), '', (n, path) => {
      if (n.type === undefined && n['x-kubernetes-preserve-unknown-fields'] !== true) untyped.push(path);
    });
    expect(untyped).toEqual([]);
  });

  it('marks the fields pods are built from as immutable and leaves the lifecycle knobs mutable', () => {
    const spec = (versionSchema() as any).properties.spec.properties as Record<string, Node>;
    const immutable = Object.entries(spec)
      .filter(([, n]) => ((n['x-kubernetes-validations'] as { rule: string }[] | undefined) ?? []).some((r) => r.rule === 'self == oldSelf'))
      .map(([k]) => k)
      .sort();
    expect(immutable).toEqual(['function', 'gang', 'granularity', 'packing', 'params', 'resources', 'size', 'template', 'transport']);
    for (const k of ['suspend', 'maxRestarts', 'activeDeadlineSeconds', 'ttlSecondsAfterFinished', 'timeouts']) expect(spec[k]!['x-kubernetes-validations']).toBeUndefined();
  });

  it('also refuses adding or removing an optional immutable field (a rule on the field never runs then)', () => {
    const rules = ((versionSchema() as any).properties.spec['x-kubernetes-validations'] as { rule: string }[]).map((r) => r.rule);
    for (const f of ['granularity', 'packing', 'params', 'template']) expect(rules).toContain(`has(self.${f}) == has(oldSelf.${f})`);
    expect(rules.filter((r) => r.includes('has(self.size)') || r.includes('has(self.suspend)'))).toEqual([]);
  });

  it('has the status subresource, short names and the printer columns kubectl get shows', () => {
    const crd = buildCrd() as any;
    expect(crd.spec.names.shortNames).toEqual(['bj', 'burst']);
    expect(crd.spec.versions[0].subresources).toEqual({ status: {} });
    expect(crd.spec.versions[0].additionalPrinterColumns.filter((c: any) => !c.priority).map((c: any) => c.name)).toEqual([
      'Size',
      'Granularity',
      'Packs',
      'Phase',
      'Restarts',
      'Age',
    ]);
  });

  it('refuses JSON Schema that Kubernetes cannot express, naming the field', () => {
    expect(() => toStructural({ type: 'object', properties: { a: { anyOf: [{ type: 'string' }, { type: 'number' }] } } }, 'spec')).toThrow(
      "CRD schema at spec.a: 'anyOf' cannot be expressed as a structural schema",
    );
  });

  it('drops zod artefacts (safe-integer bounds, closed objects) and marks any-JSON values', () => {
    expect(
      toStructural(
        { type: 'object', additionalProperties: false, properties: { n: { type: 'integer', minimum: -Number.MAX_SAFE_INTEGER, maximum: Number.MAX_SAFE_INTEGER }, v: {} } },
        'x',
      ),
    ).toEqual({
      type: 'object',
      properties: { n: { type: 'integer' }, v: { 'x-kubernetes-preserve-unknown-fields': true } },
    });
  });
});
