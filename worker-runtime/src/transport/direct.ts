import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { PeerLostError, TransportError } from '../errors.js';
import { concatBytes } from '../protocol/dtype.js';
import { describeEndpoint, DIRECT_URL_FIELD, parseDirectUrl, type DirectAddresses, type DirectEndpoint } from './direct-address.js';
import { encodeRecord, RecordDecoder, recordPrefix, RecordType, RECORD_PREFIX_BYTES } from './stream-records.js';
import type { FrameSink, Transport, TransportOptions } from './types.js';

/**
 * Direct transport: packs talk over TCP (Unix domain sockets on one machine), with no broker in between.
 *
 * Addressing (KB_TRANSPORT=direct, KB_TRANSPORT_URL; see direct-address.ts for the grammar):
 *   unix:///tmp/kb-1234/p{pack}.sock        local runs (`kubeburst run` makes one in a temp dir)
 *   tcp://bj-a0-{pack}.bj-svc:7100          pods: a stable DNS name per pack; each listens on 0.0.0.0:7100
 *   10.0.0.5:7100,10.0.0.6:7100,…           one address per pack, in pack order
 *   …?listen=0.0.0.0:7200                   where this pack listens, when not its own entry
 *
 * Connections: one outbound connection per destination pack, dialed on the first send to it. All frames
 * from pack A to pack B travel on A's one connection to B, a single ordered stream, so order per (sender,
 * receiver) pair holds with no sequencing of our own; each socket has one writer and one reader, so there is
 * no simultaneous-dial race to break; and only the pairs that actually talk hold a socket (the join star,
 * the heartbeat ring, and whatever the collectives need). A peer that is not listening yet is redialed with
 * backoff until `connectTimeoutMs` (the pack's join timeout; default 120 s); frames sent meanwhile wait, in order.
 *
 * Each connection starts with a HELLO each way (protocol, burst id, from, to), so a connection to the wrong
 * burst or pack is refused with a clear error. Frames follow as length-prefixed records (stream-records.ts).
 * `send` corks the socket and writes prefix + frame for every frame (one writev), and resolves once the
 * socket has taken them: at once, or on 'drain' when the kernel buffer is full.
 *
 * Ending: `close` writes a BYE on every connection, then ends it. A connection that closes without a BYE
 * means the peer died or the network failed: the sink gets a PeerLostError naming the pack, and the burst
 * aborts. After a peer's BYE, frames for it are dropped (it has left the burst on purpose).
 */
export const DIRECT_MAX_FRAME_BYTES = 256 * 1024 * 1024;
const PROTOCOL = 'kubeburst-direct/1';
const HANDSHAKE_TIMEOUT_MS = 10_000;
const DIAL_ATTEMPT_TIMEOUT_MS = 3_000;
const CLOSE_GRACE_MS = 1_000;

interface Hello {
  proto: string;
  burst: string;
  from: number;
  to: number;
  /** Set by an acceptor that refuses the connection. */
  error?: string;
}

/** A frame in one buffer, or as parts written back to back (gather-write). */
type OutFrame = Uint8Array | readonly Uint8Array[];

interface Pending {
  frames: readonly OutFrame[];
  resolve: () => void;
  reject: (err: Error) => void;
}

/** This pack's connection to one destination. */
interface Outbound {
  pack: number;
  state: 'dialing' | 'open' | 'ended' | 'failed';
  socket?: Socket;
  pending: Pending[];
  error?: Error;
  drain?: Promise<void>;
}

export class DirectTransport implements Transport {
  readonly kind = 'direct' as const;
  readonly maxFrameBytes = DIRECT_MAX_FRAME_BYTES;
  private readonly addresses: DirectAddresses;
  private readonly connectTimeoutMs: number;
  private sink: FrameSink | undefined;
  private server: Server | undefined;
  private readonly outbound = new Map<number, Outbound>();
  /** Every socket with a finished handshake, and whether its peer said BYE. */
  private readonly live = new Map<Socket, { pack: number; bye: boolean }>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lost = new Set<number>();
  private closing = false;

  constructor(private readonly o: TransportOptions) {
    this.addresses = parseDirectUrl(o.url, o.packCount, o.packId);
    this.connectTimeoutMs = o.connectTimeoutMs ?? 120_000;
  }

  /** Where this pack listens (tests and logs). */
  get listenAddress(): string {
    return describeEndpoint(this.addresses.listen);
  }

  async connect(sink: FrameSink): Promise<void> {
    this.sink = sink;
    const server = createServer({ noDelay: true }, (s) => this.accept(s));
    this.server = server;
    await listen(server, this.addresses.listen);
    server.on('error', (err) => this.report(new TransportError('direct', `listener on ${this.listenAddress} failed: ${err.message}`, { cause: err })));
  }

