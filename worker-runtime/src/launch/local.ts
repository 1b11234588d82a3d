/**
 * `@kubeburst/worker-runtime/launch` — runs a flare on this machine, for tests and `kubeburst run`.
 * @module @kubeburst/worker-runtime/launch
 */
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import type { Writable } from 'node:stream';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors.js';
import { ENV } from '../pack/config.js';
import type { AbortInfo, WorkerReport } from '../communicator/messages.js';
import type { PackEvent, PackReport } from '../pack/reports.js';
import { addCounters, emptyCounters, type TrafficCounters } from '../communicator/stats.js';
import { handoffRecord } from '../security/handoff.js';
import { newSecret } from '../security/keys.js';
import { PackLayout } from '../topology.js';
import type { TransportKind } from '../transport/types.js';
import { cleanupBurst, LAUNCH_DIR_PREFIX, LAUNCHER_FILE, launcherRecord, sweepStaleLaunchDirs } from './cleanup.js';
import { longTimeout } from './timer.js';
import { mintNatsBurstUser, natsCredsFile, natsUserTtlSeconds, type NatsAccountKey } from '../transport/nats-users.js';
import { compileWorkerModule, isTypeScript } from '../module.js';

/** The pack's descriptors the launcher hands the flare secret and the NATS user's `.creds` on (socket pairs). */
const SECRET_FD = 4;
const CREDS_FD = 5;

/** Options of {@link runLocalFlare}. */
export interface LocalFlareOptions {
  /** Defaults to a fresh random id. */
  burstId?: string;
  size: number;
  /** Workers per pack (default: the whole burst in one pack). Ignored when packSizes is given. */
  granularity?: number;
  packSizes?: number[];
  /**
   * `urlSource`: where the URL came from, named in the packs' message when the broker cannot be reached.
   * `natsAccount` (nats only): an account key of a nats-server in operator mode; the flare then runs as a
   * NATS user of its own, limited to its subjects, valid until the flare's deadline plus a margin (a day
   * without one), as the operator does with brokers.natsAccount.
   */
  transport: { kind: TransportKind; url?: string; urlSource?: string; chunkBytes?: number; encryption?: boolean; natsAccount?: NatsAccountKey };
  /** Absolute path of the worker module. */
  modulePath: string;
  params?: { list: unknown[] } | { value: unknown };
  joinTimeoutMs?: number;
  /** The default `timeoutMs` of every blocking call of every worker (a call's own `{ timeoutMs }` wins). */
  operationTimeoutMs?: number;
  heartbeatMs?: number;
  heartbeatTimeoutMs?: number;
  /** Extra environment for every pack (e.g. KB_INLINE_MAX_BYTES). */
  env?: Record<string, string>;
  onEvent?: (e: PackEvent) => void;
  /** Called with each pack's process once it is spawned (tests use it to kill a pack). */
  onSpawn?: (pack: number, child: ChildProcess) => void;
  /**
   * The flare's deadline: past it every pack is told to abort (and killed if it does not end). Default
   * DEFAULT_LOCAL_DEADLINE_MS; 0 for none.
   */
  wallTimeoutMs?: number;
  /** After the first failure, packs still running this much later are killed (frozen). Default 10 s. */
  stopGraceMs?: number;
  /** Pack entrypoint (default: the compiled pack.js of this package). */
  packEntry?: string;
  /** Extra node flags for pack processes. */
  execArgv?: string[];
  /**
   * Where what workers print to standard output goes: this process's stdout (default), or its stderr, so
   * that stdout carries only what the caller writes there (`kubeburst run --json`).
   */
  workerStdout?: 'stdout' | 'stderr';
  /**
   * Tell the other packs at once when a pack process dies (default true). Off, they find out from its
   * missing heartbeats alone, as packs in a cluster do.
   */
  relayPackDeaths?: boolean;
  /** Delete the burst's broker keys after the packs exit (default true). */
  sweepBrokerKeys?: boolean;
}

