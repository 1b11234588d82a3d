/**
 * Communication trees over a group of `n` members (workers of a pack, or packs of a burst).
 * Pure functions, so they are table-tested on their own.
 * @module
 */

/**
 * Binomial broadcast tree rooted at `root`: my parent (undefined at the root) and my children, largest
 * subtree first (so the longest chain starts earliest). Every member but the root receives exactly once.
 *
 *   n = 8, root = 0:   0 → 4, 2, 1;   4 → 6, 5;   2 → 3;   6 → 7
 */
export function binomialTree(n: number, root: number, me: number): { parent: number | undefined; children: number[] } {
  const rel = (me - root + n) % n;
  let parent: number | undefined;
  let mask = 1;
  while (mask < n) {
    if (rel & mask) {
      parent = (rel - mask + root) % n;
      break;
    }
    mask <<= 1;
  }
  const children: number[] = [];
  for (mask >>= 1; mask > 0; mask >>= 1) {
    if (rel + mask < n) children.push((rel + mask + root) % n);
  }
  return { parent, children };
}

/**
 * Order-preserving reduction tree over members 0..n-1 rooted at `root`, so that the root ends with
 * v0 ⊕ v1 ⊕ … ⊕ v(n-1) in member order (a user op need only be associative, not commutative):
 *
 *   result(me) = result(before[0]) ⊕ … ⊕ v(me) ⊕ result(after[0]) ⊕ …
 *
 * Members left of the root form a binomial tree rooted at root-1 whose subtrees extend leftwards; those
 * right of it, one rooted at root+1 extending rightwards. Each member sends once: n-1 messages in all,
 * depth ⌈log2⌉ on each side.
 *
 *   n = 5, root = 2:   0 → 1 → 2 ← 3 ← 4      result(2) = (v0 ⊕ v1) ⊕ v2 ⊕ (v3 ⊕ v4)
 */
export function orderedReduceTree(n: number, root: number, me: number): { parent: number | undefined; before: number[]; after: number[] } {
  if (me === root) {
    return { parent: undefined, before: root > 0 ? [root - 1] : [], after: root + 1 < n ? [root + 1] : [] };
  }
  const left = me < root;
  // Position within the side's own binomial tree (0 = the side's root, adjacent to `root`).
  const rel = left ? root - 1 - me : me - (root + 1);
  const size = left ? root : n - root - 1;
  const low = rel === 0 ? Infinity : rel & -rel;
  const kids: number[] = [];
  for (let mask = 1; mask < low && rel + mask < size; mask <<= 1) kids.push(left ? me - mask : me + mask);
  const parent = rel === 0 ? root : left ? me + low : me - low;
  // Left side: children cover ranges further left as mask grows, so combine the largest mask first.
  return left ? { parent, before: kids.reverse(), after: [] } : { parent, before: [], after: kids };
}
