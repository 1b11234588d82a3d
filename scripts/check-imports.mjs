#!/usr/bin/env node
// `make verify`: imports go one way. Fails on an import cycle between files, and on one between the
// folders of a package's src/ (communicator/ → collectives/ → communicator/ is a cycle even when no two
// files close it; tests do not count there). Type-only imports count: a type that both sides need
// belongs in a leaf module of its own. (ESLint's import-x/no-cycle skips `import type`, and every cycle
// this repo had was one.)
//
//   node scripts/check-imports.mjs        prints each cycle with the import that closes every hop
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const TREES = ['worker-runtime/src', 'api/src', 'cli/src', 'operator/src', 'test', 'bench', 'examples'];
/** Package sources whose top-level folders must not import each other in a circle. */
const LAYERED = ['worker-runtime/src', 'api/src', 'cli/src', 'operator/src'];
/**
 * Cycles known and owned elsewhere, as the sorted files of the cycle joined by ' ↔ '. Each is reported
 * but does not fail the check; one that no longer exists fails it, so the entry goes with the cycle.
 */
const ALLOWED = new Map([]);

function* walk(dir) {
  for (const name of readdirSync(dir)) {
    if (name === 'dist' || name === 'node_modules' || name === 'results') continue;
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* walk(p);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) yield p;
  }
}

const rel = (p) => relative(root, p).split(sep).join('/');
const files = TREES.flatMap((t) => [...walk(join(root, t))]);
/** file → [{ to, line }] for its relative imports (static, dynamic, `import type`, `export … from`). */
const edges = new Map();
for (const file of files) {
  const text = readFileSync(file, 'utf8');
  const info = ts.preProcessFile(text, true, true);
  const out = [];
  for (const { fileName, pos } of info.importedFiles) {
    if (!fileName.startsWith('.')) continue;
    const base = resolve(dirname(file), fileName.replace(/\.js$/, ''));
    const to = [`${base}.ts`, join(base, 'index.ts')].find((c) => existsSync(c));
    if (to) out.push({ to, line: text.slice(0, pos).split('\n').length });
  }
  edges.set(file, out);
}

/** Strongly connected components of more than one node (Tarjan), each as a list of nodes. */
function cycles(nodes, next) {
  let index = 0;
  const idx = new Map(),
    low = new Map(),
    stack = [],
    on = new Set(),
    found = [];
  const visit = (v) => {
    (idx.set(v, index), low.set(v, index++), stack.push(v), on.add(v));
    for (const w of next(v)) {
      if (!idx.has(w)) (visit(w), low.set(v, Math.min(low.get(v), low.get(w))));
      else if (on.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do ((w = stack.pop()), on.delete(w), scc.push(w));
      while (w !== v);
      if (scc.length > 1) found.push(scc.sort());
    }
  };
  for (const v of nodes) if (!idx.has(v)) visit(v);
  return found;
}

const problems = [];
const allowedSeen = new Set();
for (const scc of cycles(files, (f) => (edges.get(f) ?? []).map((e) => e.to))) {
  const key = scc.map(rel).join(' ↔ ');
  const inside = new Set(scc);
  const hops = scc.flatMap((f) => (edges.get(f) ?? []).filter((e) => inside.has(e.to)).map((e) => `    ${rel(f)}:${e.line} → ${rel(e.to)}`));
  if (ALLOWED.has(key)) {
    allowedSeen.add(key);
    console.warn(`known import cycle (${ALLOWED.get(key)} removes it): ${key}`);
  } else problems.push(`import cycle: ${key}\n${hops.join('\n')}`);
}
for (const key of ALLOWED.keys()) if (!allowedSeen.has(key)) problems.push(`ALLOWED lists a cycle that is gone; delete its entry in scripts/check-imports.mjs: ${key}`);

for (const pkg of LAYERED) {
  const top = join(root, pkg);
  /** A file's layer: its top-level folder under src/, or the file itself when it sits in src/. */
  const layerOf = (f) => relative(top, f).split(sep)[0];
  const links = new Map();
  for (const f of files) {
    // A test is beside its layer, not in it: it may use test support (src/testing) that imports the layer.
    if (!f.startsWith(top + sep) || f.endsWith('.test.ts')) continue;
    for (const e of edges.get(f) ?? []) {
      const [a, b] = [layerOf(f), layerOf(e.to)];
      if (!e.to.startsWith(top + sep) || a === b) continue;
      if (!links.has(a)) links.set(a, new Map());
      if (!links.get(a).has(b)) links.get(a).set(b, `${rel(f)}:${e.line} → ${rel(e.to)}`);
    }
  }
  const layers = [...links.keys()];
  for (const scc of cycles(layers, (a) => [...(links.get(a)?.keys() ?? [])])) {
    const key = scc.map((l) => `${pkg}/${l}`).join(' ↔ ');
    // A folder cycle made of a file cycle is reported (or allowed) once, above.
    if (ALLOWED.size && [...ALLOWED.keys()].some((k) => scc.every((l) => k.includes(`${pkg}/${l}`)))) continue;
    const inside = new Set(scc);
    const hops = scc.flatMap((a) => [...(links.get(a) ?? [])].filter(([b]) => inside.has(b)).map(([, via]) => `    ${via}`));
    problems.push(`folder cycle: ${key}\n${hops.join('\n')}`);
  }
}

if (problems.length) {
  console.error(problems.join('\n'));
  console.error(`${problems.length} import cycle(s): move what both sides need into a leaf module, so imports go one way.`);
  process.exit(1);
}
console.log(`imports go one way (${files.length} files)`);
