import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createConnection, createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PeerLostError } from '../errors.js';
import { ANSWER_FIELDS, encodeHello, helloMac, HELLO_PROTO, newNonce, parseHelloRecord, type Answer } from '../protocol/hello.js';
import { deriveKeys, newSecret, parseSecret, type BurstKeys } from '../security/keys.js';
import { DirectTransport, MAX_HANDSHAKES_EXTRA } from './direct.js';
import { encodeRecord, RecordDecoder, RecordType } from '../protocol/stream-records.js';
import type { FrameSink, TransportOptions } from './types.js';

const SECRET = parseSecret(newSecret(), 'test');
const keysOf = (burst: string, secret = SECRET): BurstKeys => deriveKeys(secret, burst);
/** A pack's direct transport with this test run's flare secret. */
const direct = (o: Omit<TransportOptions, 'keys'> & { keys?: BurstKeys }): DirectTransport => new DirectTransport({ keys: keysOf(o.burstId), ...o });

/** Plays a dialing pack by hand over `s`: the whole handshake, as pack `from` to pack `to`. */
async function handshake(s: ReturnType<typeof createConnection>, burst: string, from: number, to: number, key = keysOf(burst).hello): Promise<void> {
  const nonce = newNonce();
  s.write(encodeRecord(RecordType.Hello, encodeHello({ proto: HELLO_PROTO, from, to, nonce })));
  const answer = await new Promise<Answer>((resolve, reject) => {
    const d = new RecordDecoder((_t, body) => resolve(parseHelloRecord<Answer>(body, ANSWER_FIELDS)!), { maxFrameBytes: 1 << 20 });
    s.once('data', (c) => d.push(c));
    s.once('close', () => reject(new Error('closed during the handshake')));
  });
  s.write(encodeRecord(RecordType.Hello, encodeHello({ mac: helloMac(key, 'dialer', burst, from, to, nonce, answer.nonce) })));
}

