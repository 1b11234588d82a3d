// Removes compiled files whose TypeScript source is gone. `tsc -b` never deletes an output, so a moved or
// deleted module lives on in a developer's dist/ (and in an npm pack of it) while a fresh checkout has no
// such file: a test or import that still names it passes here and fails in CI. `make build` runs this.
//
// Usage: node scripts/prune-dist.mjs [--check]   (--check: list orphans and exit 1, delete nothing)
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const OUTPUTS = /(\.d\.ts\.map|\.d\.ts|\.js\.map|\.js)$/;

/** Every TypeScript project of the build with its rootDir and outDir, read from its tsconfig.json. */
function projects() {
  const top = JSON.parse(readFileSync(join(ROOT, 'tsconfig.json'), 'utf8'));
  const dirs = [...top.references.map((r) => r.path), 'bench'];
  return dirs.map((dir) => {
    const o = JSON.parse(readFileSync(join(ROOT, dir, 'tsconfig.json'), 'utf8')).compilerOptions ?? {};
    if (!o.outDir || !o.rootDir) throw new Error(`${dir}/tsconfig.json: prune-dist needs compilerOptions.rootDir and outDir`);
    return { src: join(ROOT, dir, o.rootDir), out: join(ROOT, dir, o.outDir) };
  });
}

function* files(dir) {
  if (!existsSync(dir)) return;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* files(p);
    else yield p;
  }
}

const check = process.argv.includes('--check');
const orphans = [];
for (const { src, out } of projects()) {
  for (const f of files(out)) {
    if (!OUTPUTS.test(f)) continue;
    const base = join(src, relative(out, f)).replace(OUTPUTS, '');
    if (!existsSync(`${base}.ts`) && !existsSync(`${base}.tsx`)) orphans.push(f);
  }
}
for (const f of orphans) {
  if (check) console.error(`orphaned output (its source is gone): ${relative(ROOT, f)}`);
  else rmSync(f);
}
if (check && orphans.length > 0) process.exit(1);
if (!check && orphans.length > 0) console.error(`prune-dist: removed ${orphans.length} compiled files whose source is gone`);
