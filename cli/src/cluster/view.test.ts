import { statusView, resultsView, decodeLayout, type PackState } from './view.js';
import { formatStatus, statusExit } from './status.js';
import { formatResults } from './results.js';
import { parseDuration, table, age } from './common.js';

const job = (status: Record<string, unknown> = {}, spec: Record<string, unknown> = { size: 6, granularity: 2 }) => ({
  apiVersion: 'kubeburst.io/v1alpha1',
  kind: 'BurstJob',
  metadata: { name: 'j', namespace: 'ns', uid: 'u1' },
  spec,
  status,
});

const pod = (pack: number, attempt: number, status: Record<string, unknown>, spec: Record<string, unknown> = {}, meta: Record<string, unknown> = {}) => ({
  metadata: {
    name: `j-a${attempt}-${pack}`,
    labels: { 'kubeburst.io/attempt': String(attempt), 'kubeburst.io/pack-index': String(pack) },
    annotations: { 'kubeburst.io/workers': `${pack * 2}-${pack * 2 + 1}` },
    ...meta,
  },
  spec: { nodeName: 'n1', ...spec },
  status,
});

const running = { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }], containerStatuses: [{ name: 'pack', restartCount: 1, state: { running: {} } }] };
const attempt1 = { index: 1, burstId: 'b-a1', layout: '3x2', startTime: '2026-01-01T00:00:00Z' };

