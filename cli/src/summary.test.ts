import type { FlareResult } from '@kubeburst/worker-runtime/launch';
import type { WorkerReport } from '@kubeburst/worker-runtime';
import { bytes, formatSummary, median, secs, summarize } from './summary.js';

const zero = { localMsgsSent: 0, localBytesSent: 0, localMsgsRecv: 0, localBytesRecv: 0, remoteMsgsSent: 0, remoteBytesSent: 0, remoteMsgsRecv: 0, remoteBytesRecv: 0 };

function worker(w: number, pack: number, fnStart: number, fnEnd: number, ok = true, extra: Partial<WorkerReport> = {}): WorkerReport {
  return {
    workerId: w,
    packId: pack,
    ok,
    ...(ok ? { result: { w } } : {}),
    timings: { processStart: 1000, loaded: 1100, joined: 1200, functionStart: fnStart, functionEnd: fnEnd },
    counters: { ...zero, localMsgsSent: 1, localBytesSent: 10, remoteMsgsSent: 2, remoteBytesSent: 100 },
    ...extra,
  };
}

function flare(workers: WorkerReport[], o: Partial<FlareResult> = {}): FlareResult {
  const pack = (p: number, start: number, joined: number) => ({
    burstId: 'b',
    packId: p,
    packCount: 2,
    burstSize: 4,
    transport: 'direct',
    ok: true,
    workers: [],
    timings: { processStart: start, connected: joined, joined, finished: 2000 },
    counters: zero,
    wire: { framesSent: 5, bytesSent: 1000, framesRecv: 5, bytesRecv: 1000 },
  });
  return {
    burstId: 'b',
    ok: workers.every((w) => w.ok),
    layout: { size: 4, packSizes: [2, 2] },
    transport: 'direct',
    packs: [pack(0, 1000, 1200), pack(1, 1040, 1250)],
    workers,
    exitCodes: [0, 0],
    wallMs: 1500,
    counters: { ...zero, localMsgsSent: 4, localBytesSent: 40, remoteMsgsSent: 8, remoteBytesSent: 400 },
    stderr: {},
    ...o,
  };
}

describe('run summary', () => {
  test('phases, traffic and results of a successful flare', () => {
    const r = flare([worker(0, 0, 1200, 1300), worker(1, 0, 1200, 1500), worker(2, 1, 1250, 1450), worker(3, 1, 1250, 1450)]);
    const s = summarize('demo', r, 900, 1800);
    expect(s).toMatchObject({
      job: 'demo',
      ok: true,
      size: 4,
      packSizes: [2, 2],
      transport: 'direct',
      wallSeconds: 0.9,
      phases: { spawnToJoinedSeconds: 0.35, packStartSpreadSeconds: 0.04, functionSeconds: { median: 0.2, max: 0.3 }, teardownSeconds: 0.3 },
      traffic: { local: { bytes: 40, messages: 4 }, remote: { bytes: 400, messages: 8 }, remoteWire: { bytes: 2000, frames: 10 } },
      results: [{ w: 0 }, { w: 1 }, { w: 2 }, { w: 3 }],
    });
    expect(s.failure).toBeUndefined();
    const text = formatSummary(s, { output: 'out.json' });
    expect(text.split('\n')[0]).toBe('succeeded: demo, 4 workers in 2 packs of 2, transport direct');
    expect(text).toContain('  spawn → joined   350 ms (pack starts spread over 40 ms)');
    expect(text).toContain('  function         median 200 ms, max 300 ms');
    expect(text).toContain('  traffic remote   400 B in 8 messages (1.95 KiB in 10 frames on the wire, control included)');
    expect(text).toContain('    worker 3: {"w":3}');
    expect(text.trimEnd().endsWith('results written to out.json')).toBe(true);
  });

  test('a failed flare names the worker, its pack and the reason, with the pack stderr tail', () => {
    const failed = worker(2, 1, 1250, 1300, false, { error: { name: 'Error', message: 'boom' } });
    const r = flare([worker(0, 0, 1200, 1300), worker(1, 0, 1200, 1300), failed, worker(3, 1, 1250, 1300)], {
      ok: false,
      failure: { failedWorker: 2, failedPack: 1, reason: 'Error: boom' },
      exitCodes: [1, 1],
      stderr: { 1: 'line1\nline2\n' },
    });
    const s = summarize('demo', r, 900, 1800);
    expect(s.failure).toEqual({ worker: 2, pack: 1, reason: 'Error: boom', detail: 'line1\nline2' });
    expect(s.results[2]).toBeNull();
    const text = formatSummary(s);
    expect(text.split('\n').slice(0, 2)).toEqual(['FAILED: demo, 4 workers in 2 packs of 2, transport direct', '  failed: worker 2 (pack 1): Error: boom']);
    expect(text).toContain('  pack stderr (last lines):\n    line1\n    line2\n');
  });

  test('a pack that died without a report is named by its exit code; nothing joined means no join phase', () => {
    const lost = (w: number, pack: number): WorkerReport => worker(w, pack, 0, 0, false, { error: { name: 'PackLostError', message: `pack ${pack} exited` } });
    const r = flare([lost(0, 0), lost(1, 0), lost(2, 1), lost(3, 1)], { ok: false, packs: [], exitCodes: [0, 137] });
    const s = summarize('demo', r, 900, 1800);
    expect(s.failure).toMatchObject({ worker: 0, pack: 0 });
    expect(s.phases).toEqual({});
    expect(formatSummary(s)).not.toContain('results\n');
  });

  test.each([
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.00 KiB'],
    [1536 * 1024, '1.50 MiB'],
    [20 * 1024 ** 3, '20.0 GiB'],
  ])('bytes(%i) = %s', (n, text) => expect(bytes(n)).toBe(text));

  test('secs and median', () => {
    expect([secs(0.0125), secs(1.5)]).toEqual(['13 ms', '1.50 s']);
    expect([median([3, 1, 2]), median([4, 1, 3, 2])]).toEqual([2, 2.5]);
  });
});
