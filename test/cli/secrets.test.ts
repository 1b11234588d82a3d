import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { fixture, REDIS_URL, ROOT } from '../conformance/helpers.js';

/**
 * No secret in output: flares over Redis with a password, run by the built CLI as a user would, that
 * succeed, fail in a worker, and cannot connect (wrong password). The password appears in no line of
 * stdout or stderr and nowhere in the results file, in any form (as given, URL-encoded, JSON-escaped,
 * or a fragment of it); the user name and the redacted URL (`user:***@`) do, so the URL was shown masked
 * rather than left out. The machine's Redis gets an ACL user per password for the test.
 */
const CLI = join(ROOT, 'cli', 'bin', 'kubeburst.js');
const hex = (): string => randomBytes(4).toString('hex');
const USER = `kbsecret-${hex()}`;
/** Each password ends in random hex of its own: a fragment of a password that holds it is a leak too. */
const PASSWORD = `P4ssw0rd-${hex()}`;
const WRONG = `Wr0ngP4ss-${hex()}`;
/** A second user whose password holds what URLs reserve: given URL-encoded, and raw (URL parsers take the last `@`). */
const SPECIAL_USER = `kbsecret-${hex()}-x`;
const SPECIAL = `P@ss:w0rd,/%#${hex()}`;
const RAW_USER = `kbsecret-${hex()}-raw`;
const RAW = `P@ss:w0rd,${hex()}`;
const RAW_WRONG = `Wr@ng:p,ss${hex()}`;
const SLASH_WRONG = `Wr@ng/p?ss${hex()}`;
const HOST = new URL(REDIS_URL).host;
const url = (user: string, password: string): string => `redis://${user}:${encodeURIComponent(password)}@${HOST}`;
const rawUrl = (user: string, password: string): string => `redis://${user}:${password}@${HOST}`;
/** What must not appear of a password: as given, URL-encoded, JSON-escaped, and its random part. */
const forms = (password: string): string[] => [...new Set([password, encodeURIComponent(password), JSON.stringify(password).slice(1, -1), password.slice(-8)])];

