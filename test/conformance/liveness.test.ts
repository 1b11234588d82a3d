import { fork } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import { deleteRedisBurstKeys, listRedisBurstKeys } from '../../worker-runtime/src/transport/redis.js';
import { FaultProxy } from '../fixtures/fault-proxy.js';
import { fixture, REDIS_URL, ROOT } from './helpers.js';

/**
 * No hang, no silent loss, no orphan: brokers that stall, vanish or cut a connection mid-transfer (a
 * fault-injection proxy in front of the real Redis and NATS), and a CLI killed mid-flare.
 */
const scenarios = fixture('scenarios');
const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('a broker that fails', () => {
  let proxy: FaultProxy | undefined;
  afterEach(async () => {
    await proxy?.close();
    proxy = undefined;
  });

  test.each([
    ['redis', 6379],
    ['nats', 4222],
  ] as const)(
    '%s that accepts connections and never answers: the flare fails within its join timeout, and every pack exits',
    async (kind, port) => {
      proxy = await FaultProxy.start({ upstream: { host: '127.0.0.1', port } });
      proxy.blackHole(true);
      const t0 = Date.now();
      const pids: number[] = [];
      const r = await runLocalFlare({
        size: 4,
        granularity: 2,
        transport: { kind, url: proxy.url(kind) },
        modulePath: scenarios,
        params: { value: { scenario: 'ok' } },
        joinTimeoutMs: 3_000,
        onSpawn: (_p, c) => void pids.push(c.pid!),
      });
      expect(r.ok).toBe(false);
      expect(Date.now() - t0).toBeLessThan(3_000 + 8_000);
      expect(r.failure!.reason).toMatch(/could not connect|join timed out/);
      expect(pids.every((p) => !alive(p))).toBe(true);
    },
    30_000,
  );

  test('nats pointed at a Redis port: a clear error, not a hang', async () => {
    const r = await runLocalFlare({
      size: 2,
      granularity: 1,
      transport: { kind: 'nats', url: 'nats://127.0.0.1:6379' },
      modulePath: scenarios,
      params: { value: { scenario: 'ok' } },
      joinTimeoutMs: 3_000,
    });
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(/could not connect: .*the nats transport at nats:\/\/127.0.0.1:6379 did not connect/);
  }, 30_000);

  test.each([
    ['redis', 6379],
    ['nats', 4222],
  ] as const)(
    'a %s connection cut mid-transfer fails the flare at once, naming the transport, never a timeout that blames a worker',
    async (kind, port) => {
      proxy = await FaultProxy.start({ upstream: { host: '127.0.0.1', port } });
      const p = proxy;
      let cut = 0;
      const r = await runLocalFlare({
        sweepBrokerKeys: true,
        size: 4,
        granularity: 2,
        transport: { kind, url: p.url(kind) },
        modulePath: scenarios,
        params: { value: { scenario: 'big', bytes: 48 * 1024 * 1024, from: 1, to: 3 } },
        operationTimeoutMs: 120_000,
        onEvent: (e) => {
          if (e.event === 'joined' && cut === 0) {
            cut = Date.now();
            // Once every byte a client sends... 8 MiB into the transfer, cut that connection.
            p.resetAfter(8 * 1024 * 1024, 'up');
          }
        },
      });
      expect(r.ok).toBe(false);
      expect(r.failure!.reason).toMatch(new RegExp(`${kind}.*(dropped mid-flare|lost \\d+ frame)|(dropped mid-flare|lost \\d+ frame).*${kind}`));
      expect(r.failure!.reason).not.toMatch(/timed out/);
      expect(r.wallMs).toBeLessThan(30_000);
    },
    60_000,
  );
});

