import type { AbortInfo, PackEvent } from '@kubeburst/worker-runtime';

/**
 * Progress of a local flare, from the packs' events: on a terminal one line redrawn in place, otherwise
 * plain lines at milestones (every pack started, every pack joined, each tenth of the workers finished,
 * any failure), so CI logs stay short whatever the burst size.
 */
export interface ProgressCounts {
  packs: number;
  workers: number;
  started: number;
  joined: number;
  finished: number;
  failed: number;
  abort?: AbortInfo;
}

export type ProgressMode = 'tty' | 'plain' | 'off';

export class Progress {
  private readonly started = new Set<number>();
  private readonly joined = new Set<number>();
  private readonly finished = new Set<number>();
  private failed = 0;
  private abort: AbortInfo | undefined;
  private lastDraw = 0;
  private drawn = false;
  private nextWorkerMilestone: number;
  private readonly step: number;
  private ticker: NodeJS.Timeout | undefined;

  constructor(
    private readonly total: { packs: number; workers: number },
    private readonly out: { write(s: string): unknown; columns?: number },
    private readonly mode: ProgressMode,
    private readonly now: () => number,
    private readonly t0: number,
  ) {
    this.step = Math.max(1, Math.ceil(total.workers / 10));
    this.nextWorkerMilestone = Math.min(this.step, total.workers);
    if (mode === 'tty') {
      // Keep the elapsed time moving while nothing happens; never keeps the process alive.
      this.ticker = setInterval(() => this.draw(true), 250);
      this.ticker.unref();
    }
  }

  counts(): ProgressCounts {
    return {
      packs: this.total.packs,
      workers: this.total.workers,
      started: this.started.size,
      joined: this.joined.size,
      finished: this.finished.size,
      failed: this.failed,
      ...(this.abort ? { abort: this.abort } : {}),
    };
  }

  onEvent(e: PackEvent): void {
    switch (e.event) {
      case 'started':
        this.started.add(e.pack);
        if (this.started.size === this.total.packs) this.line(`packs started ${this.started.size}/${this.total.packs}`);
        break;
      case 'connected':
        break;
      case 'joined':
        this.joined.add(e.pack);
        if (this.joined.size === this.total.packs) this.line(`packs joined ${this.joined.size}/${this.total.packs} (start barrier passed)`);
        break;
      case 'worker-done':
        if (this.finished.has(e.worker)) break;
        this.finished.add(e.worker);
        if (!e.ok) {
          this.failed++;
          if (this.failed <= 5) this.line(`worker ${e.worker} (pack ${e.pack}) failed`);
        }
        if (this.finished.size >= this.nextWorkerMilestone) {
          this.line(`workers finished ${this.finished.size}/${this.total.workers}${this.failed ? ` (${this.failed} failed)` : ''}`);
          // The next tenth above what has finished; the last milestone is the total.
          const next = (Math.floor(this.finished.size / this.step) + 1) * this.step;
          this.nextWorkerMilestone = this.finished.size >= this.total.workers ? Infinity : Math.min(next, this.total.workers);
        }
        break;
      case 'aborting':
        if (this.abort === undefined) {
          this.abort = e.info;
          this.line(`aborting: ${who(e.info)} failed: ${e.info.reason}`);
        }
        break;
    }
    this.draw(false);
  }

  /** Ends the display: on a terminal the live line is replaced by its final state. */
  finish(): void {
    if (this.ticker) clearInterval(this.ticker);
    if (this.mode === 'tty' && this.drawn) this.out.write(`\r\x1b[2K${this.statusLine()}\n`);
  }

  /** The live line: `[1.2s] packs 4/4 started, 4/4 joined | workers 10/16 finished (1 failed)`. */
  statusLine(): string {
    const c = this.counts();
    const workers = `workers ${c.finished}/${c.workers} finished${c.failed ? ` (${c.failed} failed)` : ''}`;
    return `${stamp(this.now() - this.t0)} packs ${c.started}/${c.packs} started, ${c.joined}/${c.packs} joined | ${workers}${c.abort ? ' | aborting' : ''}`;
  }

  private line(text: string): void {
    if (this.mode !== 'plain') return;
    this.out.write(`${stamp(this.now() - this.t0)} ${text}\n`);
  }

  private draw(tick: boolean): void {
    if (this.mode !== 'tty') return;
    const now = this.now();
    // Redraw at most 20 times a second (events can come by the hundred).
    if (!tick && now - this.lastDraw < 50) return;
    this.lastDraw = now;
    // A terminal of unknown size (0 columns, e.g. under script(1)) gets the whole line.
    const width = Math.max(20, (this.out.columns || 200) - 1);
    this.out.write(`\r\x1b[2K${this.statusLine().slice(0, width)}`);
    this.drawn = true;
  }
}

export function stamp(ms: number): string {
  return `[${(ms / 1000).toFixed(2).padStart(6)}s]`;
}

function who(info: AbortInfo): string {
  return info.failedWorker !== undefined ? `worker ${info.failedWorker}${info.failedPack !== undefined ? ` (pack ${info.failedPack})` : ''}` : `pack ${info.failedPack ?? '?'}`;
}
