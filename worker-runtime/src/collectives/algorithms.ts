import { UsageError } from '../errors.js';
import { bytesOf, isShared, sharedCopy, type Payload, type TypedArray } from '../protocol/dtype.js';
import { combiner, userCombiner, type ReduceOp } from '../ops.js';
import type { CollCall } from './call.js';
import { binomialTree, orderedReduceTree } from './trees.js';

/*
 * Pack-aware collectives. Each runs in two levels: workers of a pack combine through shared memory, and only
 * one worker per pack (its representative: the root in the root's pack, the leader elsewhere) crosses the
 * pack boundary. Remote traffic is therefore the minimum for each operation (P packs, N workers, m bytes):
 *
 *   broadcast  m·(P-1)                    one copy per remote pack, binomial tree over packs
 *   reduce     m·(P-1)                    each remote pack sends its combined value once
 *   allReduce  2·m·(P-1)                  reduce to worker 0, then broadcast
 *   gather     m·(N - |root pack|)        one batch per remote pack, straight to the root
 *   scatter    m·(N - |root pack|)        one batch per remote pack
 *   allGather  m·N·(P-1)                  each pack's batch to every other pack
 *   allToAll   Σ over pack pairs p≠q of m·|p|·|q|, one batch per ordered pack pair
 *   barrier    0 bytes, 2·(P-1) messages
 *
 * Tags separate the phases of one call; the call index in every message separates calls.
 */

const T_LOCAL_UP = 1;
const T_REMOTE_UP = 2;
const T_REMOTE_DOWN = 3;
const T_LOCAL_DOWN = 4;
/** allToAll: pack-to-pack batches are relayed to pack mates on tag T_A2A_SHARE + source pack. */
const T_A2A_SHARE = 16;

function localMates(c: CollCall, exclude: number): number[] {
  const { start, end } = c.layout.packRange(c.layout.packOf(c.me));
  const out: number[] = [];
  for (let w = start; w < end; w++) if (w !== exclude) out.push(w);
  return out;
}

/** Copy into shared memory once, so every pack mate can read the same bytes. */
function shareOnce(p: Payload): Payload {
  return isShared(p) || p.byteLength === 0 ? p : sharedCopy(p);
}

export async function broadcast(c: CollCall, data: Payload | undefined, tagBase = 0): Promise<TypedArray> {
  const L = c.layout;
  const rootPack = L.packOf(c.root);
  const myPack = L.packOf(c.me);
  const rep = c.rep(myPack);
  let value: TypedArray;
  if (c.me === c.root) {
    if (data === undefined) throw new UsageError(`broadcast: the root (worker ${c.worker(c.root)}) must pass the data`);
    value = data instanceof DataView ? bytesOf(data) : data;
  } else if (c.me === rep) {
    const { parent } = binomialTree(L.packCount, rootPack, myPack);
    value = await c.recv(c.rep(parent!), tagBase + T_REMOTE_DOWN);
  } else {
    return c.recv(rep, tagBase + T_LOCAL_DOWN);
  }
  // Representative: forward down the pack tree, then hand the same shared bytes to every pack mate.
  const { children } = binomialTree(L.packCount, rootPack, myPack);
  const mates = localMates(c, c.me);
  const shared = mates.length > 0 ? shareOnce(value) : value;
  c.send(
    children.map((p) => c.rep(p)),
    tagBase + T_REMOTE_DOWN,
    shared,
  );
  c.send(mates, tagBase + T_LOCAL_DOWN, shared);
  return value;
}

export async function reduce<T extends TypedArray>(c: CollCall, data: T, op: ReduceOp<T>, tagBase = 0): Promise<T | undefined> {
  const L = c.layout;
  const myPack = L.packOf(c.me);
  const { start, end } = L.packRange(myPack);
  const rep = c.rep(myPack);

  // Level 1: an order-preserving tree over this pack's workers, rooted at the representative.
  let acc = data;
  // Whether `acc` belongs to this reduction alone (not the caller's input, not memory another worker reads).
  let owned = false;
  // Built-in ops are commutative (IEEE + and * are, min and max too), so they fold into an owned accumulator
  // in place; a user op keeps the worker order exactly: values from the left are prepended.
  const userOp = typeof op === 'function';
  const combine: (a: T, b: T, accOwned: boolean) => T = typeof op === 'function' ? userCombiner(c.name, op) : combiner(op);
  const fold = async (members: number[], srcOf: (m: number) => number, tag: number, left: boolean): Promise<void> => {
    for (const m of members) {
      // In a user-op reduction every value received is the receiver's own (see `up` below).
      const v = (await c.recv(srcOf(m), tag)) as T;
      if (userOp) {
        // A user op may write into either argument (ReduceFn): it never gets the input or shared memory.
        const mine = owned ? acc : (sharedCopy(acc) as T);
        acc = left ? combine(v, mine, true) : combine(mine, v, true);
      } else acc = combine(acc, v, owned);
      owned = true;
    }
  };
  // What goes up to a pack mate. A user op's receiver writes into it, so it must be nobody else's: an input
  // in shared memory (ctx.alloc, a broadcast result, which pack mates may share) would pass by reference,
  // so it travels as a copy. Other inputs are copied by the send itself (into the mate's ring, into fresh
  // shared memory); what goes to another pack arrives there as a buffer of its own.
  const up = (): T => (userOp && !owned && isShared(acc) ? (sharedCopy(acc) as T) : acc);
  const local = orderedReduceTree(end - start, rep - start, c.me - start);
  await fold(local.before.reverse(), (m) => m + start, tagBase + T_LOCAL_UP, true);
  await fold(local.after, (m) => m + start, tagBase + T_LOCAL_UP, false);
  if (local.parent !== undefined) {
    c.send([local.parent + start], tagBase + T_LOCAL_UP, up());
    return undefined;
  }

  // Level 2: representatives, one per pack, in pack order, rooted at the root's pack.
  const tree = orderedReduceTree(L.packCount, L.packOf(c.root), myPack);
  await fold(tree.before.reverse(), (p) => c.rep(p), tagBase + T_REMOTE_UP, true);
  await fold(tree.after, (p) => c.rep(p), tagBase + T_REMOTE_UP, false);
  if (tree.parent !== undefined) {
    c.send([c.rep(tree.parent)], tagBase + T_REMOTE_UP, acc);
    return undefined;
  }
  // The root's result is its own too: in a group of one nothing was combined and `acc` is the input.
  return owned ? acc : (acc.slice() as T);
}