  send(pack: number, frames: readonly Uint8Array[]): Promise<void> {
    return this.enqueue(pack, frames);
  }

  sendParts(pack: number, frames: readonly (readonly Uint8Array[])[]): Promise<void> {
    return this.enqueue(pack, frames);
  }

  private enqueue(pack: number, frames: readonly OutFrame[]): Promise<void> {
    if (this.closing) return Promise.reject(new TransportError('direct', `send to pack ${pack} after close`));
    if (pack === this.o.packId) {
      // Frames to oneself never touch a socket; deliver on a later tick, as a socket would.
      const copies = frames.map(joinParts);
      setImmediate(() => copies.forEach((f) => this.sink?.frame(f)));
      return Promise.resolve();
    }
    if (!Number.isInteger(pack) || pack < 0 || pack >= this.o.packCount) {
      return Promise.reject(new TransportError('direct', `no pack ${pack}: the burst has packs 0..${this.o.packCount - 1}`));
    }
    const c = this.outbound.get(pack) ?? this.dial(pack);
    switch (c.state) {
      case 'open':
        return this.write(c, frames);
      case 'dialing':
        return new Promise((resolve, reject) => c.pending.push({ frames, resolve, reject }));
      case 'ended':
        return Promise.resolve();
      case 'failed':
        return Promise.reject(c.error!);
    }
  }

  async cleanup(): Promise<void> {
    const l = this.addresses.listen;
    if (l.kind === 'unix' && this.server !== undefined) rmSync(l.path, { force: true });
  }

