import type { Command } from './command.js';
import { initCommand } from './init.js';
import { runCommand } from './run.js';
import { validateCommand } from './validate.js';

export type { Command } from './command.js';

/** One entry per `kubeburst <command>`; the cluster commands (submit, status, results) join this table. */
export const COMMANDS: readonly Command[] = [runCommand, validateCommand, initCommand];