export async function allReduce<T extends TypedArray>(c: CollCall, data: T, op: ReduceOp<T>): Promise<T> {
  const r = await reduce(c, data, op, 0);
  const shared = (await broadcast(c, r, 8)) as T;
  // The broadcast hands pack mates one shared buffer (and may still be writing it to another pack): each
  // worker gets a private copy, since an allReduce result is routinely modified in place (g[i] /= n).
  return isShared(shared) ? (shared.slice() as T) : shared;
}

/** At the pack's representative: every pack mate's part, in worker order (own part included). */
async function collectPack(c: CollCall, data: Payload): Promise<TypedArray[]> {
  const { start, end } = c.layout.packRange(c.layout.packOf(c.me));
  const mine: TypedArray[] = [];
  for (let w = start; w < end; w++) mine.push(w === c.me ? asTyped(data) : await c.recv(w, T_LOCAL_UP));
  return mine;
}

/** Places this pack's parts and one batch from every other pack's leader into a burst-ordered array. */
async function assembleAll(c: CollCall, mine: TypedArray[], tag: number): Promise<TypedArray[]> {
  const L = c.layout;
  const myPack = L.packOf(c.me);
  const out: TypedArray[] = new Array(L.burstSize);
  mine.forEach((v, i) => (out[L.packRange(myPack).start + i] = v));
  for (let p = 0; p < L.packCount; p++) {
    if (p === myPack) continue;
    const parts = await c.recvBatch(L.leaderOf(p), tag);
    const r = L.packRange(p);
    if (parts.length !== r.end - r.start) throw new UsageError(`${c.name}: pack ${p} sent ${parts.length} parts, expected ${r.end - r.start}`);
    parts.forEach((v, i) => (out[r.start + i] = v));
  }
  return out;
}

export async function gather(c: CollCall, data: Payload): Promise<TypedArray[] | undefined> {
  const rep = c.rep(c.layout.packOf(c.me));
  if (c.me !== rep) {
    c.send([rep], T_LOCAL_UP, data);
    return undefined;
  }
  const mine = await collectPack(c, data);
  if (c.me !== c.root) {
    c.sendBatch([c.root], T_REMOTE_UP, mine);
    return undefined;
  }
  return assembleAll(c, mine, T_REMOTE_UP);
}

export async function allGather(c: CollCall, data: Payload): Promise<TypedArray[]> {
  const L = c.layout;
  const myPack = L.packOf(c.me);
  const leader = L.leaderOf(myPack);
  if (c.me !== leader) {
    c.send([leader], T_LOCAL_UP, data);
    return c.recvBatch(leader, T_LOCAL_DOWN);
  }
  const mine = await collectPack(c, data);
  const others: number[] = [];
  for (let p = 0; p < L.packCount; p++) if (p !== myPack) others.push(L.leaderOf(p));
  c.sendBatch(others, T_REMOTE_DOWN, mine);
  const out = await assembleAll(c, mine, T_REMOTE_DOWN);
  // One batch of everything, written once in shared memory and read by every pack mate.
  c.sendBatch(localMates(c, c.me), T_LOCAL_DOWN, out);
  return out;
}

