import { performance } from 'node:perf_hooks';

/** Wall-clock time per named phase of a worker (ms), in the order the phases first ran. */
export type Phases = Record<string, number>;

/** Accumulates time per phase; `run` may be called several times for the same phase (the times add up). */
export class PhaseClock {
  readonly phases: Phases = {};

  async run<T>(name: string, body: () => Promise<T> | T): Promise<T> {
    const t0 = performance.now();
    try {
      return await body();
    } finally {
      this.phases[name] = (this.phases[name] ?? 0) + (performance.now() - t0);
    }
  }
}
