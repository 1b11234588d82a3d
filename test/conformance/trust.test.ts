import { createConnection } from 'node:net';
import { Redis } from 'ioredis';
import { connect, type NatsConnection } from 'nats';
import { runLocalFlare, type FlareResult } from '../../worker-runtime/src/launch/local.js';
import { DType, encodeJson } from '../../worker-runtime/src/protocol/dtype.js';
import { encodeFrames, MsgKind, FRAME_TRAILER_BYTES } from '../../worker-runtime/src/protocol/frame.js';
import { natsSubject } from '../../worker-runtime/src/transport/nats-subjects.js';
import { deleteRedisBurstKeys, redisInboxKey } from '../../worker-runtime/src/transport/redis.js';
import { fixture, NATS_URL, REDIS_URL } from './helpers.js';

/**
 * The flare's messages are its own, on real brokers and sockets, against another client that can do
 * everything a client of the same Redis or NATS (or a process that can reach a pack's port) can: read
 * every frame, push or publish its own, replay what it saw, connect and send garbage.
 */
const scenarios = fixture('scenarios');
const TEXT = 'a message only the flare may read';
const expectedSums = (size: number, rounds: number) => Array(rounds).fill((size * (size + 1)) / 2);

/**
 * A frame that, if delivered, would break the flare: the collective worker 1 waits for, from worker 0, with
 * a value of 666, sealed with a made-up trailer (the forger has no key).
 */
function forgedFrame(seq: number): Uint8Array {
  const [f] = encodeFrames(
    { kind: MsgKind.Coll, dtype: DType.Float64, op: 1, flags: 0, src: 0, dst: 1, seq, tag: 0, root: -1, msgId: 0 },
    new Uint8Array(new Float64Array([666]).buffer),
    1 << 20,
  );
  const out = new Uint8Array(f!.byteLength + FRAME_TRAILER_BYTES);
  out.set(f!);
  new DataView(out.buffer, f!.byteLength).setUint32(0, 0, true);
  return out;
}

function checkRounds(r: FlareResult, size: number, rounds: number): void {
  expect(r.ok).toBe(true);
  for (const w of r.workers) expect((w.result as { sums: number[] }).sums).toEqual(expectedSums(size, rounds));
}

