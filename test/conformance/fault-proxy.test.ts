import { once } from 'node:events';
import { connect as tcpConnect, type Socket } from 'node:net';
import { Redis, type RedisOptions } from 'ioredis';
import { connect, StringCodec, type NatsConnection } from 'nats';
import { FaultProxy } from '../fixtures/fault-proxy.js';
import { NATS_URL, REDIS_URL } from './helpers.js';

/**
 * The fault-injection proxy (test/fixtures/fault-proxy.ts) between real clients and the real Redis and
 * NATS on this machine. Lives here rather than beside the fixture: test/fixtures is a `tsc -b` project
 * without Jest's types. Timeouts are kept short (300 ms) so that the suite runs in a few seconds.
 */
const hostPort = (url: string): { host: string; port: number } => {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port) };
};
const REDIS = hostPort(REDIS_URL);
const NATS = hostPort(NATS_URL);
const KEY = `kb:test:fault-proxy:${process.pid}`;
const sc = StringCodec();

const proxies: FaultProxy[] = [];
const redises: Redis[] = [];
const natses: NatsConnection[] = [];
const raws: Socket[] = [];

async function proxyTo(upstream: { host: string; port: number }): Promise<FaultProxy> {
  const p = await FaultProxy.start({ upstream });
  proxies.push(p);
  return p;
}

/**
 * A Redis client through `p` that does not reconnect nor retry: faults show as errors, at once. ioredis's
 * disconnect() arms a timer (disconnectTimeout, 2 s by default) that only its stream's 'close' clears, and
 * it calls disconnect() on an already closed stream when a ready check fails: keep that timer short.
 */
function redisVia(p: FaultProxy, opts: RedisOptions = {}): Redis {
  const r = new Redis(p.url('redis'), { lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0, disconnectTimeout: 100, ...opts });
  r.on('error', () => {});
  redises.push(r);
  return r;
}

async function natsVia(p: FaultProxy, opts: { timeout?: number } = {}): Promise<NatsConnection> {
  const nc = await connect({ servers: `127.0.0.1:${p.port}`, reconnect: false, timeout: opts.timeout ?? 2000 });
  natses.push(nc);
  return nc;
}

type Settled<T> = { state: 'pending' } | { state: 'fulfilled'; value: T } | { state: 'rejected'; error: unknown };

/** How `promise` stands after `ms` (the timer is cleared either way). */
async function after<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
  let timer: NodeJS.Timeout | undefined;
  const pending = new Promise<Settled<T>>((resolve) => (timer = setTimeout(() => resolve({ state: 'pending' }), ms)));
  const settled = promise.then(
    (value): Settled<T> => ({ state: 'fulfilled', value }),
    (error: unknown): Settled<T> => ({ state: 'rejected', error }),
  );
  try {
    return await Promise.race([settled, pending]);
  } finally {
    clearTimeout(timer);
  }
}

const tcpCounts = (): Record<string, number> => {
  const counts: Record<string, number> = {};
  for (const r of process.getActiveResourcesInfo()) if (r.startsWith('TCP')) counts[r] = (counts[r] ?? 0) + 1;
  return counts;
};

