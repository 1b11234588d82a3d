import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect, jwtAuthenticator, type NatsConnection, type Status } from 'nats';
import { createAccount, createUser, fromSeed } from 'nkeys.js';
import { runLocalFlare } from '../../worker-runtime/src/launch/local.js';
import { NatsTransport } from '../../worker-runtime/src/transport/nats.js';
import { encodeNatsJwt, mintNatsBurstUser, natsCredsFile, type NatsUserCreds } from '../../worker-runtime/src/transport/nats-users.js';
import { natsSubject } from '../../worker-runtime/src/transport/nats-subjects.js';
import { fixture } from './helpers.js';
import { startOperatorModeNats, type OperatorModeNats } from './nats-server.js';

/**
 * Per-burst NATS users against a real nats-server in operator (JWT) mode: a user minted for a burst
 * connects with no change to the server, reaches its burst's subjects and no others, and a user that is
 * expired, signed by a stranger, or missing gets nowhere.
 */
let nats: OperatorModeNats;
beforeAll(async () => {
  nats = await startOperatorModeNats();
});
afterAll(async () => {
  await nats?.stop();
});

const HOUR = 3600;
const open: NatsConnection[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((nc) => nc.close().catch(() => undefined)));
});

async function as(creds: NatsUserCreds | undefined): Promise<NatsConnection> {
  const nc = await connect({
    servers: nats.url,
    reconnect: false,
    timeout: 5_000,
    ...(creds ? { authenticator: jwtAuthenticator(creds.jwt, new TextEncoder().encode(creds.seed)) } : {}),
  });
  open.push(nc);
  return nc;
}

/** What connecting does: undefined when it works, else the error's message. */
async function refusal(creds: NatsUserCreds | undefined): Promise<string | undefined> {
  return as(creds).then(
    () => undefined,
    (e: Error) => e.message,
  );
}

/** The server's permission violations seen on `nc` within `ms`, as `<operation> <subject>`. */
function violations(nc: NatsConnection): { seen: string[]; stop: () => void } {
  const seen: string[] = [];
  let stopped = false;
  void (async () => {
    for await (const s of nc.status() as AsyncIterable<Status & { permissionContext?: { operation: string; subject: string } }>) {
      if (stopped) break;
      if (s.type === 'error' && s.permissionContext) seen.push(`${s.permissionContext.operation} ${s.permissionContext.subject}`);
    }
  })();
  return { seen, stop: () => void (stopped = true) };
}

