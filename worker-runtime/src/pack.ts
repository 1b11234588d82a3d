#!/usr/bin/env node
/**
 * The pack entrypoint: what a pod (or `kubeburst run`, once per pack) executes.
 *
 *   KB_BURST_ID=… KB_BURST_SIZE=16 KB_GRANULARITY=4 KB_PACK_INDEX=2 KB_TRANSPORT=redis \
 *   KB_FUNCTION=/app/worker.js node worker-runtime/dist/pack.js
 *
 * Exit code 0 when every worker of the burst succeeded, 1 when the burst failed, 2 on bad configuration.
 * The report (per-worker results, timestamps, traffic) goes to KB_RESULT_FILE, or to stdout as one JSON line.
 * Progress events go to the parent over IPC when there is one, else to stderr as JSON log lines.
 */
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { describeError, KubeburstError } from './errors.js';
import { packConfigFromEnv } from './pack/config.js';
import { runPack, type PackEvent } from './pack/run-pack.js';
import type { AbortInfo } from './pack/messages.js';
import { writeTerminationReport } from './pack/termination.js';
import './transport/register-direct.js';

// performance.timeOrigin is when this process started, before module loading.
const processStart = Math.round(performance.timeOrigin);

function log(level: string, msg: string, fields: Record<string, unknown> = {}): void {
  process.stderr.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...fields }) + '\n');
}

async function main(): Promise<number> {
  let cfg;
  try {
    cfg = packConfigFromEnv();
  } catch (err) {
    log('error', `invalid pack configuration: ${describeError(err)}`);
    return 2;
  }
  const onEvent = (e: PackEvent): void => {
    if (process.send !== undefined) process.send(e);
    else log(e.event === 'aborting' ? 'error' : 'info', e.event, { ...e });
  };
  // A launcher that forked this pack may tell it that another pack died (it saw the process exit).
  const external = new AbortController();
  process.on('message', (m: { type?: string; info?: AbortInfo }) => {
    if (m?.type === 'abort' && m.info !== undefined) external.abort(m.info);
  });
  const report = await runPack(cfg, { processStart, onEvent, signal: external.signal, log: (level, msg, fields) => log(level, msg, fields) });
  const json = JSON.stringify(report);
  if (cfg.resultFile !== undefined) writeFileSync(cfg.resultFile, json);
  else process.stdout.write(json + '\n');
  // In a pod: a compact report in the termination message, where the operator reads results and failures.
  if (cfg.terminationLog !== undefined) writeTerminationReport(cfg.terminationLog, report, cfg.layout.packRange(cfg.packId).start);
  return report.ok ? 0 : 1;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Disconnect IPC so the process can exit once stdout drains.
    process.disconnect?.();
  },
  (err: unknown) => {
    log('error', `pack crashed: ${err instanceof KubeburstError ? err.message : describeError(err)}`);
    process.exit(1);
  },
);
