import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/**
 * Small Linux /proc readers for benchmarks that count what a run left behind (processes, file
 * descriptors, sockets) and how busy the machine was. Every reader tolerates processes that vanish while
 * it looks (a pid listed by readdir may be gone by the time its files are read).
 */

/** Every numeric entry of /proc. */
export function pids(): number[] {
  return readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

/** `/proc/<pid>/cmdline` with NULs as spaces, or undefined when the process is gone. */
export function cmdline(pid: number): string | undefined {
  const s = read(`/proc/${pid}/cmdline`);
  return s === undefined ? undefined : s.replace(/\0+$/, '').replaceAll('\0', ' ');
}

/** A process's environment (readable for our own user's processes), or undefined. */
export function environ(pid: number): Map<string, string> | undefined {
  const s = read(`/proc/${pid}/environ`);
  if (s === undefined) return undefined;
  const m = new Map<string, string>();
  for (const kv of s.split('\0')) {
    const i = kv.indexOf('=');
    if (i > 0) m.set(kv.slice(0, i), kv.slice(i + 1));
  }
  return m;
}

export interface ProcStat {
  pid: number;
  /** R running, S sleeping, Z zombie, … */
  state: string;
  ppid: number;
  /** CPU seconds in user + kernel mode. */
  cpuSeconds: number;
  nice: number;
}

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ is 100 on every Linux ABI Node runs on). */
const HZ = 100;

export function stat(pid: number): ProcStat | undefined {
  const s = read(`/proc/${pid}/stat`);
  if (s === undefined) return undefined;
  // The command name (field 2) is in parentheses and may contain spaces: fields start after the last ')'.
  const f = s.slice(s.lastIndexOf(')') + 2).split(' ');
  return { pid, state: f[0]!, ppid: Number(f[1]), cpuSeconds: (Number(f[11]) + Number(f[12])) / HZ, nice: Number(f[16]) };
}

/** The one process whose command name (/proc/<pid>/comm) is `name`, or undefined if there is none or several. */
export function onlyProcessNamed(name: string): number | undefined {
  const found = pids().filter((pid) => read(`/proc/${pid}/comm`)?.trim() === name);
  return found.length === 1 ? found[0] : undefined;
}

/** Resident memory of a process in bytes, or 0 when it is gone. */
export function rssBytes(pid: number): number {
  const s = read(`/proc/${pid}/statm`);
  return s === undefined ? 0 : Number(s.split(' ')[1]) * 4096;
}

export function alive(pid: number): boolean {
  const st = stat(pid);
  return st !== undefined && st.state !== 'Z' && st.state !== 'X';
}

/** Processes whose environment has `key=value` (e.g. a run marker every process of a run inherits). */
export function processesWithEnv(key: string, value: string): { pid: number; cmdline: string; state: string }[] {
  const out: { pid: number; cmdline: string; state: string }[] = [];
  for (const pid of pids()) {
    if (pid === process.pid) continue;
    if (environ(pid)?.get(key) !== value) continue;
    out.push({ pid, cmdline: cmdline(pid) ?? '?', state: stat(pid)?.state ?? '?' });
  }
  return out;
}

/** Direct children of a process (by the ppid field of every /proc/<pid>/stat). */
export function childrenOf(parent: number): ProcStat[] {
  const out: ProcStat[] = [];
  for (const pid of pids()) {
    const st = stat(pid);
    if (st?.ppid === parent) out.push(st);
  }
  return out;
}

/** This process's open file descriptors with what each points at (`socket:[123]`, `pipe:[456]`, a path…). */
export function openFds(pid: number | 'self' = 'self'): { fd: number; target: string }[] {
  const dir = `/proc/${pid}/fd`;
  const out: { fd: number; target: string }[] = [];
  for (const e of readdirSync(dir)) {
    try {
      out.push({ fd: Number(e), target: readlinkSync(`${dir}/${e}`) });
    } catch {
      /* closed while we looked (e.g. the fd readdir itself used) */
    }
  }
  return out;
}

/** What kind of thing an fd target is: socket, pipe, anon_inode:[eventpoll], /dev/null, file. */
export function fdKind(target: string): string {
  if (target.startsWith('socket:')) return 'socket';
  if (target.startsWith('pipe:')) return 'pipe';
  if (target.startsWith('anon_inode:')) return target;
  if (target.startsWith('/dev/')) return target;
  return 'file';
}

/** Aggregate CPU time of the machine from /proc/stat: busy and total jiffies since boot. */
export function machineCpu(): { busy: number; total: number } {
  const line = read('/proc/stat')!.split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice: guest time is already in user/nice.
  const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
  const idle = v[3]! + v[4]!;
  return { busy: total - idle, total };
}

/**
 * TCP sockets in ESTABLISHED state whose local port is `port`, from /proc/net/tcp and tcp6: for a server
 * on this machine, its client connections (whoever the clients are).
 */
export function establishedOnLocalPort(port: number): number {
  let n = 0;
  for (const f of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const s = read(f);
    if (s === undefined) continue;
    for (const line of s.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      if (cols.length < 4) continue;
      const local = cols[1]!;
      if (parseInt(local.slice(local.lastIndexOf(':') + 1), 16) === port && cols[3] === '01') n++;
    }
  }
  return n;
}
