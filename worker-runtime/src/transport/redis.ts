import { Command, Redis } from 'ioredis';
import type { Writable } from 'node:stream';
import { TransportError } from '../errors.js';
import { redactUrl } from '../redact.js';
import type { FrameSink, Transport, TransportOptions } from './types.js';

/**
 * Redis transport: every pack owns two lists, `kb:{<burst>}:ctl:<pack>` (urgent frames) and
 * `kb:{<burst>}:inbox:<pack>` (data). Senders RPUSH frames (pipelined, so order per sender is kept); the
 * owner pops up to 32 at a time with BLMPOP over both keys on a dedicated connection, asking for the next
 * batch before delivering the last. BLMPOP serves the first non-empty key. (Coordination travels on the
 * packs' links, not here: nothing is sent urgent today.)
 * Lists persist, so a frame sent before its receiver starts listening is not lost. A list gets a TTL as a
 * safety net from the push that creates it (a list BLMPOP empties is gone, and the next push makes it anew:
 * RPUSH's reply, the list's length, says so); the pack deletes its list when the burst ends (success or
 * failure), and `deleteBurstKeys` removes anything left after a crash.
 *
 * A connection that drops mid-flare fails the transport at once: frames popped but not yet delivered,
 * or pushed but not acknowledged, may be lost or sent twice, and waiting it out would end in a timeout
 * that blames a healthy worker. (Frames are also sealed with counters: transport/sealed.ts sees any loss.)
 *
 * The `{…}` hash tag keeps all of a burst's keys in one Redis Cluster slot.
 */
export const REDIS_KEY_PREFIX = 'kb:';
/** At most this many frames per reply: 32 × 1 MiB chunks keeps one reply's parse short. */
const POP_BATCH = 32;

export function redisInboxKey(burstId: string, pack: number, urgent = false): string {
  return `${REDIS_KEY_PREFIX}{${burstId}}:${urgent ? 'ctl' : 'inbox'}:${pack}`;
}

export interface RedisTransportOptions extends TransportOptions {
  /**
   * Milliseconds an inbox lives if nobody deletes it (default one day): set by the push that creates the
   * list, renewed by a push once half of it has passed.
   */
  keyTtlMs?: number;
}

export class RedisTransport implements Transport {
  readonly kind = 'redis' as const;
  /** Redis' proto-max-bulk-len default is 512 MiB. */
  readonly maxFrameBytes = 512 * 1024 * 1024;
  private pub: Redis | undefined;
  private sub: Redis | undefined;
  private closed = false;
  private readonly inbox: string;
  private readonly control: string;
  private readonly ttlMs: number;
  /** When this pack last set the TTL of each inbox it pushes to (Date.now()). */
  private readonly ttlSetAt = new Map<string, number>();

  constructor(private readonly o: RedisTransportOptions) {
    this.inbox = redisInboxKey(o.burstId, o.packId);
    this.control = redisInboxKey(o.burstId, o.packId, true);
    this.ttlMs = o.keyTtlMs ?? 24 * 3600 * 1000;
  }

  async connect(sink: FrameSink): Promise<void> {
    const common = { lazyConnect: true, maxRetriesPerRequest: null, enableAutoPipelining: false, connectionName: `kubeburst:${this.o.burstId}:${this.o.packId}` };
    this.pub = new Redis(this.o.url, common);
    this.sub = new Redis(this.o.url, common);
    // ioredis emits 'error' on every failed reconnect attempt; without a listener Node would crash.
    this.pub.on('error', () => {});
    this.sub.on('error', () => {});
    try {
      await Promise.all([this.pub.connect(), this.sub.connect()]);
    } catch (err) {
      await this.close();
      throw new TransportError(
        'redis',
        `cannot connect to ${redactUrl(this.o.url)}: ${(err as Error).message} (is Redis running there? the URL came from ${this.o.urlSource ?? 'KB_TRANSPORT_URL'})`,
        { cause: err },
      );
    }
    for (const [name, c] of [
      ['sending', this.pub],
      ['receiving', this.sub],
    ] as const) {
      c.once('close', () => {
        if (!this.closed) sink.error(new TransportError('redis', `the ${name} connection to ${redactUrl(this.o.url)} dropped mid-flare: frames in flight may be lost`));
      });
    }
    void this.receiveLoop(sink);
  }

