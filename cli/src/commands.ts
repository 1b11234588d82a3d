import type { Command } from './command.js';
import { initCommand } from './init.js';
import { runCommand } from './run.js';
import { validateCommand } from './validate.js';
import { logsCommand, resultsCommand, statusCommand } from './cluster/index.js';

export type { Command } from './command.js';

/** One entry per `kubeburst <command>`: local ones (run, validate, init), then those against a cluster. */
export const COMMANDS: readonly Command[] = [runCommand, validateCommand, initCommand, statusCommand, resultsCommand, logsCommand];
