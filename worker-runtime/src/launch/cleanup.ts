import { closeSync, constants, existsSync, fstatSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync } from 'node:fs';
import { hostname } from 'node:os';
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

/** A flare's temp dir: `<tmpdir>/kubeburst-XXXXXX` (mkdtemp). */
export const LAUNCH_DIR_PREFIX = 'kubeburst-';

/** A flare's temp dir says which launcher made it here (see sweepStaleLaunchDirs). */
export const LAUNCHER_FILE = 'launcher.json';

/**
 * Who a process is, as a sweep can check it later: the pid, and when it started (so a reused pid is not
 * it), on which boot of which host, in which PID namespace (a pid means nothing in another: a container
 * with the same /tmp, another host on the same NFS). Fields this OS cannot say are ''.
 */
interface LauncherId {
  pid: number;
  start: string;
  boot: string;
  pidns: string;
  /** The time namespace: start times count from its boot, which another one may have moved. */
  timens: string;
  host: string;
}

/** This process's LauncherId, as JSON for LAUNCHER_FILE. */
export function launcherRecord(): string {
  return JSON.stringify(selfId());
}

function selfId(): LauncherId {
  return {
    pid: process.pid,
    start: startTimeOf(process.pid) ?? '',
    boot: readOr('/proc/sys/kernel/random/boot_id').trim(),
    pidns: linkOr('/proc/self/ns/pid'),
    timens: linkOr('/proc/self/ns/time'),
    host: hostname(),
  };
}

/**
 * Removes the temp dirs (`kubeburst-*` in `base`) of flares whose launcher is gone: a launcher and its packs
 * killed at once (SIGKILL to the process group) clean nothing up; one killed alone has its packs remove the
 * dir. Only a real directory (not a link) of this user's, mode 0700 as mkdtemp makes it, whose launcher
 * file is a small regular file naming a launcher on this host, boot, PID and time namespace that no longer
 * runs (no process with its pid, or one whose start time, read, differs). Anything else is left alone: a
 * process alive whose start time cannot be read (`hidepid`, too many open files) is taken to be the
 * launcher. A sweep never removes a live flare's dir, and never blocks (the launcher file is opened without
 * following links and without waiting). Dirs of an earlier boot or another host are not judged at all.
 * Returns how many went.
 */
export function sweepStaleLaunchDirs(base: string): number {
  let names: string[];
  try {
    names = readdirSync(base).filter((n) => n.startsWith(LAUNCH_DIR_PREFIX));
  } catch {
    return 0;
  }
  const me = selfId();
  const uid = process.getuid?.();
  let swept = 0;
  for (const name of names) {
    const dir = join(base, name);
    try {
      const st = lstatSync(dir);
      if (!st.isDirectory() || (uid !== undefined && st.uid !== uid) || (st.mode & 0o077) !== 0) continue;
      const id = readLauncherFile(join(dir, LAUNCHER_FILE));
      if (id === undefined || id.host !== me.host || id.boot !== me.boot || id.pidns !== me.pidns || id.timens !== me.timens) continue;
      if (alive(id.pid)) {
        // Alive: gone only if that pid is now provably another process (a start time read, and different).
        const start = startTimeOf(id.pid);
        if (start === undefined || id.start === '' || start === id.start) continue;
      }
      rmSync(dir, { recursive: true, force: true });
      swept++;
    } catch {
      // Gone meanwhile, or not ours to judge: left alone.
    }
  }
  return swept;
}

function readLauncherFile(path: string): LauncherId | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch {
    return undefined; // none (yet, or a dir from before launcher files): left alone
  }
  try {
    const st = fstatSync(fd);
    if (!st.isFile() || st.size > 4096) return undefined;
    const buf = Buffer.alloc(st.size);
    const n = readSync(fd, buf, 0, st.size, 0);
    const v = JSON.parse(buf.subarray(0, n).toString('utf8')) as Partial<LauncherId>;
    if (!Number.isInteger(v.pid) || v.pid! <= 0) return undefined;
    return { pid: v.pid!, start: String(v.start ?? ''), boot: String(v.boot ?? ''), pidns: String(v.pidns ?? ''), timens: String(v.timens ?? ''), host: String(v.host ?? '') };
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/**
 * When process `pid` started, in clock ticks since boot (field 22 of /proc/<pid>/stat); '' where there is no
 * /proc (not Linux), undefined where it cannot be read (hidden by hidepid, no descriptor left).
 */
function startTimeOf(pid: number): string | undefined {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' && !existsSync('/proc/self/stat') ? '' : undefined;
  }
  // The command name (field 2) may hold spaces and parentheses: fields count from after its last ')'.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

function linkOr(path: string): string {
  try {
    return readlinkSync(path);
  } catch {
    return '';
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
