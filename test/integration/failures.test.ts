import { LABELS } from '@kubeburst/api';
import { condition, PodRecorder } from './harness/flare.js';
import { paths, type Json } from './harness/kube.js';
import { operatorSuite } from './harness/suite.js';
import { waitFor } from './harness/wait.js';

/** Failure policy, schedule timeouts, deadlines and suspend on the local control plane. */
const suite = operatorSuite('it-fail');
const { ns, poolOf } = suite;

const attemptOf = (p: Json): string => p.metadata.labels[LABELS.attempt];

describe('failure policy', () => {
  it('restarts the whole flare with fresh pods after a pack fails, then fails after maxRestarts', async () => {
    const flares = await poolOf('restart', 2, 16);
    await flares.create('flaky', { size: 4, granularity: 2, maxRestarts: 1 });
    await flares.waitPhase('flaky', 'Running');
    await flares.fail('flaky-a0-1', 'TypeError: cannot read x', 3);

    const second = await flares.waitStatus('flaky', 'attempt 1 running', (s) => s.attempt?.index === 1 && s.phase === 'Running');
    expect(second.status.restarts).toBe(1);
    expect(second.status.lastFailure).toEqual({ attempt: 0, pack: 1, reason: 'PackFailed', message: 'pack 1 (workers 2-3) failed: worker 3: TypeError: cannot read x' });
    // Attempt 0 is gone entirely before attempt 1 runs: pods of two attempts never coexist.
    const pods = await flares.pods('flaky');
    expect(pods.map((p) => `${p.metadata.name}@${attemptOf(p)}`).sort()).toEqual(['flaky-a1-0@1', 'flaky-a1-1@1']);
    expect(second.status.attempt.burstId).toMatch(/-a1$/);
    const burstIds = new Set(pods.map((p) => p.metadata.annotations['kubeburst.io/burst-id']));
    expect([...burstIds]).toEqual([second.status.attempt.burstId]);

    await flares.fail('flaky-a1-0', 'out of memory', 0);
    const failed = await flares.waitPhase('flaky', 'Failed');
    expect(condition(failed, 'Failed')).toMatchObject({
      status: 'True',
      reason: 'MaxRestartsExceeded',
      message: expect.stringContaining('no restarts left (spec.maxRestarts: 1)'),
    });
    expect(failed.status.restarts).toBe(1);
    const reasons = (await flares.events('flaky')).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(['PackFailed', 'Restarting', 'Failed']));
    // Nothing keeps running after the BurstJob failed.
    await waitFor('no live pods', async () => (await flares.pods('flaky')).every((p) => p.status.phase === 'Failed' || p.metadata.deletionTimestamp));
  });

  it('tears down an attempt the scheduler does not place in time, retries it, and gives up after maxScheduleRetries', async () => {
    const flares = await poolOf('sched', 2, 16);
    const rec = new PodRecorder(suite.kube, ns, `${LABELS.jobName}=stuck`);
    await rec.start();
    // Pods name a scheduler that does not run; the test plays that scheduler for one pod only.
    await flares.create('stuck', {
      size: 2,
      granularity: 1,
      timeouts: { scheduleSeconds: 5 },
      gang: { maxScheduleRetries: 1 },
      template: { schedulerName: 'kubeburst-test-absent-scheduler' },
    });
    await waitFor('both pods ungated', async () => (await flares.pods('stuck')).filter((p) => !p.spec.schedulingGates?.length).length === 2);
    await suite.kube.create(`${paths.pod(ns, 'stuck-a0-0')}/binding`, {
      apiVersion: 'v1',
      kind: 'Binding',
      metadata: { name: 'stuck-a0-0' },
      target: { apiVersion: 'v1', kind: 'Node', name: flares.pool.names[0] },
    });
    await waitFor('the bound pod running', async () => (await suite.kube.get<Json>(paths.pod(ns, 'stuck-a0-0'))).status.phase === 'Running');

    const retrying = await flares.waitStatus('stuck', 'torn down after the schedule timeout', (s) => s.scheduleRetries === 1, 20_000);
    expect(retrying.status.lastFailure).toMatchObject({
      attempt: 0,
      reason: 'ScheduleTimeout',
      message: expect.stringContaining('only 1 of 2 pack(s) were scheduled within spec.timeouts.scheduleSeconds (5 s)'),
    });
    // The half-started attempt holds nothing: its running pod goes too.
    await waitFor('attempt 0 pods gone', async () => (await flares.pods('stuck')).every((p) => attemptOf(p) !== '0'), 20_000);

    const failed = await flares.waitPhase('stuck', 'Failed', 30_000);
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'MaxScheduleRetriesExceeded', message: expect.stringContaining('gave up after 1 retries') });
    expect(failed.status.attempt.index).toBe(1);
    await rec.stop();
    expect([...rec.pods.keys()].sort()).toEqual(['stuck-a0-0', 'stuck-a0-1', 'stuck-a1-0', 'stuck-a1-1']);
    expect((await flares.events('stuck')).filter((e) => e.reason === 'ScheduleTimeout').length).toBeGreaterThanOrEqual(1);
    await waitFor('no live pods', async () => (await flares.pods('stuck')).every((p) => p.metadata.deletionTimestamp || p.status.phase !== 'Running'));
  });

  it('fails a flare that runs past activeDeadlineSeconds and stops its pods', async () => {
    const flares = await poolOf('deadline', 1, 16);
    await flares.create('slow', { size: 2, granularity: 1, activeDeadlineSeconds: 3 });
    // On a loaded machine the deadline may pass before the test sees Running: either order is fine.
    await flares.waitStatus('slow', 'started or already failed', (st) => st.phase === 'Running' || st.phase === 'Failed');
    const failed = await flares.waitPhase('slow', 'Failed', 20_000);
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'DeadlineExceeded', message: 'ran longer than spec.activeDeadlineSeconds (3 s)' });
    expect(Date.parse(failed.status.completionTime) - Date.parse(failed.status.startTime)).toBeGreaterThanOrEqual(3000);
    await waitFor('pods stopped', async () => (await flares.pods('slow')).length === 0);
  });

  it('suspends (no pods) and resumes with a new attempt', async () => {
    const flares = await poolOf('suspend', 1, 16);
    await flares.create('nap', { size: 2, granularity: 1, suspend: true });
    const suspended = await flares.waitPhase('nap', 'Suspended');
    expect(condition(suspended, 'Suspended')).toMatchObject({ status: 'True', reason: 'JobSuspended' });
    expect(await flares.pods('nap')).toEqual([]);

    await suite.kube.patch(paths.burstjob(ns, 'nap'), { spec: { suspend: false } });
    const running = await flares.waitPhase('nap', 'Running');
    expect(condition(running, 'Suspended')).toMatchObject({ status: 'False', reason: 'JobResumed' });

    await suite.kube.patch(paths.burstjob(ns, 'nap'), { spec: { suspend: true } });
    await flares.waitPhase('nap', 'Suspended');
    await waitFor('pods deleted on suspend', async () => (await flares.pods('nap')).length === 0);
    await suite.kube.patch(paths.burstjob(ns, 'nap'), { spec: { suspend: false } });
    const again = await flares.waitStatus('nap', 'a new attempt running', (s) => s.phase === 'Running' && s.attempt.index === 1);
    expect(again.status.restarts).toBeUndefined();
    await flares.complete('nap');
    await flares.waitPhase('nap', 'Succeeded');
  });

  it('fails a spec the API server cannot check (params.list length) with the reason', async () => {
    const flares = await poolOf('invalid', 1, 4);
    await flares.create('bad-params', { size: 3, params: { list: [1, 2] } });
    const failed = await flares.waitPhase('bad-params', 'Failed');
    expect(condition(failed, 'Failed')).toMatchObject({ reason: 'InvalidSpec', message: 'spec.params.list: has 2 entries but size is 3 (one entry per worker)' });
    expect(await flares.pods('bad-params')).toEqual([]);
  });
});