  async close(): Promise<void> {
    if (this.closing) return;
    this.closing = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const closed = new TransportError('direct', 'transport closed');
    for (const c of this.outbound.values()) {
      if (c.state === 'dialing') this.failOutbound(c, closed);
    }
    const waits: Promise<void>[] = [];
    for (const s of this.sockets) {
      waits.push(new Promise((resolve) => (s.destroyed ? resolve() : s.once('close', () => resolve()))));
      if (this.live.has(s) && s.writable) {
        s.write(encodeRecord(RecordType.Bye));
        s.end();
      } else s.destroy();
    }
    const serverClosed = new Promise<void>((resolve) => (this.server?.listening ? this.server.close(() => resolve()) : resolve()));
    let grace: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all(waits), new Promise<void>((r) => (grace = setTimeout(r, CLOSE_GRACE_MS)))]);
    clearTimeout(grace);
    for (const s of this.sockets) s.destroy();
    await serverClosed;
  }

  // ---- sending ----------------------------------------------------------------------------------

  private write(c: Outbound, frames: readonly OutFrame[]): Promise<void> {
    const s = c.socket!;
    const prefixes = new Uint8Array(RECORD_PREFIX_BYTES * frames.length);
    let ok = true;
    s.cork();
    for (let i = 0; i < frames.length; i++) {
      const f = frames[i]!;
      const parts = f instanceof Uint8Array ? [f] : f;
      let length = 0;
      for (const part of parts) length += part.byteLength;
      recordPrefix(RecordType.Frame, length, prefixes, i * RECORD_PREFIX_BYTES);
      s.write(prefixes.subarray(i * RECORD_PREFIX_BYTES, (i + 1) * RECORD_PREFIX_BYTES));
      for (const part of parts) ok = s.write(part);
    }
    s.uncork();
    if (ok && !s.writableNeedDrain) return Promise.resolve();
    // Backpressure: the caller's promise waits until the socket has flushed what it holds.
    c.drain ??= new Promise<void>((resolve, reject) => {
      const done = (err?: Error): void => {
        s.off('drain', onDrain);
        s.off('close', onClose);
        c.drain = undefined;
        if (err && c.state !== 'ended') reject(err);
        else resolve();
      };
      const onDrain = (): void => done();
      const onClose = (): void => done(c.error ?? new TransportError('direct', `connection to pack ${c.pack} closed while sending`));
      s.on('drain', onDrain);
      s.on('close', onClose);
    });
    return c.drain;
  }

  // ---- dialing ----------------------------------------------------------------------------------

  private dial(pack: number): Outbound {
    const c: Outbound = { pack, state: 'dialing', pending: [] };
    this.outbound.set(pack, c);
    const addr = this.addresses.peer(pack);
    const started = Date.now();
    let delay = 10;
    let lastError = '';
    const retry = (why: string): void => {
      lastError = why;
      const elapsed = Date.now() - started;
      if (this.closing || c.state !== 'dialing') return;
      if (elapsed + delay > this.connectTimeoutMs) {
        this.failOutbound(
          c,
          new TransportError(
            'direct',
            `cannot reach pack ${pack} at ${describeEndpoint(addr)} after ${elapsed} ms (last error: ${lastError}): is that pack running, and does ${DIRECT_URL_FIELD} name where it listens?`,
          ),
        );
        return;
      }
      this.later(attempt, delay);
      delay = Math.min(delay * 2, 500);
    };
    const attempt = (): void => {
      if (this.closing || c.state !== 'dialing') return;
      const s = addr.kind === 'unix' ? createConnection(addr.path) : createConnection({ host: addr.host, port: addr.port, noDelay: true });
      this.sockets.add(s);
      let handshaking = true;
      const giveUp = (why: string): void => {
        if (!handshaking) return;
        handshaking = false;
        clearTimeout(timer);
        this.timers.delete(timer);
        s.destroy();
        this.sockets.delete(s);
        retry(why);
      };
      const timer = this.later(() => giveUp(`no answer within ${DIAL_ATTEMPT_TIMEOUT_MS} ms`), DIAL_ATTEMPT_TIMEOUT_MS);
      // Listeners stay for the socket's life; once the handshake is over, watch() takes over.
      s.on('error', (err: NodeJS.ErrnoException) => giveUp(err.code ?? err.message));
      s.on('close', () => giveUp('connection closed during the handshake'));
      s.once('connect', () => s.write(encodeRecord(RecordType.Hello, helloBytes({ proto: PROTOCOL, burst: this.o.burstId, from: this.o.packId, to: pack }))));
      const decoder = this.decoderFor(s, (type, body) => {
        if (!handshaking) return this.onOutboundRecord(c, s, type);
        handshaking = false;
        clearTimeout(timer);
        this.timers.delete(timer);
        const hello = type === RecordType.Hello ? parseHello(body) : undefined;
        const refusal =
          hello === undefined
            ? `answered with record type ${type} instead of a hello`
            : (hello.error ?? checkHello(hello, this.o.burstId, 'the pack there') ?? (hello.from !== pack ? `pack ${hello.from} listens there, not pack ${pack}: check ${DIRECT_URL_FIELD}` : undefined));
        if (refusal !== undefined) {
          s.destroy();
          this.failOutbound(c, new TransportError('direct', `pack ${pack} at ${describeEndpoint(addr)} refused the connection: ${refusal}`));
          return;
        }
        this.opened(c, s);
      });
      s.on('data', decoder);
    };
    attempt();
    return c;
  }

  private opened(c: Outbound, s: Socket): void {
    c.state = 'open';
    c.socket = s;
    this.live.set(s, { pack: c.pack, bye: false });
    this.watch(s, c.pack, 'to');
    const pending = c.pending;
    c.pending = [];
    for (const p of pending) this.write(c, p.frames).then(p.resolve, p.reject);
  }

  /** Records on an outbound connection: only a BYE may come back. */
  private onOutboundRecord(c: Outbound, s: Socket, type: RecordType): void {
    if (type === RecordType.Bye) {
      this.live.get(s)!.bye = true;
      c.state = 'ended';
      return;
    }
    this.lose(c.pack, `protocol error: pack ${c.pack} sent record type ${type} on a connection it accepted`);
    s.destroy();
  }

  private failOutbound(c: Outbound, err: Error): void {
    c.state = 'failed';
    c.error = err;
    for (const p of c.pending) p.reject(err);
    c.pending = [];
  }

  // ---- accepting --------------------------------------------------------------------------------

  private accept(s: Socket): void {
    if (this.closing) {
      s.destroy();
      return;
    }
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => {}); // reported through 'close' (see watch)
    let from: number | undefined;
    const timer = this.later(() => s.destroy(), HANDSHAKE_TIMEOUT_MS);
    const decoder = this.decoderFor(s, (type, body, owned) => {
      if (from !== undefined) {
        if (type === RecordType.Frame) {
          if (!this.closing) this.sink!.frame(body, owned);
        }
        else if (type === RecordType.Bye) this.live.get(s)!.bye = true;
        else {
          this.lose(from, `protocol error: pack ${from} sent a second hello`);
          s.destroy();
        }
        return;
      }
      clearTimeout(timer);
      this.timers.delete(timer);
      const hello = type === RecordType.Hello ? parseHello(body) : undefined;
      const refusal =
        hello === undefined
          ? 'the first record must be a hello'
          : (checkHello(hello, this.o.burstId, 'the dialer') ??
            (hello.to !== this.o.packId
              ? `the dialer wanted pack ${hello.to}, but pack ${this.o.packId} listens here: check ${DIRECT_URL_FIELD}`
              : !Number.isInteger(hello.from) || hello.from < 0 || hello.from >= this.o.packCount || hello.from === this.o.packId
                ? `the dialer claims to be pack ${hello.from}, which is not another pack of this burst (0..${this.o.packCount - 1})`
                : undefined));
      const reply: Hello = { proto: PROTOCOL, burst: this.o.burstId, from: this.o.packId, to: hello?.from ?? -1, ...(refusal ? { error: refusal } : {}) };
      s.write(encodeRecord(RecordType.Hello, helloBytes(reply)));
      if (refusal !== undefined) {
        s.end();
        return;
      }
      from = hello!.from;
      this.live.set(s, { pack: from, bye: false });
      this.watch(s, from, 'from');
    });
    s.on('data', decoder);
  }

  // ---- liveness ---------------------------------------------------------------------------------

  /** A connection with a finished handshake: closing without a BYE means the peer is lost. */
  private watch(s: Socket, pack: number, dir: 'to' | 'from'): void {
    let why = 'closed without a goodbye';
    s.on('error', (err: NodeJS.ErrnoException) => (why = `failed with ${err.code ?? err.message}`));
    s.once('close', () => {
      this.sockets.delete(s);
      const state = this.live.get(s);
      this.live.delete(s);
      if (state?.bye || this.closing) return;
      this.lose(pack, `direct transport: connection ${dir} pack ${pack} ${why} (the process died, was killed, or lost its network)`);
    });
  }

  private decoderFor(s: Socket, onRecord: (type: RecordType, body: Uint8Array, owned: boolean) => void): (chunk: Buffer) => void {
    // A frame spanning socket reads is copied once into a buffer of its own, which the pack then transfers
    // to the worker thread (no second copy). Plain memory, not a SharedArrayBuffer: fresh shared memory
    // costs a page fault per 4 KiB (~3× slower per byte here), while malloc reuses warm pages; and not
    // zero-filled, since every byte is copied in.
    const decoder = new RecordDecoder(onRecord, { maxFrameBytes: this.maxFrameBytes, allocate: (n) => Buffer.allocUnsafeSlow(n) });
    s.once('end', () => {
      try {
        decoder.end();
      } catch (err) {
        const state = this.live.get(s);
        if (state !== undefined && !this.closing) this.lose(state.pack, `direct transport: ${(err as Error).message}`);
      }
    });
    return (chunk) => {
      try {
        decoder.push(chunk);
      } catch (err) {
        const state = this.live.get(s);
        if (!this.closing) this.report(new TransportError('direct', `bad data from ${state ? `pack ${state.pack}` : 'a peer'}: ${(err as Error).message}`, { cause: err }));
        s.destroy();
      }
    };
  }

  private lose(pack: number, detail: string): void {
    if (this.closing || this.lost.has(pack)) return;
    this.lost.add(pack);
    this.report(new PeerLostError(pack, detail));
  }

  private report(err: Error): void {
    if (!this.closing) this.sink?.error(err);
  }

  private later(fn: () => void, ms: number): NodeJS.Timeout {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
    return t;
  }
}

