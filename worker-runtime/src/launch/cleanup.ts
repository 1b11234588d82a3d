import { readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
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

/** A flare's temp dir holds its launcher's pid here (see sweepStaleLaunchDirs). */
export const LAUNCHER_PID_FILE = 'launcher.pid';

/**
 * Removes the temp dirs (`kubeburst-*` in `base`) of flares whose launcher is gone: a launcher and its packs
 * killed at once (SIGKILL to the process group) clean nothing up; one killed alone has its packs remove the
 * dir. Only this user's dirs with a pid file whose process no longer exists are removed (a pid reused
 * since keeps a dir for a later sweep: never one of a live flare). Returns how many went.
 */
export function sweepStaleLaunchDirs(base: string): number {
  let swept = 0;
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith('kubeburst-'));
  } catch {
    return 0;
  }
  const uid = process.getuid?.();
  for (const name of names) {
    const dir = join(base, name);
    try {
      if (uid !== undefined && statSync(dir).uid !== uid) continue;
      const pid = Number(readFileSync(join(dir, LAUNCHER_PID_FILE), 'utf8'));
      if (!Number.isInteger(pid) || pid <= 0 || alive(pid)) continue;
      rmSync(dir, { recursive: true, force: true });
      swept++;
    } catch {
      // Not a flare's dir, or no pid file (yet, or from before pid files): left alone.
    }
  }
  return swept;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
