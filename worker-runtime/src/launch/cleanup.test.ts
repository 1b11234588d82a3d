import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LAUNCHER_FILE, launcherRecord, sweepStaleLaunchDirs } from './cleanup.js';

/** The built modules a child process imports (the runtime's own tests run against dist, as packs do). */
const DIST = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist');
const CLEANUP = JSON.stringify(join(DIST, 'launch', 'cleanup.js'));
const HANDOFF = JSON.stringify(join(DIST, 'security', 'handoff.js'));

/** A flare dir as a launcher makes it (mode 0700), with `record` as its launcher file (none if undefined). */
function flareDir(base: string, name: string, record: string | undefined): string {
  const dir = join(base, `kubeburst-${name}`);
  mkdirSync(dir, { mode: 0o700 });
  if (record !== undefined) writeFileSync(join(dir, LAUNCHER_FILE), record);
  return dir;
}

/** The launcher record of a process that has exited: this process's, with a dead pid and its own start. */
function deadRecord(): string {
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', `import { launcherRecord } from ${CLEANUP}; process.stdout.write(launcherRecord())`], { encoding: 'utf8' });
  return r.stdout;
}

describe('sweepStaleLaunchDirs', () => {
  let base: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'kb-sweep-'));
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  test("removes a dir whose launcher is gone, or whose pid now names another process (another start time); keeps a live launcher's", () => {
    const dead = flareDir(base, 'dead', deadRecord());
    const live = flareDir(base, 'live', launcherRecord());
    const reused = flareDir(base, 'reused', JSON.stringify({ ...JSON.parse(launcherRecord()), start: '1' }));
    expect(sweepStaleLaunchDirs(base)).toBe(2);
    expect([existsSync(dead), existsSync(live), existsSync(reused)]).toEqual([false, true, false]);
  });

  test('keeps what another host, boot or PID namespace made (its pid means nothing here), and dirs it cannot judge', () => {
    const dead = JSON.parse(deadRecord()) as Record<string, unknown>;
    const kept = [
      flareDir(base, 'host', JSON.stringify({ ...dead, host: 'elsewhere' })),
      flareDir(base, 'boot', JSON.stringify({ ...dead, boot: 'another-boot' })),
      flareDir(base, 'pidns', JSON.stringify({ ...dead, pidns: 'pid:[1]' })),
      flareDir(base, 'timens', JSON.stringify({ ...dead, timens: 'time:[1]' })),
      // A live process whose start time was not known when it wrote the file: taken to be the launcher.
      flareDir(base, 'nostart', JSON.stringify({ ...JSON.parse(launcherRecord()), start: '' })),
      flareDir(base, 'none', undefined),
      flareDir(base, 'garbage', 'not json'),
      flareDir(base, 'badpid', JSON.stringify({ ...dead, pid: -1 })),
    ];
    // Not mode 0700: not a dir mkdtemp made.
    const open = flareDir(base, 'open', JSON.stringify(dead));
    chmodSync(open, 0o755);
    kept.push(open);
    expect(sweepStaleLaunchDirs(base)).toBe(0);
    for (const d of kept) expect(existsSync(d)).toBe(true);
  });

  test('follows no link and never blocks: a link to a stale dir, and a FIFO as the launcher file, are left alone', () => {
    const target = mkdtempSync(join(tmpdir(), 'kb-sweep-target-'));
    try {
      writeFileSync(join(target, LAUNCHER_FILE), deadRecord());
      chmodSync(target, 0o700);
      symlinkSync(target, join(base, 'kubeburst-link'));
      const fifoDir = flareDir(base, 'fifo', undefined);
      expect(spawnSync('mkfifo', [join(fifoDir, LAUNCHER_FILE)]).status).toBe(0);
      expect(sweepStaleLaunchDirs(base)).toBe(0);
      expect(existsSync(join(target, LAUNCHER_FILE))).toBe(true);
      expect(existsSync(fifoDir)).toBe(true);
    } finally {
      rmSync(target, { recursive: true, force: true });
    }
  });
});

