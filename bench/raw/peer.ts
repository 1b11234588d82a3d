/**
 * Raw client baselines, no BCM: the same stream + ping-pong pattern as workers/pair.ts, with the bare
 * ioredis / nats clients or a bare TCP socket, sender and receiver in separate processes (like two packs).
 *
 *   node peer.js <redis|nats|tcp> <send|recv> <url-or-port> <bytes> <count> <runs> <pings> <ns>
 *
 * The receiver prints "ready" once listening; the sender prints one JSON line {streamSeconds, rttSeconds}.
 * @module
 */
import { createConnection, createServer, type Socket } from 'node:net';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';

const [kind, role, url, bytesS, countS, runsS, pingsS, ns] = process.argv.slice(2) as string[];
const bytes = Number(bytesS);
const count = Number(countS);
const runs = Number(runsS);
const pings = Number(pingsS);
const payload = Buffer.alloc(bytes, 7);
const now = (): number => performance.now();

async function redisPeer(): Promise<void> {
  const data = `kbbench:${ns}:data`;
  const back = `kbbench:${ns}:back`;
  const a = new Redis(url!);
  const b = new Redis(url!);
  const window = 16;
  if (role === 'recv') {
    process.stdout.write('ready\n');
    for (let r = 0; r < runs; r++) {
      for (let i = 0; i < count; i++) await b.blpopBuffer(data, 0);
      await a.rpush(back, 'k');
    }
    for (let i = 0; i < pings; i++) {
      const m = await b.blpopBuffer(data, 0);
      await a.rpush(back, m![1]);
    }
  } else {
    const streamSeconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = now();
      const inflight: Promise<unknown>[] = [];
      for (let i = 0; i < count; i++) {
        inflight.push(a.rpush(data, payload));
        if (inflight.length >= window) await inflight.shift();
      }
      await Promise.all(inflight);
      await b.blpopBuffer(back, 0);
      streamSeconds.push((now() - t0) / 1000);
    }
    const rttSeconds: number[] = [];
    for (let i = 0; i < pings; i++) {
      const t0 = now();
      await a.rpush(data, payload);
      await b.blpopBuffer(back, 0);
      rttSeconds.push((now() - t0) / 1000);
    }
    process.stdout.write(JSON.stringify({ streamSeconds, rttSeconds }) + '\n');
    await a.del(data, back);
  }
  a.disconnect();
  b.disconnect();
}

async function natsPeer(): Promise<void> {
  const nc: NatsConnection = await connect({ servers: url! });
  const data = `kbbench.${ns}.data`;
  const back = `kbbench.${ns}.back`;
  // A message above the server's max_payload (1 MiB by default) goes as max_payload-sized pieces, as any
  // raw user would have to; the receiver counts bytes.
  const piece = Math.min(bytes, nc.info?.max_payload ?? 1024 * 1024);
  const pieces: Uint8Array[] = [];
  for (let off = 0; off < bytes || pieces.length === 0; off += piece) pieces.push(payload.subarray(off, Math.min(bytes, off + piece)));
  if (role === 'recv') {
    let got = 0;
    let run = 0;
    let pinged = 0;
    const sub = nc.subscribe(data);
    await nc.flush();
    process.stdout.write('ready\n');
    for await (const m of sub) {
      got += m.data.length;
      if (run < runs) {
        if (got === bytes * count) {
          got = 0;
          run++;
          nc.publish(back, new Uint8Array(1));
        }
      } else if (got === bytes) {
        got = 0;
        for (const p of pieces) nc.publish(back, p);
        if (++pinged === pings) break;
      }
    }
    await nc.flush();
  } else {
    const acks = nc.subscribe(back);
    const it = acks[Symbol.asyncIterator]();
    await nc.flush();
    const streamSeconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = now();
      let unflushed = 0;
      for (let i = 0; i < count; i++) {
        for (const p of pieces) {
          nc.publish(data, p);
          unflushed += p.length;
          // Same flow control as the BCM's NATS transport: a round trip every 8 MiB.
          if (unflushed >= 8 * 1024 * 1024) {
            unflushed = 0;
            await nc.flush();
          }
        }
      }
      await it.next();
      streamSeconds.push((now() - t0) / 1000);
    }
    const rttSeconds: number[] = [];
    for (let i = 0; i < pings; i++) {
      const t0 = now();
      for (const p of pieces) nc.publish(data, p);
      for (let k = 0; k < pieces.length; k++) await it.next();
      rttSeconds.push((now() - t0) / 1000);
    }
    process.stdout.write(JSON.stringify({ streamSeconds, rttSeconds }) + '\n');
  }
  await nc.close();
}

/** Reads exactly n bytes from a socket (as a stream of chunks). */
function reader(sock: Socket): (n: number) => Promise<void> {
  let have = 0;
  let want = 0;
  let wake: (() => void) | undefined;
  sock.on('data', (d: Buffer) => {
    have += d.length;
    if (wake && have >= want) {
      const w = wake;
      wake = undefined;
      w();
    }
  });
  return (n) =>
    new Promise<void>((resolve) => {
      want = n;
      const done = (): void => {
        have -= n;
        resolve();
      };
      if (have >= n) done();
      else wake = done;
    });
}

async function write(sock: Socket, b: Buffer): Promise<void> {
  if (!sock.write(b)) await new Promise((r) => sock.once('drain', r));
}

async function tcpPeer(): Promise<void> {
  if (role === 'recv') {
    const server = createServer((sock) => {
      void (async () => {
        const read = reader(sock);
        for (let r = 0; r < runs; r++) {
          await read(bytes * count);
          await write(sock, Buffer.alloc(1));
        }
        for (let i = 0; i < pings; i++) {
          await read(bytes);
          await write(sock, payload);
        }
        sock.end();
        server.close();
      })();
    });
    server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${(server.address() as { port: number }).port}\n`));
  } else {
    const sock = createConnection({ host: '127.0.0.1', port: Number(url) });
    await new Promise((r) => sock.once('connect', r));
    const read = reader(sock);
    const streamSeconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = now();
      for (let i = 0; i < count; i++) await write(sock, payload);
      await read(1);
      streamSeconds.push((now() - t0) / 1000);
    }
    const rttSeconds: number[] = [];
    for (let i = 0; i < pings; i++) {
      const t0 = now();
      await write(sock, payload);
      await read(bytes);
      rttSeconds.push((now() - t0) / 1000);
    }
    process.stdout.write(JSON.stringify({ streamSeconds, rttSeconds }) + '\n');
    sock.end();
  }
}

const run = kind === 'redis' ? redisPeer : kind === 'nats' ? natsPeer : tcpPeer;
run().catch((err: unknown) => {
  process.stderr.write(`${String((err as Error).stack ?? err)}\n`);
  process.exit(1);
});
