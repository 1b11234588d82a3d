import type { PackReport } from './reports.js';
import { abortSummary, parseTerminationReport, terminationReport, type TerminationReport } from './termination.js';

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

  it('shortens a reason to fit wherever the cut falls, a character of two code units included', () => {
    for (let pad = 3900; pad < 3990; pad++) {
      const reason = 'a'.repeat(pad) + '\u{1F600}'.repeat(20) + 'b'.repeat(40);
      const text = terminationReport(report([], { ok: false, abort: { failedWorker: 9, reason } }), 8);
      expect(Buffer.byteLength(text)).toBeLessThanOrEqual(4096);
      expect(parseTerminationReport(text)!.abort!.reason).toMatch(/^a+(\u{1F600})*\.\.\.$/u);
    }
  });

  it('is read back as written, whole or lean', () => {
    const whole = terminationReport(report([1, { a: 2 }]), 8);
    expect(parseTerminationReport(whole)).toEqual(JSON.parse(whole));
    const lean = terminationReport(report(['x'.repeat(5000)], { ok: false, abort: { failedPack: 1, reason: 'boom' } }), 8);
    expect(parseTerminationReport(lean)).toMatchObject({ truncated: true, abort: { failedPack: 1, reason: 'boom' } });
  });

  it('is no report when the message is a log tail, or any field is not what the writer writes', () => {
    const good = JSON.parse(terminationReport(report([1], { ok: false, abort: { failedWorker: 9, reason: 'r' } }), 8)) as Record<string, unknown>;
    const bad: Record<string, unknown>[] = [
      { v: 2 },
      { burst: 7 },
      { pack: -1 },
      { pack: 1.5 },
      { pack: '1' },
      { ok: 'yes' },
      { first: null },
      { results: 'abc' },
      { results: { length: 1 } },
      { truncated: false },
      { fullBytes: -4 },
      { abort: 'boom' },
      { abort: { reason: 42 } },
      { abort: { reason: 'r', failedPack: '2' } },
      { abort: { reason: 'r', failedWorker: -1 } },
      { joined: '1' },
      { finished: undefined },
    ];
    for (const change of bad) expect(parseTerminationReport(JSON.stringify({ ...good, ...change }))).toBeUndefined();
    for (const text of [undefined, '', 'Error: AUTH failed\n    at x', '[1,2]', 'null', '{"v":1', '1']) expect(parseTerminationReport(text)).toBeUndefined();
  });

  it('says who ended the burst: a worker before a pack before the burst', () => {
    expect(abortSummary({ reason: 'r', failedWorker: 3, failedPack: 1 })).toBe('worker 3: r');
    expect(abortSummary({ reason: 'r', failedPack: 1 })).toBe('pack 1: r');
    expect(abortSummary({ reason: 'r' })).toBe('the burst: r');
  });
});
