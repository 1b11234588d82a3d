/**
 * Per-burst Redis ACL users, for the operator (transport/redis.ts has the commands). ioredis loads only
 * when one is managed, so importing this costs a worker nothing.
 * @module
 */
/** The ACL user name of a burst. */
export const redisUserOf = (burstId: string): string => `kb-${burstId}`;

export async function createRedisBurstUser(adminUrl: string, burstId: string, password: string): Promise<void> {
  return (await import('./redis.js')).createRedisBurstUserNow(adminUrl, redisUserOf(burstId), burstId, password);
}

export async function deleteRedisBurstUser(adminUrl: string, burstId: string): Promise<void> {
  return (await import('./redis.js')).deleteRedisBurstUserNow(adminUrl, redisUserOf(burstId));
}
