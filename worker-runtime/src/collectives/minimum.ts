import type { PackLayout } from '../topology.js';

export type CollectiveName = 'broadcast' | 'scatter' | 'gather' | 'allGather' | 'allToAll' | 'reduce' | 'allReduce' | 'barrier';

export const COLLECTIVES: readonly CollectiveName[] = ['broadcast', 'scatter', 'gather', 'allGather', 'allToAll', 'reduce', 'allReduce', 'barrier'];

/**
 * The least payload that must cross pack boundaries for one collective, when every worker contributes
 * (or receives) `m` bytes per part and no data is compressed or deduplicated:
 *
 *  - broadcast: every other pack needs the data once → m·(P−1)
 *  - reduce: every other pack must contribute its (combined) value once → m·(P−1)
 *  - allReduce: a reduce plus a broadcast → 2·m·(P−1) (reduce-scatter + allgather moves the same total)
 *  - scatter / gather: every worker outside the root's pack gets / gives its part → m·(N − |root pack|)
 *  - allGather: every pack needs every other pack's parts → Σp m·|p|·(P−1) = m·N·(P−1)
 *  - allToAll: every part whose sender and receiver are in different packs → Σp m·|p|·(N − |p|)
 *  - barrier: no payload; 2·(P−1) empty messages
 *
 * Messages: the fewest logical messages with one message per pack pair and direction the algorithm needs.
 */
export function minimumRemote(op: CollectiveName, layout: PackLayout, m: number, root = 0): { bytes: number; messages: number } {
  const P = layout.packCount;
  const N = layout.burstSize;
  const sizes = layout.packSizes();
  switch (op) {
    case 'broadcast':
    case 'reduce':
      return { bytes: m * (P - 1), messages: P - 1 };
    case 'allReduce':
      return { bytes: 2 * m * (P - 1), messages: 2 * (P - 1) };
    case 'scatter':
    case 'gather':
      return { bytes: m * (N - layout.packSize(layout.packOf(root))), messages: P - 1 };
    case 'allGather':
      return { bytes: m * N * (P - 1), messages: P * (P - 1) };
    case 'allToAll':
      return { bytes: sizes.reduce((acc, s) => acc + m * s * (N - s), 0), messages: P * (P - 1) };
    case 'barrier':
      return { bytes: 0, messages: 2 * (P - 1) };
  }
}
