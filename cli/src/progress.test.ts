import type { PackEvent } from '@kubeburst/worker-runtime';
import { Progress } from './progress.js';

function sink(): { text: string; write(s: string): void } {
  return {
    text: '',
    write(s: string) {
      this.text += s;
    },
  };
}

function events(packs: number, perPack: number, failing?: number): PackEvent[] {
  const out: PackEvent[] = [];
  for (let p = 0; p < packs; p++) out.push({ event: 'started', pack: p, at: 0 });
  for (let p = 0; p < packs; p++) out.push({ event: 'joined', pack: p, at: 0 });
  if (failing !== undefined) out.push({ event: 'aborting', pack: 0, info: { failedWorker: failing, failedPack: Math.floor(failing / perPack), reason: 'Error: boom' }, at: 0 });
  for (let w = 0; w < packs * perPack; w++) out.push({ event: 'worker-done', pack: Math.floor(w / perPack), worker: w, ok: w !== failing, at: 0 });
  return out;
}

describe('progress', () => {
  test('plain mode prints milestones only: all started, all joined, each tenth of the workers', () => {
    const out = sink();
    let now = 1000;
    const p = new Progress({ packs: 10, workers: 100 }, out, 'plain', () => now, 1000);
    for (const e of events(10, 10)) {
      now += 10;
      p.onEvent(e);
    }
    p.finish();
    const lines = out.text.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^\[\s+0\.10s\] packs started 10\/10$/);
    expect(lines[1]).toMatch(/packs joined 10\/10 \(start barrier passed\)$/);
    expect(lines.slice(2).map((l) => l.replace(/^\[.*?\] /, ''))).toEqual(Array.from({ length: 10 }, (_, i) => `workers finished ${(i + 1) * 10}/100`));
    expect(p.counts()).toEqual({ packs: 10, workers: 100, started: 10, joined: 10, finished: 100, failed: 0 });
  });

  test('plain mode names the failure and counts failed workers; a repeated event counts once', () => {
    const out = sink();
    const p = new Progress({ packs: 2, workers: 3 }, out, 'plain', () => 0, 0);
    const evs = events(1, 3, 1);
    for (const e of [...evs, ...evs]) p.onEvent(e);
    expect(out.text).toContain('aborting: worker 1 (pack 0) failed: Error: boom');
    expect(out.text).toContain('worker 1 (pack 0) failed\n');
    expect(out.text).toMatch(/workers finished 3\/3 \(1 failed\)\n$/);
    expect(out.text.match(/aborting/g)).toHaveLength(1);
  });

  test('tty mode redraws one line in place and leaves its final state', () => {
    const out = sink();
    let now = 0;
    const p = new Progress({ packs: 2, workers: 4 }, { ...out, write: (s: string) => out.write(s), columns: 200 }, 'tty', () => now, 0);
    for (const e of events(2, 2)) {
      now += 100;
      p.onEvent(e);
    }
    p.finish();
    expect(out.text.startsWith('\r\x1b[2K')).toBe(true);
    expect(out.text).not.toMatch(/\n(?!$)/);
    expect(out.text.split('\r\x1b[2K').pop()).toBe('[  0.80s] packs 2/2 started, 2/2 joined | workers 4/4 finished\n');
  });

  test('off mode writes nothing', () => {
    const out = sink();
    const p = new Progress({ packs: 2, workers: 4 }, out, 'off', () => 0, 0);
    for (const e of events(2, 2, 0)) p.onEvent(e);
    p.finish();
    expect(out.text).toBe('');
  });
});