function helloBytes(h: Hello): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(h));
}

function parseHello(body: Uint8Array): Hello | undefined {
  try {
    const h = JSON.parse(new TextDecoder().decode(body)) as Hello;
    return typeof h === 'object' && h !== null && typeof h.proto === 'string' ? h : undefined;
  } catch {
    return undefined;
  }
}

/** Why a hello cannot be for this burst, or undefined. `who` names the peer from this side's view. */
function checkHello(h: Hello, burst: string, who: string): string | undefined {
  if (h.proto !== PROTOCOL) return `${who} speaks ${h.proto}, not ${PROTOCOL} (mixed kubeburst versions?)`;
  if (h.burst !== burst) return `${who} belongs to burst ${h.burst}, this pack to burst ${burst} (a stale pack of another attempt at this address?)`;
  return undefined;
}

async function listen(server: Server, at: DirectEndpoint): Promise<void> {
  const attempt = (): Promise<void> =>
    new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      server.once('error', onError);
      const done = (): void => {
        server.off('error', onError);
        resolve();
      };
      if (at.kind === 'unix') server.listen(at.path, done);
      else server.listen(at.port, at.host, done);
    });
  if (at.kind === 'unix') mkdirSync(dirname(at.path), { recursive: true });
  try {
    await attempt();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE' && at.kind === 'unix' && !(await answers(at.path))) {
      // A socket file left by a process that died: nobody listens on it any more.
      rmSync(at.path, { force: true });
      await attempt();
      return;
    }
    throw new TransportError(
      'direct',
      `cannot listen on ${describeEndpoint(at)}: ${(err as Error).message}` +
        (code === 'EADDRINUSE' ? ` (another process uses it: choose another port or path in ${DIRECT_URL_FIELD}, or add ?listen=)` : ''),
      { cause: err },
    );
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createConnection(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

function joinParts(f: OutFrame): Uint8Array {
  return f instanceof Uint8Array ? new Uint8Array(f) : concatBytes(f);
}
