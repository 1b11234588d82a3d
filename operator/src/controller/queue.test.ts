import { WorkQueue } from './queue.js';

describe('work queue', () => {
  it('holds a key once, however often it is added', async () => {
    const q = new WorkQueue();
    q.add('a');
    q.add('b');
    q.add('a');
    expect(q.depth).toBe(2);
    expect([await q.get(), await q.get()]).toEqual(['a', 'b']);
  });

  it('never hands out a key being processed; a key added meanwhile comes back after done', async () => {
    const q = new WorkQueue();
    q.add('a');
    const k = await q.get();
    q.add('a');
    expect(q.depth).toBe(0);
    q.done(k!);
    expect(await q.get()).toBe('a');
  });

  it('backs off per key exponentially until forgotten', () => {
    const q = new WorkQueue(100, 1000);
    expect([q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a'), q.addRateLimited('a')]).toEqual([100, 200, 400, 800, 1000]);
    expect(q.addRateLimited('b')).toBe(100);
    q.forget('a');
    expect(q.addRateLimited('a')).toBe(100);
    q.shutdown();
  });

  it('runs delayed keys later, keeping the earliest schedule', async () => {
    const q = new WorkQueue();
    q.addAfter('a', 40);
    q.addAfter('a', 5000);
    const t0 = Date.now();
    expect(await q.get()).toBe('a');
    expect(Date.now() - t0).toBeLessThan(1000);
    q.shutdown();
  });

  it('never arms a timer setTimeout cannot hold: a key due in 30 days does not come back at once', async () => {
    const q = new WorkQueue();
    q.addAfter('ttl', 30 * 86_400_000);
    const got = await Promise.race([q.get(), new Promise((r) => setTimeout(() => r('nothing yet'), 100))]);
    expect(got).toBe('nothing yet');
    q.shutdown();
  });

  it('cuts a long schedule to maxAfterMs (the controller passes its resync period)', async () => {
    const q = new WorkQueue(100, 1000, 30);
    const t0 = Date.now();
    q.addAfter('ttl', 30 * 86_400_000);
    expect(await q.get()).toBe('ttl');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(25);
    q.shutdown();
  });

  it('wakes waiting workers and releases them on shutdown', async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.add('x');
    expect(await waiting).toBe('x');
    const idle = q.get();
    q.shutdown();
    expect(await idle).toBeUndefined();
  });
});
