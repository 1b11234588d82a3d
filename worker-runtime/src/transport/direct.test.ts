import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerLostError } from '../errors.js';
import { DirectTransport } from './direct.js';
import { encodeRecord, RecordDecoder, RecordType } from './stream-records.js';
import type { FrameSink } from './types.js';

/** A sink that records frames (copied, as the contract asks) and errors. */
class Collect implements FrameSink {
  readonly frames: Uint8Array[] = [];
  readonly errors: Error[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  frame(f: Uint8Array): void {
    this.frames.push(new Uint8Array(f)); // a copy (Buffer#slice would be a view)
    this.waiters = this.waiters.filter((w) => (this.frames.length >= w.n ? (w.resolve(), false) : true));
  }
  error(err: Error): void {
    this.errors.push(err);
  }
  until(n: number): Promise<void> {
    return this.frames.length >= n ? Promise.resolve() : new Promise((resolve) => this.waiters.push({ n, resolve }));
  }
}

/** Frame i from pack p: [p, i (u32 LE), filler…], `size` bytes long. */
function frame(p: number, i: number, size: number): Uint8Array {
  const f = new Uint8Array(Math.max(5, size)).fill((p * 31 + i) & 0xff);
  f[0] = p;
  new DataView(f.buffer).setUint32(1, i, true);
  return f;
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from({ length: n }, () => new Promise<ReturnType<typeof createServer>>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => resolve(s));
    })),
  );
  const ports = servers.map((s) => (s.address() as AddressInfo).port);
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
  return ports;
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-direct-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe.each([
  ['unix sockets', async () => `unix://${join(dir, 'p{pack}.sock')}`],
  ['tcp, one address per pack', async () => (await freePorts(3)).map((p) => `127.0.0.1:${p}`).join(',')],
])('direct transport over %s', (_name, makeUrl) => {
  test('every pair delivers whole frames in order, including large ones that need backpressure, to a pack that starts late', async () => {
    const url = await makeUrl();
    const P = 3;
    const sizes = [0, 1, 100, 70_000, 4 * 1024 * 1024, 13, 1024 * 1024];
    const perPair = 40;
    const transports = Array.from({ length: P }, (_, p) => new DirectTransport({ burstId: 'b1', packId: p, packCount: P, url, connectTimeoutMs: 10_000 }));
    const sinks = transports.map(() => new Collect());
    // Packs 0 and 1 start; pack 2 is not listening yet when they send to it.
    await transports[0]!.connect(sinks[0]!);
    await transports[1]!.connect(sinks[1]!);
    const sends: Promise<void>[] = [];
    const sendAll = (from: number): void => {
      for (let i = 0; i < perPair; i++) {
        for (let to = 0; to < P; to++) if (to !== from) sends.push(transports[from]!.send(to, [frame(from, i, sizes[i % sizes.length]!)]));
      }
    };
    sendAll(0);
    sendAll(1);
    await tick(100);
    await transports[2]!.connect(sinks[2]!);
    sendAll(2);
    await Promise.all(sends);
    await Promise.all(sinks.map((s) => s.until((P - 1) * perPair)));
    for (let to = 0; to < P; to++) {
      const got = sinks[to]!.frames;
      expect(got).toHaveLength((P - 1) * perPair);
      for (let from = 0; from < P; from++) {
        if (from === to) continue;
        const mine = got.filter((f) => f[0] === from);
        expect(mine.map((f) => new DataView(f.buffer, f.byteOffset).getUint32(1, true))).toEqual([...Array(perPair).keys()]);
        mine.forEach((f, i) => expect(Buffer.from(f).equals(Buffer.from(frame(from, i, sizes[i % sizes.length]!)))).toBe(true));
      }
    }
    // Normal end: every pack closes; nobody reports a lost peer.
    await Promise.all(transports.map(async (t) => (await t.cleanup(), await t.close())));
    await tick(50);
    expect(sinks.flatMap((s) => s.errors)).toEqual([]);
  });
});

