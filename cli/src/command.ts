import type { CliIO } from './io.js';

/**
 * One `kubeburst <command>`. A command parses its own arguments (node:util parseArgs), returns an exit
 * code (see EXIT), and throws CliUsageError for bad input, which the dispatcher prints with a pointer to
 * `kubeburst <command> --help`. The table of commands (commands.ts) imports the commands, never the reverse.
 */
export interface Command {
  name: string;
  /** One line for `kubeburst --help`. */
  summary: string;
  /** Full `kubeburst <name> --help` text. */
  help: string;
  run(args: string[], io: CliIO): Promise<number>;
}
