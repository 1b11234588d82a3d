/**
 * Structured JSON logs, one object per line on stderr: `{"ts","level","msg",...fields}`.
 * `child(fields)` adds context (controller, BurstJob key) to every line it writes.
 */
export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export class Logger {
  constructor(
    private readonly level: Level = 'info',
    private readonly fields: Record<string, unknown> = {},
    private readonly write: (line: string) => void = (l) => process.stderr.write(l),
  ) {}

  child(fields: Record<string, unknown>): Logger {
    return new Logger(this.level, { ...this.fields, ...fields }, this.write);
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
    this.write(JSON.stringify({ ts: new Date().toISOString(), level, msg, ...this.fields, ...fields }) + '\n');
  }
}
