import { binomialTree, orderedReduceTree } from './trees.js';

/** Simulates a reduction over a tree with string concatenation (associative, not commutative). */
function simulateOrdered(n: number, root: number): string {
  const memo = new Map<number, string>();
  const value = (i: number): string => {
    const hit = memo.get(i);
    if (hit !== undefined) return hit;
    const t = orderedReduceTree(n, root, i);
    const v = [...t.before.map(value), `${i},`, ...t.after.map(value)].join('');
    memo.set(i, v);
    return v;
  };
  return value(root);
}

describe('communication trees', () => {
  test('binomial tree: every member but the root has exactly one parent, and parents list it as a child', () => {
    for (let n = 1; n <= 40; n++) {
      for (const root of [0, 1, n - 1, n >> 1].filter((r) => r < n)) {
        const received = new Array(n).fill(0);
        for (let me = 0; me < n; me++) {
          const { parent, children } = binomialTree(n, root, me);
          if (me === root) expect(parent).toBeUndefined();
          else expect(binomialTree(n, root, parent!).children).toContain(me);
          for (const c of children) received[c]++;
        }
        received.forEach((r, i) => expect(r).toBe(i === root ? 0 : 1));
      }
    }
  });

  test('binomial tree depth is at most ceil(log2 n), and exactly that for powers of two', () => {
    const depth = (n: number, root: number, me: number): number => {
      const p = binomialTree(n, root, me).parent;
      return p === undefined ? 0 : 1 + depth(n, root, p);
    };
    for (const n of [2, 7, 16, 48, 100]) {
      const max = Math.max(...Array.from({ length: n }, (_, i) => depth(n, 3 % n, i)));
      expect(max).toBeLessThanOrEqual(Math.ceil(Math.log2(n)));
      if ((n & (n - 1)) === 0) expect(max).toBe(Math.log2(n));
    }
  });

  test('ordered reduce tree combines in member order for every size and root', () => {
    for (let n = 1; n <= 33; n++) {
      const expected = Array.from({ length: n }, (_, i) => `${i},`).join('');
      for (let root = 0; root < n; root++) expect(simulateOrdered(n, root)).toBe(expected);
    }
  });

  test('ordered reduce tree: each member sends once, to a parent that expects it', () => {
    for (const n of [1, 2, 5, 7, 16, 48]) {
      for (let root = 0; root < n; root++) {
        for (let me = 0; me < n; me++) {
          const t = orderedReduceTree(n, root, me);
          if (me === root) continue;
          const p = orderedReduceTree(n, root, t.parent!);
          expect([...p.before, ...p.after]).toContain(me);
        }
      }
    }
  });
});
