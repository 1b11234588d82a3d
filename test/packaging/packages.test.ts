import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ROOT } from '../conformance/helpers.js';

/**
 * The packages as a user gets them: `npm pack` each workspace, install the tarballs into a fresh
 * project outside the repository (nothing of the repository's node_modules is reachable from there),
 * scaffold a TypeScript worker with `kubeburst init`, and run what a user runs: validate, run, the
 * project's own test and its type check against the packages' published types. Needs `npm run build`
 * (make test builds first); npm reaches the registry only for what its cache lacks (typescript, @types/node
 * and the packages' own dependencies).
 */
const PACKAGES = ['worker-runtime', 'api', 'cli', 'operator'] as const;

interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** The environment without what `npm test` put in it (npm_config_*, npm_package_*): a user's shell. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^npm_/i.test(k) && k !== 'INIT_CWD') env[k] = v;
  return { ...env, npm_config_audit: 'false', npm_config_fund: 'false', npm_config_update_notifier: 'false' };
}

function sh(cmd: string, args: string[], cwd: string, timeout = 120_000): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: cleanEnv(), timeout, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

async function ok(cmd: string, args: string[], cwd: string, timeout?: number): Promise<Ran> {
  const r = await sh(cmd, args, cwd, timeout);
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(' ')} (in ${cwd}) exited ${r.code}:\n${r.stdout}\n${r.stderr}`);
  return r;
}

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'kb-packaging-'));
});
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

test("npm pack, install outside the repository, kubeburst init, validate, run and the project's own test", async () => {
  for (const p of PACKAGES) {
    if (!existsSync(join(ROOT, p, 'dist'))) throw new Error(`${p}/dist does not exist: run \`npm run build\` first`);
  }
  // 1. One tarball per package, with what a package needs and nothing else.
  const packed = JSON.parse((await ok('npm', ['pack', '--json', '--pack-destination', tmp, ...PACKAGES.flatMap((p) => ['-w', p])], ROOT)).stdout) as {
    name: string;
    filename: string;
    files: { path: string }[];
  }[];
  const tarball = Object.fromEntries(packed.map((p) => [p.name, join(tmp, p.filename)]));
  expect(Object.keys(tarball).sort()).toEqual(['@kubeburst/api', '@kubeburst/cli', '@kubeburst/operator', '@kubeburst/worker-runtime']);
  for (const p of packed) {
    const paths = p.files.map((f) => f.path);
    expect(paths.filter((f) => f.startsWith('src/') || f.includes('.test.') || f.endsWith('.tsbuildinfo'))).toEqual([]);
    expect(paths).toContain('package.json');
  }
  expect(packed.find((p) => p.name === '@kubeburst/cli')!.files.map((f) => f.path)).toContain('bin/kubeburst.js');

  // 2. A fresh project, scaffolded by the packed CLI itself: install it into a tools dir first.
  const tools = join(tmp, 'tools');
  mkdirSync(tools);
  await ok('npm', ['init', '-y'], tools);
  await ok('npm', ['install', '--prefer-offline', tarball['@kubeburst/cli']!, tarball['@kubeburst/api']!, tarball['@kubeburst/worker-runtime']!], tools, 180_000);
  const app = join(tmp, 'my-flare');
  const init = await ok(join(tools, 'node_modules', '.bin', 'kubeburst'), ['init', app], tmp);
  expect(init.stdout).toContain('wrote package.json, tsconfig.json, worker.ts, burstjob.yaml, worker.test.mjs, Dockerfile, .gitignore');
  // A second init overwrites nothing.
  const again = await sh(join(tools, 'node_modules', '.bin', 'kubeburst'), ['init', app], tmp);
  expect(again.code).toBe(2);
  expect(again.stderr).toContain(`${join(app, 'package.json')}`);

  // 3. The scaffold's dependencies, from the tarballs (they are not on the registry); the operator too,
  // to see that its tarball installs and its exports load.
  const pkgFile = join(app, 'package.json');
  const pkg = JSON.parse(readFileSync(pkgFile, 'utf8')) as { devDependencies: Record<string, string> };
  expect(pkg.devDependencies['@kubeburst/worker-runtime']).toBe('^0.1.0');
  for (const name of ['@kubeburst/cli', '@kubeburst/worker-runtime', '@kubeburst/api', '@kubeburst/operator']) pkg.devDependencies[name] = `file:${tarball[name]}`;
  writeFileSync(pkgFile, JSON.stringify(pkg, null, 2));
  await ok('npm', ['install', '--prefer-offline'], app, 240_000);

  // 4. What a user runs.
  const validate = await ok('npx', ['kubeburst', 'validate', 'burstjob.yaml'], app);
  expect(validate.stdout).toContain('BurstJob my-flare is valid: 4 workers, 2 packs of 2, transport direct');
  expect(validate.stdout).toContain('TypeScript: compiled once per flare by esbuild');
  const run = await ok('npx', ['kubeburst', 'run', 'burstjob.yaml', '--json'], app);
  const summary = JSON.parse(run.stdout) as { ok: boolean; results: { sum: number }[] };
  expect(summary.ok).toBe(true);
  expect(summary.results.map((r) => r.sum)).toEqual([6, 6, 6, 6]);
  await ok('npm', ['test'], app);
  await ok('npm', ['run', 'typecheck'], app);
  const loaded = await ok(
    'node',
    [
      '--input-type=module',
      '-e',
      "const o = await import('@kubeburst/operator'); const a = await import('@kubeburst/api'); console.log(typeof o.KubeClient, typeof a.parseBurstJob)",
    ],
    app,
  );
  expect(loaded.stdout.trim()).toBe('function function');
}, 600_000);
