import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { runLocalFlare, type FlareResult } from '../../worker-runtime/src/launch/local.js';
import { fixture } from './helpers.js';
import { startAuthorizedNats, type AuthorizedNats } from './nats-server.js';

/**
 * Credentials in a NATS URL, against real nats-servers that ask for them (a user with a password, and a
 * token): the `nats` client drops a URL's userinfo, so the transport passes it as options (nats-url.ts).
 * The password holds every character that needs percent-encoding.
 */
const secret = (): string => `${randomBytes(9).toString('base64url')}@:%/,${randomBytes(6).toString('hex')}`;
const PASSWORD = secret();
const TOKEN = randomBytes(18).toString('hex');

let users: AuthorizedNats;
let token: AuthorizedNats;
beforeAll(async () => {
  [users, token] = await Promise.all([startAuthorizedNats({ users: [{ user: 'alice', password: PASSWORD }] }), startAuthorizedNats({ token: TOKEN })]);
});
afterAll(async () => {
  await Promise.all([users?.stop(), token?.stop()]);
});

const scenarios = fixture('scenarios');
const sums = (size: number, rounds: number) => Array(rounds).fill((size * (size + 1)) / 2);
const as = (user: string, password: string, port: number) => `nats://${user}:${encodeURIComponent(password)}@127.0.0.1:${port}`;

function flare(url: string, joinTimeoutMs = 30_000): Promise<FlareResult> {
  return runLocalFlare({
    size: 4,
    granularity: 2,
    transport: { kind: 'nats', url, urlSource: 'spec.transport.url' },
    modulePath: scenarios,
    params: { value: { scenario: 'rounds', rounds: 3, delayMs: 5 } },
    joinTimeoutMs,
    wallTimeoutMs: 60_000,
  });
}

function expectRight(r: FlareResult): void {
  expect(r.stderr).toEqual({});
  expect(r.ok).toBe(true);
  for (const w of r.workers) expect((w.result as { sums: number[] }).sums).toEqual(sums(4, 3));
}

/** `text` holds no form of `s`: as it is, URL-encoded, JSON-escaped, nor a piece of either end. */
function expectNoTrace(text: string, s: string): void {
  for (const form of [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1), s.slice(0, 10), s.slice(-10)]) expect(text).not.toContain(form);
}

describe('a flare over NATS with credentials in its URL', () => {
  it('as a user with a password (percent-encoded), runs and returns the right results', async () => {
    expectRight(await flare(as('alice', PASSWORD, users.port)));
  });

  it('with a token (nats://TOKEN@host), runs and returns the right results', async () => {
    expectRight(await flare(`nats://${TOKEN}@127.0.0.1:${token.port}`));
  });

  it('over a list of two servers with the same credentials (with and without a scheme), runs', async () => {
    const url = as('alice', PASSWORD, users.port);
    expectRight(await flare(`${url},${url.replace('nats://', '')}`));
  });

  it('with a wrong password, fails naming the server with its credentials masked, and no form of the password is in any output', async () => {
    const wrong = secret();
    const r = await flare(as('alice', wrong, users.port), 15_000);
    expect(r.ok).toBe(false);
    expect(r.failure?.reason).toContain(`nats://alice:***@127.0.0.1:${users.port} refused to let the pack in`);
    expect(r.failure?.reason).toMatch(/authorization violation.*check the user and password in the URL.*the URL came from spec\.transport\.url/i);
    const everything = JSON.stringify(r);
    expectNoTrace(everything, wrong);
    expectNoTrace(everything, PASSWORD);
  });

  it('without credentials, fails saying the URL names none', async () => {
    const r = await flare(token.url, 15_000);
    expect(r.ok).toBe(false);
    expect(r.failure?.reason).toMatch(/refused to let the pack in: .*authorization violation.*the URL names no credentials/i);
  });

  it('whose servers name different credentials, is refused before connecting, naming the servers and no secret', async () => {
    // Not a NATS server: a listener that counts who connects.
    let connections = 0;
    const listener: Server = createServer((s) => {
      connections++;
      s.destroy();
    });
    await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
    const { port } = listener.address() as { port: number };
    try {
      const other = secret();
      const r = await flare(`nats://127.0.0.1:${port},${as('alice', PASSWORD, port)},${as('alice', other, port)}`, 15_000);
      expect(r.ok).toBe(false);
      expect(r.failure?.reason).toContain('spec.transport.url: servers #2 and #3 of the list carry different credentials');
      expect(connections).toBe(0);
      const everything = JSON.stringify(r);
      expectNoTrace(everything, PASSWORD);
      expectNoTrace(everything, other);
    } finally {
      await new Promise((r) => listener.close(r));
    }
  });
});
