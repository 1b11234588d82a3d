import { parseBurstJob, type InvalidBurstJobError } from './burstjob.js';

const manifest = (template: unknown) => ({
  apiVersion: 'kubeburst.io/v1alpha1',
  kind: 'BurstJob',
  metadata: { name: 'j' },
  spec: { size: 2, function: { module: '/app/w.js' }, template },
});

describe('spec.template: what the operator sets is not the template’s to set', () => {
  test('labels kubeburst.io/*, kueue.x-k8s.io/* and app.kubernetes.io/managed-by are refused, naming the label', () => {
    const issues = (template: unknown) => {
      try {
        parseBurstJob(manifest(template));
        return [];
      } catch (err) {
        return (err as InvalidBurstJobError).issues;
      }
    };
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
