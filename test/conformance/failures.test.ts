import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import { listRedisBurstKeys } from '../../worker-runtime/src/transport/redis.js';
import { BROKERS, fixture, REDIS_URL } from './helpers.js';

const scenarios = fixture('scenarios');

describe.each(BROKERS)('failures over $kind', ({ kind, url }) => {
  test('a worker that throws fails the burst: every other worker rejects within 2 s, naming it', async () => {
    // Packs clean up after a failure themselves: no sweep by the launcher.
    const r = await runLocalFlare({
      sweepBrokerKeys: false,
      size: 6,
      granularity: 2,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'throw', failing: 3 } },
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 3 });
    expect(r.failure!.reason).toMatch(/deliberate failure in worker 3/);
    expect(r.exitCodes.every((c) => c === 1)).toBe(true);
    const failed = r.workers.find((w) => w.workerId === 3)!;
    expect(failed.ok).toBe(false);
    expect(failed.error!.message).toMatch(/deliberate failure/);
    for (const w of r.workers.filter((x) => x.workerId !== 3)) {
      const res = w.result as { rejectedAfterMs: number; error: string; name: string };
      expect(res.name).toBe('BurstAbortedError');
      expect(res.error).toMatch(/worker 3 failed: Error: deliberate failure in worker 3/);
      // The failing worker throws 300 ms after start; everyone learns of it within 2 s of that.
      expect(res.rejectedAfterMs).toBeGreaterThan(0);
      expect(res.rejectedAfterMs - 300).toBeLessThan(2000);
    }
    if (kind === 'redis') expect(await listRedisBurstKeys(REDIS_URL, r.burstId)).toEqual([]);
  });

  if (kind === 'direct') {
    test('a failed burst leaves no socket files behind', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'kb-sockets-'));
      try {
        const r = await runLocalFlare({
          size: 4,
          granularity: 1,
          transport: { kind, url: `unix://${join(dir, 'p{pack}.sock')}` },
          modulePath: scenarios,
          params: { value: { scenario: 'throw', failing: 2 } },
        });
        expect(r.failure).toMatchObject({ failedWorker: 2 });
        expect(readdirSync(dir)).toEqual([]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }

  // In a cluster nobody watches a pack's process but the other packs: its neighbours' liveness links close
  // when it dies. Locally the launcher also sees the process die and tells the others. Both must abort
  // every other worker within 2 s, naming the pack; heartbeats play no part (their timeout is 15 s).
  test.each([
    ['its neighbours’ links alone, as in a cluster', false],
    ['the launcher relaying the death too', true],
  ])('a pack that dies is detected by %s: every other worker rejects within 2 s, naming the pack', async (_how, relay) => {
    let victim: ChildProcess | undefined;
    let killedAt = 0;
    const joined = new Set<number>();
    const r = await runLocalFlare({
      size: 6,
      granularity: 2,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'wait-forever' } },
      relayPackDeaths: relay,
      onSpawn: (p, child) => {
        if (p === 1) victim = child;
      },
      onEvent: (e) => {
        // Kill pack 1 once every pack has joined (so every worker is waiting in recv).
        if (e.event === 'joined') joined.add(e.pack);
        if (joined.size === 3 && victim !== undefined && killedAt === 0) {
          killedAt = -1;
          setTimeout(() => {
            killedAt = Date.now();
            victim!.kill('SIGKILL');
          }, 300);
        }
      },
    });
    expect(killedAt).toBeGreaterThan(0);
    expect(r.ok).toBe(false);
    expect(r.exitCodes[1]).toBeNull(); // killed by signal
    expect(r.failure).toMatchObject({ failedPack: 1 });
    // Its links close (and over the direct transport its data connections); the launcher may tell first.
    const detected = relay
      ? /pack 1 (process was killed by SIGKILL|is gone: its link closed|lost: direct transport: connection (to|from) pack 1)/
      : /pack 1 (is gone: its link closed without a goodbye|lost: direct transport: connection (to|from) pack 1)/;
    expect(r.failure!.reason).toMatch(detected);
    // Every pack settled on the same culprit and reason.
    expect(new Set(r.packs.map((p) => JSON.stringify(p.abort))).size).toBe(1);
    for (const w of r.workers.filter((x) => x.packId !== 1)) {
      expect(w.ok).toBe(false);
      expect(w.error!.name).toBe('BurstAbortedError');
      expect(w.error!.message).toMatch(/pack 1 failed/);
      const after = Number(/after (\d+) ms/.exec(w.error!.message)?.[1]);
      // Rejected within 2 s of the kill (the worker measured from when it started waiting, which is earlier).
      expect(w.timings.functionEnd - killedAt).toBeLessThan(2000);
      expect(after).toBeGreaterThan(0);
    }
    // A killed pack cannot delete its own inbox: the launcher's sweep (the operator's finalizer in a
    // cluster) removes what it left.
    if (kind === 'redis') expect(await listRedisBurstKeys(REDIS_URL, r.burstId)).toEqual([]);
  });

  // A frozen pack closes nothing: only its silence on the links gives it away, after the heartbeat
  // timeout. The others abort; the launcher kills the frozen one after the stop grace.
  test('a frozen pack (SIGSTOP) is found by its silence, the others abort naming it, and it is killed', async () => {
    let victim: ChildProcess | undefined;
    let stoppedAt = 0;
    const joined = new Set<number>();
    const r = await runLocalFlare({
      size: 6,
      granularity: 2,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'wait-forever' } },
      relayPackDeaths: false,
      heartbeatTimeoutMs: 2_000,
      stopGraceMs: 3_000,
      onSpawn: (p, child) => {
        if (p === 1) victim = child;
      },
      onEvent: (e) => {
        if (e.event === 'joined') joined.add(e.pack);
        if (joined.size === 3 && stoppedAt === 0) {
          stoppedAt = Date.now();
          victim!.kill('SIGSTOP');
        }
      },
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedPack: 1, reason: expect.stringMatching(/^pack 1 sent nothing on its link for \d+ ms/) });
    expect(r.exitCodes[1]).toBeNull(); // the launcher killed it
    for (const p of r.packs) expect(p.abort).toEqual(r.failure);
    for (const w of r.workers.filter((x) => x.packId !== 1)) expect(w.timings.functionEnd - stoppedAt).toBeLessThan(2_000 + 2_000);
  }, 30_000);
});

