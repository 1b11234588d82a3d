import { readFileSync } from 'node:fs';

/**
 * CPU time used on the machine by processes other than this one and its children, from /proc (Linux).
 * The flare's packs are this process's children: once they exit and are reaped, their CPU time shows in
 * this process's cutime/cstime. What remains of the machine's busy time is other work (brokers included).
 */
export interface CpuSnapshot {
  machineBusy: number;
  ours: number;
}

const TICKS_PER_SECOND = 100; // USER_HZ on Linux

export function cpuSnapshot(): CpuSnapshot | undefined {
  try {
    const cpu = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal: busy is everything but idle and iowait.
    const [user, nice, system, , , irq, softirq, steal] = cpu as number[];
    const self = readFileSync('/proc/self/stat', 'utf8');
    // Fields after the command name (which may contain spaces): state is field 3; utime..cstime are 14..17.
    const rest = self
      .slice(self.lastIndexOf(')') + 2)
      .split(' ')
      .map(Number);
    const ours = rest[11]! + rest[12]! + rest[13]! + rest[14]!;
    return { machineBusy: user! + nice! + system! + irq! + softirq! + (steal ?? 0), ours };
  } catch {
    return undefined;
  }
}

/** Average number of cores other processes kept busy between two snapshots `wallMs` apart (NaN off Linux). */
export function otherCores(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined, wallMs: number): number {
  if (before === undefined || after === undefined || wallMs <= 0) return Number.NaN;
  const other = after.machineBusy - before.machineBusy - (after.ours - before.ours);
  return Math.max(0, other / TICKS_PER_SECOND / (wallMs / 1000));
}

/** CPU seconds this process and its reaped children (the flare's packs) used between two snapshots. */
export function oursSeconds(before: CpuSnapshot | undefined, after: CpuSnapshot | undefined): number {
  if (before === undefined || after === undefined) return Number.NaN;
  return (after.ours - before.ours) / TICKS_PER_SECOND;
}
