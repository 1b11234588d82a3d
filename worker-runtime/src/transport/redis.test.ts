import { createServer } from 'node:net';
import { deleteRedisBurstKeys } from './redis.js';

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