  /**
   * The next pop leaves as soon as a reply arrives, before its frames are opened and delivered, so Redis
   * writes the next batch meanwhile instead of idling until the pack asks again. (One pop is pending at a
   * time; Redis serves a connection's commands in order, so frames still arrive in order.)
   */
  private async receiveLoop(sink: FrameSink): Promise<void> {
    const sub = this.sub!;
    const pop = (): Promise<[Buffer, Buffer[]] | null> => {
      const p = sub.callBuffer('BLMPOP', 0, 2, this.control, this.inbox, 'LEFT', 'COUNT', POP_BATCH) as Promise<[Buffer, Buffer[]] | null>;
      // A pop still pending when the transport closes fails with the connection: nobody awaits it then.
      p.catch(() => {});
      return p;
    };
    let next = pop();
    while (!this.closed) {
      let reply: [Buffer, Buffer[]] | null;
      try {
        reply = await next;
      } catch (err) {
        if (!this.closed) sink.error(new TransportError('redis', `receive failed: ${(err as Error).message}`, { cause: err }));
        return;
      }
      if (this.closed) return;
      next = pop();
      if (reply === null) continue;
      for (const f of reply[1]) sink.frame(f);
    }
  }

  send(pack: number, frames: readonly Uint8Array[], urgent = false): Promise<void> {
    return this.push(
      redisInboxKey(this.o.burstId, pack, urgent),
      frames.map((f) => [f]),
    );
  }

  /** Frames as their parts (a header, a view of a payload in shared memory): written with no copy. */
  sendParts(pack: number, frames: readonly (readonly Uint8Array[])[]): Promise<void> {
    return this.push(redisInboxKey(this.o.burstId, pack), frames);
  }

  private async push(key: string, frames: readonly (readonly Uint8Array[])[]): Promise<void> {
    let length: number;
    try {
      length = (await this.pub!.sendCommand(new FramePush(key, frames))) as number;
    } catch (err) {
      throw new TransportError('redis', `RPUSH to ${key} failed: ${(err as Error).message}`, { cause: err });
    }
    // The push that made the list sets its TTL (once the receiver empties it, the list is gone, and so is
    // the TTL; a PEXPIRE that arrives after that finds no key, or the list the next creator also sets). A
    // list that never empties has it renewed by whoever pushes once half of it has passed.
    const now = Date.now();
    const last = this.ttlSetAt.get(key);
    if (length === frames.length || last === undefined || now - last > this.ttlMs / 2) {
      this.ttlSetAt.set(key, now);
      try {
        await this.pub!.pexpire(key, this.ttlMs);
      } catch (err) {
        throw new TransportError('redis', `PEXPIRE of ${key} failed: ${(err as Error).message}`, { cause: err });
      }
    }
  }

  async cleanup(): Promise<void> {
    if (this.pub !== undefined && this.pub.status === 'ready') await this.pub.del(this.inbox, this.control);
  }

  async close(): Promise<void> {
    this.closed = true;
    this.sub?.disconnect();
    if (this.pub !== undefined) {
      try {
        if (this.pub.status === 'ready') await this.pub.quit();
        else this.pub.disconnect();
      } catch {
        this.pub.disconnect();
      }
    }
  }
}

/**
 * RPUSH of frames written to the socket as they are, each frame given as its parts. ioredis would first
 * copy every argument of a command into one buffer (and a pipeline would copy that again): passes over
 * every megabyte before the kernel's own copy. ioredis hands toWritable the socket it then writes the
 * returned value to, at once: the head and the parts go in corked, ioredis writes the final CRLF, and the
 * command leaves in one writev, in order with everything else on the connection. Send it with
 * sendCommand only, never in a pipeline or a MULTI: those buffer what toWritable returns and would write
 * it after the parts. The parts are not copied, so they must not change until the reply: the transport
 * owns them (and a payload in shared memory belongs to the send, context.ts alloc).
 */
class FramePush extends Command {
  constructor(
    private readonly key: string,
    private readonly frames: readonly (readonly Uint8Array[])[],
  ) {
    super('rpush', [key]);
  }