describe('a CLI that dies', () => {
  test('SIGKILL of the launching process mid-flare: its packs abort and exit, and nothing is left behind', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-orphan-'));
    try {
      // A launcher in a process of its own that reports its packs' pids, then is SIGKILLed.
      const script = `
        import { runLocalFlare } from ${JSON.stringify(join(ROOT, 'worker-runtime/dist/launch/local.js'))};
        const pids = [];
        runLocalFlare({ burstId: 'orphans-' + process.pid, size: 4, granularity: 2, transport: { kind: 'redis', url: ${JSON.stringify(REDIS_URL)} }, modulePath: ${JSON.stringify(scenarios)},
          params: { value: { scenario: 'wait-forever' } },
          onSpawn: (_p, c) => pids.push(c.pid),
          onEvent: (e) => { if (e.event === 'joined' && pids.length === 2) process.send({ pids, burstId: 'orphans-' + process.pid }); } });
      `;
      const launcher = fork('--input-type=module', [], {
        execArgv: ['--input-type=module', '-e', script],
        env: { ...process.env, TMPDIR: dir },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const { pids, burstId } = await new Promise<{ pids: number[]; burstId: string }>((resolve) =>
        launcher.once('message', (m) => resolve(m as { pids: number[]; burstId: string })),
      );
      expect(pids.every(alive)).toBe(true);
      launcher.kill('SIGKILL');
      const deadline = Date.now() + 15_000;
      while (pids.some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(pids.filter(alive)).toEqual([]);
      // The flare's temp dir (secret, sockets, params) went with the packs; the packs deleted their inboxes.
      expect(readdirSync(dir).filter((f) => f.startsWith('kubeburst-'))).toEqual([]);
      expect(await listRedisBurstKeys(REDIS_URL, burstId)).toEqual([]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 40_000);

  test('SIGKILL of the launcher and its packs at once: the flare secret was on no disk, and the next flare removes the dir left', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-group-kill-'));
    const launch = (scenario: string, burstId: string) =>
      fork('--input-type=module', [], {
        execArgv: [
          '--input-type=module',
          '-e',
          `
          import { runLocalFlare } from ${JSON.stringify(join(ROOT, 'worker-runtime/dist/launch/local.js'))};
          const pids = [];
          const r = runLocalFlare({ burstId: ${JSON.stringify(burstId)}, size: 4, granularity: 2, transport: { kind: 'redis', url: ${JSON.stringify(REDIS_URL)} }, modulePath: ${JSON.stringify(scenarios)},
            params: { value: { scenario: ${JSON.stringify(scenario)} } },
            onSpawn: (_p, c) => pids.push(c.pid),
            onEvent: (e) => { if (e.event === 'joined' && pids.length === 2) process.send({ pids }); } });
          r.then((res) => process.send({ ok: res.ok }));
        `,
        ],
        env: { ...process.env, TMPDIR: dir },
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
    const killed = `group-kill-${process.pid}`;
    const launcher = launch('wait-forever', killed);
    let pids: number[] = [];
    try {
      ({ pids } = await new Promise<{ pids: number[] }>((resolve) => launcher.once('message', (m) => resolve(m as { pids: number[] }))));
      const [flareDir] = readdirSync(dir).filter((f) => f.startsWith('kubeburst-'));
      expect(flareDir).toBeDefined();
      // The packs read the secret from a descriptor the launcher wrote it to; the dir holds no key of any kind.
      for (const pid of pids) {
        const env = readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0');
        expect(env).toContain('KB_SECRET_FD=4');
        expect(env.filter((e) => e.startsWith('KB_SECRET_FILE='))).toEqual([]);
      }
      expect(readdirSync(join(dir, flareDir!)).filter((f) => /secret|creds/.test(f))).toEqual([]);
      for (const pid of [launcher.pid!, ...pids]) process.kill(pid, 'SIGKILL');
      const deadline = Date.now() + 15_000;
      while ([launcher.pid!, ...pids].some(alive) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(join(dir, flareDir!))).toBe(true); // nobody was left to clean up
      // The next flare of this user removes it before it starts, and cleans up after itself.
      const next = launch('ok', `group-kill-next-${process.pid}`);
      const done = await new Promise<{ ok: boolean }>((resolve) => next.on('message', (m) => 'ok' in (m as object) && resolve(m as { ok: boolean })));
      expect(done.ok).toBe(true);
      await new Promise((r) => next.once('exit', r));
      expect(readdirSync(dir).filter((f) => f.startsWith('kubeburst-'))).toEqual([]);
    } finally {
      for (const pid of [launcher.pid!, ...pids]) if (alive(pid)) process.kill(pid, 'SIGKILL');
      await deleteRedisBurstKeys(REDIS_URL, killed);
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  test('a flare past its deadline is stopped: every pack reports why and exits', async () => {
    const r = await runLocalFlare({
      size: 4,
      granularity: 2,
      transport: { kind: 'direct' },
      modulePath: scenarios,
      params: { value: { scenario: 'wait-forever' } },
      wallTimeoutMs: 2_000,
    });
    expect(r.ok).toBe(false);
    expect(r.failure!.reason).toMatch(/ran past its deadline of 2 s/);
    expect(r.wallMs).toBeLessThan(2_000 + 5_000);
    expect(existsSync(join(tmpdir(), 'never'))).toBe(false);
  }, 30_000);
});
