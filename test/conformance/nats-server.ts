import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAccount, createOperator, type KeyPair } from 'nkeys.js';
import { encodeNatsJwt, type NatsAccountKey } from '../../worker-runtime/src/transport/nats-users.js';

/** The Debian package's nats-server: the tests that need one fail without it (they never skip). */
export const NATS_SERVER = '/usr/sbin/nats-server';

/**
 * A nats-server of the test's own in operator (JWT) mode, on a free port of `host` (default loopback; the
 * real-node e2e passes the node's bridge address, which its pods reach): an operator, a system account, and
 * one account `app` whose users a test mints, the account JWTs preloaded (`resolver: MEMORY`), everything in
 * a temp dir. `stop()` ends the process and removes the dir; every wait is bounded.
 */
export interface OperatorModeNats {
  url: string;
  port: number;
  /** The account's own key, and a signing key of it (users signed by either are trusted). */
  account: NatsAccountKey & { account: string };
  signingKey: NatsAccountKey & { account: string };
  /** What the server wrote (its log), for failure messages and checks. */
  log(): string;
  stop(): Promise<void>;
}

const seedOf = (kp: KeyPair): string => new TextDecoder().decode(kp.getSeed());
const now = (): number => Math.floor(Date.now() / 1000);

function accountJwt(operator: KeyPair, account: KeyPair, name: string, signingKeys: string[] = []): string {
  return encodeNatsJwt(
    {
      sub: account.getPublicKey(),
      name,
      iat: now(),
      nats: {
        limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, wildcards: true, conn: -1, leaf: -1 },
        ...(signingKeys.length > 0 ? { signing_keys: signingKeys } : {}),
        default_permissions: { pub: {}, sub: {} },
        type: 'account',
        version: 2,
      },
    },
    operator,
  );
}

export async function startOperatorModeNats(host = '127.0.0.1'): Promise<OperatorModeNats> {
  const operator = createOperator();
  const system = createAccount();
  const app = createAccount();
  const signing = createAccount();
  const operatorJwt = encodeNatsJwt(
    { sub: operator.getPublicKey(), name: 'kb-test', iat: now(), nats: { system_account: system.getPublicKey(), type: 'operator', version: 2 } },
    operator,
  );
  const server = await startNats('kb-nats-op-', host, (dir) => {
    writeFileSync(join(dir, 'operator.jwt'), operatorJwt);
    return [
      `operator: ${JSON.stringify(join(dir, 'operator.jwt'))}`,
      `system_account: ${system.getPublicKey()}`,
      'resolver: MEMORY',
      'resolver_preload: {',
      `  ${system.getPublicKey()}: ${accountJwt(operator, system, 'SYS')}`,
      `  ${app.getPublicKey()}: ${accountJwt(operator, app, 'app', [signing.getPublicKey()])}`,
      '}',
    ];
  });
  return {
    ...server,
    account: { seed: seedOf(app), account: app.getPublicKey() },
    signingKey: { seed: seedOf(signing), account: app.getPublicKey() },
  };
}

/** A nats-server of the test's own, like the one above, that asks clients for credentials. */
export interface AuthorizedNats {
  /** No credentials in it: a test puts them in. */
  url: string;
  port: number;
  log(): string;
  stop(): Promise<void>;
}

/** A server whose clients log in with one of `users`, or with `token`. */
export function startAuthorizedNats(auth: { users: { user: string; password: string }[] } | { token: string }): Promise<AuthorizedNats> {
  // JSON strings are strings of the server's config syntax, whatever characters a password holds.
  const authorization =
    'token' in auth
      ? `authorization { token: ${JSON.stringify(auth.token)} }`
      : `authorization { users: [ ${auth.users.map((u) => `{ user: ${JSON.stringify(u.user)}, password: ${JSON.stringify(u.password)} }`).join(', ')} ] }`;
  return startNats('kb-nats-auth-', '127.0.0.1', () => [authorization]);
}

/**
 * Starts nats-server with `config(dir)` (lines after host and port; files it needs go into `dir`) on a free
 * port of `host`, in a temp dir that `stop()` removes with the process.
 */
async function startNats(prefix: string, host: string, config: (dir: string) => string[]): Promise<AuthorizedNats> {
  if (!existsSync(NATS_SERVER)) throw new Error(`${NATS_SERVER} is missing: these tests need a real nats-server (Debian: apt-get install nats-server)`);
  const dir = mkdtempSync(join(tmpdir(), prefix));
  let child: ChildProcess | undefined;
  try {
    writeFileSync(
      join(dir, 'server.conf'),
      [
        `host: ${JSON.stringify(host)}`,
        // A free port, chosen by the server (read from its log below): no race with another test.
        'port: -1',
        ...config(dir),
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    child = spawn(NATS_SERVER, ['-c', join(dir, 'server.conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    let log = '';
    const proc = child;
    const port = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`nats-server did not start within 10 s:\n${log}`)), 10_000);
      const onData = (d: Buffer): void => {
        log += d.toString();
        const m = /Listening for client connections on [^\s]*:(\d+)/.exec(log);
        if (m && log.includes('Server is ready')) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      proc.stdout!.on('data', onData);
      proc.stderr!.on('data', onData);
      proc.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`nats-server exited with code ${code} before it was ready:\n${log}`));
      });
    });
    return { url: `nats://${host}:${port}`, port, log: () => log, stop: () => stop(proc, dir) };
  } catch (err) {
    if (child !== undefined) await stop(child, dir);
    else rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}

async function stop(child: ChildProcess, dir: string): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(timer);
  }
  rmSync(dir, { recursive: true, force: true });
}
