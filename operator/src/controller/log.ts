import { redactText } from '@kubeburst/worker-runtime';

/**
 * Structured JSON logs, one object per line on stderr: `{"ts","level","msg",...fields}`.
 * `child(fields)` adds context (controller, BurstJob key) to every line it writes.
 * Every string of a line (message, fields) is redacted: an error may quote a broker URL or a pod's
 * termination message, and neither may carry a password out.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class Logger {
  constructor(
    private readonly level: Level = 'info',
    private readonly fields: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
    /** Exact strings masked wherever they appear (the operator's own credentials). */
    private readonly secrets: readonly string[] = [],
  ) {}

  /** `text` as this logger would write it: for what goes elsewhere (Events, status), with the same secrets. */
  redact(text: string): string {
    return redactText(text, this.secrets);
  }

  /** `redact`, for text someone else may have cut (a pod's termination message or log tail): a secret cut at either end is masked too. */
  redactCut(text: string): string {
    return redactText(text, this.secrets, { cut: true });
  }

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.level, { ...this.fields, ...fields }, this.write, this.secrets);
  }

  debug(msg: string, fields?: Record<string, unknown>): void {
    this.log('debug', msg, fields);
  }
  info(msg: string, fields?: Record<string, unknown>): void {
    this.log('info', msg, fields);
  }
  warn(msg: string, fields?: Record<string, unknown>): void {
    this.log('warn', msg, fields);
  }
  error(msg: string, fields?: Record<string, unknown>): void {
    this.log('error', msg, fields);
  }

  private log(level: Level, msg: string, fields: Record<string, unknown> = {}): void {
    if (ORDER[level] < ORDER[this.level]) return;
    const line = JSON.stringify({ ts: new Date().toISOString(), level, msg, ...this.fields, ...fields }, (_k, v: unknown) =>
      typeof v === 'string' ? redactText(v, this.secrets) : v,
    );
    this.write(line + '\n');
  }
}