/** A local flare ends after one hour unless its options say otherwise (`kubeburst run --deadline`). */
export const DEFAULT_LOCAL_DEADLINE_MS = 3_600_000;
const DEFAULT_STOP_GRACE_MS = 10_000;

export interface FlareResult {
  burstId: string;
  ok: boolean;
  layout: { size: number; packSizes: number[] };
  transport: TransportKind;
  /** Reports of the packs that produced one, by pack id. */
  packs: PackReport[];
  /** Every worker's report, by worker id (synthesized for packs that died without reporting). */
  workers: WorkerReport[];
  /** The first failure, if any: the worker (or pack) named by the abort. */
  failure?: AbortInfo;
  exitCodes: (number | null)[];
  wallMs: number;
  counters: TrafficCounters;
  /** Pack-side stderr of packs that failed (its last 64 KiB), for diagnostics. */
  stderr: Record<number, string>;
}

export function defaultPackEntry(): string {
  // Works from src (tests) and from dist: the entry is always the compiled dist/pack.js.
  const here = fileURLToPath(new URL('.', import.meta.url));
  const root = join(here, '..', '..');
  return join(root, 'dist', 'pack.js');
}

/**
 * Runs a flare on this machine: one child process per pack, each executing the same pack entrypoint a
 * pod runs (worker-runtime/dist/pack.js), so a local run exercises exactly the code a cluster runs.
 */
