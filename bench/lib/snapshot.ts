import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join, relative } from 'node:path';

/**
 * A frozen copy of the built worker runtime (and of worker modules), for a benchmark that spawns pack
 * processes for minutes in a tree where others rebuild: a pack that loads dist/*.js while `tsc -b` rewrites
 * it sees a truncated file (SyntaxError: Unexpected end of input) or a mix of two builds, and fails for
 * reasons that are not the runtime's. The copy is laid out as a package tree:
 *
 *   <dir>/package.json                                  {"type":"module"}
 *   <dir>/node_modules/@kubeburst/worker-runtime/       package.json + dist/, copied
 *   <dir>/node_modules/<package>                        symlinks to the repository's installed packages
 *   <dir>/modules/<name>.js                             the worker modules, copied
 *
 * so the copied modules' `import '@kubeburst/worker-runtime'` resolves to the copy, never to the live build.
 * The copy is taken when the build has been quiet for `quietMs` (no file newer), checked complete (every
 * .js file tsc emitted ends with its sourceMappingURL comment, which tsc writes last) and taken again if
 * the build changed while it was copied.
 */
export interface RuntimeSnapshot {
  dir: string;
  /** Absolute path of the copied worker-runtime package. */
  runtimeDir: string;
  /** Copied worker modules by the name they were given. */
  modules: Record<string, string>;
  /** sha256 of every copied .js file (path and content), first 16 hex digits: which build ran. */
  buildSha256: string;
  /** The newest file time of what was copied (ISO). */
  builtAt: string;
  jsFiles: number;
  /** How long the snapshot waited for the build to be quiet (ms). */
  waitedMs: number;
  attempts: number;
}

function files(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...files(p));
    else out.push(p);
  }
  return out;
}

function newestMtime(paths: string[]): number {
  let m = 0;
  for (const p of paths) {
    try {
      m = Math.max(m, statSync(p).mtimeMs);
    } catch {
      /* being replaced */
    }
  }
  return m;
}

function complete(js: string): boolean {
  const text = readFileSync(js, 'utf8').trimEnd();
  return text.endsWith(`//# sourceMappingURL=${basename(js)}.map`);
}

/** The packages of a node_modules dir (`name`, `@scope/name`), but ours (`@kubeburst/*`, copied instead). */
function installedPackages(nodeModules: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(nodeModules, { withFileTypes: true })) {
    if (e.name.startsWith('.') || e.name === '@kubeburst') continue;
    if (!e.name.startsWith('@')) out.push(e.name);
    else for (const s of readdirSync(join(nodeModules, e.name))) out.push(`${e.name}/${s}`);
  }
  return out;
}

export async function snapshotRuntime(o: {
  repo: string;
  tmp: string;
  modules: Record<string, string>;
  quietMs?: number;
  timeoutMs?: number;
  log?: (s: string) => void;
}): Promise<RuntimeSnapshot> {
  const quietMs = o.quietMs ?? 3000;
  const t0 = Date.now();
  const deadline = t0 + (o.timeoutMs ?? 180_000);
  const runtimeSrc = join(o.repo, 'worker-runtime');
  const sources = (): string[] => [join(runtimeSrc, 'package.json'), ...files(join(runtimeSrc, 'dist')), ...Object.values(o.modules)];
  let told = false;
  for (let attempt = 1; ; attempt++) {
    // Wait for a quiet build.
    for (;;) {
      const age = Date.now() - newestMtime(sources());
      if (age >= quietMs) break;
      if (Date.now() > deadline) throw new Error(`the runtime build under ${runtimeSrc} kept changing for ${(o.timeoutMs ?? 180_000) / 1000} s: no stable snapshot`);
      if (!told) o.log?.('the runtime build is being rewritten (someone runs tsc): waiting for it to be quiet');
      told = true;
      await new Promise((r) => setTimeout(r, Math.max(200, quietMs - age)));
    }
    const before = newestMtime(sources());
    const dir = mkdtempSync(join(o.tmp, 'kb-soak-build-'));
    writeFileSync(join(dir, 'package.json'), '{"type":"module","private":true}\n');
    const runtimeDir = join(dir, 'node_modules', '@kubeburst', 'worker-runtime');
    mkdirSync(runtimeDir, { recursive: true });
    cpSync(join(runtimeSrc, 'package.json'), join(runtimeDir, 'package.json'));
    cpSync(join(runtimeSrc, 'dist'), join(runtimeDir, 'dist'), {
      recursive: true,
      filter: (src) => !src.endsWith('.d.ts') && !src.endsWith('.d.ts.map') && !src.endsWith('.tsbuildinfo'),
    });
    // Every installed package, not only the runtime's own dependencies: a dependency's dependencies
    // (ioredis's @ioredis/commands) must resolve from the link too. Node resolves a linked package from
    // its real path only sometimes (a pack importing ioredis late, after its start, looked it up under the
    // link and found no @ioredis/commands there).
    for (const dep of installedPackages(join(o.repo, 'node_modules'))) {
      const target = realpathSync(join(o.repo, 'node_modules', dep));
      mkdirSync(join(dir, 'node_modules', dep, '..'), { recursive: true });
      symlinkSync(target, join(dir, 'node_modules', dep), 'dir');
    }
    const modules: Record<string, string> = {};
    mkdirSync(join(dir, 'modules'));
    for (const [name, src] of Object.entries(o.modules)) {
      modules[name] = join(dir, 'modules', `${name}.js`);
      cpSync(src, modules[name]!);
    }
    const after = newestMtime(sources());
    const js = [...files(join(runtimeDir, 'dist')).filter((f) => f.endsWith('.js'))];
    const incomplete = js.filter((f) => !complete(f));
    // A copied module's trailer names its original file, not `<name>.js`: check those against the source name.
    const badModules = Object.entries(o.modules).filter(
      ([name, src]) =>
        !readFileSync(modules[name]!, 'utf8')
          .trimEnd()
          .endsWith(`//# sourceMappingURL=${basename(src)}.map`),
    );
    if (after === before && incomplete.length === 0 && badModules.length === 0) {
      const h = createHash('sha256');
      for (const f of [...js, ...Object.values(modules)].sort()) h.update(relative(dir, f)).update('\0').update(readFileSync(f));
      return {
        dir,
        runtimeDir,
        modules,
        buildSha256: h.digest('hex').slice(0, 16),
        builtAt: new Date(before).toISOString(),
        jsFiles: js.length,
        waitedMs: Date.now() - t0,
        attempts: attempt,
      };
    }
    o.log?.(
      `snapshot attempt ${attempt} not clean (${after !== before ? 'the build changed while copying' : `incomplete: ${[...incomplete.map((f) => relative(dir, f)), ...badModules.map(([n]) => n)].slice(0, 3).join(', ')}`}): again`,
    );
    rmSync(dir, { recursive: true, force: true });
    if (Date.now() > deadline) throw new Error('no clean snapshot of the runtime build');
  }
}