async function until(cond: () => boolean, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`${what} within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('a burst’s NATS user', () => {
  it.each([
    ['the account’s own key', () => nats.account],
    ['a signing key of the account', () => nats.signingKey],
  ])('signed by %s, connects and carries messages on its burst’s subjects', async (_what, key) => {
    const user = await mintNatsBurstUser(key(), 'burst-a', { expiresInSeconds: HOUR });
    const nc = await as(user);
    const sub = nc.subscribe(natsSubject('burst-a', 1), { max: 1 });
    await nc.flush();
    nc.publish(natsSubject('burst-a', 1), new TextEncoder().encode('hello'));
    for await (const m of sub) expect(new TextDecoder().decode(m.data)).toBe('hello');
  });

  it('with another burst’s creds, cannot subscribe to or publish on this burst’s subjects: the server says so', async () => {
    const ours = await as(await mintNatsBurstUser(nats.account, 'burst-a', { expiresInSeconds: HOUR }));
    const theirs = await as(await mintNatsBurstUser(nats.account, 'burst-b', { expiresInSeconds: HOUR }));
    const seen = violations(theirs);
    // Ours listens; theirs tries to listen in and to inject.
    const received: string[] = [];
    ours.subscribe(natsSubject('burst-a', 0), { callback: (_e, m) => received.push(new TextDecoder().decode(m.data)) });
    await ours.flush();
    let subError: Error | undefined;
    theirs.subscribe(natsSubject('burst-a', 0), { callback: (e) => (subError ??= e ?? undefined) });
    theirs.subscribe('kb.burst-a.>', { callback: () => undefined });
    theirs.publish(natsSubject('burst-a', 0), new TextEncoder().encode('forged'));
    await theirs.flush();
    await until(() => seen.seen.length >= 3, 5_000, 'three permission violations');
    seen.stop();
    expect(seen.seen.sort()).toEqual(['publish kb.burst-a.0', 'subscription kb.burst-a.0', 'subscription kb.burst-a.>']);
    expect(subError?.message).toMatch(/permissions violation for subscription to "kb\.burst-a\.0"/i);
    // Ours publishes: nothing reached theirs, and the forgery never reached ours.
    ours.publish(natsSubject('burst-a', 0), new TextEncoder().encode('real'));
    await ours.flush();
    await until(() => received.length >= 1, 5_000, 'our own message');
    expect(received).toEqual(['real']);
    // Nor may it use subjects outside kb.<its burst>: no _INBOX, no wildcard over every burst.
    const sneaky = violations(theirs);
    theirs.subscribe('kb.>', { callback: () => undefined });
    theirs.publish('_INBOX.x', new Uint8Array(1));
    await theirs.flush();
    await until(() => sneaky.seen.length >= 2, 5_000, 'two more permission violations');
    sneaky.stop();
    expect(sneaky.seen.sort()).toEqual(['publish _INBOX.x', 'subscription kb.>']);
  });

  it('without creds, cannot connect at all', async () => {
    expect(await refusal(undefined)).toMatch(/authorization violation/i);
  });

  it('expired, is refused (and the same user minted now is not)', async () => {
    const issued = Date.now() - 2 * HOUR * 1000;
    expect(await refusal(await mintNatsBurstUser(nats.account, 'burst-a', { expiresInSeconds: 60, now: issued }))).toMatch(/authorization violation/i);
    expect(await refusal(await mintNatsBurstUser(nats.account, 'burst-a', { expiresInSeconds: 60 }))).toBeUndefined();
  });

  it('signed by a key the server does not know, is refused, even when it claims to be of the account', async () => {
    const stranger = new TextDecoder().decode(createAccount().getSeed());
    expect(await refusal(await mintNatsBurstUser({ seed: stranger }, 'burst-a', { expiresInSeconds: HOUR }))).toMatch(/authorization violation/i);
    // A signing key the account never listed, naming the account as its issuer_account.
    expect(await refusal(await mintNatsBurstUser({ seed: stranger, account: nats.account.account }, 'burst-a', { expiresInSeconds: HOUR }))).toMatch(/authorization violation/i);
  });
});

const scenarios = fixture('scenarios');
const sums = (size: number, rounds: number) => Array(rounds).fill((size * (size + 1)) / 2);

describe('a flare over NATS with a user of its own', () => {
  it.each([
    ['the URL names no user', (url: string) => url],
    ['the URL names another user (ignored: the burst’s user is used)', (url: string) => url.replace('nats://', 'nats://nobody:wrong@')],
  ])('runs and returns the right results: %s', async (_what, urlOf) => {
    const r = await runLocalFlare({
      size: 6,
      granularity: 2,
      transport: { kind: 'nats', url: urlOf(nats.url), natsAccount: nats.signingKey },
      modulePath: scenarios,
      params: { value: { scenario: 'rounds', rounds: 5, delayMs: 10 } },
      joinTimeoutMs: 30_000,
      wallTimeoutMs: 60_000,
    });
    expect(r.stderr).toEqual({});
    expect(r.ok).toBe(true);
    for (const w of r.workers) expect((w.result as { sums: number[] }).sums).toEqual(sums(6, 5));
  });

  it('whose user the server refuses, fails saying so, and its seed is in no output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kb-nats-creds-'));
    try {
      const user = await mintNatsBurstUser(nats.account, 'ignored', { expiresInSeconds: 60, now: Date.now() - 3600_000 });
      const creds = join(dir, 'nats.creds');
      writeFileSync(creds, natsCredsFile(user), { mode: 0o600 });
      const r = await runLocalFlare({
        size: 4,
        granularity: 2,
        transport: { kind: 'nats', url: nats.url },
        modulePath: scenarios,
        params: { value: { scenario: 'rounds', rounds: 1, delayMs: 0 } },
        env: { KB_TRANSPORT_CREDS_FILE: creds },
        joinTimeoutMs: 15_000,
        wallTimeoutMs: 60_000,
      });
      expect(r.ok).toBe(false);
      expect(r.failure?.reason).toMatch(/refused the burst's NATS user from KB_TRANSPORT_CREDS_FILE \(.*nats\.creds\): .*its JWT expired at /i);
      const everything = JSON.stringify(r);
      expect(everything).toContain('KB_TRANSPORT_CREDS_FILE');
      expect(everything).not.toContain(user.seed);
      expect(everything).not.toContain(user.seed.slice(2, 30));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('the NATS transport with a burst user', () => {
  const frames: Uint8Array[] = [];
  const errors: Error[] = [];
  const sink = { frame: (f: Uint8Array) => void frames.push(f), error: (e: Error) => void errors.push(e) };
  beforeEach(() => {
    frames.length = 0;
    errors.length = 0;
  });
  const transport = (burstId: string, user: NatsUserCreds) =>
    new NatsTransport({ burstId, packId: 0, packCount: 2, url: nats.url, connectTimeoutMs: 5_000, natsUser: { ...user, source: 'the test' } });

  it('fails at once, naming the subject, when the server refuses a publish (the frame is gone)', async () => {
    // A user that may listen on its subject but not publish to pack 1's.
    const account = fromSeed(new TextEncoder().encode(nats.account.seed));
    const kp = createUser();
    const jwt = encodeNatsJwt(
      {
        sub: kp.getPublicKey(),
        iat: Math.floor(Date.now() / 1000),
        exp: Math.floor(Date.now() / 1000) + 60,
        nats: { pub: { deny: ['kb.p.1'] }, sub: {}, subs: -1, data: -1, payload: -1, type: 'user', version: 2 },
      },
      account,
    );
    const t = transport('p', { jwt, seed: new TextDecoder().decode(kp.getSeed()) });
    try {
      await t.connect(sink);
      await t.send(1, [new Uint8Array(8)]);
      await until(() => errors.length > 0, 5_000, 'the transport failing');
      expect(errors[0]!.message).toMatch(/refused to let pack 0 publish to kb\.p\.1 \(the burst's user from the test may use kb\.p\.> only\)/);
    } finally {
      await t.close();
    }
  });

  it('fails when its subscription is refused (creds of another burst)', async () => {
    const t = transport('burst-a', await mintNatsBurstUser(nats.account, 'burst-b', { expiresInSeconds: HOUR }));
    try {
      await t.connect(sink);
      await until(() => errors.length > 0, 5_000, 'the transport failing');
      expect(errors[0]!.message).toMatch(/subscription failed: .*permissions violation for subscription to "kb\.burst-a\.0"/i);
    } finally {
      await t.close();
    }
  });

  it('says the user expired when the server ends the connection at the JWT’s expiry, and what to change', async () => {
    // Long enough to connect on a loaded machine (exp is in whole seconds: 4 to 5 s from now).
    const t = transport('burst-x', await mintNatsBurstUser(nats.account, 'burst-x', { expiresInSeconds: 5 }));
    try {
      await t.connect(sink);
      await until(() => errors.length > 0, 12_000, 'the connection ending at expiry');
      expect(errors[0]!.message).toMatch(/the burst's NATS user \(from the test\) expired mid-flare: its JWT expired at .*spec\.activeDeadlineSeconds/);
    } finally {
      await t.close();
    }
  });
});