describe('bounded memory', () => {
  test.each([
    ['another pack, over redis', { kind: 'redis' as const, url: REDIS_URL }, 3],
    ['another pack, over the direct transport', { kind: 'direct' as const, url: '' }, 3],
    ['a pack mate', { kind: 'direct' as const, url: '' }, 1],
  ])(
    'sends nobody receives (to %s) fail the burst naming the sender and the pair, not the receiver',
    async (_to, transport, to) => {
      const r = await runLocalFlare({
        size: 4,
        granularity: 2,
        transport,
        modulePath: scenarios,
        params: { value: { scenario: 'flood', count: 2000, bytes: 64 * 1024, to } },
        env: { KB_MAX_UNRECEIVED_BYTES: String(16 * 1024 * 1024) },
      });
      expect(r.ok).toBe(false);
      expect(r.failure).toMatchObject({ failedWorker: 0, failedPack: 0 });
      expect(r.failure!.reason).toMatch(
        new RegExp(`^worker 0 sent \\d+ messages \\(\\d+ bytes\\) to worker ${to} that it has not received, more than the 65536 messages or 16777216 bytes`),
      );
      for (const p of r.packs) expect(p.maxRssBytes).toBeLessThan(400 * 1024 * 1024);
    },
    60_000,
  );

  test('a result too big fails its worker with a clear error and keeps the others’ results', async () => {
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct' },
      modulePath: scenarios,
      params: { value: { scenario: 'big-result', bytes: 3 * 1024 * 1024, worker: 2 } },
      env: { KB_MAX_RESULT_BYTES: String(1024 * 1024) },
    });
    expect(r.ok).toBe(false);
    expect(r.failure).toMatchObject({ failedWorker: 2 });
    expect(r.workers[2]!.error!.message).toMatch(/the worker's result is 3145730 bytes of JSON, more than a result may take \(1048576; KB_MAX_RESULT_BYTES\)/);
    expect(r.workers.filter((w) => w.ok).map((w) => w.result)).toEqual([{ me: 0 }, { me: 1 }, { me: 3 }]);
  }, 30_000);
});

