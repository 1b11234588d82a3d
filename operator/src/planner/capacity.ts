import { formatBytes, formatCpu } from './quantity.js';

/**
 * Room in the cluster, as the gang admission sees it: nodes' allocatable minus what bound pods request,
 * minus what admitted gangs will take once the scheduler binds them.
 *
 * It is a model of kube-scheduler's resource fit (cpu, memory, pod count, nodeSelector, taints), not a copy
 * of the scheduler: when the model says "fits" and the scheduler disagrees (affinity, volumes, another
 * scheduler's pods), the schedule timeout tears the attempt down and retries it.
 */
export interface Resources {
  /** Millicores. */
  cpu: number;
  /** Bytes. */
  memory: number;
  /** Pod slots. */
  pods: number;
}

export interface Taint {
  key: string;
  value?: string;
  effect: string;
}
export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: string;
}

export interface NodeView {
  name: string;
  labels: Record<string, string>;
  taints: Taint[];
  /** Ready and not cordoned. */
  schedulable: boolean;
  allocatable: Resources;
  /** allocatable minus the requests of the non-terminated pods bound to it. */
  free: Resources;
  /**
   * allocatable minus the requests of bound pods that are not BurstJob packs (DaemonSets, system pods, other
   * workloads): the most a waiting gang can ever get here once running bursts end.
   */
  burstable: Resources;
}

/** What a gang needs: `count` pods of `request` each, per distinct request (a layout "2x48,1x16" has two groups). */
export interface PodGroup {
  request: Resources;
  count: number;
}
export interface GangDemand {
  /** namespace/name of the BurstJob. */
  key: string;
  groups: PodGroup[];
  nodeSelector?: Record<string, string>;
  tolerations?: Toleration[];
  /** Gangs waiting for admission: since when (ms since the epoch; the start of their attempt). */
  waitingSince?: number;
}

/** Bounded overtaking (see admit): the clock, and how long an older gang may be overtaken. */
export interface Fairness {
  now: number;
  strictFifoAfterMs: number;
}

export const ZERO: Resources = { cpu: 0, memory: 0, pods: 0 };
export const add = (a: Resources, b: Resources, k = 1): Resources => ({ cpu: a.cpu + k * b.cpu, memory: a.memory + k * b.memory, pods: a.pods + k * b.pods });
export const describeResources = (r: Resources): string => `${formatCpu(r.cpu)} CPU, ${formatBytes(r.memory)} memory`;

/** How many pods of `req` fit into `room`. */
export function fitCount(room: Resources, req: Resources): number {
  let n = room.pods >= 0 ? Math.floor(room.pods / Math.max(req.pods, 1)) : 0;
  if (req.cpu > 0) n = Math.min(n, Math.floor(room.cpu / req.cpu));
  if (req.memory > 0) n = Math.min(n, Math.floor(room.memory / req.memory));
  return Math.max(0, n);
}

/** core/v1 toleration matching (an empty key with Exists tolerates every taint). */
export function tolerates(tolerations: readonly Toleration[], taint: Taint): boolean {
  return tolerations.some((t) => {
    if (t.effect !== undefined && t.effect !== '' && t.effect !== taint.effect) return false;
    if ((t.key ?? '') === '') return t.operator === 'Exists';
    if (t.key !== taint.key) return false;
    return t.operator === 'Exists' || (t.value ?? '') === (taint.value ?? '');
  });
}

/** Why a node cannot take the gang's pods, or null if it can (a reason, not a boolean: messages explain themselves). */
export function ineligible(node: NodeView, gang: Pick<GangDemand, 'nodeSelector' | 'tolerations'>): string | null {
  if (!node.schedulable) return 'not ready or cordoned';
  for (const [k, v] of Object.entries(gang.nodeSelector ?? {})) if (node.labels[k] !== v) return `label ${k}=${v} missing`;
  for (const taint of node.taints) {
    if (taint.effect !== 'NoSchedule' && taint.effect !== 'NoExecute') continue;
    if (!tolerates(gang.tolerations ?? [], taint)) return `taint ${taint.key}${taint.value ? `=${taint.value}` : ''}:${taint.effect} not tolerated`;
  }
  return null;
}

export type Room = Map<string, Resources>;
export const roomOf = (nodes: readonly NodeView[]): Room => new Map(nodes.map((n) => [n.name, { ...n.free }]));

/**
 * Places a gang into `room` (mutated when `commit`): biggest pods first, each group onto the fullest nodes
 * that still take it (best fit, which keeps whole nodes free for other gangs). Returns how many pods found a place.
 */
export function place(gang: GangDemand, nodes: readonly NodeView[], room: Room, commit: boolean): number {
  const eligible = nodes.filter((n) => ineligible(n, gang) === null);
  const work = commit ? room : new Map([...room].map(([k, v]) => [k, { ...v }]));
  let placed = 0;
  const groups = [...gang.groups].sort((a, b) => b.request.cpu - a.request.cpu || b.request.memory - a.request.memory);
  for (const g of groups) {
    let left = g.count;
    const order = [...eligible].sort((a, b) => work.get(a.name)!.cpu - work.get(b.name)!.cpu || a.name.localeCompare(b.name));
    for (const n of order) {
      if (left === 0) break;
      const r = work.get(n.name)!;
      const k = Math.min(left, fitCount(r, g.request));
      if (k === 0) continue;
      work.set(n.name, add(r, g.request, -k));
      left -= k;
    }
    placed += g.count - left;
  }
  return placed;
}