export async function scatter(c: CollCall, parts: readonly Payload[] | undefined): Promise<TypedArray> {
  const L = c.layout;
  const myPack = L.packOf(c.me);
  const rep = c.rep(myPack);
  if (c.me === c.root) {
    if (parts === undefined || parts.length !== L.burstSize) {
      throw new UsageError(`scatter: the root (worker ${c.worker(c.root)}) must pass exactly ${L.burstSize} parts (one per worker of the group), got ${parts?.length ?? 'none'}`);
    }
    for (let p = 0; p < L.packCount; p++) {
      if (p === myPack) continue;
      const r = L.packRange(p);
      c.sendBatch([L.leaderOf(p)], T_REMOTE_DOWN, parts.slice(r.start, r.end));
    }
    const { start, end } = L.packRange(myPack);
    for (let w = start; w < end; w++) if (w !== c.me) c.send([w], T_LOCAL_DOWN, parts[w]!);
    return asTyped(parts[c.me]!);
  }
  if (c.me !== rep) return c.recv(rep, T_LOCAL_DOWN);
  const mine = await c.recvBatch(c.root, T_REMOTE_DOWN);
  const { start } = L.packRange(myPack);
  mine.forEach((v, i) => {
    if (start + i !== c.me) c.send([start + i], T_LOCAL_DOWN, v);
  });
  return mine[c.me - start]!;
}

export async function allToAll(c: CollCall, parts: readonly Payload[]): Promise<TypedArray[]> {
  const L = c.layout;
  const N = L.burstSize;
  if (parts.length !== N) throw new UsageError(`allToAll: pass exactly ${N} parts (one per worker of the group, own part included), got ${parts.length}`);
  const myPack = L.packOf(c.me);
  const leader = L.leaderOf(myPack);
  const { start, end } = L.packRange(myPack);
  const out: TypedArray[] = new Array(N);

  // Pack mates exchange directly through shared memory.
  for (let v = start; v < end; v++) if (v !== c.me) c.send([v], T_LOCAL_DOWN, parts[v]!);
  out[c.me] = asTyped(parts[c.me]!);

  const remoteIds: number[] = [];
  for (let v = 0; v < N; v++) if (v < start || v >= end) remoteIds.push(v);

  if (L.packCount > 1) {
    if (c.me !== leader) {
      // Everything bound for other packs goes to the leader in one batch.
      c.sendBatch(
        [leader],
        T_LOCAL_UP,
        remoteIds.map((v) => parts[v]!),
      );
    } else {
      // byWorker[i][j]: part from worker start+i to remote worker remoteIds[j].
      const byWorker: TypedArray[][] = [];
      for (let w = start; w < end; w++) {
        byWorker.push(w === c.me ? remoteIds.map((v) => asTyped(parts[v]!)) : await c.recvBatch(w, T_LOCAL_UP));
      }
      // One batch per destination pack, ordered [sender in my pack][receiver in that pack].
      for (let q = 0; q < L.packCount; q++) {
        if (q === myPack) continue;
        const r = L.packRange(q);
        const batch: TypedArray[] = [];
        for (let i = 0; i < byWorker.length; i++) {
          // Index of v among remote workers: those before my pack, then those after it.
          for (let v = r.start; v < r.end; v++) batch.push(byWorker[i]![v < start ? v : v - (end - start)]!);
        }
        c.sendBatch([L.leaderOf(q)], T_REMOTE_DOWN, batch);
      }
    }
    // Each incoming pack batch is shared once with every pack mate; each picks its own column.
    for (let q = 0; q < L.packCount; q++) {
      if (q === myPack) continue;
      const r = L.packRange(q);
      let batch: TypedArray[];
      if (c.me === leader) {
        batch = await c.recvBatch(L.leaderOf(q), T_REMOTE_DOWN);
        const mates = localMates(c, c.me);
        if (mates.length > 0) c.sendBatch(mates, T_A2A_SHARE + q, batch);
      } else {
        batch = await c.recvBatch(leader, T_A2A_SHARE + q);
      }
      const width = end - start;
      for (let w = r.start; w < r.end; w++) out[w] = batch[(w - r.start) * width + (c.me - start)]!;
    }
  }
  for (let v = start; v < end; v++) if (v !== c.me) out[v] = await c.recv(v, T_LOCAL_DOWN);
  return out;
}

export async function barrier(c: CollCall): Promise<void> {
  const L = c.layout;
  const myPack = L.packOf(c.me);
  const leader = L.leaderOf(myPack);
  const empty = new Uint8Array(0);
  if (c.me !== leader) {
    c.send([leader], T_LOCAL_UP, empty);
    await c.recv(leader, T_LOCAL_DOWN);
    return;
  }
  for (const w of localMates(c, c.me)) await c.recv(w, T_LOCAL_UP);
  const { parent, children } = binomialTree(L.packCount, 0, myPack);
  for (const ch of children) await c.recv(L.leaderOf(ch), T_REMOTE_UP);
  if (parent !== undefined) {
    c.send([L.leaderOf(parent)], T_REMOTE_UP, empty);
    await c.recv(L.leaderOf(parent), T_REMOTE_DOWN);
  }
  c.send(
    children.map((p) => L.leaderOf(p)),
    T_REMOTE_DOWN,
    empty,
  );
  c.send(localMates(c, c.me), T_LOCAL_DOWN, empty);
}

function asTyped(p: Payload): TypedArray {
  return p instanceof DataView ? bytesOf(p) : p;
}
