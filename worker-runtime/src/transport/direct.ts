import { mkdirSync, rmSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { ConfigError, PeerLostError, TransportError } from '../errors.js';
import { concatBytes } from '../protocol/dtype.js';
import {
  ANSWER_FIELDS,
  encodeHello,
  HELLO_PROTO,
  HELLO_TIMEOUT_MS,
  helloMac,
  macEquals,
  MAX_HELLO_RECORD_BYTES,
  MAX_PREAUTH_BYTES,
  newNonce,
  OFFER_FIELDS,
  parseHelloRecord,
  PROOF_FIELDS,
  ACCEPT_FIELDS,
  decoyMac,
  type Accept,
  type Answer,
  type Offer,
  type Proof,
} from '../protocol/hello.js';
import { describeEndpoint, DIRECT_URL_FIELD, parseDirectUrl, type DirectAddresses, type DirectEndpoint } from './direct-address.js';
import { encodeRecord, RecordDecoder, recordPrefix, RecordType, RECORD_PREFIX_BYTES } from '../protocol/stream-records.js';
import { readAcceptedInto } from './read-into.js';
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
 * Each connection starts with a mutual challenge-response handshake over the flare's hello key
 * (protocol/hello.ts: OFFER, ANSWER, PROOF as HELLO records): only packs of this flare get in, and nothing
 * else is read from a connection before it completes. A connection that does not finish it within
 * HELLO_TIMEOUT_MS, or sends more than a handshake's worth of bytes first, is dropped without touching the
 * flare; a refusal is a silent close. One that closes first is forgotten (and counted) at once, and at most
 * MAX_HANDSHAKES_EXTRA more connections than there are packs may be in their handshake at a time: past
 * that, the oldest of them is closed. What strangers can make a pack hold is thus bounded however fast they
 * connect (about 1 KiB of reads and a socket each), and a pack's handshake, which takes a round trip, is
 * not kept out by connections that sit silent. Frames follow as length-prefixed records (stream-records.ts).
 * `send` corks the socket and writes prefix + frame for every frame (one writev), and resolves once the
 * socket has taken them: at once, or on 'drain' when the kernel buffer is full. The receiving side reads
 * the bulk of a large frame from the kernel straight into the frame's own buffer (read-into.ts).
 *
 * Ending: `close` writes a BYE on every connection, then ends it. A connection that closes without a BYE
 * means the peer died or the network failed: the sink gets a PeerLostError naming the pack, and the burst
 * aborts. After a peer's BYE, frames for it are dropped (it has left the burst on purpose).
 */
export const DIRECT_MAX_FRAME_BYTES = 256 * 1024 * 1024;
/** A TCP or Unix connect that has not completed by then is tried again (the handshake then gets longer). */
const DIAL_ATTEMPT_TIMEOUT_MS = 3_000;
const CLOSE_GRACE_MS = 1_000;

/** Connections in their handshake at once, past one per pack (see above). */
export const MAX_HANDSHAKES_EXTRA = 1024;

/** What accepted connections read into when not into a frame's own buffer (shared: see read-into.ts). */
const SCRATCH_BYTES = 64 * 1024;

/** A connection's record decoder, fed by the socket; a bad record fails the connection, not the caller. */
interface FrameReader {
  push(chunk: Uint8Array): void;
  readTarget(): Uint8Array | undefined;
  wrote(n: number): void;
}

/** Where an accepted connection's bytes go: the handshake reader first, then its FrameReader. */
interface AcceptedReads {
  consume: (chunk: Uint8Array) => void;
  frames?: FrameReader;
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
  private readonly live = new Map<Socket, { pack: number; bye: boolean; spoke?: boolean }>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly lost = new Set<number>();
  private closing = false;
  private readonly helloKey: Uint8Array;
  private readonly helloTimeoutMs: number;
  /** Connections dropped before their handshake completed (strangers, or misconfigured peers). */
  refused = 0;
  /** Accepted connections still in their handshake, oldest first: each one's way to refuse it. */
  private readonly handshakes = new Set<(why: string) => void>();
  private scratchBuffer: Uint8Array | undefined;

  constructor(private readonly o: TransportOptions) {
    this.addresses = parseDirectUrl(o.url, o.packCount, o.packId);
    this.connectTimeoutMs = o.connectTimeoutMs ?? 120_000;
    if (o.keys === undefined) throw new ConfigError('KB_SECRET_FILE', 'the direct transport needs the flare secret: connections between packs are authenticated with it');
    this.helloKey = o.keys.hello;
    this.helloTimeoutMs = o.helloTimeoutMs ?? HELLO_TIMEOUT_MS;
  }

  /** Accepted connections still in their handshake (tests). */
  get handshaking(): number {
    return this.handshakes.size;
  }

  /** Where this pack listens (tests and logs). */
  get listenAddress(): string {
    return describeEndpoint(this.addresses.listen);
  }

  async connect(sink: FrameSink): Promise<void> {
    this.sink = sink;
    // Paused: a connection's reads are set up before its first byte (read-into.ts).
    const server = createServer({ noDelay: true, pauseOnConnect: true }, (s) => this.accept(s));
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
      setImmediate(() => copies.forEach((f) => this.sink?.frame(f, false, pack)));
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
      // The connect gets DIAL_ATTEMPT_TIMEOUT_MS; then the handshake gets HELLO_TIMEOUT_MS more (an acceptor
      // on a busy node is slow, and it drops what takes longer: then we dial again).
      let timer = this.later(() => giveUp(`no connection within ${DIAL_ATTEMPT_TIMEOUT_MS} ms`), DIAL_ATTEMPT_TIMEOUT_MS);
      const offer: Offer = { proto: HELLO_PROTO, from: this.o.packId, to: pack, nonce: newNonce() };
      // Listeners stay for the socket's life; once the handshake is over, watch() takes over.
      s.on('error', (err: NodeJS.ErrnoException) => giveUp(err.code ?? err.message));
      s.on('close', () => giveUp('the listener closed the connection during the handshake (a refusal: another flare secret, another pack, or another kubeburst version)'));
      s.once('connect', () => {
        clearTimeout(timer);
        this.timers.delete(timer);
        timer = this.later(() => giveUp(`no complete handshake within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
        s.write(encodeRecord(RecordType.Hello, encodeHello(offer)));
      });
      const pre = new PreAuthReader();
      let proved = false;
      const onData = (chunk: Buffer): void => {
        let got;
        try {
          got = pre.push(chunk);
        } catch (err) {
          giveUp((err as Error).message);
          return;
        }
        if (got === undefined) return;
        if (proved) {
          // ACCEPT: the acceptor took our proof; from now on the connection is live for both sides.
          if (parseHelloRecord<Accept>(got.body, ACCEPT_FIELDS)?.accepted !== true) return giveUp('the acceptor did not accept the handshake');
          handshaking = false;
          clearTimeout(timer);
          this.timers.delete(timer);
          s.off('data', onData);
          const frames = this.decoderFor(s, (type) => this.onOutboundRecord(c, s, type));
          s.on('data', frames.push);
          if (got.rest.byteLength > 0) frames.push(Buffer.from(got.rest));
          this.opened(c, s);
          return;
        }
        const answer = parseHelloRecord<Answer>(got.body, ANSWER_FIELDS);
        const expected = answer && helloMac(this.helloKey, 'acceptor', this.o.burstId, this.o.packId, pack, offer.nonce, answer.nonce);
        if (answer === undefined || answer.proto !== HELLO_PROTO || !macEquals(answer.mac, expected!)) {
          handshaking = false;
          clearTimeout(timer);
          this.timers.delete(timer);
          s.destroy();
          this.failOutbound(
            c,
            new TransportError(
              'direct',
              `pack ${pack} at ${describeEndpoint(addr)} failed authentication: what listens there ${answer === undefined ? 'does not speak the kubeburst handshake' : answer.proto !== HELLO_PROTO ? `speaks ${answer.proto}, not ${HELLO_PROTO} (mixed kubeburst versions?)` : `does not hold this flare's secret, or is not pack ${pack} (another flare, a stale pack of another attempt, or another pack of this one: does ${DIRECT_URL_FIELD} list the packs in order?)`}`,
            ),
          );
          return;
        }
        const proof: Proof = { mac: helloMac(this.helloKey, 'dialer', this.o.burstId, this.o.packId, pack, offer.nonce, answer.nonce) };
        s.write(encodeRecord(RecordType.Hello, encodeHello(proof)));
        proved = true;
        if (got.rest.byteLength > 0) onData(Buffer.alloc(0));
      };
      s.on('data', onData);
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
      this.o.onBye?.(c.pack);
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

  private accept(shell: Socket): void {
    if (this.closing) {
      shell.destroy();
      return;
    }
    const limit = this.o.packCount + MAX_HANDSHAKES_EXTRA;
    if (this.handshakes.size >= limit) this.handshakes.values().next().value!(`the oldest of more than ${limit} connections in their handshake at once`);
    const reads: AcceptedReads = { consume: () => {} };
    this.scratchBuffer ??= Buffer.allocUnsafeSlow(SCRATCH_BYTES);
    const s = readAcceptedInto(
      shell,
      { target: () => reads.frames?.readTarget(), wrote: (n) => reads.frames!.wrote(n), chunk: (bytes) => reads.consume(bytes) },
      this.scratchBuffer,
    );
    this.sockets.add(s);
    s.once('close', () => this.sockets.delete(s));
    s.on('error', () => {}); // reported through 'close' (see watch)
    // Until the dialer has proved it holds the flare's key, nothing it sends touches the flare: a bounded
    // reader takes its two handshake records, and any failure is a silent close, counted.
    let settled = false;
    /** The handshake is over: the connection holds nothing of it any more. */
    const settle = (): void => {
      settled = true;
      this.handshakes.delete(refuse);
      clearTimeout(timer);
      this.timers.delete(timer);
      reads.consume = () => {};
    };
    const refuse = (why: string): void => {
      if (settled) return;
      settle();
      s.destroy();
      if (this.closing) return; // (the pack closing its own sockets refuses no one)
      this.refused++;
      this.o.onRefused?.(why);
    };
    const timer = this.later(() => refuse(`no complete handshake within ${this.helloTimeoutMs} ms`), this.helloTimeoutMs);
    this.handshakes.add(refuse);
    s.once('close', () => refuse('closed before its handshake completed'));
    const pre = new PreAuthReader();
    let offer: Offer | undefined;
    let answer: Answer | undefined;
    let misfit: string | undefined;
    const onData = (chunk: Uint8Array): void => {
      let got;
      try {
        got = pre.push(chunk);
      } catch (err) {
        refuse((err as Error).message);
        return;
      }
      while (got !== undefined) {
        if (offer === undefined) {
          const o = parseHelloRecord<Offer>(got.body, OFFER_FIELDS);
          if (o === undefined || o.proto !== HELLO_PROTO) return refuse('not a kubeburst handshake offer');
          // An offer that does not fit this pack gets an answer too (its MAC random), refused at the proof:
          // else a stranger could learn, offer by offer, which pack listens here and how many there are.
          if (o.to !== this.o.packId || o.from < 0 || o.from >= this.o.packCount || o.from === this.o.packId)
            misfit = `an offer from 'pack ${o.from}' to 'pack ${o.to}' does not fit this pack (${this.o.packId} of ${this.o.packCount})`;
          offer = o;
          const nonce = newNonce();
          answer = {
            proto: HELLO_PROTO,
            nonce,
            mac: misfit !== undefined ? decoyMac() : helloMac(this.helloKey, 'acceptor', this.o.burstId, o.from, this.o.packId, o.nonce, nonce),
          };
          s.write(encodeRecord(RecordType.Hello, encodeHello(answer)));
        } else {
          if (misfit !== undefined) return refuse(misfit);
          const proof = parseHelloRecord<Proof>(got.body, PROOF_FIELDS);
          if (proof === undefined || !macEquals(proof.mac, helloMac(this.helloKey, 'dialer', this.o.burstId, offer.from, this.o.packId, offer.nonce, answer!.nonce))) {
            return refuse(`'pack ${offer.from}' could not prove it holds the flare's key`);
          }
          settle();
          s.write(encodeRecord(RecordType.Hello, encodeHello({ accepted: true })));
          this.authenticated(s, offer.from, got.rest, reads);
          return;
        }
        try {
          got = pre.next();
        } catch (err) {
          return refuse((err as Error).message);
        }
      }
    };
    reads.consume = onData;
  }

  /** An inbound connection whose dialer proved itself: frames from it go to the sink from now on. */
  private authenticated(s: Socket, from: number, rest: Uint8Array, reads: AcceptedReads): void {
    // Live once the dialer spoke after our ACCEPT (a dialer only dials to send, so its frames follow at
    // once): a dialer that gave up just before reading ACCEPT is a failed dial, not a lost peer.
    const state = { pack: from, bye: false, spoke: false };
    this.live.set(s, state);
    this.watch(s, from, 'from');
    const frames = this.decoderFor(s, (type, body, owned) => {
      state.spoke = true;
      if (type === RecordType.Frame) {
        if (!this.closing) this.sink!.frame(body, owned, from);
      } else if (type === RecordType.Bye) {
        this.live.get(s)!.bye = true;
        this.o.onBye?.(from);
      } else {
        this.lose(from, `protocol error: pack ${from} sent a handshake record after its handshake`);
        s.destroy();
      }
    });
    reads.frames = frames;
    reads.consume = frames.push;
    if (rest.byteLength > 0) frames.push(Buffer.from(rest));
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
      if (state?.bye || this.closing || state?.spoke === false) return;
      this.lose(pack, `direct transport: connection ${dir} pack ${pack} ${why} (the process died, was killed, or lost its network)`);
    });
  }

  private decoderFor(s: Socket, onRecord: (type: RecordType, body: Uint8Array, owned: boolean) => void): FrameReader {
    // A frame spanning socket reads gets a buffer of its own (read into directly, or copied into piece by
    // piece), which the pack then transfers to the worker thread (no second copy). Plain memory, not a
    // SharedArrayBuffer: fresh shared memory costs a page fault per 4 KiB (~3× slower per byte here), while
    // malloc reuses warm pages; and not zero-filled, since every byte is written.
    const decoder = new RecordDecoder(onRecord, { maxFrameBytes: this.maxFrameBytes, allocate: (n) => Buffer.allocUnsafeSlow(n) });
    s.once('end', () => {
      try {
        decoder.end();
      } catch (err) {
        const state = this.live.get(s);
        if (state !== undefined && !this.closing) this.lose(state.pack, `direct transport: ${(err as Error).message}`);
      }
    });
    const guarded = (fn: () => void): void => {
      try {
        fn();
      } catch (err) {
        const state = this.live.get(s);
        if (!this.closing) this.report(new TransportError('direct', `bad data from ${state ? `pack ${state.pack}` : 'a peer'}: ${(err as Error).message}`, { cause: err }));
        s.destroy();
      }
    };
    return {
      push: (chunk) => guarded(() => decoder.push(chunk)),
      readTarget: () => decoder.readTarget(),
      wrote: (n) => guarded(() => decoder.wrote(n)),
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

/**
 * Reads the records of a handshake from a connection that has not authenticated yet, holding at most
 * MAX_PREAUTH_BYTES: every record must be a HELLO of at most MAX_HELLO_RECORD_BYTES, checked on its prefix
 * before its body is waited for. Returns a record once one is whole, with the bytes after it.
 */
export class PreAuthReader {
  private buf = Buffer.alloc(0);

  /** Throws (with the reason) when the bytes cannot be the start of a handshake. */
  push(chunk: Uint8Array): { body: Uint8Array; rest: Uint8Array } | undefined {
    this.buf = this.buf.byteLength === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk]);
    return this.next();
  }

  /** The next whole record already buffered, if any. */
  next(): { body: Uint8Array; rest: Uint8Array } | undefined {
    const length = this.peekLength();
    if (length === undefined || this.buf.byteLength < RECORD_PREFIX_BYTES + length) {
      if (this.buf.byteLength > MAX_PREAUTH_BYTES) throw new Error(`sent more than ${MAX_PREAUTH_BYTES} bytes before completing the handshake`);
      return undefined;
    }
    const body = this.buf.subarray(RECORD_PREFIX_BYTES, RECORD_PREFIX_BYTES + length);
    const rest = this.buf.subarray(RECORD_PREFIX_BYTES + length);
    this.buf = Buffer.from(rest);
    return { body, rest };
  }

  private peekLength(): number | undefined {
    if (this.buf.byteLength < RECORD_PREFIX_BYTES) return undefined;
    if (this.buf[0] !== RecordType.Hello) throw new Error(`the first records must be handshake records (got record type ${this.buf[0]})`);
    const length = this.buf.readUInt32LE(1);
    if (length > MAX_HELLO_RECORD_BYTES) throw new Error(`a handshake record of ${length} bytes (limit ${MAX_HELLO_RECORD_BYTES})`);
    return length;
  }
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