describe('statusView', () => {
  it('gives every pack of the current attempt a state from its pod, and lists packs without one', () => {
    const report = JSON.stringify({
      v: 1,
      burst: 'b-a1',
      pack: 1,
      ok: false,
      first: 2,
      abort: { reason: 'boom at redis://u:hunter22@r:6379', failedWorker: 3 },
      joined: 1,
      finished: 2,
    });
    const v = statusView(job({ phase: 'Running', attempt: attempt1, restarts: 1 }), [
      pod(0, 1, running),
      pod(1, 1, { phase: 'Failed', containerStatuses: [{ name: 'pack', restartCount: 0, state: { terminated: { exitCode: 1, reason: 'Error', message: report } } }] }),
      pod(2, 0, running), // an earlier attempt's pod: not this attempt's pack 2
    ]);
    expect(v.packs.map((p) => [p.pack, p.state, p.ready, p.restarts, p.node])).toEqual([
      [0, 'Running', true, 1, 'n1'],
      [1, 'Failed', false, 0, 'n1'],
      [2, 'Missing', false, 0, null],
    ]);
    expect(v.packs[1]).toMatchObject({ exitCode: 1, reason: 'Error', message: 'worker 3: boom at redis://u:***@r:6379' });
    expect(v.packs[2]).toMatchObject({ pod: null, workers: '4-5' });
    expect(v.missingPacks).toEqual([2]);
    expect(v).toMatchObject({ kind: 'BurstJobStatus', version: 1, phase: 'Running', finished: false, attempt: 1, restarts: 1, packCount: 3, layout: '3x2' });
    expect(statusExit(v)).toBe(4);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>, PackState, string | undefined]>([
    ['gated', { phase: 'Pending' }, { schedulingGates: [{ name: 'kubeburst.io/gang' }], nodeName: undefined }, 'Gated', undefined],
    [
      'unschedulable',
      { phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/3 nodes are available' }] },
      { nodeName: undefined },
      'Pending',
      'Unschedulable',
    ],
    ['creating', { phase: 'Pending', containerStatuses: [{ name: 'pack', state: { waiting: { reason: 'ContainerCreating' } } }] }, {}, 'Pending', 'ContainerCreating'],
    [
      'succeeded',
      {
        phase: 'Succeeded',
        containerStatuses: [
          { name: 'pack', state: { terminated: { exitCode: 0, reason: 'Completed', message: '{"v":1,"burst":"b-a0","pack":0,"first":0,"ok":true,"joined":1,"finished":2}' } } },
        ],
      },
      {},
      'Succeeded',
      'Completed',
    ],
  ])('a %s pod', (_, status, spec, state, reason) => {
    const v = statusView(job({ phase: 'Starting', attempt: { ...attempt1, index: 0, layout: '1x2' } }), [pod(0, 0, status, spec)]);
    expect(v.packs[0]!.state).toBe(state);
    expect(v.packs[0]!.reason).toBe(reason);
    expect(v.packs[0]!.message === undefined || state !== 'Succeeded').toBe(true);
  });

  it('a pod being deleted is Terminating', () => {
    const v = statusView(job({ phase: 'Restarting', attempt: { ...attempt1, index: 0, layout: '1x2' } }), [pod(0, 0, running, {}, { deletionTimestamp: '2026-01-01T00:00:00Z' })]);
    expect(v.packs[0]!.state).toBe('Terminating');
  });

  it('before the operator wrote a status: phase Unknown, packs from the spec, none missing', () => {
    const v = statusView(job(undefined), []);
    expect(v).toMatchObject({ phase: 'Unknown', attempt: null, packCount: 3, packs: [], missingPacks: [] });
    expect(statusExit(v)).toBe(4);
    expect(formatStatus(v, 0)).toContain('BurstJob ns/j: Unknown (no attempt yet)');
  });

  it('Succeeded exits 0 and Failed 1; the table shows failure and results', () => {
    const base = {
      attempt: attempt1,
      restarts: 1,
      conditions: [{ type: 'Failed', status: 'True', reason: 'MaxRestartsExceeded', message: 'pack 1 failed', lastTransitionTime: '2026-01-01T00:00:00Z' }],
    };
    const failed = statusView(job({ ...base, phase: 'Failed', lastFailure: { attempt: 1, pack: 1, reason: 'PackFailed', message: 'worker 3: boom' } }), []);
    expect(statusExit(failed)).toBe(1);
    const text = formatStatus(failed, Date.parse('2026-01-01T00:00:30Z'));
    expect(text).toContain('Last failure: attempt 1, pack 1: PackFailed: worker 3: boom');
    expect(text).toMatch(/Failed\s+True\s+MaxRestartsExceeded\s+30s\s+pack 1 failed/);
    expect(text).toContain('Missing: attempt 1 has no pod for packs 0, 1, 2');
    const ok = statusView(
      job({ ...base, phase: 'Succeeded', results: { configMap: 'j-results', key: 'results.json', workers: 4, missing: 2, missingPacks: [2], message: 'pack 2 too big' } }),
      [],
    );
    expect(statusExit(ok)).toBe(0);
    expect(formatStatus(ok, 0)).toContain('Results: 4 of 6 workers in ConfigMap j-results (kubeburst results j)\n  missing: pack 2 too big');
  });
});

describe('resultsView', () => {
  const cm = (data: Record<string, string>) => ({ metadata: { name: 'j-results' }, data });
  it('orders results by worker and names the packs whose results are missing', () => {
    const v = resultsView(
      job({
        phase: 'Succeeded',
        attempt: attempt1,
        results: { configMap: 'j-results', key: 'results.json', workers: 4, missing: 2, missingPacks: [1], message: 'pack 1 (workers 2-3): too big' },
      }),
      cm({
        'results.json': JSON.stringify({ workers: [0, 1, null, null, 16, 25] }),
        'summary.json': JSON.stringify({ attempt: 1, workers: 6, collected: 4, missing: 2, missingPacks: [1] }),
      }),
    );
    expect(v).toMatchObject({
      kind: 'BurstJobResults',
      version: 1,
      attempt: 1,
      workers: 6,
      collected: 4,
      missing: 2,
      missingPacks: [1],
      message: 'pack 1 (workers 2-3): too big',
      results: [0, 1, null, null, 16, 25],
    });
    expect(formatResults(v, '3x2')).toBe(
      table([
        ['WORKER', 'PACK', 'RESULT'],
        ['0', '0', '0'],
        ['1', '0', '1'],
        ['2', '1', '(not collected)'],
        ['3', '1', '(not collected)'],
        ['4', '2', '16'],
        ['5', '2', '25'],
      ]),
    );
  });
  it('results too large for the ConfigMap: none collected, the reason given', () => {
    const v = resultsView(
      job({ phase: 'Succeeded', attempt: attempt1 }),
      cm({ 'results.json': JSON.stringify({ workers: null, error: 'results take 2000000 bytes' }), 'summary.json': JSON.stringify({ collected: 0, missingPacks: [] }) }),
    );
    expect(v).toMatchObject({ collected: 0, missing: 6, message: 'results take 2000000 bytes', results: [null, null, null, null, null, null] });
  });
});

describe('helpers', () => {
  it('decodes layouts and refuses anything else', () => {
    expect(decodeLayout('2x3,1x1')).toEqual([3, 3, 1]);
    expect(decodeLayout('2x')).toBeUndefined();
    expect(decodeLayout('0x4')).toBeUndefined();
  });
  it('parses bounded durations', () => {
    expect(parseDuration('30s', '--t', 'c', 1000, 60_000)).toBe(30_000);
    expect(parseDuration('2', '--t', 'c', 1000, 60_000)).toBe(2000);
    expect(parseDuration('500ms', '--t', 'c', 100, 60_000)).toBe(500);
    expect(() => parseDuration('2h', '--t', 'c', 1000, 60_000)).toThrow('--t 2h: give a duration from 1s to 1m');
    expect(() => parseDuration('soon', '--t', 'c', 1000, 60_000)).toThrow('like 30s or 2m');
  });
  it('ages', () => {
    expect(age('2026-01-01T00:00:00Z', Date.parse('2026-01-01T00:05:00Z'))).toBe('5m');
    expect(age(undefined, 0)).toBe('-');
  });
});