describe('direct transport failures', () => {
  test('a peer whose connection closes without a goodbye is reported lost, naming the pack', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const t0 = new DirectTransport({ burstId: 'b2', packId: 0, packCount: 2, url });
    const sink = new Collect();
    await t0.connect(sink);
    // Play pack 1 by hand: handshake, one frame, then vanish (as a killed process would).
    const s = createConnection(join(dir, 'p0.sock'));
    const replies: { type: RecordType; body: string }[] = [];
    const decoder = new RecordDecoder((type, body) => replies.push({ type, body: Buffer.from(body).toString() }), { maxFrameBytes: 1 << 20 });
    s.on('data', (c) => decoder.push(c));
    await new Promise((r) => s.once('connect', r));
    s.write(encodeRecord(RecordType.Hello, Buffer.from(JSON.stringify({ proto: 'kubeburst-direct/1', burst: 'b2', from: 1, to: 0 }))));
    s.write(encodeRecord(RecordType.Frame, new Uint8Array([42])));
    await sink.until(1);
    while (replies.length === 0) await tick(10);
    expect(replies[0]!.type).toBe(RecordType.Hello);
    expect(JSON.parse(replies[0]!.body)).toMatchObject({ burst: 'b2', from: 0, to: 1 });
    s.destroy();
    await tick(100);
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toBeInstanceOf(PeerLostError);
    expect((sink.errors[0] as PeerLostError).pack).toBe(1);
    expect(sink.errors[0]!.message).toMatch(/pack 1 lost: direct transport: connection from pack 1 closed without a goodbye/);
    await t0.close();
  });

  test('a stream torn inside a frame is reported as a lost peer with the reason', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const t0 = new DirectTransport({ burstId: 'b3', packId: 0, packCount: 2, url });
    const sink = new Collect();
    await t0.connect(sink);
    const s = createConnection(join(dir, 'p0.sock'));
    await new Promise((r) => s.once('connect', r));
    s.write(encodeRecord(RecordType.Hello, Buffer.from(JSON.stringify({ proto: 'kubeburst-direct/1', burst: 'b3', from: 1, to: 0 }))));
    s.end(encodeRecord(RecordType.Frame, new Uint8Array(1000)).subarray(0, 300));
    await tick(100);
    expect(sink.errors.map((e) => e.message)).toEqual([expect.stringMatching(/pack 1 lost: direct transport: corrupt or unsupported frame: stream ended inside a record \(295 of 1000 body bytes\)/)]);
    await t0.close();
  });

  test('a connection to another burst at the same address is refused with both ids named', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const a = new DirectTransport({ burstId: 'attempt-1', packId: 0, packCount: 2, url });
    const b = new DirectTransport({ burstId: 'attempt-0', packId: 1, packCount: 2, url });
    await a.connect(new Collect());
    await b.connect(new Collect());
    await expect(a.send(1, [new Uint8Array(8)])).rejects.toThrow(/pack 1 at unix:\/\/.*p1\.sock refused the connection: the dialer belongs to burst attempt-1, this pack to burst attempt-0/);
    await Promise.all([a.close(), b.close()]);
  });

  test('a peer that never listens fails the send after the connect timeout, naming pack, address and what to check', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const a = new DirectTransport({ burstId: 'b4', packId: 0, packCount: 2, url, connectTimeoutMs: 300 });
    await a.connect(new Collect());
    await expect(a.send(1, [new Uint8Array(8)])).rejects.toThrow(/cannot reach pack 1 at unix:\/\/.*p1\.sock after \d+ ms \(last error: ENOENT\): is that pack running, and does transport\.url \(KB_TRANSPORT_URL\) name where it listens\?/);
    await a.close();
  });

  test('cleanup removes the socket file; a stale one left by a dead process is replaced', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    // A socket file nobody listens on any more: its process was killed, so nothing unlinked it.
    const path = join(dir, 'p0.sock');
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
    await new Promise((r) => holder.stdout!.once('data', r));
    const t = new DirectTransport({ burstId: 'b5', packId: 0, packCount: 2, url });
    // While the old listener is alive, the path is in use: refuse with a clear message.
    await expect(t.connect(new Collect())).rejects.toThrow(/cannot listen on unix:\/\/.*p0\.sock: .*another process uses it/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(path)).toBe(true);
    const t2 = new DirectTransport({ burstId: 'b5', packId: 0, packCount: 2, url });
    await t2.connect(new Collect());
    expect(existsSync(join(dir, 'p0.sock'))).toBe(true);
    await t2.cleanup();
    await t2.close();
    expect(existsSync(join(dir, 'p0.sock'))).toBe(false);
  });
});