async function waitUntil(cond: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

let admin: Redis;
beforeAll(async () => {
  admin = new Redis({ ...REDIS, lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
});

afterEach(async () => {
  // ioredis arms a 2 s timer on disconnect() that only a 'close' of its stream clears: skip ended clients.
  for (const r of redises.splice(0)) if (r.status !== 'end') r.disconnect();
  for (const s of raws.splice(0)) s.destroy();
  await Promise.all(
    natses
      .splice(0)
      .filter((nc) => !nc.isClosed())
      .map((nc) => nc.close()),
  );
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

afterAll(async () => {
  await admin.del(KEY, `${KEY}:big`);
  await admin.quit();
});

describe('FaultProxy', () => {
  test('passes Redis traffic through, counting bytes each way exactly and connections', async () => {
    const p = await proxyTo(REDIS);
    expect(p.url('redis')).toBe(`redis://127.0.0.1:${p.port}`);
    const r = redisVia(p);
    await r.connect();
    expect(await r.ping()).toBe('PONG');
    expect(await r.set(KEY, 'v1')).toBe('OK');
    expect(await r.get(KEY)).toBe('v1');
    const s = p.stats();
    expect(s.connections).toMatchObject({ accepted: 1, active: 1, reset: 0, refused: 0, blackHoled: 0 });
    // Every byte the client wrote reached Redis and every byte it read came from Redis through the proxy.
    expect(s.bytes.up).toBe(r.stream.bytesWritten);
    expect(s.bytes.down).toBe(r.stream.bytesRead);
    expect(s.pending).toEqual({ up: 0, down: 0 });
    await r.quit();
    await waitUntil(() => p.stats().connections.active === 0 && p.handles().sockets === 0);
  });

  test('passes NATS traffic through: publish, subscribe, request', async () => {
    const p = await proxyTo(NATS);
    const nc = await natsVia(p);
    const subject = `kb.test.fault-proxy.${process.pid}`;
    const sub = nc.subscribe(subject, { max: 1 });
    sub.closed.then(
      () => {},
      () => {},
    );
    const echo = nc.subscribe(`${subject}.echo`, { callback: (_e, m) => m.respond(m.data) });
    nc.publish(subject, sc.encode('hello'));
    for await (const m of sub) expect(sc.decode(m.data)).toBe('hello');
    const reply = await nc.request(`${subject}.echo`, sc.encode('ping'), { timeout: 1000 });
    expect(sc.decode(reply.data)).toBe('ping');
    echo.unsubscribe();
    expect(p.stats().connections.accepted).toBe(1);
    expect(p.stats().bytes.up).toBeGreaterThan(0);
    expect(p.stats().bytes.down).toBeGreaterThan(0);
  });

  test('stall: a command times out (ioredis commandTimeout) or stays pending; resume lets it complete', async () => {
    const p = await proxyTo(REDIS);
    await admin.set(KEY, 'held');
    const timing = redisVia(p, { commandTimeout: 300 });
    const waiting = redisVia(p);
    await Promise.all([timing.connect(), waiting.connect()]);
    p.stall('up');
    const up = p.stats().bytes.up;
    await expect(timing.ping()).rejects.toThrow(/timed out/i);
    const get = waiting.get(KEY);
    expect(await after(get, 300)).toEqual({ state: 'pending' });
    expect(p.stats().bytes.up).toBe(up);
    p.resume();
    expect(await get).toBe('held');
    expect(await timing.ping()).toBe('PONG');
  });

  test("stall('down') silences the server: a NATS flush waits, and completes on resume", async () => {
    const p = await proxyTo(NATS);
    const nc = await natsVia(p);
    p.stall('down');
    const flushed = nc.flush();
    expect(await after(flushed, 300)).toEqual({ state: 'pending' });
    // The PING went up; the PONG is held.
    p.resume('down');
    await expect(flushed).resolves.toBeUndefined();
  });

  test('resetAll: the client sees ECONNRESET; during refuseMs new connections are reset; then accepted again', async () => {
    const p = await proxyTo(REDIS);
    const r = redisVia(p);
    await r.connect();
    const errored = once(r, 'error');
    expect(p.resetAll({ refuseMs: 400 })).toBe(1);
    const [err] = (await errored) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNRESET');
    await expect(r.ping()).rejects.toThrow();
    // A new connection inside the window: accepted by the kernel, reset at once by the proxy.
    await expect(redisVia(p).connect()).rejects.toThrow();
    expect(p.stats().connections).toMatchObject({ reset: 1, refused: 1, active: 0 });
    await new Promise((res) => setTimeout(res, 400));
    const again = redisVia(p);
    await again.connect();
    expect(await again.ping()).toBe('PONG');
  });

  test('resetAll cuts a NATS connection: the client closes with an error', async () => {
    const p = await proxyTo(NATS);
    const nc = await natsVia(p);
    p.resetAll();
    // nats resolves closed() with the socket's error (an Error of another realm than Jest's).
    expect(await nc.closed()).toMatchObject({ code: 'ECONNRESET' });
  });

  test('black-hole: NATS connect times out and an ioredis connect never gets ready; off again, both connect', async () => {
    const p = await proxyTo(NATS);
    p.blackHole(true);
    await expect(natsVia(p, { timeout: 300 })).rejects.toMatchObject({ code: 'TIMEOUT' });
    expect(p.stats().connections).toMatchObject({ accepted: 1, blackHoled: 1 });
    p.blackHole(false);
    const nc = await natsVia(p);
    await nc.flush();

    const rp = await proxyTo(REDIS);
    rp.blackHole();
    const r = redisVia(rp, { connectTimeout: 300 });
    const ready = r.connect();
    // TCP connects (the proxy accepts), so connectTimeout does not fire; the ready check never answers.
    expect(await after(ready, 300)).toEqual({ state: 'pending' });
    expect(rp.stats().discarded).toBeGreaterThan(0);
    r.disconnect();
    await expect(ready).rejects.toThrow();
    rp.blackHole(false);
    const r2 = redisVia(rp);
    await r2.connect();
    expect(await r2.ping()).toBe('PONG');
  });

  test('resetAfter cuts a large SET midway: exactly N bytes reach Redis, the key is not written', async () => {
    const p = await proxyTo(REDIS);
    const r = redisVia(p);
    await r.connect();
    const big = 'x'.repeat(1 << 20);
    const before = p.stats().bytes.up;
    p.resetAfter(256 * 1024, 'up');
    await expect(r.set(`${KEY}:big`, big)).rejects.toThrow();
    const s = p.stats();
    expect(s.bytes.up - before).toBe(256 * 1024);
    expect(s.connections.reset).toBe(1);
    expect(await admin.exists(`${KEY}:big`)).toBe(0);
    // The rule fired once: a new connection carries the whole value.
    const r2 = redisVia(p);
    await r2.connect();
    expect(await r2.set(`${KEY}:big`, big)).toBe('OK');
    expect(await admin.strlen(`${KEY}:big`)).toBe(big.length);
  });

  test('delay adds latency per chunk, each way', async () => {
    const p = await proxyTo(REDIS);
    const r = redisVia(p);
    await r.connect();
    p.delay(100);
    let t = performance.now();
    expect(await r.ping()).toBe('PONG');
    expect(performance.now() - t).toBeGreaterThanOrEqual(195);
    p.heal();
    t = performance.now();
    await r.ping();
    expect(performance.now() - t).toBeLessThan(150);
  });

  test('close() stops listening and destroys every socket: no TCP handle is left behind', async () => {
    const baseline = tcpCounts();
    const p = await FaultProxy.start({ upstream: REDIS });
    const port = p.port;
    proxies.push(p);
    const r = redisVia(p);
    await r.connect();
    p.stall('both');
    void r.ping().catch(() => {});
    p.resume('up');
    p.blackHole(true);
    const raw = tcpConnect(port, '127.0.0.1');
    raws.push(raw);
    raw.on('error', () => {});
    await once(raw, 'connect');
    await waitUntil(() => p.stats().connections.active === 2);
    expect(p.handles()).toEqual({ listening: true, sockets: 3 });
    const clientClosed = Promise.all([once(r, 'end'), once(raw, 'close')]);
    await p.close();
    expect(p.handles()).toEqual({ listening: false, sockets: 0 });
    expect(p.stats().connections.active).toBe(0);
    await clientClosed;
    await p.close(); // idempotent
    // Nobody listens on the port any more.
    const refused = tcpConnect(port, '127.0.0.1');
    raws.push(refused);
    const refusedClosed = new Promise((resolve) => refused.once('close', resolve));
    const [err] = (await once(refused, 'error')) as [NodeJS.ErrnoException];
    expect(err.code).toBe('ECONNREFUSED');
    await refusedClosed;
    expect(tcpCounts()).toEqual(baseline);
  });
});
