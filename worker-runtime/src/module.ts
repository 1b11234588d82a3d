import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { isBuiltin } from 'node:module';
import { dirname, extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { ConfigError } from './errors.js';

/**
 * Worker modules: what kind each is, and TypeScript ones compiled before any thread imports them.
 *
 * Node 20 cannot import `.ts`. A loader hook would have to be registered in every worker thread (hooks
 * registered in a pack's main thread do not reach its threads), so every thread would pay for its own
 * hooks thread and transpiler, G times per pack (docs/workers.md has the numbers). Instead the module
 * is compiled once, by esbuild, into one ES module: the worker's own files (and relative .js/.json) bundled, every
 * package import left to Node but pinned to the absolute file it resolves to from the worker's directory,
 * so the code runs from anywhere (a launcher's temp dir, or a data: URL in a read-only pod) and imports
 * exactly what Node would have imported from the worker's directory. Types are stripped, never checked:
 * that is `tsc`'s job.
 */

/** `.ts`, `.mts`, `.cts` (and `.tsx`) modules are compiled before loading. */
export function isTypeScript(path: string): boolean {
  return /\.[cm]?tsx?$/.test(path);
}

export type ModuleKind = { kind: 'typescript'; detail: string } | { kind: 'esm'; detail: string } | { kind: 'commonjs'; detail: string };

/**
 * How a worker module will be loaded, and why: the extension, else the nearest package.json's "type".
 * Pure but for reading package.json files.
 */
export function moduleKind(path: string): ModuleKind {
  if (isTypeScript(path)) {
    return {
      kind: 'typescript',
      detail:
        'TypeScript: compiled once per flare by esbuild into an ES module (types are stripped, not checked: run tsc for that), whatever package.json "type" says; write import/export, not require or `export =`',
    };
  }
  const ext = extname(path);
  if (ext === '.mjs') return { kind: 'esm', detail: 'an ES module (.mjs)' };
  if (ext === '.cjs') return { kind: 'commonjs', detail: 'CommonJS (.cjs): its worker is module.exports = defineWorker(…)' };
  const pkg = nearestPackageJson(dirname(path));
  if (pkg?.type === 'module') return { kind: 'esm', detail: `an ES module ("type": "module" in ${pkg.file})` };
  return {
    kind: 'commonjs',
    detail: `CommonJS (${pkg ? `no "type": "module" in ${pkg.file}` : 'no package.json above it'}): its worker is module.exports = defineWorker(…); Node loads a file with import/export as an ES module anyway, with a warning: add "type": "module" to say so`,
  };
}

function nearestPackageJson(dir: string): { file: string; type?: unknown } | undefined {
  for (let d = dir; ; d = dirname(d)) {
    const file = join(d, 'package.json');
    if (existsSync(file)) {
      try {
        return { file, type: (JSON.parse(readFileSync(file, 'utf8')) as { type?: unknown }).type };
      } catch {
        return { file };
      }
    }
    if (dirname(d) === d) return undefined;
  }
}

/**
 * Compiles a TypeScript worker module (see the file comment) into the source of one ES module with an
 * inline source map pointing at the original files. Throws ConfigError naming the file, line and problem
 * when a file does not parse or an import does not resolve.
 */
export async function compileWorkerModule(path: string): Promise<string> {
  const entry = resolve(path);
  let esbuild: typeof import('esbuild');
  try {
    esbuild = await import('esbuild');
  } catch (err) {
    throw new ConfigError(
      'spec.function.module',
      `${entry} is TypeScript, and compiling it needs esbuild, which @kubeburst/worker-runtime depends on but could not load (${(err as Error).message}): reinstall, or ship compiled JavaScript`,
    );
  }
  // Where the bundle would be written: source map paths are relative to it and made absolute below.
  const outfile = join(dirname(entry), '__kubeburst_worker.mjs');
  let result;
  try {
    result = await esbuild.build({
      entryPoints: [entry],
      outfile,
      bundle: true,
      write: false,
      format: 'esm',
      platform: 'node',
      target: 'node20',
      // As Node resolves: its conditions, "main" only.
      conditions: ['node'],
      mainFields: ['main'],
      sourcemap: 'external',
      logLevel: 'silent',
      // Each bundled file keeps its own import.meta.url (bound below), not the bundle's.
      define: { 'import.meta.url': '__kb_import_meta_url', 'import.meta.filename': '__kb_import_meta_filename', 'import.meta.dirname': '__kb_import_meta_dirname' },
      plugins: [nodeResolvedPackages(), ownImportMeta()],
    });
  } catch (err) {
    const errors = (err as { errors?: { text: string; location?: { file: string; line: number; column: number } | null }[] }).errors;
    if (errors === undefined) throw err;
    const lines = errors.slice(0, 5).map((e) => `  ${e.location ? `${resolve(dirname(entry), e.location.file)}:${e.location.line}:${e.location.column + 1}: ` : ''}${e.text}`);
    throw new ConfigError('spec.function.module', `${entry} does not compile:\n${lines.join('\n')}`);
  }
  const code = result.outputFiles.find((f) => f.path.endsWith('.mjs'))!.text;
  const map = JSON.parse(result.outputFiles.find((f) => f.path.endsWith('.map'))!.text) as { sources: string[] };
  map.sources = map.sources.map((s) => pathToFileURL(resolve(dirname(outfile), s)).href);
  const body = code.replace(/\/\/# sourceMappingURL=.*\s*$/, '');
  return `${body}//# sourceMappingURL=data:application/json;base64,${Buffer.from(JSON.stringify(map)).toString('base64')}\n`;
}

/** A data: URL that imports the compiled module (what a pack's threads import when nothing was written). */
export function moduleDataUrl(code: string): string {
  return `data:text/javascript;base64,${Buffer.from(code).toString('base64')}`;
}

/** Package imports stay imports, pinned to the file they resolve to from the importing file. */
function nodeResolvedPackages(): import('esbuild').Plugin {
  return {
    name: 'kubeburst-node-packages',
    setup(build) {
      build.onResolve({ filter: /^[^./]/ }, async (args) => {
        if (args.pluginData === 'inner' || isBuiltin(args.path)) return args.pluginData === 'inner' ? undefined : { path: args.path, external: true };
        const r = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, importer: args.importer, pluginData: 'inner' });
        if (r.errors.length > 0) {
          return {
            errors: r.errors.map((e) => ({
              text: `cannot find package '${args.path}' from ${args.resolveDir} (is it installed? npm install ${packageName(args.path)})`,
              ...(e.location ? { location: e.location } : {}),
            })),
          };
        }
        return { path: pathToFileURL(r.path).href, external: true };
      });
    },
  };
}

function packageName(spec: string): string {
  const parts = spec.split('/');
  return spec.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** Binds the names `define` put in place of import.meta.url/filename/dirname to each file's own. */
function ownImportMeta(): import('esbuild').Plugin {
  return {
    name: 'kubeburst-import-meta',
    setup(build) {
      build.onLoad({ filter: /\.[cm]?[jt]sx?$/ }, async (args) => {
        const source = await readFile(args.path, 'utf8');
        if (!/import\.meta\.(url|filename|dirname)/.test(source)) return undefined;
        const ext = extname(args.path);
        const loader = ext.includes('ts') ? (ext.endsWith('x') ? 'tsx' : 'ts') : ext.endsWith('x') ? 'jsx' : 'js';
        // On the first line, so the source map's lines stay right.
        const prefix = `const __kb_import_meta_url = ${JSON.stringify(pathToFileURL(args.path).href)}, __kb_import_meta_filename = ${JSON.stringify(args.path)}, __kb_import_meta_dirname = ${JSON.stringify(dirname(args.path))};`;
        return { contents: prefix + source, loader };
      });
    },
  };
}
