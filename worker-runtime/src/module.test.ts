import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { compileWorkerModule, isTypeScript, moduleDataUrl, moduleKind } from './module.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'kb-module-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function file(rel: string, text: string): string {
  const path = join(dir, rel);
  mkdirSync(resolve(path, '..'), { recursive: true });
  writeFileSync(path, text);
  return path;
}

describe('moduleKind', () => {
  test.each([
    ['w.ts', undefined, 'typescript'],
    ['w.mts', undefined, 'typescript'],
    ['w.mjs', undefined, 'esm'],
    ['w.cjs', 'module', 'commonjs'],
    ['w.js', 'module', 'esm'],
    ['w.js', 'commonjs', 'commonjs'],
    ['w.js', undefined, 'commonjs'],
  ])('%s with package.json type %s is %s', (name, type, kind) => {
    file('package.json', JSON.stringify(type === undefined ? {} : { type }));
    const k = moduleKind(file(name, ''));
    expect(k.kind).toBe(kind);
    if (kind === 'commonjs' && name === 'w.js') expect(k.detail).toContain(`no "type": "module" in ${join(dir, 'package.json')}`);
  });

  test('isTypeScript', () => {
    expect(['a.ts', 'a.mts', 'a.cts', 'a.tsx'].map(isTypeScript)).toEqual([true, true, true, true]);
    expect(['a.js', 'a.d.ts.js', 'ts'].map(isTypeScript)).toEqual([false, false, false]);
  });
});

describe('compileWorkerModule', () => {
  test("bundles the worker's own files, keeps each file's import.meta.url, pins packages to the file Node resolves", async () => {
    file('node_modules/dep/package.json', JSON.stringify({ name: 'dep', type: 'module', exports: { import: './esm.js', require: './cjs.cjs' } }));
    file('node_modules/dep/esm.js', 'export const via = "import";\n');
    file('node_modules/dep/cjs.cjs', 'exports.via = "require";\n');
    file('lib.ts', 'export const libUrl: string = import.meta.url;\nexport enum E { A = 2 }\n');
    const entry = file(
      'worker.ts',
      "import { via } from 'dep';\nimport { E, libUrl } from './lib.js';\nimport { sep } from 'node:path';\nexport default { via, a: E.A, libUrl, me: import.meta.url, sep } satisfies object;\n",
    );
    const code = await compileWorkerModule(entry);
    // Loaded from a data: URL (as a pod does): nothing relative is left to resolve.
    const mod = (await import(moduleDataUrl(code))) as { default: Record<string, unknown> };
    expect(mod.default).toEqual({ via: 'import', a: 2, libUrl: `file://${join(dir, 'lib.ts')}`, me: `file://${entry}`, sep: '/' });
    expect(code).toContain(`file://${join(dir, 'node_modules/dep/esm.js')}`);
    expect(code).toMatch(/sourceMappingURL=data:application\/json;base64,/);
  });

  test('a syntax error names the file, line and column', async () => {
    const entry = file('worker.ts', 'export default 1 +;\n');
    await expect(compileWorkerModule(entry)).rejects.toThrow(`spec.function.module: ${entry} does not compile:\n  ${entry}:1:19: Unexpected ";"`);
  });

  test('a package that is not installed says what to install', async () => {
    const entry = file('worker.ts', "import x from '@acme/missing/sub';\nexport default x;\n");
    await expect(compileWorkerModule(entry)).rejects.toThrow(`cannot find package '@acme/missing/sub' from ${dir} (is it installed? npm install @acme/missing)`);
  });

  test('a package symlinked into node_modules resolves to its real path, as Node does', async () => {
    file('real/dep/package.json', JSON.stringify({ name: 'dep', main: 'index.js' }));
    file('real/dep/index.js', 'module.exports = 7;\n');
    mkdirSync(join(dir, 'app/node_modules'), { recursive: true });
    symlinkSync(join(dir, 'real/dep'), join(dir, 'app/node_modules/dep'));
    const entry = file('app/worker.ts', "import seven from 'dep';\nexport default seven;\n");
    const mod = (await import(moduleDataUrl(await compileWorkerModule(entry)))) as { default: unknown };
    expect(mod.default).toBe(7);
  });
});
