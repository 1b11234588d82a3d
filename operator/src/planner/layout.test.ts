import { autoLayout, decodeLayout, encodeLayout, fixedLayout, packRanges, uniformGranularity } from './layout.js';
import { node } from '../testing/planner.js';

const worker = { cpu: 1000, memory: 2 ** 30, pods: 0 };

describe('fixed layout', () => {
  it.each([
    [960, 48, '20x48'],
    [10, 4, '2x4,1x2'],
    [7, 7, '1x7'],
    [5, 1, '5x1'],
    [3, 10, '1x3'],
  ])('size %d, granularity %d → %s', (size, g, want) => expect(encodeLayout(fixedLayout(size, g))).toBe(want));
});

describe('auto layout', () => {
  it('puts one pack per node, biggest room first, up to maxGranularity', () => {
    const nodes = [node('a').cpu(48).free(48).obj(), node('b').cpu(48).free(20).obj(), node('c').cpu(48).free(48).obj()];
    expect(autoLayout(100, worker, nodes, {})).toEqual([48, 48, 4]);
    expect(autoLayout(100, worker, nodes, {}, 32)).toEqual([32, 32, 20, 16]);
  });

  it('sizes leftover packs to the largest allocatable when free room runs out', () => {
    const nodes = [node('a').cpu(16).free(4).obj(), node('b').cpu(8).free(0).obj()];
    expect(autoLayout(40, worker, nodes, {})).toEqual([4, 16, 16, 4]);
  });

  it('counts memory too, and only nodes the pods may use', () => {
    const nodes = [node('a').cpu(64).memoryGi(8).obj(), node('b').cpu(64).memoryGi(64).taint('gpu', 'NoSchedule').obj()];
    expect(autoLayout(20, worker, nodes, {})).toEqual([8, 8, 4]);
    expect(autoLayout(20, worker, nodes, { tolerations: [{ key: 'gpu', operator: 'Exists' }] })).toEqual([20]);
  });
});

describe('layout encoding', () => {
  it('round-trips and describes ranges', () => {
    const sizes = [48, 48, 16];
    expect(encodeLayout(sizes)).toBe('2x48,1x16');
    expect(decodeLayout('2x48,1x16')).toEqual(sizes);
    expect(packRanges(sizes)).toEqual([
      { start: 0, end: 48 },
      { start: 48, end: 96 },
      { start: 96, end: 112 },
    ]);
  });
  it('rejects a layout that is not one, naming the field', () => {
    for (const bad of ['48,,48', '0x4', '2x', 'x48', '2x48;1x16', '2000000x1']) expect(() => decodeLayout(bad)).toThrow('status.attempt.layout');
    // Sizes without a count, as pods of an earlier operator carry them: one pack each.
    expect(decodeLayout('48,48,16')).toEqual([48, 48, 16]);
  });
  it('knows when one granularity describes the packs', () => {
    expect(uniformGranularity([48, 48, 16])).toBe(48);
    expect(uniformGranularity([16, 48])).toBeUndefined();
  });
});