describe('misuse gets a clear error instead of a hang', () => {
  const transport = { kind: 'redis' as const, url: REDIS_URL };

  test.each(['broadcast', 'barrier'] as const)('collectives called in a different order (%s vs reduce) raise CollectiveMismatchError', async (odd) => {
    const r = await runLocalFlare({ size: 4, granularity: 2, transport, modulePath: scenarios, params: { value: { scenario: 'mismatch', odd } }, operationTimeoutMs: 20_000 });
    expect(r.ok).toBe(false);
    const messages = r.workers.map((w) => w.error?.message ?? '').join('\n');
    expect(messages).toMatch(/collective mismatch: .*(broadcast|barrier).*reduce|reduce.*(broadcast|barrier)/);
    expect(r.wallMs).toBeLessThan(15_000);
  });

  test('a recv nobody answers times out with the peer and the option to change', async () => {
    const r = await runLocalFlare({ size: 2, granularity: 1, transport, modulePath: scenarios, params: { value: { scenario: 'timeout', timeoutMs: 300 } } });
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(/worker (\d) \(pack \1\): recv timed out after 300 ms waiting for worker (\d) \(pack \2\) \(pass \{ timeoutMs \}/);
  });

  test.each([
    ['send-out-of-range', /send: destination 3 is out of range: the burst has workers 0..2/],
    ['alltoall-count', /allToAll: pass exactly 3 parts/],
    ['not-a-payload', /send: payload must be a typed array or DataView \(use encodeJson/],
  ])('%s is rejected with a UsageError', async (call, message) => {
    const r = await runLocalFlare({ size: 3, granularity: 3, transport, modulePath: scenarios, params: { value: { scenario: 'bad-call', call } } });
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(message);
  });

  test('a missing worker module fails every pack with the path named', async () => {
    const r = await runLocalFlare({ size: 2, granularity: 1, transport, modulePath: '/nonexistent/worker.js', params: { value: null } });
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(/\/nonexistent\/worker\.js/);
  });
});

describe('large payloads', () => {
  const MiB = 1024 * 1024;
  test('64 MiB inside one pack, by reference', async () => {
    const r = await runLocalFlare({
      size: 3,
      granularity: 3,
      transport: { kind: 'redis', url: REDIS_URL },
      modulePath: scenarios,
      params: { value: { scenario: 'big', bytes: 64 * MiB, from: 0, to: 2 } },
    });
    expect(r.ok).toBe(true);
    for (const w of r.workers) expect(w.result).toEqual({ p2pOk: true, bcastOk: true });
    expect(r.counters.remoteBytesSent).toBe(0);
  });

  test.each(BROKERS)('a send budget far below the traffic over $kind throttles senders without deadlock', async ({ kind, url }) => {
    // 1 MiB budget, 16 MiB messages: every remote send waits until the transport accepted the previous one.
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'big', bytes: 16 * MiB, from: 1, to: 3 } },
      env: { KB_SEND_BUDGET_BYTES: String(MiB) },
    });
    expect(r.ok).toBe(true);
    for (const w of r.workers) expect(w.result).toEqual({ p2pOk: true, bcastOk: true });
    expect(r.counters.remoteBytesSent).toBe(2 * 16 * MiB);
  });

  test.each(BROKERS)('sends over $kind leave in call order while they wait for send room (256 KiB budget, 64 sends of 128 KiB)', async ({ kind, url }) => {
    const r = await runLocalFlare({
      size: 2,
      granularity: 1,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'stream', bytes: 128 * 1024, count: 64, from: 0, to: 1 } },
      env: { KB_SEND_BUDGET_BYTES: String(256 * 1024) },
    });
    expect(r.ok).toBe(true);
    expect(r.workers[1]!.result).toEqual({ order: Array.from({ length: 64 }, (_, i) => i % 251) });
  });

  test.each(BROKERS)('a send over $kind within the budget has read its payload when send() returns: overwriting it then changes nothing', async ({ kind, url }) => {
    const r = await runLocalFlare({
      size: 2,
      granularity: 1,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'stream', bytes: 1024, count: 32, from: 0, to: 1, overwrite: true } },
    });
    expect(r.ok).toBe(true);
    expect(r.workers[1]!.result).toEqual({ order: Array.from({ length: 32 }, (_, i) => i) });
  });

  test.each(BROKERS)('64 MiB across packs over $kind, chunked and reassembled', async ({ kind, url }) => {
    const r = await runLocalFlare({
      sweepBrokerKeys: false,
      size: 4,
      granularity: 2,
      transport: { kind, url },
      modulePath: scenarios,
      params: { value: { scenario: 'big', bytes: 64 * MiB, from: 1, to: 3 } },
    });
    expect(r.ok).toBe(true);
    for (const w of r.workers) expect(w.result).toEqual({ p2pOk: true, bcastOk: true });
    // p2p crosses once; the broadcast crosses once into the one remote pack.
    expect(r.counters.remoteBytesSent).toBe(2 * 64 * MiB);
    if (kind === 'redis') expect(await listRedisBurstKeys(REDIS_URL, r.burstId)).toEqual([]);
  });
});
