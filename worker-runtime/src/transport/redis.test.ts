import { createHash } from 'node:crypto';
import { createServer } from 'node:net';
import { Redis } from 'ioredis';
import { NatsTransport } from './nats.js';
import { deleteRedisBurstKeys, RedisTransport, redisInboxKey } from './redis.js';

const url = process.env.KB_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('Redis key clean-up', () => {
  it('against a server that drops every connection fails once and leaves no client reconnecting in the background', async () => {
    // A "Redis" on loopback that hangs up on every connection, counting them.
    let connections = 0;
    const server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    try {
      await expect(deleteRedisBurstKeys(`redis://127.0.0.1:${port}`, 'b-unreachable')).rejects.toThrow();
      // ioredis's default retry would reconnect after 50 ms, 100 ms, 150 ms, …
      await new Promise((r) => setTimeout(r, 500));
      expect(connections).toBe(1);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('a broker that cannot be reached', () => {
  // A port nothing listens on: bound, then closed.
  async function closedPort(): Promise<number> {
    const server = createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const { port } = server.address() as { port: number };
    await new Promise((r) => server.close(r));
    return port;
  }
  const sink = { frame: () => {}, error: () => {} };

  it.each([
    ['redis', (url: string) => new RedisTransport({ burstId: 'b', packId: 0, packCount: 2, url, urlSource: '--transport' })],
    ['nats', (url: string) => new NatsTransport({ burstId: 'b', packId: 0, packCount: 2, url, urlSource: '--transport', connectTimeoutMs: 2000 })],
  ])('%s: the message names where the URL came from, not a field the user never set', async (kind, make) => {
    const t = make(`${kind}://127.0.0.1:${await closedPort()}`);
    const err = await t.connect(sink).then(
      () => undefined,
      (e: Error) => e,
    );
    await t.close();
    expect(err?.message).toMatch(/cannot connect to .*\(is (Redis|nats-server) running there\? the URL came from --transport\)/);
    expect(err?.message).not.toContain('spec.transport.url');
  });
});

describe('Redis transport sends', () => {
  const sink = { frame: () => {}, error: () => {} };

  /** Pack 0 of a fresh burst, connected; pack 1 never connects: its inbox `key` is read with plain client `r`. */
  async function withSender(keyTtlMs: number, body: (sender: RedisTransport, r: Redis, key: string) => Promise<void>): Promise<void> {
    const burstId = `b-send-${process.pid}-${Date.now()}`;
    const sender = new RedisTransport({ burstId, packId: 0, packCount: 2, url, urlSource: 'test', keyTtlMs });
    const r = new Redis(url);
    try {
      await sender.connect(sink);
      await body(sender, r, redisInboxKey(burstId, 1));
    } finally {
      await deleteRedisBurstKeys(url, burstId);
      await sender.close();
      r.disconnect();
    }
  }

  it('push frames byte for byte, in order, and the push that makes a list gives it a TTL', () =>
    withSender(60_000, async (sender, r, key) => {
      // Views into larger buffers, an odd length, and a byte pattern CRLF and '$' would disturb.
      const frames = [3, 1 << 20, 70_001].map((n, i) => {
        const big = new Uint8Array(n + 40);
        for (let j = 0; j < big.length; j++) big[j] = (j * 31 + i) & 0xff;
        big.fill(0x0d, 17, 19).fill(0x24, 19, 20);
        return big.subarray(11, 11 + n);
      });
      // Two sends in one tick: one connection, so they land in the order they were made.
      await Promise.all([sender.send(1, frames.slice(0, 2)), sender.send(1, frames.slice(2))]);
      // Compared by digest on the server: a megabyte reply would leave ioredis' parser a timer running.
      const stored = await Promise.all([0, 1, 2].map((i) => r.eval("return redis.sha1hex(redis.call('LINDEX', KEYS[1], ARGV[1]))", 1, key, i)));
      expect(stored).toEqual(frames.map((f) => createHash('sha1').update(f).digest('hex')));
      expect(await r.llen(key)).toBe(3);
      expect(await r.pttl(key)).toBeGreaterThan(50_000);
      // Emptied, the list is gone with its TTL; the next push makes it anew, and sets one again.
      await r.del(key);
      await sender.send(1, [frames[0]!]);
      expect(await r.pttl(key)).toBeGreaterThan(50_000);
      // A push onto a list that exists leaves its TTL alone.
      await r.pexpire(key, 40_000);
      await sender.send(1, [frames[0]!]);
      const ttl = await r.pttl(key);
      expect(ttl).toBeGreaterThan(30_000);
      expect(ttl).toBeLessThanOrEqual(40_000);
    }));

  it('a list that never empties has its TTL renewed once half of it has passed', () =>
    withSender(4_000, async (sender, r, key) => {
      const f = new Uint8Array(100).fill(1);
      await sender.send(1, [f]);
      await sender.send(1, [f]);
      expect(await r.pttl(key)).toBeGreaterThan(3_000);
      await new Promise((done) => setTimeout(done, 2_200));
      const before = await r.pttl(key);
      expect(before).toBeLessThan(1_900);
      await sender.send(1, [f]);
      expect(await r.pttl(key)).toBeGreaterThan(3_000);
      expect(await r.llen(key)).toBe(3);
    }));
});

describe('Redis transport receives', () => {
  it('frames arrive whole and in order across many pops, and closing with a pop pending reports nothing', async () => {
    const burstId = `b-recv-${process.pid}-${Date.now()}`;
    const got: Uint8Array[] = [];
    const errors: Error[] = [];
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown): void => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    const [a, b] = [0, 1].map((packId) => new RedisTransport({ burstId, packId, packCount: 2, url, urlSource: 'test' }));
    try {
      await a!.connect({ frame: () => {}, error: (e) => errors.push(e) });
      let wake: () => void = () => {};
      const all = new Promise<void>((r) => (wake = r));
      // Small frames (a megabyte reply would leave ioredis' parser a timer running), many sends, so that
      // replies of one frame and of a full batch both occur.
      const frames = Array.from({ length: 300 }, (_, i) => new Uint8Array(1 + ((i * 37) % 2000)).fill(i & 0xff));
      await b!.connect({
        frame: (f) => {
          got.push(new Uint8Array(f));
          if (got.length === frames.length) wake();
        },
        error: (e) => errors.push(e),
      });
      for (let i = 0; i < frames.length;) {
        const n = 1 + (i % 7);
        await a!.send(1, frames.slice(i, i + n));
        i += n;
      }
      await all;
      expect(got.map((f) => [f.byteLength, f[0]])).toEqual(frames.map((f) => [f.byteLength, f[0]]));
    } finally {
      await deleteRedisBurstKeys(url, burstId);
      await Promise.all([a!.close(), b!.close()]);
    }
    await new Promise((r) => setTimeout(r, 100));
    process.off('unhandledRejection', onUnhandled);
    expect(errors).toEqual([]);
    expect(unhandled).toEqual([]);
  });
});
