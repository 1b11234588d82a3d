import type { TypedArray, WorkerContext } from '@kubeburst/worker-runtime';

/** Worker ids [start, end) of the caller's pack. */
export function myPack(ctx: WorkerContext): { start: number; end: number; size: number; rank: number } {
  const { start, end } = ctx.info.packRange(ctx.info.packId);
  return { start, end, size: end - start, rank: ctx.info.workerId - start };
}

/**
 * allGather among pack mates only: every worker of the pack gets every mate's part, in worker order, and
 * nothing crosses the pack boundary. The BCM has no pack-scoped collective (no communicator split, as
 * MPI_Comm_split_type(SHARED) would give), so this is built from point-to-point calls between mates. When
 * `part` lives in shared memory (ctx.alloc), mates receive a view of the same bytes: no copy at all.
 * Every worker of the pack must call it, like a collective.
 */
export async function packAllGather<T extends TypedArray>(ctx: WorkerContext, part: T): Promise<T[]> {
  const me = ctx.info.workerId;
  const { start, end } = myPack(ctx);
  for (let w = start; w < end; w++) if (w !== me) await ctx.send(w, part);
  const out: T[] = [];
  for (let w = start; w < end; w++) out.push(w === me ? part : await ctx.recv<T>(w));
  return out;
}