let admin: Redis;
let dir: string;
beforeAll(async () => {
  admin = new Redis(REDIS_URL, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await admin.connect();
  for (const [user, password] of [
    [USER, PASSWORD],
    [SPECIAL_USER, SPECIAL],
    [RAW_USER, RAW],
  ] as const)
    await admin.call('ACL', 'SETUSER', user, 'on', `>${password}`, '~kb:*', '&*', '+@all');
  dir = mkdtempSync(join(tmpdir(), 'kb-secrets-'));
});
afterAll(async () => {
  await admin.call('ACL', 'DELUSER', USER, SPECIAL_USER, RAW_USER);
  admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
});

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function kubeburst(args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd: ROOT, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** Two packs of two (the transport carries traffic), the scenarios fixture with `params`. */
function manifest(name: string, params: string, transportUrl?: string): string {
  const path = join(dir, `${name}.yaml`);
  const transport = transportUrl === undefined ? '' : `  transport:\n    kind: redis\n    url: '${transportUrl}'\n`;
  writeFileSync(
    path,
    `apiVersion: kubeburst.io/v1alpha1\nkind: BurstJob\nmetadata:\n  name: ${name}\nspec:\n  size: 4\n  granularity: 2\n  function:\n    module: ${fixture('scenarios')}\n  params:\n    value: ${params}\n${transport}`,
  );
  return path;
}

const OK = '{scenario: ok}';
const THROW = '{scenario: throw, failing: 1}';
type Mode = 'text' | 'json' | 'quiet';
const MODES: Mode[] = ['text', 'json', 'quiet'];

interface Case {
  name: string;
  params: string;
  /** The URL the flare runs with, and the user it names. */
  user: string;
  url: string;
  /** Every password that must not appear. */
  secrets: string[];
  /** In the manifest (spec.transport.url) rather than on the command line. */
  inManifest?: boolean;
  code: number;
  /** The redacted URL is part of the failure reason (summary, results file). */
  urlInFailure?: boolean;
  modes?: Mode[];
  /** The URL as the start line shows it (default: `redis://<user>:***@<host>`). */
  masked?: string;
}

const CASES: Case[] = [
  { name: 'succeeds', params: OK, user: USER, url: url(USER, PASSWORD), secrets: [PASSWORD], code: 0 },
  { name: 'a worker throws', params: THROW, user: USER, url: url(USER, PASSWORD), secrets: [PASSWORD], code: 1 },
  { name: 'the password is wrong', params: OK, user: USER, url: url(USER, WRONG), secrets: [PASSWORD, WRONG], code: 1, urlInFailure: true },
  {
    name: 'a URL-encoded password in the manifest',
    params: OK,
    user: SPECIAL_USER,
    url: url(SPECIAL_USER, SPECIAL),
    secrets: [SPECIAL],
    inManifest: true,
    code: 0,
    modes: ['text', 'json'],
  },
  { name: 'a raw password with @ : , and a worker throws', params: THROW, user: RAW_USER, url: rawUrl(RAW_USER, RAW), secrets: [RAW], code: 1, modes: ['text', 'json'] },
  { name: 'a raw password with @ : , that is wrong', params: OK, user: RAW_USER, url: rawUrl(RAW_USER, RAW_WRONG), secrets: [RAW, RAW_WRONG], code: 1, urlInFailure: true },
  // An `@` and then a `/` in a raw password: a mask that stopped at the `/` would leave the rest behind.
  {
    name: 'a raw password with @ then /, that is wrong',
    params: OK,
    user: RAW_USER,
    url: rawUrl(RAW_USER, SLASH_WRONG),
    secrets: [RAW, SLASH_WRONG],
    code: 1,
    modes: ['text', 'json'],
  },
  // ioredis logs in with a query string's user and password too.
  {
    name: 'a password in the query string',
    params: OK,
    user: USER,
    url: `redis://${HOST}/0?username=${USER}&password=${PASSWORD}`,
    secrets: [PASSWORD],
    code: 0,
    masked: `redis://${HOST}/0?username=${USER}&password=***`,
  },
];

describe.each(CASES)('kubeburst run over Redis with a password: $name', (c) => {
  test.each(c.modes ?? MODES)('%s mode: the password is in no output', async (mode) => {
    const name = `${c.name
      .replace(/[^a-z]+/g, '-')
      .slice(0, 30)
      .replace(/^-|-$/g, '')}-${mode}`;
    const path = c.inManifest ? manifest(name, c.params, c.url) : manifest(name, c.params);
    const out = join(dir, `${name}.json`);
    const args = ['run', path, '-o', out, ...(c.inManifest ? [] : ['--transport', `redis=${c.url}`]), ...(mode === 'json' ? ['--json'] : mode === 'quiet' ? ['--quiet'] : [])];
    const r = await kubeburst(args);
    expect(existsSync(out)).toBe(true);
    const results = readFileSync(out, 'utf8');
    for (const [where, text] of Object.entries({ stdout: r.stdout, stderr: r.stderr, results })) {
      for (const s of c.secrets.flatMap(forms)) expect({ where, form: s, leaks: text.includes(s) }).toEqual({ where, form: s, leaks: false });
    }
    expect({ code: r.code, stderr: r.code === c.code ? '' : r.stderr }).toEqual({ code: c.code, stderr: '' });

    // A worker's failure, not the connection's: the password (even a raw one) let the packs in.
    if (c.params === THROW) expect(JSON.parse(results).failure).toMatchObject({ failedWorker: 1, reason: 'Error: deliberate failure in worker 1' });

    const masked = c.masked ?? `redis://${c.user}:***@${HOST}`;
    // The start line names the transport with its URL, masked.
    if (mode !== 'quiet') expect(r.stderr.split('\n')[0]).toBe(`kubeburst: running ${name}: 4 workers in 2 packs of 2, transport redis (${masked})`);
    if (c.urlInFailure) {
      // The failure names the broker it could not reach, masked: in the results file, the summary, and
      // (--quiet) the two lines on stderr.
      expect(JSON.parse(results).failure.reason).toContain(`cannot connect to ${masked}`);
      // …and the place its URL came from, the flag here, not the manifest.
      expect(JSON.parse(results).failure.reason).toContain('the URL came from --transport)');
      if (mode === 'text') expect(r.stdout).toMatch(new RegExp(`^  failed: .*cannot connect to ${escape(masked)}`, 'm'));
      if (mode === 'json') expect(JSON.parse(r.stdout).failure.reason).toContain(`cannot connect to ${masked}`);
      if (mode === 'quiet') expect(r.stderr).toContain(`cannot connect to ${masked}`);
      // The packs' own log lines (kept in the results file) name it masked too.
      expect(Object.values(JSON.parse(results).stderr as Record<string, string>).join('')).toContain(`${c.user}:***@`);
    }
    if (mode === 'quiet' && c.code === 0) expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });
});

describe('kubeburst: what quotes an argument masks the password in it', () => {
  const secret = `Pa55-${hex()}`;
  const cases: [string, string[]][] = [
    ['a URL given to --transport without its kind', ['run', 'job.yaml', '--transport', `redis://u:ab/${secret}@${HOST}`]],
    ['a URL given as a second manifest', ['run', 'job.yaml', `redis://u:ab/${secret}@${HOST}`]],
    ['a URL given as the command', [`redis://u:ab?${secret}@${HOST}`]],
    ['an option with a URL that parseArgs refuses', ['run', 'job.yaml', `--transport-ur=redis://u:${secret}@${HOST}`]],
  ];
  test.each(cases)('%s', async (_what, args) => {
    const r = await kubeburst(args);
    expect(r.code).toBe(2);
    expect(r.stderr).not.toBe('');
    for (const form of forms(secret)) expect({ form, leaks: (r.stdout + r.stderr).includes(form) }).toEqual({ form, leaks: false });
  });

  test('a direct transport given a broker URL names it masked', async () => {
    const path = manifest('direct-given-a-broker-url', OK);
    const r = await kubeburst(['run', path, '--transport-url', `redis://${USER}:${secret}@${HOST}`]);
    expect(r.code).not.toBe(0);
    for (const form of forms(secret)) expect({ form, leaks: (r.stdout + r.stderr).includes(form) }).toEqual({ form, leaks: false });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
