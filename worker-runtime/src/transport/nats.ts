import { connect, ErrorCode, jwtAuthenticator, type NatsConnection, type NatsError, type Subscription } from 'nats';
import { TransportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import { natsBurstSubjects, natsSubject } from './nats-subjects.js';
import { agreedNatsAuth, parseNatsServers, type NatsUrlAuth } from './nats-url.js';
import { natsJwtExpiry } from './nats-users.js';
import type { FrameSink, Transport, TransportOptions } from './types.js';

/**
 * NATS transport: every pack subscribes to `kb.<burst>.<pack>` and senders publish frames there. Core NATS
 * keeps nothing on the server (no stream, no key), so there is nothing to delete when a burst ends: the
 * subscription ends with the connection. Core NATS is at-most-once: a pack says HELLO (on its link) only
 * once its subscription is live, so user traffic starts only when every pack listens; a connection that
 * drops mid-flare fails the transport at once (what was published meanwhile is gone), and sealed frames'
 * counters (transport/sealed.ts) reveal any frame the server discards.
 *
 * Flow control: publish() only buffers; after every `flushEveryBytes` a send waits for a server round trip
 * (flush), and sends run in order, one after another. The pack counts bytes handed to the transport and
 * not yet accepted, and a worker's next send waits while that passes the pack's send budget, so a fast
 * sender cannot grow the client buffer without bound.
 * Frames never exceed the server's max_payload: the runtime sizes chunks from `maxFrameBytes`.
 *
 * Large frames skip nats.js's outbound buffer: publish() queues the PUB line, the payload and its CRLF,
 * and the buffer then joins everything queued into one new, zero-filled array before writing it, which
 * cost the sending pack a copy and a memset per byte (a tenth of its CPU at 1 MiB messages). A frame of
 * DIRECT_PUBLISH_BYTES or more is written to the client's socket as those three pieces (no copy), after
 * flushing what the buffer held, so the order of frames and of the flushes' PINGs is the buffer's order.
 * That uses nats.js's connection internals (NatsWire); a client without them publishes everything.
 *
 * With `natsUser` (a burst's own user, nats-users.ts) the pack connects with its JWT and seed, and the
 * server lets it publish and subscribe to `kb.<burst>.>` only: that covers everything this transport does
 * (flush is a PING, no subject; nothing here makes a request, so no `_INBOX`). A publish the server
 * refuses fails the transport at once, naming the subject: it is never silently lost.
 *
 * Without it, the pack connects with the URL's own credentials (`nats://user:password@host`, or a token,
 * `nats://token@host`; nats-url.ts), which nats.js takes only as options; with it, those are ignored, as the
 * Redis transport ignores the URL's when the burst has a user of its own.
 */
export interface NatsTransportOptions extends TransportOptions {
  flushEveryBytes?: number;
}

/** Frames from this size on are written past nats.js's outbound buffer (see above); its own inline-flush size. */
export const DIRECT_PUBLISH_BYTES = 32 * 1024;

/** What the direct publish path needs of nats.js's connection (nats 2.x: NatsConnectionImpl.protocol). */
interface NatsWire {
  flushPending(): void;
  transport: { send(bytes: Uint8Array): void };
  outBytes: number;
  outMsgs: number;
}

function wireOf(nc: NatsConnection): NatsWire | undefined {
  const p = (nc as unknown as { protocol?: Partial<NatsWire> }).protocol;
  return typeof p?.flushPending === 'function' && typeof p.transport?.send === 'function' && typeof p.outBytes === 'number' ? (p as NatsWire) : undefined;
}

const CRLF = new Uint8Array([13, 10]);
const ascii = new TextEncoder();

/** What to check when the server refuses the URL's credentials (or their absence). */
function refusal(auth: NatsUrlAuth | undefined): string {
  if (auth === undefined) return 'the URL names no credentials: nats://user:password@host, or nats://token@host, percent-encoded';
  return 'token' in auth ? 'check the token in the URL' : 'check the user and password in the URL, written percent-encoded (%25 for %, %2C for a comma)';
}

export class NatsTransport implements Transport {
  readonly kind = 'nats' as const;
  maxFrameBytes = 1024 * 1024;
  private nc: NatsConnection | undefined;
  private wire: NatsWire | undefined;
  private sub: Subscription | undefined;
  private unflushed = 0;
  private tail: Promise<void> = Promise.resolve();
  private closing = false;
  private readonly flushEvery: number;

  constructor(private readonly o: NatsTransportOptions) {
    this.flushEvery = o.flushEveryBytes ?? 8 * 1024 * 1024;
  }

  async connect(sink: FrameSink): Promise<void> {
    const user = this.o.natsUser;
    const source = this.o.urlSource ?? 'KB_TRANSPORT_URL';
    // Before any socket: a list whose servers disagree on credentials is refused here.
    const entries = parseNatsServers(this.o.url, source);
    const auth = user === undefined ? agreedNatsAuth(entries, source) : undefined;
    try {
      this.nc = await connect({
        servers: entries.map((e) => e.server),
        name: `kubeburst:${this.o.burstId}:${this.o.packId}`,
        // A dropped connection ends the flare (see above): reconnecting would only hide lost messages.
        reconnect: false,
        timeout: Math.min(this.o.connectTimeoutMs ?? 20_000, 20_000),
        ...(user !== undefined ? { authenticator: jwtAuthenticator(user.jwt, new TextEncoder().encode(user.seed)) } : {}),
        ...auth,
      });
    } catch (err) {
      // A JWT that expires while the connection opens is refused as expired rather than as a violation.
      const code = (err as NatsError).code;
      const refused = user !== undefined && (code === ErrorCode.AuthorizationViolation || code === ErrorCode.AuthenticationExpired);
      const url = redactUrl(this.o.url);
      const message = (err as Error).message;
      throw new TransportError(
        'nats',
        refused
          ? `${url} refused the burst's NATS user from ${user.source}: ${message} (${this.expiry() ?? 'its JWT has no expiry'}; or the server does not trust the key that signed it)`
          : user === undefined && code === ErrorCode.AuthorizationViolation
            ? `${url} refused to let the pack in: ${message} (${refusal(auth)}; the URL came from ${source})`
            : `cannot connect to ${url}: ${message} (is nats-server running there? the URL came from ${source})`,
        { cause: err },
      );
    }
    this.maxFrameBytes = this.nc.info?.max_payload ?? this.maxFrameBytes;
    this.wire = wireOf(this.nc);
    this.sub = this.nc.subscribe(natsSubject(this.o.burstId, this.o.packId), {
      callback: (err, msg) => {
        if (err) sink.error(new TransportError('nats', `subscription failed: ${err.message}`, { cause: err }));
        else sink.frame(msg.data);
      },
    });
    void this.nc.closed().then((err) => {
      if (this.closing) return;
      const expired = user !== undefined && (err as NatsError | undefined)?.code === ErrorCode.AuthenticationExpired;
      sink.error(
        new TransportError(
          'nats',
          expired
            ? `the burst's NATS user (from ${user.source}) expired mid-flare: ${this.expiry() ?? 'its JWT expired'}; a burst that runs longer needs a later deadline (spec.activeDeadlineSeconds)`
            : `the connection to ${redactUrl(this.o.url)} dropped mid-flare${err ? ` (${err.message})` : ''}: frames in flight may be lost`,
          { cause: err },
        ),
      );
    });
    // A refused publish is only a status event to the client: the frame is gone, so the flare fails now.
    // (A refused subscription reaches the subscription's callback, above.)
    void (async () => {
      for await (const s of this.nc!.status()) {
        const ctx = (s as { permissionContext?: { operation: string; subject: string } }).permissionContext;
        if (s.type === 'error' && ctx?.operation === 'publish' && !this.closing)
          sink.error(
            new TransportError(
              'nats',
              `${redactUrl(this.o.url)} refused to let pack ${this.o.packId} publish to ${ctx.subject} (${user !== undefined ? `the burst's user from ${user.source} may use ${natsBurstSubjects(this.o.burstId)} only` : "the URL's user lacks the permission"})`,
            ),
          );
      }
    })();
    // The subscription is live on the server once a round trip completes.
    await this.nc.flush();
  }

  /** When the user's JWT expires, in words. */
  private expiry(): string | undefined {
    const exp = this.o.natsUser === undefined ? undefined : natsJwtExpiry(this.o.natsUser.jwt);
    return exp === undefined ? undefined : `its JWT expire${exp * 1000 > Date.now() ? 's' : 'd'} at ${new Date(exp * 1000).toISOString()}`;
  }

  send(pack: number, frames: readonly Uint8Array[]): Promise<void> {
    // Sends run one after another: a send that waits for a flush must not let a later one publish first.
    const run = (): Promise<void> => this.publish(natsSubject(this.o.burstId, pack), frames);
    const done = this.tail.then(run, run);
    this.tail = done.catch(() => {});
    return done;
  }

  private async publish(subject: string, frames: readonly Uint8Array[]): Promise<void> {
    const nc = this.nc!;
    const wire = this.wire;
    for (const f of frames) {
      // (Past max_payload, or closed: publish() throws as it should.)
      if (wire !== undefined && f.byteLength >= DIRECT_PUBLISH_BYTES && f.byteLength <= this.maxFrameBytes && !nc.isClosed()) {
        wire.flushPending();
        wire.transport.send(ascii.encode(`PUB ${subject} ${f.byteLength}\r\n`));
        wire.transport.send(f);
        wire.transport.send(CRLF);
        wire.outBytes += f.byteLength;
        wire.outMsgs++;
      } else nc.publish(subject, f);
      this.unflushed += f.byteLength;
      if (this.unflushed >= this.flushEvery) {
        this.unflushed = 0;
        await nc.flush();
      }
    }
  }

  async cleanup(): Promise<void> {
    this.sub?.unsubscribe();
  }

  async close(): Promise<void> {
    this.closing = true;
    if (this.nc !== undefined && !this.nc.isClosed()) {
      try {
        await this.nc.flush();
      } catch {
        /* closing anyway */
      }
      await this.nc.close();
    }
  }
}
