import { collectResults, MAX_RESULTS_BYTES } from './results.js';
import type { ObservedPod } from './types.js';

describe('collectResults', () => {
  it('at 100 000 packs with no report: a summary that fits its ConfigMap, the first 100 packs named and all counted', () => {
    const packs = 100_000;
    const pods: ObservedPod[] = Array.from({ length: packs }, (_, p) => ({
      name: `j-a0-${p}`,
      attempt: 0,
      pack: p,
      gated: false,
      phase: 'Succeeded',
      ready: false,
      deleting: false,
      terminated: { exitCode: 0, message: 'no report' },
    }));
    const r = collectResults('j', 0, 'b', pods, new Array<number>(packs).fill(1));
    const summary = JSON.parse(r.data['summary.json']!) as { missing: number; missingPacks: number[] };
    expect(summary.missing).toBe(packs);
    expect(summary.missingPacks).toEqual(Array.from({ length: 100 }, (_, p) => p));
    expect(Buffer.byteLength(r.data['summary.json']!) + Buffer.byteLength(r.data['results.json']!)).toBeLessThan(MAX_RESULTS_BYTES);
    expect(r.ref).toMatchObject({ missing: packs, workers: 0 });
    expect(r.ref.missingPacks).toHaveLength(100);
  });
});
