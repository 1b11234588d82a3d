import { totalmem } from 'node:os';

/**
 * The memory this process may use: its cgroup's limit (a container's), else the machine's. What the relay
 * bounds partial messages by and `kubeburst run` checks a local flare against.
 */
export function memoryHere(limit = process.constrainedMemory(), machine = totalmem()): number {
  // Node 20 says 0 or 2^64 where no limit is known.
  return Math.min(machine, limit > 0 ? limit : Infinity);
}
