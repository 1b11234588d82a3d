#!/usr/bin/env node
/**
 * The `kubeburst` command (package.json bin → cli/bin/kubeburst.js → cli/dist/main.js). See `kubeburst --help`.
 * @module
 */
import { redactText } from '@kubeburst/worker-runtime';
import { runCli } from './cli.js';
import type { CliIO } from './io.js';

const interrupted = new Promise<void>((resolve) => {
  // The first Ctrl-C reaches the pack processes too (same process group); we report and exit 130.
  process.once('SIGINT', () => resolve());
  process.once('SIGTERM', () => resolve());
});

const io: CliIO = {
  stdout: process.stdout,
  stderr: process.stderr,
  cwd: process.cwd(),
  now: () => Date.now(),
  interrupted,
};

runCli(process.argv.slice(2), io).then(
  (code) => {
    process.exitCode = code;
    // Nothing else should keep the process alive once the command is done.
    process.stdout.write('', () => process.exit(code));
  },
  (err: unknown) => {
    process.stderr.write(`kubeburst: internal error: ${redactText(err instanceof Error ? (err.stack ?? err.message) : String(err))}\n`);
    process.exit(EXIT_INTERNAL);
  },
);

const EXIT_INTERNAL = 70;
