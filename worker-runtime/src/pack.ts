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
 *
 * SIGTERM or SIGINT (a pod being deleted, the launcher stopping the flare) aborts the burst and the pack
 * ends as it does on any abort, report included; a second signal exits at once. A pack started by a
 * launcher over IPC aborts when the launcher goes away (it was killed): no pack outlives its CLI. The pack
 * exits once it has reported, whatever client socket may still linger.
 * @module
 */
import { runPackProcess } from './pack/process.js';

runPackProcess();