  override toWritable(socket: object): string {
    const w = socket as Writable;
    if (typeof w.cork !== 'function' || typeof w.uncork !== 'function') throw new Error('FramePush writes to a socket itself: send it with sendCommand');
    w.cork();
    w.write(`*${this.frames.length + 2}\r\n$5\r\nRPUSH\r\n$${Buffer.byteLength(this.key)}\r\n${this.key}`);
    for (const parts of this.frames) {
      let n = 0;
      for (const p of parts) n += p.byteLength;
      w.write(`\r\n$${n}\r\n`);
      for (const p of parts) if (p.byteLength > 0) w.write(p);
    }
    process.nextTick(() => w.uncork());
    return '\r\n';
  }
}

/**
 * A Redis ACL user of its own per burst, which can touch that burst's keys only, with the few commands the
 * transport sends: the operator creates one per attempt with an admin credential (chart value
 * brokers.redisAdmin) and hands its password to the attempt's packs in the attempt Secret. `user` is
 * redisUserOf(burstId) (redis-users.ts, which imports this module lazily).
 */
export async function createRedisBurstUserNow(adminUrl: string, user: string, burstId: string, password: string): Promise<void> {
  await withAdmin(adminUrl, (r) =>
    r.call('ACL', 'SETUSER', user, 'reset', 'on', `>${password}`, `~${REDIS_KEY_PREFIX}{${escapeGlob(burstId)}}:*`, '-@all', ...REDIS_USER_COMMANDS.map((c) => `+${c}`)),
  );
}

/** Deletes a burst's ACL user (no error if there is none). */
export async function deleteRedisBurstUserNow(adminUrl: string, user: string): Promise<void> {
  await withAdmin(adminUrl, (r) => r.call('ACL', 'DELUSER', user));
}

/** What a pack's connections send (ioredis' handshake and ready check, the transport, its clean-up). */
const REDIS_USER_COMMANDS = ['ping', 'hello', 'auth', 'select', 'client|setname', 'client|getname', 'info', 'rpush', 'blmpop', 'pexpire', 'del'];

async function withAdmin(url: string, f: (r: Redis) => Promise<unknown>): Promise<void> {
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: CLEANUP_TIMEOUT_MS, commandTimeout: CLEANUP_TIMEOUT_MS });
  r.on('error', () => {});
  try {
    await r.connect();
    await f(r);
  } catch (err) {
    throw new TransportError('redis', `managing burst users on ${redactUrl(url)} failed: ${(err as Error).message}`, { cause: err });
  } finally {
    r.disconnect();
  }
}

/** Deletes every key of a burst (all packs' inboxes): the operator's finalizer and the launcher call this. */
export async function deleteRedisBurstKeys(url: string, burstId: string): Promise<number> {
  let deleted = 0;
  await scanBurstKeys(url, burstId, async (r, keys) => {
    deleted += await r.del(...keys);
  });
  return deleted;
}

/** Lists a burst's keys (tests assert that none are left). */
export async function listRedisBurstKeys(url: string, burstId: string): Promise<string[]> {
  const out: string[] = [];
  await scanBurstKeys(url, burstId, async (_r, keys) => {
    out.push(...keys);
  });
  return out;
}

/** A clean-up's connection and every command it sends get this long. */
const CLEANUP_TIMEOUT_MS = 5_000;

/** SCANs a burst's keys on a short-lived connection, a batch at a time. */
async function scanBurstKeys(url: string, burstId: string, each: (r: Redis, keys: string[]) => Promise<void>): Promise<void> {
  // One connection attempt, no reconnecting, every step bounded: a clean-up against an unreachable or
  // silent server fails once, in seconds, and leaves no client retrying in the background (which would
  // also keep the process alive).
  const r = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null, connectTimeout: CLEANUP_TIMEOUT_MS, commandTimeout: CLEANUP_TIMEOUT_MS });
  r.on('error', () => {});
  try {
    await Promise.race([
      r.connect(),
      new Promise((_, reject) =>
        setTimeout(() => reject(new TransportError('redis', `no answer from ${redactUrl(url)} within ${CLEANUP_TIMEOUT_MS} ms`)), CLEANUP_TIMEOUT_MS).unref(),
      ),
    ]);
    let cursor = '0';
    do {
      const [next, keys] = await r.scan(cursor, 'MATCH', `${REDIS_KEY_PREFIX}{${escapeGlob(burstId)}}:*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await each(r, keys);
    } while (cursor !== '0');
  } finally {
    r.disconnect();
  }
}

function escapeGlob(s: string): string {
  return s.replace(/[*?[\]\\]/g, (c) => `\\${c}`);
}
