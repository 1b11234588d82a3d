import { PackLayout } from './topology.js';

describe('PackLayout', () => {
  test.each([
    // size, granularity, expected pack sizes
    [7, 3, [3, 3, 1]],
    [16, 16, [16]],
    [16, 1, Array(16).fill(1)],
    [5, 7, [5]],
    [960, 48, Array(20).fill(48)],
  ])('size %i at granularity %i packs as %j', (size, g, sizes) => {
    const l = PackLayout.fromGranularity(size, g);
    expect(l.packSizes()).toEqual(sizes);
    expect(l.burstSize).toBe(size);
  });

  test('packOf, packRange, leaderOf and representative agree on every worker', () => {
    const l = PackLayout.fromSizes([3, 1, 4, 2]);
    const expectPack = [0, 0, 0, 1, 2, 2, 2, 2, 3, 3];
    expectPack.forEach((p, w) => expect(l.packOf(w)).toBe(p));
    expect(l.packRange(2)).toEqual({ start: 4, end: 8 });
    expect([0, 1, 2, 3].map((p) => l.leaderOf(p))).toEqual([0, 3, 4, 8]);
    expect(l.isLeader(4)).toBe(true);
    expect(l.isLeader(5)).toBe(false);
    // The root speaks for its own pack; leaders for the others.
    expect(l.representative(2, 6)).toBe(6);
    expect(l.representative(0, 6)).toBe(0);
    expect(l.isLocal(4, 7)).toBe(true);
    expect(l.isLocal(3, 4)).toBe(false);
  });

  test('bad input is rejected with the field named', () => {
    expect(() => PackLayout.fromGranularity(0, 1)).toThrow(/burstSize: must be an integer >= 1/);
    expect(() => PackLayout.fromGranularity(4, 1.5)).toThrow(/granularity/);
    expect(() => PackLayout.fromSizes([2, 0])).toThrow(/packSizes\[1\]/);
    expect(() => PackLayout.fromGranularity(4, 2).packOf(4)).toThrow(/out of range: the burst has workers 0..3/);
  });
});
