/**
 * The pack process around runPack: its configuration from the environment, signals, the launcher's IPC,
 * redaction of everything it writes, its report and exit code. `pack.ts` is the entrypoint that runs it.
 * @module
 */
import { rmSync, writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describeError, KubeburstError } from '../errors.js';
import { ENV, packConfigFromEnv } from './config.js';
import { compileWorkerModule, isTypeScript, moduleDataUrl } from '../module.js';
import { redactText, urlSecrets } from '../redact.js';
import { runPack, type RunPackOptions } from './run-pack.js';
import type { PackEvent } from './reports.js';
import type { AbortInfo } from '../communicator/messages.js';
import { writeTerminationReport } from './termination.js';
import { receiveHandoff } from '../security/handoff.js';
import '../transport/register-direct.js';

// performance.timeOrigin is when this process started, before module loading.
const processStart = Math.round(performance.timeOrigin);

/**
 * The broker's credentials (the URL's, a burst user's password, a NATS user's seed once its file is read):
 * masked in everything a pack writes.
 */
function secrets(): string[] {
  return [...urlSecrets(process.env[ENV.transportUrl]), ...fileSecrets];
}
let fileSecrets: string[] = [];

/** `v` with every string redacted (redact.ts). */
function redacted<T>(v: T): T {
  const s = secrets();
  return JSON.parse(JSON.stringify(v, (_k, x: unknown) => (typeof x === 'string' ? redactText(x, s) : x))) as T;
}

/** Every line, message and fields, redacted. */
function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  const s = secrets();
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }, (_k, v: unknown) => (typeof v === 'string' ? redactText(v, s) : v));
  process.stderr.write(line + '\n');
}

async function main(options: PackProcessOptions): Promise<number> {
  let cfg;
  try {
    // Secrets a local launcher hands over on descriptors: received within a deadline, before the
    // configuration reads them (security/handoff.ts).
    for (const name of [ENV.secretFd, ENV.transportCredsFd]) {
      const fd = process.env[name];
      if (fd !== undefined && fd !== '') await receiveHandoff(fd, name);
    }
    cfg = packConfigFromEnv();
    // Read from files: the burst user's password (now in the URL) and NATS user's seed.
    fileSecrets = [...urlSecrets(cfg.transport.url), ...(cfg.transport.natsUser !== undefined ? [cfg.transport.natsUser.seed] : [])];
    // A TypeScript module no launcher compiled (a pod): compiled here, once for the pack's threads.
    if (cfg.moduleUrl === undefined && isTypeScript(cfg.modulePath)) cfg = { ...cfg, moduleUrl: moduleDataUrl(await compileWorkerModule(cfg.modulePath)) };
  } catch (err) {
    log('error', `invalid pack configuration: ${describeError(err)}`);
    return 2;
  }
  const onEvent = (e: PackEvent): void => {
    // After the launcher went away the channel is closed: a send would throw (and crash the pack).
    if (process.send !== undefined) {
      if (process.connected) process.send(e, undefined, {}, () => {});
    } else log(e.event === 'aborting' ? 'error' : 'info', e.event, { ...e });
  };
  // A launcher that forked this pack may tell it that another pack died (it saw the process exit).
  const external = new AbortController();
  process.on('message', (m: { type?: string; info?: AbortInfo }) => {
    if (m?.type === 'abort' && m.info !== undefined) external.abort(m.info);
  });
  let signals = 0;
  for (const sig of ['SIGTERM', 'SIGINT'] as const) {
    process.on(sig, () => {
      if (signals++ > 0) process.exit(sig === 'SIGTERM' ? 143 : 130);
      external.abort({ failedPack: cfg.packId, reason: `pack ${cfg.packId} was stopped by ${sig} (its pod is being deleted, or its launcher stopped the flare)` });
    });
  }
  if (process.send !== undefined) {
    process.once('disconnect', () => {
      if (leaving) return; // our own goodbye at exit
      orphaned = true;
      // Nobody is left to clean up after the flare: the packs do it (whichever gets there first), and the
      // pack itself ends: its report has no reader any more.
      if (cfg.launchDir !== undefined) process.once('exit', () => rmSync(cfg.launchDir!, { recursive: true, force: true }));
      external.abort({ failedPack: cfg.packId, reason: `pack ${cfg.packId} lost its launcher (the kubeburst process that started it went away)` });
    });
  }
  const report = await runPack(cfg, { ...options, processStart, onEvent, signal: external.signal, log: (level, msg, fields) => log(level, msg, fields) });
  // The report's texts (abort reasons, worker errors) may quote the broker URL: redacted before they reach a
  // result file or the pod's termination message (results are the workers' own business).
  const clean = { ...report, ...(report.abort ? { abort: redacted(report.abort) } : {}), workers: report.workers.map((w) => (w.error ? { ...w, error: redacted(w.error) } : w)) };
  const json = JSON.stringify(clean);
  if (cfg.resultFile !== undefined) writeFileSync(cfg.resultFile, json);
  else process.stdout.write(json + '\n');
  // In a pod: a compact report in the termination message, where the operator reads results and failures.
  if (cfg.terminationLog !== undefined) writeTerminationReport(cfg.terminationLog, clean, cfg.layout.packRange(cfg.packId).start);
  if (orphaned && cfg.launchDir !== undefined) rmSync(cfg.launchDir, { recursive: true, force: true });
  return report.ok ? 0 : 1;
}

/** Set when the pack disconnects from its launcher on purpose; a disconnect otherwise means it died. */
let leaving = false;
let orphaned = false;

/** What a custom pack entrypoint may change; `node dist/pack.js` uses none of it. */
export type PackProcessOptions = Pick<RunPackOptions, 'sealBrokerFrames'>;

/**
 * Runs this process as a pack: configuration from the environment, the report, the exit code. The whole
 * of `dist/pack.js`; a benchmark entrypoint calls it with options of its own.
 */
export function runPackProcess(options: PackProcessOptions = {}): void {
  // A launcher that died leaves our stderr/stdout pipes without a reader: a write must not crash the pack
  // before it has aborted and cleaned up.
  process.stdout.on('error', () => {});
  process.stderr.on('error', () => {});
  main(options).then(
    (code) => {
      process.exitCode = code;
      // Disconnect IPC so the process can exit once stdout drains; whatever else still holds the event loop
      // (a broker client's socket) gets a moment, then the pack exits anyway: it has reported.
      leaving = true;
      if (process.connected) process.disconnect();
      setTimeout(() => process.exit(code), 1_000).unref();
      setImmediate(() => process.stdout.write('', () => process.exit(code)));
    },
    (err: unknown) => {
      log('error', `pack crashed: ${err instanceof KubeburstError ? err.message : describeError(err)}`);
      process.exit(1);
    },
  );
}