describe('over Redis, another client of the broker', () => {
  let spy: Redis;
  beforeAll(() => {
    spy = new Redis(REDIS_URL, { maxRetriesPerRequest: 1 });
  });
  afterAll(() => spy.disconnect());

  test('pushing forged frames and replaying real ones into every inbox changes nothing: right answer, frames counted as dropped', async () => {
    const burstId = `trust-redis-${Date.now()}`;
    const captured: Buffer[] = [];
    let stop = false;
    // The attacker: read every inbox (LRANGE, like any client could), push forgeries, replay what it read.
    const attack = (async () => {
      while (!stop) {
        for (let p = 0; p < 3; p++) {
          const key = redisInboxKey(burstId, p);
          const seen = await spy.lrangeBuffer(key, 0, 10).catch(() => []);
          captured.push(...seen);
          await spy.rpush(key, Buffer.from(forgedFrame(p)), ...captured.slice(-2)).catch(() => 0);
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    let r: FlareResult;
    try {
      r = await runLocalFlare({
        burstId,
        size: 6,
        granularity: 2,
        transport: { kind: 'redis', url: REDIS_URL },
        modulePath: scenarios,
        params: { value: { scenario: 'rounds', rounds: 20, delayMs: 50 } },
      });
    } finally {
      stop = true;
      await attack;
      // The attacker's last pushes may land after the flare cleaned up (they carry no TTL): its keys, not ours.
      await deleteRedisBurstKeys(REDIS_URL, burstId);
    }
    checkRounds(r, 6, 20);
    expect(captured.length).toBeGreaterThan(0);
    expect(r.packs.reduce((n, p) => n + (p.rejected ?? 0), 0)).toBeGreaterThan(0);
  });
});

describe('user code', () => {
  test('sees no broker credential in its environment, nor does a process it starts', async () => {
    // Redis's default user takes any password: the flare runs, with a password in its URL.
    const password = `Thr3ad-${Date.now().toString(36)}`;
    const url = REDIS_URL.replace('redis://', `redis://default:${password}@`);
    const r = await runLocalFlare({ size: 2, granularity: 1, transport: { kind: 'redis', url }, modulePath: scenarios, params: { value: { scenario: 'env' } } });
    expect(r.ok).toBe(true);
    for (const w of r.workers) {
      const { thread, child } = w.result as { thread: string; child: string };
      // The environment is there (the pack's own settings among it), without the URL.
      expect(JSON.parse(thread)).toHaveProperty('KB_BURST_ID');
      expect(JSON.parse(thread)).not.toHaveProperty('KB_TRANSPORT_URL');
      expect({ thread: thread.includes(password), child: child.includes(password) }).toEqual({ thread: false, child: false });
    }
  });
});

describe('over NATS, another client of the broker', () => {
  let spy: NatsConnection;
  beforeAll(async () => {
    spy = await connect({ servers: NATS_URL });
  });
  afterAll(async () => spy.close());

  test.each([
    ['authenticated only: a subscriber to kb.> can read the payloads (integrity, not secrecy)', false],
    ['encrypted: a subscriber to kb.> reads nothing of them', true],
  ])('forged and replayed frames change nothing; %s', async (_how, encryption) => {
    const burstId = `trust-nats-${encryption ? 'enc' : 'mac'}-${Date.now()}`;
    const seen: Uint8Array[] = [];
    const sub = spy.subscribe('kb.>', {
      callback: (_err, m) => {
        if (!m.subject.startsWith(`kb.${natsSubject(burstId, 0).split('.')[1]}.`)) return;
        seen.push(m.data);
        // Replay everything seen to its own subject, and forge a frame alongside.
        spy.publish(m.subject, m.data);
        spy.publish(m.subject, forgedFrame(0));
      },
    });
    const r = await runLocalFlare({
      burstId,
      size: 4,
      granularity: 2,
      transport: { kind: 'nats', url: NATS_URL, encryption },
      modulePath: scenarios,
      params: { value: { scenario: 'rounds', rounds: 10, delayMs: 30, text: TEXT } },
    });
    sub.unsubscribe();
    checkRounds(r, 4, 10);
    expect((r.workers[3]!.result as { texts: number }).texts).toBe(10);
    expect(seen.length).toBeGreaterThan(0);
    expect(r.packs.reduce((n, p) => n + (p.rejected ?? 0), 0)).toBeGreaterThan(0);
    const plain = Buffer.from(encodeJson(TEXT));
    const readable = seen.some((d) => Buffer.from(d).includes(plain));
    // Authenticated only: integrity, not secrecy (docs/security.md); encrypted: nothing to read.
    expect(readable).toBe(!encryption);
  });
});

describe('over the direct transport, strangers at a running pack’s ports', () => {
  test('garbage, giant length prefixes and slow handshakes neither abort the flare nor grow a pack’s memory past a bound', async () => {
    const base = 23_000 + Math.floor(Math.random() * 2000) * 2;
    const url = `127.0.0.1:${base},127.0.0.1:${base + 1}`;
    let attacks = 0;
    let stop = false;
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct', url },
      modulePath: scenarios,
      // Longer than the handshake deadline (3 s here): the slow strangers are dropped while it runs.
      params: { value: { scenario: 'rounds', rounds: 140, delayMs: 50 } },
      env: { KB_HELLO_TIMEOUT_MS: '3000' },
      onEvent: (e) => {
        if (e.event !== 'joined' || e.pack !== 0 || stop) return;
        // Once pack 0 runs: many connections at both data ports, each claiming a 4 GiB record before any
        // handshake, streaming megabytes of garbage, or opening and then going silent.
        const hit = (port: number, what: 'giant' | 'garbage' | 'slow'): void => {
          const s = createConnection({ host: '127.0.0.1', port });
          s.on('error', () => {});
          s.on('connect', () => {
            attacks++;
            if (what === 'giant') s.write(Buffer.from([2, 0xff, 0xff, 0xff, 0xff]));
            if (what === 'garbage') for (let i = 0; i < 16; i++) s.write(Buffer.alloc(256 * 1024, i));
            if (what === 'slow') s.write(Buffer.from([1, 40, 0, 0, 0]));
          });
          setTimeout(() => s.destroy(), 6_000).unref();
        };
        for (let i = 0; i < 8; i++) for (const port of [base, base + 1]) for (const what of ['giant', 'garbage', 'slow'] as const) hit(port, what);
      },
    });
    stop = true;
    checkRounds(r, 4, 140);
    expect(attacks).toBeGreaterThan(0);
    for (const p of r.packs) expect(p.maxRssBytes).toBeLessThan(300 * 1024 * 1024);
    expect(r.packs.reduce((n, p) => n + (p.refused ?? 0), 0)).toBeGreaterThanOrEqual(attacks);
  }, 60_000);
});
