import { createServer } from 'node:net';
import { NatsTransport } from './nats.js';
import { deleteRedisBurstKeys, RedisTransport } from './redis.js';

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