describe('receiveHandoff', () => {
  /**
   * receiveHandoff (as the pack process calls it, within `timeoutMs`) on descriptor `fdText` of a child whose
   * descriptor 3 is a socket fed `write`, then readHandoff: 'ok:<text>|<text>', or 'error:<message> after
   * the deadline|less'.
   */
  function receiving(write: (w: NodeJS.WritableStream) => void, timeoutMs = 5000, fdText = '3'): Promise<string> {
    const fd = JSON.stringify(fdText);
    const script = `import { readHandoff, receiveHandoff } from ${HANDOFF}; const t0 = Date.now();
      receiveHandoff(${fd}, 'KB_SECRET_FD', ${timeoutMs}).then((t) => process.stdout.write('ok:' + t + '|' + readHandoff(${fd}, 'KB_SECRET_FD')), (e) => process.stdout.write('error:' + e.message + ' after ' + (Date.now() - t0 >= ${timeoutMs} ? 'the deadline' : 'less'))).then(() => process.exit(0));`;
    const c = spawn(process.execPath, ['--input-type=module', '-e', script], { stdio: ['ignore', 'pipe', 'inherit', 'pipe'] });
    let out = '';
    c.stdout!.on('data', (d: Buffer) => (out += d));
    const w = c.stdio[3] as NodeJS.WritableStream;
    (w as unknown as { on(e: string, f: () => void): void }).on('error', () => {});
    write(w);
    return new Promise((resolve) => c.on('exit', () => resolve(out)));
  }

  test('receives one record in pieces without waiting for the end of the stream; readHandoff returns it after', async () => {
    let stream: NodeJS.WritableStream | undefined;
    const got = await receiving((w) => {
      stream = w;
      w.write('0012\nGrü');
      setTimeout(() => w.write('ße-Welt'), 50);
    });
    (stream as unknown as { destroy(): void }).destroy();
    expect(got).toBe('ok:Grüße-Welt|Grüße-Welt');
  });

  test.each([
    [
      'a silent socket',
      (w: NodeJS.WritableStream) => void w,
      /descriptor 3 held no record after 300 ms: a pack with KB_SECRET_FD must be started by the kubeburst launcher.* after the deadline$/,
    ],
    ['nothing, then the end', (w: NodeJS.WritableStream) => w.end(), /descriptor 3 ended before a record: the launcher went away/],
    ['a short record', (w: NodeJS.WritableStream) => w.end('10\nabc'), /descriptor 3 ended inside its record/],
    ['no record at all', (w: NodeJS.WritableStream) => w.end('GET / HTTP/1.1\r\n'), /descriptor 3 does not hold a record \(it starts 'GET \/ HT'\)/],
    ['a giant length', (w: NodeJS.WritableStream) => w.end('999999\n'), /announces 999999 bytes, over the 65536/],
  ])('%s: a ConfigError naming the variable', async (_, write, message) => {
    const out = await receiving(write, 300);
    expect(out).toMatch(/^error:KB_SECRET_FD: /);
    expect(out).toMatch(message);
  });

  test('a descriptor that is not open, not a socket or pipe, or not a number is refused, and is not closed; nothing received is an error', async () => {
    expect(await receiving((w) => w.end(), 300, '900')).toMatch(
      /^error:KB_SECRET_FD: descriptor 900 is not open: a pack with KB_SECRET_FD must be started by the kubeburst launcher/,
    );
    // A regular file on that descriptor: refused, and still open after (readable again).
    const script = `import { openSync, readSync } from 'node:fs'; import { receiveHandoff, readHandoff } from ${HANDOFF}; const fd = openSync(${JSON.stringify(join(DIST, 'security', 'handoff.js'))}, 'r');
      try { readHandoff(String(fd), 'KB_SECRET_FD'); } catch (e) { process.stdout.write(e.message + '|'); }
      receiveHandoff(String(fd), 'KB_SECRET_FD').catch((e) => process.stdout.write(e.message + '|' + readSync(fd, Buffer.alloc(6), 0, 6, 0)));`;
    const file = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
    expect(file.stdout).toMatch(/^KB_SECRET_FD: descriptor \d+ was not received: only the pack process .*\|KB_SECRET_FD: descriptor \d+ is not a socket or pipe: .*\|6$/);
    expect(await receiving((w) => w.end(), 300, '1')).toMatch(/^error:KB_SECRET_FD: must be a descriptor number of 3 or more \(got '1'\)/);
    expect(await receiving((w) => w.end(), 300, '/dev/fd/3')).toMatch(/must be a descriptor number/);
  });
});