export const podCount = (g: GangDemand): number => g.groups.reduce((s, x) => s + x.count, 0);

export type AdmitDecision = { admit: true } | { admit: false; reason: 'PackTooLarge' | 'InsufficientCapacity' | 'QueuedBehind'; message: string; placeable: number };

/**
 * All-or-nothing admission of `candidate`:
 *  1. `reserved` gangs (admitted, not yet bound) take their room first;
 *  2. gangs `ahead` in the queue (older BurstJobs still waiting) take theirs if they fit whole
 *     (FIFO with bounded overtaking: an older gang that cannot fit now does not block younger ones that
 *     can, until it has waited `strictFifoAfterMs`; from then on a younger gang that could use any of its
 *     nodes waits behind it, so the room it needs drains instead of being taken again and again. An older
 *     gang that could not fit even with no burst running on its nodes never blocks anyone);
 *  3. the candidate is admitted only if every one of its pods fits in what is left.
 * Deterministic: the same snapshot gives the same answer, so two operators' reconciles of competing gangs
 * cannot both admit into the same room, and no gang ever holds part of the cluster while waiting.
 */
export function admit(
  candidate: GangDemand,
  nodes: readonly NodeView[],
  ahead: readonly GangDemand[] = [],
  reserved: readonly GangDemand[] = [],
  fairness?: Fairness,
): AdmitDecision {
  const eligible = nodes.filter((n) => ineligible(n, candidate) === null);
  const total = podCount(candidate);
  for (const g of candidate.groups) {
    if (!eligible.some((n) => fitCount(n.allocatable, g.request) >= 1)) {
      const biggest = eligible.reduce<Resources | undefined>((b, n) => (b === undefined || n.allocatable.cpu > b.cpu ? n.allocatable : b), undefined);
      return {
        admit: false,
        reason: 'PackTooLarge',
        placeable: 0,
        message:
          eligible.length === 0
            ? `no node can run the packs (${nodes.length} node(s): ${summarizeIneligible(nodes, candidate)})`
            : `a pack requests ${describeResources(g.request)}, more than any eligible node has allocatable (largest: ${describeResources(biggest!)}); lower spec.granularity or use packing.mode Auto`,
      };
    }
  }
  const room = roomOf(nodes);
  for (const r of reserved) place(r, nodes, room, true);
  const afterReserved = new Map([...room].map(([k, v]) => [k, { ...v }]));
  const admittedAhead: string[] = [];
  for (const g of ahead) {
    if (place(g, nodes, room, false) === podCount(g)) {
      place(g, nodes, room, true);
      admittedAhead.push(g.key);
      continue;
    }
    const waitedMs = fairness !== undefined && g.waitingSince !== undefined ? fairness.now - g.waitingSince : 0;
    if (fairness !== undefined && waitedMs >= fairness.strictFifoAfterMs && sharesNodes(g, candidate, nodes) && fitsWithoutBursts(g, nodes)) {
      return {
        admit: false,
        reason: 'QueuedBehind',
        placeable: 0,
        message: `${g.key} has waited ${Math.round(waitedMs / 1000)} s for room (longer than --strict-fifo-after): younger BurstJobs that could use its nodes wait behind it`,
      };
    }
  }
  const placeable = place(candidate, nodes, room, false);
  if (placeable === total) return { admit: true };
  if (admittedAhead.length > 0 && place(candidate, nodes, afterReserved, false) === total) {
    return { admit: false, reason: 'QueuedBehind', placeable, message: `room is kept for older BurstJob(s) waiting to start: ${admittedAhead.join(', ')}` };
  }
  return {
    admit: false,
    reason: 'InsufficientCapacity',
    placeable,
    message: `needs ${describeDemand(candidate)}; the ${eligible.length} eligible node(s) have room for ${placeable} of ${total} pack(s) now${reserved.length ? ` (${reserved.length} admitted gang(s) hold room)` : ''}`,
  };
}

/** Some node is eligible for both gangs. */
function sharesNodes(a: GangDemand, b: GangDemand, nodes: readonly NodeView[]): boolean {
  return nodes.some((n) => ineligible(n, a) === null && ineligible(n, b) === null);
}

/**
 * The gang fits the eligible nodes once no other burst runs there (what non-burst pods hold stays taken):
 * waiting for bursts to end can make it fit.
 */
function fitsWithoutBursts(g: GangDemand, nodes: readonly NodeView[]): boolean {
  return place(g, nodes, new Map(nodes.map((n) => [n.name, { ...n.burstable }])), false) === podCount(g);
}

export function describeDemand(g: GangDemand): string {
  return g.groups.map((x) => `${x.count} pack(s) of ${describeResources(x.request)}`).join(' + ');
}

function summarizeIneligible(nodes: readonly NodeView[], gang: GangDemand): string {
  const reasons = new Map<string, number>();
  for (const n of nodes) {
    const r = ineligible(n, gang) ?? 'eligible';
    reasons.set(r, (reasons.get(r) ?? 0) + 1);
  }
  return [...reasons].map(([r, k]) => `${k} ${r}`).join('; ') || 'none registered';
}
