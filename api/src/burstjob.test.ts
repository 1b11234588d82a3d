import { parseBurstJob, type InvalidBurstJobError } from './burstjob.js';

const manifest = (template: unknown, spec: object = {}) => ({
  apiVersion: 'kubeburst.io/v1alpha1',
  kind: 'BurstJob',
  metadata: { name: 'j' },
  spec: { size: 2, function: { module: '/app/w.js' }, template, ...spec },
});

/** The problems of a BurstJob with this template (and these other spec fields). */
const issues = (template: unknown, spec: object = {}) => {
  try {
    parseBurstJob(manifest(template, spec));
    return [];
  } catch (err) {
    return (err as InvalidBurstJobError).issues;
  }
};

describe('spec.template: what the operator sets is not the template’s to set', () => {
  test('labels kubeburst.io/*, kueue.x-k8s.io/* and app.kubernetes.io/managed-by are refused, naming the label', () => {
    expect(issues({ labels: { 'kubeburst.io/job-uid': 'x', 'app.kubernetes.io/managed-by': 'me', 'kueue.x-k8s.io/queue-name': 'q', team: 'a' } })).toEqual([
      { path: 'spec.template.labels.kubeburst.io/job-uid', rule: expect.stringContaining('is set by the operator') },
      { path: 'spec.template.labels.app.kubernetes.io/managed-by', rule: expect.stringContaining('is set by the operator') },
      { path: 'spec.template.labels.kueue.x-k8s.io/queue-name', rule: expect.stringContaining('is set by the operator') },
    ]);
    expect(
      issues({
        env: [
          { name: 'TZ', value: 'UTC' },
          { name: 'KB_TRANSPORT_ENCRYPT', value: 'false' },
        ],
      }),
    ).toEqual([{ path: 'spec.template.env[1].name', rule: expect.stringContaining('is set by the operator (variables KB_* configure the pack') }]);
    expect(issues({ labels: { team: 'a', 'example.com/kubeburst.io': 'b' }, env: [{ name: 'MY_KB_', value: '1' }] })).toEqual([]);
  });
});

describe('spec.template: what the API server or a process would refuse is refused when the manifest is read', () => {
  test('labels and node selector terms that are no Kubernetes labels, naming the key', () => {
    expect(
      issues({
        labels: { 'bad label': 'x', 'Example.com/a': 'b', team: 'has space', long: 'v'.repeat(64), ok: '', 'example.com/tier': 'gold-1' },
        nodeSelector: { 'kubernetes.io/hostname': 'node-1', 'x/': 'y' },
      }).map((i) => i.path),
    ).toEqual(['spec.template.labels.bad label', 'spec.template.labels.Example.com/a', 'spec.template.labels.team', 'spec.template.labels.long', 'spec.template.nodeSelector.x/']);
  });

  test('an environment variable whose name holds = or whose value holds NUL', () => {
    expect(
      issues({
        env: [
          { name: 'A=B', value: 'x' },
          { name: 'NUL', value: 'a\0b' },
          { name: 'my.var-1', value: 'fine' },
        ],
      }),
    ).toEqual([
      { path: 'spec.template.env[0].name', rule: 'must be printable ASCII without =' },
      { path: 'spec.template.env[1].value', rule: 'must not hold a NUL character' },
    ]);
  });
});

describe('spec.params: any JSON, within bounds a reader can walk', () => {
  const issuesOf = (params: unknown) => issues(undefined, { params });

  test('a value nested 4000 deep (as the API server can hold it) is a spec error, not a stack overflow', () => {
    const deep = Array.from({ length: 4000 }).reduce<unknown>((inner) => ({ a: inner }), 1);
    expect(issuesOf({ value: deep })).toEqual([{ path: 'spec.params.value', rule: expect.stringMatching(/^nests deeper than 1000 levels at (\.a){1000}$/) }]);
  });

  test('one object shared by every entry is walked once', () => {
    const shared = { weights: Array.from({ length: 2000 }, (_, i) => i) };
    expect(issuesOf({ list: [shared, shared] })).toEqual([]);
  });
});
