import { execSync } from 'node:child_process';
import { cpus, totalmem } from 'node:os';

/** What a benchmark ran on, recorded next to its numbers. */
export function machine(): Record<string, unknown> {
  let commit = 'unknown';
  try {
    commit = execSync('git rev-parse --short HEAD', { stdio: ['ignore', 'pipe', 'ignore'] })
      .toString()
      .trim();
  } catch {
    /* not a checkout */
  }
  return {
    date: new Date().toISOString(),
    commit,
    node: process.version,
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    nodeExtraCaCerts: process.env.NODE_EXTRA_CA_CERTS ? 'set (doubles Node process start, ≈80 vs 40 ms)' : 'unset',
  };
}