export async function runLocalFlare(o: LocalFlareOptions): Promise<FlareResult> {
  const layout = o.packSizes ? PackLayout.fromSizes(o.packSizes) : PackLayout.fromGranularity(o.size, o.granularity ?? o.size);
  if (layout.burstSize !== o.size) throw new ConfigError('packSizes', `add up to ${layout.burstSize}, but size is ${o.size}`);
  const burstId = o.burstId ?? `local-${randomBytes(6).toString('hex')}`;
  const entry = o.packEntry ?? defaultPackEntry();
  if (!existsSync(entry)) throw new ConfigError('packEntry', `${entry} does not exist: run \`npm run build\` first`);
  // What flares whose launcher and packs were all killed at once (SIGKILL to the group) left behind.
  sweepStaleLaunchDirs(tmpdir());
  const dir = mkdtempSync(join(tmpdir(), LAUNCH_DIR_PREFIX));
  writeFileSync(join(dir, LAUNCHER_FILE), launcherRecord());
  const started = Date.now();
  try {
    // The direct transport's local default: a Unix socket per pack in this flare's temp dir; the liveness
    // links always go that way.
    const transportUrl = o.transport.url || (o.transport.kind === 'direct' ? `unix://${join(dir, 'p{pack}.sock')}` : undefined);
    // A TypeScript module is compiled once here, not once per pack (or per thread): docs/workers.md.
    let compiled: string | undefined;
    if (isTypeScript(o.modulePath)) {
      compiled = join(dir, 'function.mjs');
      writeFileSync(compiled, await compileWorkerModule(o.modulePath));
    }
    const paramsFile = join(dir, 'params.json');
    writeFileSync(paramsFile, JSON.stringify(o.params ?? { value: null }));
    // The flare's secret (and the burst's NATS user) never touch the disk: the launcher writes each as one
    // record on a socket pair on the pack's descriptors SECRET_FD and CREDS_FD, and the pack reads it and
    // closes it (security/handoff.ts), so a flare killed whole leaves no key behind.
    const secret = newSecret();
    const deadline = o.wallTimeoutMs ?? DEFAULT_LOCAL_DEADLINE_MS;
    let creds: string | undefined;
    if (o.transport.natsAccount !== undefined) {
      if (o.transport.kind !== 'nats') throw new ConfigError('transport.natsAccount', `is for the nats transport only (transport.kind is ${o.transport.kind})`);
      const user = await mintNatsBurstUser(o.transport.natsAccount, burstId, {
        expiresInSeconds: natsUserTtlSeconds(deadline > 0 ? deadline / 1000 : undefined),
        field: 'transport.natsAccount',
      });
      creds = natsCredsFile(user);
    }
    const base: Record<string, string> = {
      [ENV.burstId]: burstId,
      [ENV.burstSize]: String(o.size),
      [ENV.packSizes]: layout.packSizes().join(','),
      [ENV.transport]: o.transport.kind,
      [ENV.function]: o.modulePath,
      ...(compiled !== undefined ? { [ENV.functionCompiled]: compiled } : {}),
      [ENV.paramsFile]: paramsFile,
      ...(layout.packCount > 1 ? { [ENV.secretFd]: String(SECRET_FD) } : {}),
      [ENV.linkUrl]: `unix://${join(dir, 'l{pack}.sock')}`,
      // A pack whose launcher dies removes this dir (nothing else would).
      [ENV.launchDir]: dir,
      ...(transportUrl ? { [ENV.transportUrl]: transportUrl } : {}),
      ...(o.transport.urlSource ? { [ENV.transportUrlSource]: o.transport.urlSource } : {}),
      ...(creds !== undefined ? { [ENV.transportCredsFd]: String(CREDS_FD) } : {}),
      ...(o.transport.chunkBytes ? { [ENV.chunkBytes]: String(o.transport.chunkBytes) } : {}),
      ...(o.transport.encryption ? { [ENV.transportEncrypt]: 'true' } : {}),
      ...(o.joinTimeoutMs ? { [ENV.joinTimeoutMs]: String(o.joinTimeoutMs) } : {}),
      ...(o.operationTimeoutMs ? { [ENV.operationTimeoutMs]: String(o.operationTimeoutMs) } : {}),
      ...(o.heartbeatMs ? { [ENV.heartbeatMs]: String(o.heartbeatMs) } : {}),
      ...(o.heartbeatTimeoutMs ? { [ENV.heartbeatTimeoutMs]: String(o.heartbeatTimeoutMs) } : {}),
      ...o.env,
    };
    const P = layout.packCount;
    // What each pack is handed, by descriptor: the secret when there are packs to prove it to, the .creds if any.
    const handoffs: Record<number, string> = {};
    if (P > 1) handoffs[SECRET_FD] = secret;
    if (creds !== undefined) handoffs[CREDS_FD] = creds;
    const relay = o.relayPackDeaths ?? true;
    const stderr: Record<number, string> = {};
    const children: ChildProcess[] = [];
    const alive = new Set<ChildProcess>();
    // Once the flare fails, every pack gets stopGraceMs to end by itself; one that has not (frozen,
    // stopped) is killed.
    let stopTimer: NodeJS.Timeout | undefined;
    const failing = (): void => {
      stopTimer ??= setTimeout(() => {
        for (const c of alive) c.kill('SIGKILL');
      }, o.stopGraceMs ?? DEFAULT_STOP_GRACE_MS);
    };
    const exits = Array.from({ length: P }, (_, p) => {
      const child = fork(entry, [], {
        env: { ...process.env, ...base, [ENV.packIndex]: String(p), [ENV.resultFile]: join(dir, `pack-${p}.json`) },
        stdio: [
          'ignore',
          o.workerStdout === 'stderr' ? 'pipe' : 'inherit',
          'pipe',
          'ipc',
          handoffs[SECRET_FD] !== undefined ? 'pipe' : 'ignore',
          handoffs[CREDS_FD] !== undefined ? 'pipe' : 'ignore',
        ],
        execArgv: o.execArgv ?? [],
      });
      // Far below a socket's buffer: the record is there as soon as the pack reads.
      for (const [fd, text] of Object.entries(handoffs)) {
        const pipe = (child.stdio as readonly unknown[])[Number(fd)] as Writable | null | undefined;
        pipe?.on('error', () => {}); // a pack that died first: its exit says why
        pipe?.end(handoffRecord(text));
      }
      children.push(child);
      alive.add(child);
      // A pack that goes away while we write to it (EPIPE on its IPC channel): its exit says what happened.
      child.on('error', () => {});
      child.stdout?.on('data', (d: Buffer) => process.stderr.write(d));
      // The last of it: where a pack printed much and then failed, its end says why.
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.length > 2 * STDERR_KEPT) err = err.slice(-STDERR_KEPT);
      });
      child.on('message', (e: PackEvent) => {
        if (e.event === 'aborting') failing();
        o.onEvent?.(e);
      });
      o.onSpawn?.(p, child);
      return new Promise<number | null>((resolve) => {
        child.on('exit', (code, signal) => {
          alive.delete(child);
          if (code !== 0) {
            stderr[p] = err.slice(-STDERR_KEPT) + (signal ? `\n(killed by ${signal})` : '');
            failing();
          }
          // A pack that dies without reporting (crash, kill) is news the other packs would otherwise only
          // learn from missing heartbeats: the launcher saw it happen, so it tells them at once.
          // A pack that exits failing without a report crashed (or was killed): the others hear it from
          // here at once. One that wrote its report has already told them why the burst failed.
          if (code !== 0 && relay && !existsSync(join(dir, `pack-${p}.json`))) {
            const info = { failedPack: p, reason: `pack ${p} process ${signal ? `was killed by ${signal}` : `exited with code ${code}`}` };
            for (const c of children) if (c !== child && c.connected) c.send({ type: 'abort', info }, undefined, {}, () => {});
          }
          resolve(code);
        });
      });
    });
    const wallTimer =
      deadline > 0
        ? longTimeout(() => {
            const info = { reason: `the flare ran past its deadline of ${deadline / 1000} s` };
            for (const c of alive) if (c.connected) c.send({ type: 'abort', info }, undefined, {}, () => {});
            failing();
          }, deadline)
        : undefined;
    const exitCodes = await Promise.all(exits);
    wallTimer?.cancel();
    if (stopTimer) clearTimeout(stopTimer);

    const packs: PackReport[] = [];
    for (let p = 0; p < P; p++) {
      const f = join(dir, `pack-${p}.json`);
      if (existsSync(f)) packs.push(JSON.parse(readFileSync(f, 'utf8')) as PackReport);
    }
    const workers: WorkerReport[] = [];
    const byWorker = new Map(packs.flatMap((r) => r.workers.map((w) => [w.workerId, w] as const)));
    for (let w = 0; w < o.size; w++) {
      const pack = layout.packOf(w);
      workers.push(
        byWorker.get(w) ?? {
          workerId: w,
          packId: pack,
          ok: false,
          error: { name: 'PackLostError', message: `pack ${pack} exited with ${exitCodes[pack] ?? 'a signal'} without reporting` },
          timings: { processStart: 0, loaded: 0, joined: 0, functionStart: 0, functionEnd: 0 },
          counters: emptyCounters(),
        },
      );
    }
    // The abort every surviving pack agrees on names the first failure; fall back to a dead pack.
    const failure =
      packs.find((r) => r.abort !== undefined)?.abort ??
      (exitCodes.some((c) => c !== 0) ? { failedPack: exitCodes.findIndex((c) => c !== 0), reason: 'pack process failed' } : undefined);
    // Packs delete what they created; this sweep catches packs that were killed (tests turn it off to
    // check the packs' own cleanup).
    if (o.sweepBrokerKeys ?? true) await cleanupBurst(o.transport.kind, o.transport.url, burstId).catch(() => 0);
    const ok = exitCodes.every((c) => c === 0) && workers.every((w) => w.ok);
    return {
      burstId,
      ok,
      layout: { size: o.size, packSizes: layout.packSizes() },
      transport: o.transport.kind,
      packs,
      workers,
      ...(failure !== undefined && !ok ? { failure } : {}),
      exitCodes,
      wallMs: Date.now() - started,
      counters: workers.reduce((a, w) => addCounters(a, w.counters), emptyCounters()),
      stderr,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Characters of a failed pack's stderr kept for its diagnostics: the last ones. */
const STDERR_KEPT = 64 * 1024;
