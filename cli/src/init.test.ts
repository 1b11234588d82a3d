import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './cli.js';
import type { CliIO } from './io.js';
import { projectName, scaffold } from './init.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-init-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function io(): CliIO & { out: string; err: string } {
  const o = { out: '', err: '' };
  return Object.assign(o, { stdout: { write: (s: string) => (o.out += s) }, stderr: { write: (s: string) => (o.err += s) }, cwd: dir, now: () => 0 });
}

test('scaffolds a project named after its directory, depending on the packages by their published names', async () => {
  const t = io();
  expect(await runCli(['init', 'My_Flare'], t)).toBe(0);
  const pkg = JSON.parse(readFileSync(join(dir, 'My_Flare', 'package.json'), 'utf8'));
  expect(pkg.name).toBe('my-flare');
  expect(pkg.devDependencies).toMatchObject({ '@kubeburst/cli': '^0.1.0', '@kubeburst/worker-runtime': '^0.1.0' });
  expect(readFileSync(join(dir, 'My_Flare', 'burstjob.yaml'), 'utf8')).toContain('name: my-flare');
  expect(t.out).toContain('next: cd My_Flare && npm install && npm test');
});

test('overwrites nothing: every existing file is named and nothing is written', async () => {
  writeFileSync(join(dir, 'worker.ts'), 'mine');
  const t = io();
  expect(await runCli(['init'], t)).toBe(2);
  expect(t.err).toContain(`init: ${join(dir, 'worker.ts')} already exists: nothing was written`);
  expect(readFileSync(join(dir, 'worker.ts'), 'utf8')).toBe('mine');
  expect(() => readFileSync(join(dir, 'package.json'))).toThrow();
});

test('a name that cannot name a BurstJob is refused', async () => {
  const t = io();
  expect(await runCli(['init', '--name', 'Bad Name'], t)).toBe(2);
  expect(t.err).toContain('--name Bad Name: must be at most 48 lowercase letters, digits and -, starting with a letter');
  // What the schema refuses, init refuses: a leading digit, 49 characters.
  for (const name of ['2024-sweep', `a${'b'.repeat(48)}`]) {
    const u = io();
    expect(await runCli(['init', '--name', name], u)).toBe(2);
  }
});

test('a directory that is a file, or a scaffold file that is a dangling link, is refused without a stack trace', async () => {
  const t = io();
  writeFileSync(join(dir, 'some-file.yaml'), 'x');
  expect(await runCli(['init', 'some-file.yaml'], t)).toBe(2);
  expect(t.err).toContain('is not a directory');
  const u = io();
  mkdirSync(join(dir, 'p'));
  symlinkSync(join(dir, 'elsewhere.ts'), join(dir, 'p', 'worker.ts'));
  expect(await runCli(['init', 'p'], u)).toBe(2);
  expect(u.err).toMatch(/worker\.ts already exists: nothing was written/);
  expect(() => readFileSync(join(dir, 'elsewhere.ts'))).toThrow();
  expect(() => readFileSync(join(dir, 'p', 'package.json'))).toThrow();
});

test.each([
  ['/x/my-flare', 'my-flare'],
  ['/x/My Flare 2', 'my-flare-2'],
  ['/x/__', 'my-flare'],
  ['/x/2024 Sweep', 'flare-2024-sweep'],
  [`/x/${'a'.repeat(47)}-b`, 'a'.repeat(47)],
])('projectName(%s) = %s', (d, n) => expect(projectName(d)).toBe(n));

test("the scaffold's Dockerfile builds on the worker image of the same version", () => {
  expect(scaffold('a', '1.2.3').Dockerfile).toContain('ARG WORKER_IMAGE=ghcr.io/kubeburst/worker:1.2.3');
});

describe("the scaffold's Dockerfile installs the worker's own dependencies", () => {
  /** Its RUN step, run by sh in a project dir, with an `npm` on PATH that only says how it was called. */
  function install(files: Record<string, string>): { code: number | null; out: string } {
    const step = /^RUN ((?:.*\\\n)*.*)$/m.exec(scaffold('a', '1.2.3').Dockerfile!)![1]!.replaceAll('\\\n', '\n');
    for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
    mkdirSync(join(dir, 'bin'));
    writeFileSync(join(dir, 'bin', 'npm'), '#!/bin/sh\necho "npm $*"\n', { mode: 0o755 });
    const r = spawnSync('sh', ['-c', step], { cwd: dir, encoding: 'utf8', env: { PATH: `${join(dir, 'bin')}:${process.env.PATH}` } });
    return { code: r.status, out: r.stdout + r.stderr };
  }
  const pkg = (deps: Record<string, string> = {}): string => JSON.stringify({ name: 'a', type: 'module', dependencies: deps, devDependencies: { typescript: '~5.9.0' } });

  test('from the lock file npm install wrote, without devDependencies', () => {
    expect(install({ 'package.json': pkg({ lodash: '^4' }), 'package-lock.json': '{}' })).toEqual({ code: 0, out: 'npm ci --omit=dev --no-audit --no-fund\n' });
  });
  test('a fresh project (no lock file, no dependencies) needs neither npm nor the registry', () => {
    expect(install({ 'package.json': pkg() })).toEqual({ code: 0, out: '' });
  });
  test('dependencies without a lock file fail the build, saying what to run', () => {
    expect(install({ 'package.json': pkg({ lodash: '^4' }) })).toEqual({ code: 1, out: 'package.json has dependencies (lodash) but no package-lock.json: run npm install\n' });
  });
});
