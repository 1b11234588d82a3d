/**
 * What a CLI command touches of the outside world, passed in so commands run the same in tests and in
 * a terminal: output streams (and whether stderr is a terminal), the working directory, the clock.
 */
export interface CliIO {
  stdout: { write(s: string): unknown };
  stderr: { write(s: string): unknown; isTTY?: boolean; columns?: number };
  cwd: string;
  now(): number;
  /** Resolves when the user interrupts (Ctrl-C); commands may race it. */
  interrupted?: Promise<void>;
}

/** Exit codes: 0 success, 1 the flare (or the command's operation) failed, 2 bad usage or invalid input. */
export const EXIT = { ok: 0, failed: 1, usage: 2, interrupted: 130 } as const;

/** Bad command line or input file: printed as `kubeburst: <message>` and exits 2. */
export class CliUsageError extends Error {
  constructor(
    message: string,
    /** The command whose `--help` to point at. */
    readonly command?: string,
  ) {
    super(message);
    this.name = 'CliUsageError';
  }
}
