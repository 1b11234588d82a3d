import type { BurstJobSpec } from '@kubeburst/api';
import { decodeLayout as decodeRuns, encodeLayout } from '@kubeburst/worker-runtime';
import { fitCount, ineligible, type NodeView, type Resources } from './capacity.js';

/**
 * Pack layouts: how `size` workers are split into packs of contiguous worker ids.
 *
 *   Fixed, size 10, granularity 4:   [4, 4, 2]        → "2x4,1x2"
 *   Auto,  size 100, nodes with room for 48, 48, 20:  [48, 48, 4]  (largest packs that fit, one per node)
 *
 * A layout is stored in status.attempt.layout run-length encoded, so 100 000 single-worker packs take
 * a dozen bytes, and the planner reads it back unchanged for the rest of the attempt.
 */
export function fixedLayout(size: number, granularity: number): number[] {
  const g = Math.max(1, Math.min(granularity, size));
  const full = Math.floor(size / g);
  const out = new Array<number>(full).fill(g);
  if (size % g) out.push(size % g);
  return out;
}

/**
 * Auto packing: one pack per node, as many workers as the node has room for now (cpu, memory), biggest
 * rooms first, at most `maxGranularity`. Workers left over once the free room is used go into packs sized
 * to the largest node's allocatable (they wait for room like any gang).
 */
export function autoLayout(size: number, perWorker: Resources, nodes: readonly NodeView[], scope: Parameters<typeof ineligible>[1], maxGranularity = size): number[] {
  const perWorkerNoPods = { ...perWorker, pods: 0 };
  const slots = (room: Resources): number => (room.pods >= 1 ? Math.min(fitCount({ ...room, pods: Infinity }, perWorkerNoPods), maxGranularity) : 0);
  const eligible = nodes.filter((n) => ineligible(n, scope) === null);
  const out: number[] = [];
  let left = size;
  const byRoom = [...eligible].sort((a, b) => slots(b.free) - slots(a.free) || a.name.localeCompare(b.name));
  for (const n of byRoom) {
    if (left === 0) break;
    const g = Math.min(slots(n.free), left);
    if (g < 1) break;
    out.push(g);
    left -= g;
  }
  const biggest = Math.max(0, ...eligible.map((n) => slots(n.allocatable)));
  const g = biggest >= 1 ? biggest : Math.min(maxGranularity, size);
  while (left > 0) {
    const k = Math.min(g, left);
    out.push(k);
    left -= k;
  }
  return out;
}

/** The layout of a new attempt. */
export function layoutFor(spec: BurstJobSpec, perWorker: Resources, nodes: readonly NodeView[]): number[] {
  if (spec.packing?.mode === 'Auto') {
    return autoLayout(
      spec.size,
      perWorker,
      nodes,
      { nodeSelector: spec.template?.nodeSelector, tolerations: spec.template?.tolerations },
      spec.packing.maxGranularity ?? spec.size,
    );
  }
  return fixedLayout(spec.size, spec.granularity ?? spec.size);
}

export { encodeLayout };

/** A status.attempt.layout as pack sizes; throws naming the field (a status edited by hand). */
export function decodeLayout(text: string): number[] {
  return decodeRuns(text, 'status.attempt.layout');
}

/** Worker id range [start, end) of every pack. */
export function packRanges(sizes: readonly number[]): { start: number; end: number }[] {
  let start = 0;
  return sizes.map((s) => {
    const r = { start, end: start + s };
    start += s;
    return r;
  });
}

/** Uniform packs (all equal but a smaller last one) can be described to a pack by one granularity. */
export function uniformGranularity(sizes: readonly number[]): number | undefined {
  const g = sizes[0]!;
  return sizes.every((s, i) => s === g || (i === sizes.length - 1 && s < g)) ? g : undefined;
}
