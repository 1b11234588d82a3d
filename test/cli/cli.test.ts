import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FlareResult } from '../../worker-runtime/src/launch/local.js';
import type { RunSummary } from '../../cli/src/summary.js';
import { fixture, REDIS_URL, ROOT } from '../conformance/helpers.js';

/** The built CLI, spawned as a user would run it (stdout and stderr are pipes: no TTY). */
const CLI = join(ROOT, 'cli', 'bin', 'kubeburst.js');
const HELLO = join(ROOT, 'examples', 'hello', 'burstjob.yaml');

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

function kubeburst(args: string[], cwd = ROOT): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { cwd, timeout: 90_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-cli-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function manifest(spec: string, name = 'job'): string {
  const path = join(dir, `${name}.yaml`);
  writeFileSync(path, `apiVersion: kubeburst.io/v1alpha1\nkind: BurstJob\nmetadata:\n  name: ${name}\nspec:\n${spec}`);
  return path;
}

describe('kubeburst run', () => {
  test('runs the hello example over the direct transport: progress lines, summary, results JSON', async () => {
    const out = join(dir, 'results.json');
    const r = await kubeburst(['run', 'examples/hello/burstjob.yaml', '-o', out]);
    expect(r).toMatchObject({ code: 0 });
    // Not a terminal: plain progress lines on stderr.
    expect(r.stderr).toMatch(/^kubeburst: running hello: 8 workers in 4 packs of 2, transport direct \(Unix sockets\)\n/);
    expect(r.stderr).toMatch(/^\[\s*\d+\.\d\ds\] packs started 4\/4$/m);
    expect(r.stderr).toMatch(/^\[\s*\d+\.\d\ds\] packs joined 4\/4 \(start barrier passed\)$/m);
    expect(r.stderr).toMatch(/^\[\s*\d+\.\d\ds\] workers finished 8\/8$/m);
    expect(r.stderr).not.toContain('\r');
    expect(r.stdout.split('\n')[0]).toBe('succeeded: hello, 8 workers in 4 packs of 2, transport direct');
    for (const label of ['wall time', 'spawn → joined', 'function         median', 'traffic local', 'traffic remote']) expect(r.stdout).toContain(`  ${label}`);
    expect(r.stdout).toContain(`results written to ${out}`);

    const result = JSON.parse(readFileSync(out, 'utf8')) as FlareResult;
    expect(result).toMatchObject({ ok: true, transport: 'direct', layout: { size: 8, packSizes: [2, 2, 2, 2] }, exitCodes: [0, 0, 0, 0] });
    expect(result.workers.map((w) => (w.result as { sum: number }).sum)).toEqual(Array(8).fill(28));
    expect((result.workers[0]!.result as { greetings: string[] }).greetings).toEqual(Array.from({ length: 8 }, (_, w) => `hello from worker ${w} in pack ${w >> 1}`));
    for (const w of result.workers) expect(w.timings.functionEnd).toBeGreaterThanOrEqual(w.timings.functionStart);
    // allReduce across 4 packs and a gather to worker 0: remote traffic happened, and it balances.
    expect(result.counters.remoteBytesSent).toBeGreaterThan(0);
    expect(result.counters.remoteBytesRecv).toBe(result.counters.remoteBytesSent);
  });

  test('--size, --granularity and --json override the manifest and print a machine-readable summary', async () => {
    const r = await kubeburst(['run', HELLO, '--size', '5', '--granularity', '5', '--json']);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s).toMatchObject({ job: 'hello', ok: true, size: 5, packSizes: [5], transport: 'direct (unused: one pack)' });
    // The start line says it the same way.
    expect(r.stderr.split('\n')[0]).toBe('kubeburst: running hello: 5 workers in 1 pack of 5, transport direct (unused: one pack)');
    expect(s.traffic.remote).toEqual({ bytes: 0, messages: 0 });
    expect(s.results.map((x) => (x as { sum: number }).sum)).toEqual(Array(5).fill(10));
  });

  test('--json keeps stdout to the summary: what workers print goes to stderr; a failed pack’s stderr is quoted by its end', async () => {
    const module = join(dir, 'chatty.mjs');
    writeFileSync(
      module,
      'export default async (ctx) => { const w = ctx.info.workerId; console.log("hello from", w); await ctx.barrier(); if (w === 0) return 1; for (let i = 0; i < 5000; i++) console.error("line " + i + " of worker " + w); throw new Error("boom"); };\n',
    );
    const path = manifest(`  size: 2\n  granularity: 1\n  function:\n    module: ${module}\n`, 'chatty');
    const r = await kubeburst(['run', path, '--json']);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.ok).toBe(false);
    expect(r.stderr).toContain('hello from 0');
    expect(JSON.stringify(s)).toContain('line 4999 of worker 1');
  });

  test.each([
    ['redis', ['--transport', `redis=${REDIS_URL}`]],
    ['nats', ['--transport', 'nats']],
    ['direct over TCP', ['--size', '3', '--granularity', '1', '--transport-url', '127.0.0.1:17311,127.0.0.1:17312,127.0.0.1:17313']],
  ])('--transport %s', async (_name, flags) => {
    const r = await kubeburst(['run', HELLO, '--json', '--granularity', '3', ...flags]);
    expect(r.stderr).not.toMatch(/error/i);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as RunSummary;
    expect(s.ok).toBe(true);
    expect(s.traffic.remote.bytes).toBeGreaterThan(0);
  });

  test('--quiet prints nothing on success', async () => {
    const r = await kubeburst(['run', HELLO, '--quiet', '--size', '2']);
    expect(r).toEqual({ code: 0, stdout: '', stderr: '' });
  });

  test('a failing worker fails the run with exit 1, naming the worker, its pack and the reason', async () => {
    const path = manifest(`  size: 6\n  granularity: 2\n  function:\n    module: ${fixture('scenarios')}\n  params:\n    value: {scenario: throw, failing: 3}\n`, 'broken');
    const out = join(dir, 'results.json');
    const r = await kubeburst(['run', path, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.stdout.split('\n').slice(0, 2)).toEqual([
      'FAILED: broken, 6 workers in 3 packs of 2, transport direct',
      '  failed: worker 3 (pack 1): Error: deliberate failure in worker 3',
    ]);
    expect(r.stderr).toMatch(/aborting: worker 3 \(pack 1\) failed: Error: deliberate failure in worker 3/);
    const result = JSON.parse(readFileSync(out, 'utf8')) as FlareResult;
    expect(result.ok).toBe(false);
    expect(result.failure).toMatchObject({ failedWorker: 3 });
  });

  test('--quiet still names the failure on stderr', async () => {
    const path = manifest(`  size: 2\n  granularity: 1\n  function:\n    module: ${fixture('scenarios')}\n  params:\n    value: {scenario: throw, failing: 1}\n`, 'broken');
    const r = await kubeburst(['run', path, '--quiet']);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('failed: worker 1 (pack 1): Error: deliberate failure in worker 1');
  });

  test('an --output that cannot be written is refused before anything starts (exit 2)', async () => {
    for (const [output, why] of [
      [join(dir, 'missing', 'out.json'), `the directory ${join(dir, 'missing')} does not exist`],
      [dir, `${dir} is a directory`],
    ] as const) {
      const r = await kubeburst(['run', HELLO, '-o', output]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`kubeburst: --output ${output}: ${why}`);
      expect(r.stderr).not.toContain('running hello');
    }
  });

  test('an --output that is the manifest or the worker module, directly or through a link, is refused and both are left as they were', async () => {
    const module = join(dir, 'w.mjs');
    writeFileSync(module, 'export default async () => 1;\n');
    const path = manifest(`  size: 2\n  function:\n    module: ${module}\n`, 'self');
    const link = join(dir, 'results.json');
    symlinkSync(module, link);
    for (const [output, what] of [
      [path, 'the manifest'],
      [link, "the worker's module"],
    ] as const) {
      const before = readFileSync(output, 'utf8');
      const r = await kubeburst(['run', path, '-o', output]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(`kubeburst: --output ${output}: that is ${what}`);
      expect(readFileSync(output, 'utf8')).toBe(before);
    }
  });

  test('a module that does not exist is named before anything starts (exit 2)', async () => {
    const path = manifest('  size: 2\n  function:\n    module: ./missing/worker.js\n');
    const r = await kubeburst(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`kubeburst: spec.function.module: ${join(dir, 'missing', 'worker.js')} does not exist`);
  });
});

describe('invalid manifests and usage errors exit 2 with the field and the rule', () => {
  test('a manifest’s control characters are shown as escapes, never sent to the terminal', async () => {
    const path = join(dir, 'ansi.yaml');
    writeFileSync(path, 'apiVersion: v1\nkind: "\\e[31mRED\\e[0m\\e]0;pwned\\a"\n');
    const r = await kubeburst(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('\\x1b[31mRED\\x1b[0m\\x1b]0;pwned\\x07');
    // eslint-disable-next-line no-control-regex
    expect(r.stderr).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/);
  });

  test.each([
    ['size 0', '  size: 0\n  function:\n    module: ./w.js\n', /spec\.size: .*>=1/],
    ['granularity above size', '  size: 2\n  granularity: 3\n  function:\n    module: ./w.js\n', /spec\.granularity: must be <= size \(2\)/],
    ['params list length', '  size: 3\n  function:\n    module: ./w.js\n  params:\n    list: [1, 2]\n', /spec\.params\.list: has 2 entries but size is 3/],
    ['unknown transport', '  size: 2\n  function:\n    module: ./w.js\n  transport: {kind: carrier-pigeon}\n', /spec\.transport\.kind: /],
  ])('%s', async (_name, spec, message) => {
    const path = manifest(spec);
    for (const command of ['run', 'validate']) {
      const r = await kubeburst([command, path]);
      expect(r.code).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^kubeburst: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: invalid BurstJob 'job':\\n`));
      expect(r.stderr).toMatch(message);
    }
  });

  test('an override that breaks a rule says which flag did it', async () => {
    const r = await kubeburst(['run', HELLO, '--granularity', '9']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("invalid BurstJob 'hello' (with --granularity 9):\n  spec.granularity: must be <= size (8)");
  });

  test('a multi-document file: the BurstJob is picked out; a file without one is named', async () => {
    const both = join(dir, 'both.yaml');
    writeFileSync(
      both,
      `apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n---\n${readFileSync(HELLO, 'utf8').replace('../dist/hello/worker.js', join(ROOT, 'examples', 'dist', 'hello', 'worker.js'))}`,
    );
    const ok = await kubeburst(['validate', both]);
    expect(ok).toMatchObject({
      code: 0,
      stdout: `${both}: BurstJob hello is valid: 8 workers, 4 packs of 2, transport direct\nspec.function.module ${join(ROOT, 'examples', 'dist', 'hello', 'worker.js')}: an ES module ("type": "module" in ${join(ROOT, 'package.json')})\n`,
    });
    const none = join(dir, 'none.yaml');
    writeFileSync(none, 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n');
    const r = await kubeburst(['run', none]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('no BurstJob found (it holds: ConfigMap)');
  });

  test('a TypeScript module that does not compile fails validate and run at once, with its file and line', async () => {
    writeFileSync(join(dir, 'w.ts'), 'export default (x: number) => x +;\n');
    const path = manifest('  size: 2\n  function:\n    module: w.ts\n');
    const v = await kubeburst(['validate', path]);
    expect(v.code).toBe(2);
    expect(v.stdout).toContain(`spec.function.module ${join(dir, 'w.ts')}: TypeScript: compiled once per flare by esbuild into an ES module`);
    expect(v.stderr).toContain(`spec.function.module: ${join(dir, 'w.ts')} does not compile:\n  ${join(dir, 'w.ts')}:1:34: Unexpected ";"`);
    const r = await kubeburst(['run', path]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(`${join(dir, 'w.ts')}:1:34: Unexpected ";"`);
  });

  test.each([
    [['run'], /which manifest\?/],
    [['run', 'x.yaml', '--size', 'many'], /--size: must be an integer >= 1 \(got 'many'\)/],
    [['run', 'x.yaml', '--transport', 'smoke'], /--transport: 'smoke' is not a transport: use one of direct, nats, redis/],
    [['run', 'x.yaml', '--frobnicate'], /kubeburst run: Unknown option '--frobnicate'.*\(see kubeburst run --help\)/],
    [['launch'], /unknown command 'launch': use one of run, validate/],
    [['run', 'absent.yaml'], /kubeburst: cannot read absent\.yaml: no such file/],
  ])('%j', async (args, message) => {
    const r = await kubeburst(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });

  test('--help lists the commands; run --help lists its options', async () => {
    const top = await kubeburst(['--help']);
    expect(top.code).toBe(0);
    expect(top.stdout).toMatch(/^\s+run\s+run a BurstJob locally/m);
    expect(top.stdout).toMatch(/^\s+validate\s+check a BurstJob manifest/m);
    const run = await kubeburst(['run', '--help']);
    expect(run.code).toBe(0);
    for (const flag of ['--size', '--granularity', '--transport KIND[=URL]', '--transport-url', '-o, --output', '-q, --quiet', '--json']) expect(run.stdout).toContain(flag);
  });
});
