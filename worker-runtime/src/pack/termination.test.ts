import type { PackReport } from './reports.js';
import { terminationReport, type TerminationReport } from './termination.js';

const report = (results: unknown[], extra: Partial<PackReport> = {}): PackReport =>
  ({
    burstId: 'b-a0',
    packId: 2,
    packCount: 4,
    burstSize: 16,
    transport: 'redis',
    ok: true,
    workers: results.map((r, i) => ({ workerId: 8 + i, packId: 2, ok: true, result: r, timings: {}, counters: {} })),
    timings: { processStart: 1, connected: 2, joined: 3, finished: 4 },
    counters: {},
    wire: {},
    ...extra,
  }) as unknown as PackReport;

describe('termination report', () => {
  it('carries the results of the pack with its first worker id', () => {
    const r = JSON.parse(terminationReport(report([1, { a: 2 }, null, 'x']), 8)) as TerminationReport;
    expect(r).toEqual({ v: 1, burst: 'b-a0', pack: 2, ok: true, first: 8, results: [1, { a: 2 }, null, 'x'], joined: 3, finished: 4 });
  });

  it('leaves results out rather than cutting JSON when they exceed the 4096-byte termination message', () => {
    const text = terminationReport(report(['x'.repeat(3000), 'y'.repeat(3000)]), 8);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    expect(JSON.parse(text)).toMatchObject({ truncated: true, ok: true });
    expect(JSON.parse(text).results).toBeUndefined();
  });

  it('keeps the failure reason, shortened to fit', () => {
    const text = terminationReport(report([], { ok: false, abort: { failedWorker: 9, reason: 'boom '.repeat(2000) } }), 8);
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
    const r = JSON.parse(text) as TerminationReport;
    expect(r.abort!.failedWorker).toBe(9);
    expect(r.abort!.reason.endsWith('...')).toBe(true);
  });
});