/** A sink that records frames (copied, as the contract asks) and errors. */
class Collect implements FrameSink {
  readonly frames: Uint8Array[] = [];
  /** The pack each frame's connection proved itself as. */
  readonly from: (number | undefined)[] = [];
  readonly errors: Error[] = [];
  private waiters: { n: number; resolve: () => void }[] = [];
  frame(f: Uint8Array, _owned?: boolean, fromPack?: number): void {
    this.from.push(fromPack);
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

/** Frame i from pack p: [p, i (u32 LE), filler…], `size` bytes long; the filler differs from byte to byte. */
function frame(p: number, i: number, size: number): Uint8Array {
  const f = new Uint8Array(Math.max(5, size)).map((_, k) => (p * 31 + i + k * 7 + (k >>> 9)) & 0xff);
  f[0] = p;
  new DataView(f.buffer).setUint32(1, i, true);
  return f;
}

const tick = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Pack 0 of 2 (or `packCount`) listening on a Unix socket in `dir`, its refusals recorded; `path` is its socket. */
async function listeningPack(burstId: string, o: Partial<TransportOptions> = {}) {
  const refusals: string[] = [];
  const t0 = direct({ burstId, packId: 0, packCount: 2, url: `unix://${join(dir, 'p{pack}.sock')}`, onRefused: (r) => refusals.push(r), ...o });
  const sink = new Collect();
  await t0.connect(sink);
  return { t0, sink, refusals, url: `unix://${join(dir, 'p{pack}.sock')}`, path: join(dir, 'p0.sock') };
}

/** Polls `cond` every 10 ms until it holds (the test's own timeout bounds it). */
async function waitUntil(cond: () => boolean): Promise<void> {
  while (!cond()) await tick(10);
}

async function freePorts(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve) => {
          const s = createServer();
          s.listen(0, '127.0.0.1', () => resolve(s));
        }),
    ),
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
    const transports = Array.from({ length: P }, (_, p) => direct({ burstId: 'b1', packId: p, packCount: P, url, connectTimeoutMs: 10_000 }));
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
      // Each frame comes with the pack its connection proved itself as: the one that wrote it.
      expect(sinks[to]!.from).toEqual(got.map((f) => f[0]));
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
    const t0 = direct({ burstId: 'b2', packId: 0, packCount: 2, url });
    const sink = new Collect();
    await t0.connect(sink);
    // Play pack 1 by hand: handshake, one frame, then vanish (as a killed process would).
    const s = createConnection(join(dir, 'p0.sock'));
    await new Promise((r) => s.once('connect', r));
    await handshake(s, 'b2', 1, 0);
    s.write(encodeRecord(RecordType.Frame, new Uint8Array([42])));
    await sink.until(1);
    s.destroy();
    await tick(100);
    expect(sink.errors).toHaveLength(1);
    expect(sink.errors[0]).toBeInstanceOf(PeerLostError);
    expect((sink.errors[0] as PeerLostError).pack).toBe(1);
    expect(sink.errors[0]!.message).toMatch(/pack 1 lost: direct transport: connection from pack 1 (closed without a goodbye|failed with ECONNRESET)/);
    await t0.close();
  });

  test('a stream torn inside a frame is reported as a lost peer with the reason', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const t0 = direct({ burstId: 'b3', packId: 0, packCount: 2, url });
    const sink = new Collect();
    await t0.connect(sink);
    const s = createConnection(join(dir, 'p0.sock'));
    await new Promise((r) => s.once('connect', r));
    await handshake(s, 'b3', 1, 0);
    s.end(encodeRecord(RecordType.Frame, new Uint8Array(1000)).subarray(0, 300));
    await tick(100);
    expect(sink.errors.map((e) => e.message)).toEqual([
      expect.stringMatching(/pack 1 lost: direct transport: corrupt or unsupported frame: stream ended inside a record \(295 of 1000 body bytes\)/),
    ]);
    await t0.close();
  });

  test('a pack of another attempt at the same address fails authentication, and its listener reveals nothing', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const a = direct({ burstId: 'attempt-1', packId: 0, packCount: 2, url });
    const refusals: string[] = [];
    const b = direct({ burstId: 'attempt-0', packId: 1, packCount: 2, url, onRefused: (r) => refusals.push(r) });
    await a.connect(new Collect());
    await b.connect(new Collect());
    await expect(a.send(1, [new Uint8Array(8)])).rejects.toThrow(/pack 1 at unix:\/\/.*p1\.sock failed authentication: what listens there does not hold this flare's secret/);
    await Promise.all([a.close(), b.close()]);
  });

  test('strangers are dropped before they touch the flare: garbage, a giant length prefix, a slow or forged handshake, a wrong key', async () => {
    const { t0, sink, refusals, url, path } = await listeningPack('b6', { helloTimeoutMs: 2_000 });
    const closedAfter = (write: (s: ReturnType<typeof createConnection>) => void | Promise<void>): Promise<{ bytes: number; ms: number }> =>
      new Promise((resolve) => {
        const s = createConnection(path);
        const t = Date.now();
        let bytes = 0;
        s.on('data', (c) => (bytes += c.byteLength));
        s.on('error', () => {});
        s.once('close', () => resolve({ bytes, ms: Date.now() - t }));
        s.once('connect', () => void write(s));
      });
    // 64 random bytes; a 0xFFFFFFFF frame prefix; a handshake record claiming 4 GiB; a valid offer, then silence.
    const garbage = await closedAfter((s) => void s.write(Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff))));
    const giant = await closedAfter((s) => void s.write(Buffer.from([RecordType.Frame, 0xff, 0xff, 0xff, 0xff])));
    const giantHello = await closedAfter((s) => void s.write(Buffer.from([RecordType.Hello, 0xff, 0xff, 0xff, 0xff])));
    await closedAfter(async (s) => {
      // The whole handshake with a key of another flare.
      await handshake(s, 'b6', 1, 0, keysOf('b6', parseSecret(newSecret(), 'other')).hello).catch(() => undefined);
    });
    const slow = await closedAfter((s) => void s.write(encodeRecord(RecordType.Hello, encodeHello({ proto: HELLO_PROTO, from: 1, to: 0, nonce: newNonce() }))));
    // None got anything but (at most) the acceptor's answer, which names no burst; the slow one waited out the deadline.
    for (const r of [garbage, giant, giantHello]) expect(r.bytes).toBe(0);
    expect(slow.ms).toBeGreaterThanOrEqual(1_900);
    expect(refusals).toHaveLength(5);
    expect(refusals.join('\n')).toMatch(/record type/);
    expect(refusals.join('\n')).toMatch(/could not prove/);
    expect(refusals.join('\n')).toMatch(/no complete handshake within 2000 ms/);
    // The flare never heard of any of them, and a real pack still gets in.
    expect(sink.errors).toEqual([]);
    expect(sink.frames).toEqual([]);
    const t1 = direct({ burstId: 'b6', packId: 1, packCount: 2, url });
    await t1.connect(new Collect());
    await t1.send(0, [new Uint8Array([7])]);
    await sink.until(1);
    expect(t0.refused).toBe(5);
    await Promise.all([t0.close(), t1.close()]);
  }, 20_000);

  test('a stranger that closes mid-handshake is forgotten at once; past the limit, the oldest handshake goes, and a real pack still gets in', async () => {
    // A deadline far past the test: only closing can free what a connection holds.
    const { t0, sink, refusals, url, path } = await listeningPack('b7', { helloTimeoutMs: 600_000 });
    const open = (): Promise<ReturnType<typeof createConnection>> =>
      new Promise((resolve) => {
        const s = createConnection(path);
        s.on('error', () => {});
        s.once('connect', () => resolve(s));
      });
    const closed = (s: ReturnType<typeof createConnection>): Promise<void> => new Promise((r) => (s.destroyed ? r() : s.once('close', () => r())));
    // 200 strangers send part of a handshake record and go.
    for (let i = 0; i < 200; i++) {
      const s = await open();
      s.end(Buffer.concat([Buffer.from([RecordType.Hello, 0, 2, 0, 0]), Buffer.alloc(300, 0x20)]));
      await closed(s);
    }
    await waitUntil(() => t0.refused === 200);
    expect(t0.handshaking).toBe(0);
    expect(new Set(refusals)).toEqual(new Set(['closed before its handshake completed']));
    // Silent strangers up to the limit (packs + MAX_HANDSHAKES_EXTRA) are held; past it, the oldest goes.
    const silent = [];
    for (let i = 0; i < 2 + MAX_HANDSHAKES_EXTRA; i++) silent.push(await open());
    await waitUntil(() => t0.handshaking === 2 + MAX_HANDSHAKES_EXTRA);
    silent.push(await open());
    await closed(silent.shift()!);
    await waitUntil(() => t0.refused === 201);
    expect(refusals[200]).toBe(`the oldest of more than ${2 + MAX_HANDSHAKES_EXTRA} connections in their handshake at once`);
    expect(t0.handshaking).toBe(2 + MAX_HANDSHAKES_EXTRA);
    // So silent connections do not keep a real pack out: it gets in while they are all still there.
    const t1 = direct({ burstId: 'b7', packId: 1, packCount: 2, url });
    await t1.connect(new Collect());
    await t1.send(0, [new Uint8Array([7])]);
    await sink.until(1);
    expect(sink.errors).toEqual([]);
    await Promise.all(silent.map((s) => (s.destroy(), closed(s))));
    await waitUntil(() => t0.handshaking === 0);
    await Promise.all([t0.close(), t1.close()]);
  }, 60_000);

  test('an offer that names another pack gets an answer like any other, then a silent close: strangers learn nothing of the topology', async () => {
    const { t0, refusals, path } = await listeningPack('b8', { packCount: 3 });
    /** The answer to an offer from `from` to `to` (its fields' lengths), and whether the proof was then refused. */
    const probe = async (from: number, to: number): Promise<{ answer: Record<string, number>; refusedAfterProof: boolean }> => {
      const s = createConnection(path);
      s.on('error', () => {});
      await new Promise((r) => s.once('connect', r));
      const closedAt = new Promise<void>((r) => s.once('close', () => r()));
      const nonce = newNonce();
      s.write(encodeRecord(RecordType.Hello, encodeHello({ proto: HELLO_PROTO, from, to, nonce })));
      const answer = await new Promise<Answer>((resolve) => {
        const d = new RecordDecoder((_t, body) => resolve(parseHelloRecord<Answer>(body, ANSWER_FIELDS)!), { maxFrameBytes: 1 << 20 });
        s.once('data', (c) => d.push(c));
      });
      // A proof with the right key: only a fitting offer gets in.
      s.write(encodeRecord(RecordType.Hello, encodeHello({ mac: helloMac(keysOf('b8').hello, 'dialer', 'b8', from, to, nonce, answer.nonce) })));
      const refused = await Promise.race([closedAt.then(() => true), tick(500).then(() => false)]);
      s.destroy();
      return { answer: Object.fromEntries(Object.entries(answer).map(([k, v]) => [k, String(v).length])), refusedAfterProof: refused };
    };
    const fits = await probe(1, 0);
    expect(fits.refusedAfterProof).toBe(false);
    for (const [from, to] of [
      [1, 5],
      [7, 0],
      [0, 0],
    ] as const) {
      const r = await probe(from, to);
      expect(r).toEqual({ answer: fits.answer, refusedAfterProof: true });
    }
    expect(refusals).toEqual([
      "an offer from 'pack 1' to 'pack 5' does not fit this pack (0 of 3)",
      "an offer from 'pack 7' to 'pack 0' does not fit this pack (0 of 3)",
      "an offer from 'pack 0' to 'pack 0' does not fit this pack (0 of 3)",
    ]);
    await t0.close();
  });

  test('a peer that never listens fails the send after the connect timeout, naming pack, address and what to check', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    const a = direct({ burstId: 'b4', packId: 0, packCount: 2, url, connectTimeoutMs: 300 });
    await a.connect(new Collect());
    await expect(a.send(1, [new Uint8Array(8)])).rejects.toThrow(
      /cannot reach pack 1 at unix:\/\/.*p1\.sock after \d+ ms \(last error: ENOENT\): is that pack running, and does transport\.url \(KB_TRANSPORT_URL\) name where it listens\?/,
    );
    await a.close();
  });

  test('cleanup removes the socket file; a stale one left by a dead process is replaced', async () => {
    const url = `unix://${join(dir, 'p{pack}.sock')}`;
    // A socket file nobody listens on any more: its process was killed, so nothing unlinked it.
    const path = join(dir, 'p0.sock');
    const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    await new Promise((r) => holder.stdout!.once('data', r));
    const t = direct({ burstId: 'b5', packId: 0, packCount: 2, url });
    // While the old listener is alive, the path is in use: refuse with a clear message.
    await expect(t.connect(new Collect())).rejects.toThrow(/cannot listen on unix:\/\/.*p0\.sock: .*another process uses it/);
    holder.kill('SIGKILL');
    await new Promise((r) => holder.once('exit', r));
    expect(existsSync(path)).toBe(true);
    const t2 = direct({ burstId: 'b5', packId: 0, packCount: 2, url });
    await t2.connect(new Collect());
    expect(existsSync(join(dir, 'p0.sock'))).toBe(true);
    await t2.cleanup();
    await t2.close();
    expect(existsSync(join(dir, 'p0.sock'))).toBe(false);
  });
});
