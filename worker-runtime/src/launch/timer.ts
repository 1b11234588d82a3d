/** Node's timers hold at most 2^31 - 1 ms (about 24.8 days); a longer one fires at once. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * `fn` after `ms`, however long (spec.activeDeadlineSeconds allows a year): past what one timer holds, a
 * timer that sets the next. Counted on the monotonic clock, so a wall-clock step moves nothing.
 */
export function longTimeout(fn: () => void, ms: number): { cancel(): void } {
  const due = performance.now() + ms;
  let timer: NodeJS.Timeout;
  const arm = (): void => {
    const left = due - performance.now();
    timer = left > MAX_TIMER_MS ? setTimeout(arm, MAX_TIMER_MS) : setTimeout(fn, Math.max(0, left));
  };
  arm();
  return { cancel: () => clearTimeout(timer) };
}
