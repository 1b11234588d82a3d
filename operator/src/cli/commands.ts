import type { CliIO } from './io.js';
import { runCommand } from './run.js';
import { validateCommand } from './validate.js';
import { logsCommand, resultsCommand, statusCommand } from './cluster/index.js';

/**
 * One entry per `kubeburst <command>`. The cluster commands (submit, status, results) join this table:
 * a command parses its own arguments (node:util parseArgs), returns an exit code (see EXIT), and throws
 * CliUsageError for bad input, which the dispatcher prints with a pointer to `kubeburst <command> --help`.
 */
export interface Command {
  name: string;
  /** One line for `kubeburst --help`. */
  summary: string;
  /** Full `kubeburst <name> --help` text. */
  help: string;
  run(args: string[], io: CliIO): Promise<number>;
}

export const COMMANDS: readonly Command[] = [runCommand, validateCommand, statusCommand, resultsCommand, logsCommand];
