import type { TransportKind } from '../transport/types.js';

const DEFAULT_REDIS = 'redis://127.0.0.1:6379';

/**
 * Deletes whatever a burst may have left on its broker (packs delete their own inboxes; this catches packs
 * that were killed). Core NATS keeps nothing, and the direct transport has no broker.
 */
export async function cleanupBurst(kind: TransportKind, url: string | undefined, burstId: string): Promise<number> {
  if (kind !== 'redis') return 0;
  const { deleteRedisBurstKeys } = await import('../transport/redis.js');
  return deleteRedisBurstKeys(url ?? DEFAULT_REDIS, burstId);
}
