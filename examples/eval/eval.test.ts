import type { RunRecord } from './run.js';
import { summarize, targets } from './summary.js';
import { chart, niceTicks } from './svg.js';

function run(app: string, transport: 'nats' | 'redis', granularity: number, wallMs: number, remoteBytes: number): RunRecord {
  return {
    app,
    transport,
    size: 32,
    granularity,
    packs: 32 / granularity,
    repeat: 0,
    ok: true,
    verified: true,
    wallMs,
    startupMs: wallMs / 2,
    functionMs: wallMs / 2,
    phasesMs: { compute: wallMs / 4 },
    remoteBytes,
    localBytes: 0,
    remoteMsgs: 0,
    localMsgs: 0,
    wireBytes: remoteBytes,
    otherCores: 0.1,
    cpuSeconds: 2,
    starts: { processStart: [0, 10, 30], loaded: [20, 20, 35], joined: [40, 40, 40], functionStart: [41, 42, 43] },
  };
}

describe('evaluation summary', () => {
  test('medians per cell and the targets computed from them', () => {
    const runs = [
      run('pagerank', 'nats', 1, 10_000, 1000),
      run('pagerank', 'nats', 1, 12_000, 1000),
      run('pagerank', 'nats', 1, 50_000, 1000),
      run('pagerank', 'nats', 32, 2_000, 0),
      run('terasort', 'nats', 1, 3_000, 500),
      run('terasort', 'nats', 32, 2_000, 0),
    ];
    const s = summarize(runs);
    const pr1 = s.find((x) => x.app === 'pagerank' && x.granularity === 1)!;
    expect(pr1.runs).toBe(3);
    expect(pr1.wallMs).toBe(12_000); // the median, not the mean: the 50 s outlier does not count
    expect(pr1.processStartSpreadMs).toBe(30);
    expect(pr1.functionStartSpreadMs).toBe(2);
    expect(targets(s, ['nats'], 32).map((t) => [t.id, +t.measured.toFixed(2), t.met])).toEqual([
      ['pagerank-remote', 100, true],
      ['pagerank-speedup', 6, true],
      ['terasort-speedup', 1.5, false],
    ]);
  });
});

describe('SVG charts', () => {
  test.each([
    [0.9, [0, 0.2, 0.4, 0.6, 0.8, 1]],
    [7, [0, 2, 4, 6, 8]],
    [340, [0, 100, 200, 300, 400]],
    [0, [0, 1]],
  ])('nice ticks up to %p', (max, ticks) => {
    expect(niceTicks(max)).toEqual(ticks);
  });

  test('a chart has a title, axis labels, a legend entry per series and one line per line series', () => {
    const svg = chart({
      title: 'Time <vs> G',
      xLabel: 'granularity',
      yLabel: 'seconds',
      xScale: 'log2',
      panels: [
        {
          title: 'A',
          series: [
            {
              name: 'nats',
              points: [
                [1, 3],
                [4, 2],
                [32, 1],
              ],
            },
            {
              name: 'redis',
              points: [
                [1, 4],
                [32, 1],
              ],
            },
          ],
        },
        { title: 'B', series: [{ name: 'nats', style: 'points', points: [[1, 1]] }] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg).toContain('Time &lt;vs&gt; G');
    expect(svg.match(/>granularity</g)).toHaveLength(2);
    expect(svg.match(/>seconds</g)).toHaveLength(2);
    expect(svg.match(/>nats</g)).toHaveLength(1);
    expect(svg.match(/>redis</g)).toHaveLength(1);
    expect(svg.match(/<path d="M[^"]*" fill="none"/g)).toHaveLength(2);
    for (const tick of ['>1<', '>4<', '>32<']) expect(svg).toContain(tick);
    expect(svg.trimEnd().endsWith('</svg>')).toBe(true);
  });
});

test('a failed repeat is counted but left out of the medians', () => {
  const failed: RunRecord = { ...run('hpo', 'nats', 1, 120_000, 0), ok: false, verified: false, problem: 'join timed out', startupMs: Number.NaN };
  const [s] = summarize([run('hpo', 'nats', 1, 5_000, 10), failed, run('hpo', 'nats', 1, 7_000, 10)]);
  expect(s).toMatchObject({ runs: 3, failed: 1, verified: false, wallMs: 6_000, remoteBytes: 10 });
});
