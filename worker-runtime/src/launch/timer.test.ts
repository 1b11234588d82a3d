import { jest } from '@jest/globals';
import { longTimeout } from './timer.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('longTimeout: the local flare deadline', () => {
  it('waits out a deadline past what one Node timer holds (a plain setTimeout of it fires at once)', async () => {
    const fired = jest.fn();
    const t = longTimeout(fired, 3_000_000 * 1000); // spec.activeDeadlineSeconds: 3000000
    await sleep(50);
    expect(fired).not.toHaveBeenCalled();
    t.cancel();
  });

  it('fires when due, and not after a cancel', async () => {
    const fired = jest.fn();
    longTimeout(fired, 5);
    const cancelled = jest.fn();
    longTimeout(cancelled, 5).cancel();
    await sleep(50);
    expect(fired).toHaveBeenCalledTimes(1);
    expect(cancelled).not.toHaveBeenCalled();
  });

  it('sets timer after timer until the deadline, then fires once', () => {
    jest.useFakeTimers();
    try {
      const fired = jest.fn();
      const ms = 2 ** 31 * 2.5;
      longTimeout(fired, ms);
      jest.advanceTimersByTime(ms - 1);
      expect(fired).not.toHaveBeenCalled();
      jest.advanceTimersByTime(1);
      expect(fired).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
    }
  });
});
