import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { isAlias, parseAllDocuments, visit } from 'yaml';
import { InvalidBurstJobError, KIND, parseBurstJob, type BurstJobManifest } from '@kubeburst/api';
import { CliUsageError } from './io.js';

/**
 * Reading a BurstJob manifest for the CLI: YAML (possibly several documents, as `kubectl apply -f` takes),
 * the BurstJob picked out, command-line overrides applied, then validated by the one zod schema the
 * operator uses (@kubeburst/api), so a manifest `kubeburst run` accepts is one the cluster accepts.
 */
export interface LoadedManifest {
  path: string;
  job: BurstJobManifest;
}

/** Command-line overrides, applied to the document before validation so the schema's rules still hold. */
export interface SpecOverrides {
  size?: number;
  granularity?: number;
  transportKind?: string;
}

/** Invalid input file: the message names the file, the field and the rule. Exit code 2. */
export class ManifestError extends CliUsageError {}

export function loadManifest(file: string, cwd: string, o: { name?: string; overrides?: SpecOverrides } = {}): LoadedManifest {
  const path = resolve(cwd, file);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ManifestError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`);
  }
  const doc = pickBurstJob(file, text, o.name);
  const applied = applyOverrides(doc, o.overrides ?? {});
  try {
    return { path, job: parseBurstJob(applied) };
  } catch (err) {
    if (!(err instanceof InvalidBurstJobError)) throw err;
    const name = nameOf(doc);
    const via = describeOverrides(o.overrides ?? {});
    throw new ManifestError(`${file}: invalid BurstJob${name ? ` '${name}'` : ''}${via ? ` (with ${via})` : ''}:\n` + err.issues.map((i) => `  ${i.path}: ${i.rule}`).join('\n'));
  }
}

/**
 * Nodes that YAML aliases may expand to in one document: as many as a params.list of the largest burst
 * (100 000 workers) that repeats one anchored map per worker, and far below an expansion attack's billions.
 */
const MAX_ALIAS_NODES = 1_000_000;
/** Aliases in one document: the yaml library resolves each by a scan of the document, so time grows with their square. */
const MAX_ALIASES = 10_000;

/** The one BurstJob among the file's documents (or the one named `name`). */
export function pickBurstJob(file: string, text: string, name?: string): Record<string, unknown> {
  const docs = parseAllDocuments(text);
  const objects: Record<string, unknown>[] = [];
  for (const d of docs) {
    const first = d.errors[0];
    if (first !== undefined) {
      const at = first.linePos?.[0];
      throw new ManifestError(`${file}${at ? `:${at.line}:${at.col}` : ''}: not valid YAML: ${first.message.split('\n')[0]}`);
    }
    let aliases = 0;
    visit(d, (_key, node) => {
      if (isAlias(node) && ++aliases > MAX_ALIASES) return visit.BREAK;
      return undefined;
    });
    if (aliases > MAX_ALIASES) {
      throw new ManifestError(
        `${file}: more than ${MAX_ALIASES} YAML aliases (resolving them takes time that grows with their square): give workers one params.value and let each use its id, or write the list out`,
      );
    }
    let value: unknown;
    try {
      value = d.toJS({ maxAliasCount: MAX_ALIAS_NODES });
    } catch (err) {
      // An alias without its anchor, or aliases expanding past the bound.
      throw new ManifestError(`${file}: not valid YAML: ${(err instanceof Error ? err.message : String(err)).split('\n')[0]}`);
    }
    if (value !== null && value !== undefined) {
      if (typeof value !== 'object' || Array.isArray(value))
        throw new ManifestError(`${file}: every YAML document must be a Kubernetes object (a mapping with apiVersion and kind)`);
      objects.push(value as Record<string, unknown>);
    }
  }
  const jobs = objects.filter((d) => d.kind === KIND);
  if (jobs.length === 0) {
    const kinds = objects.map((d) => String(d.kind ?? '(no kind)'));
    throw new ManifestError(
      `${file}: no BurstJob found${kinds.length ? ` (it holds: ${kinds.join(', ')})` : ' (the file is empty)'}; expected a document with apiVersion: kubeburst.io/v1alpha1 and kind: BurstJob`,
    );
  }
  if (name !== undefined) {
    const named = jobs.find((d) => nameOf(d) === name);
    if (named === undefined) throw new ManifestError(`${file}: no BurstJob named '${name}' (it holds: ${jobs.map(nameOf).join(', ')})`);
    return named;
  }
  if (jobs.length > 1) throw new ManifestError(`${file}: holds ${jobs.length} BurstJobs (${jobs.map(nameOf).join(', ')}): choose one with --name`);
  return jobs[0]!;
}

function applyOverrides(doc: Record<string, unknown>, o: SpecOverrides): Record<string, unknown> {
  if (o.size === undefined && o.granularity === undefined && o.transportKind === undefined) return doc;
  const spec = { ...((doc.spec as Record<string, unknown> | undefined) ?? {}) };
  if (o.size !== undefined) spec.size = o.size;
  if (o.granularity !== undefined) {
    spec.granularity = o.granularity;
    // An explicit granularity is Fixed packing, whatever the manifest asked for.
    delete spec.packing;
  }
  if (o.transportKind !== undefined) {
    const t = (spec.transport as Record<string, unknown> | undefined) ?? {};
    // Another transport kind: the manifest's broker address belongs to the old one.
    spec.transport =
      t.kind === o.transportKind
        ? t
        : { ...(t.chunkBytes !== undefined ? { chunkBytes: t.chunkBytes } : {}), ...(t.encryption !== undefined ? { encryption: t.encryption } : {}), kind: o.transportKind };
  }
  return { ...doc, spec };
}

function describeOverrides(o: SpecOverrides): string {
  const parts: string[] = [];
  if (o.size !== undefined) parts.push(`--size ${o.size}`);
  if (o.granularity !== undefined) parts.push(`--granularity ${o.granularity}`);
  if (o.transportKind !== undefined) parts.push(`--transport ${o.transportKind}`);
  return parts.join(' ');
}

function nameOf(doc: Record<string, unknown>): string | undefined {
  const n = (doc.metadata as { name?: unknown } | undefined)?.name;
  return typeof n === 'string' ? n : undefined;
}

/** spec.function.module as a path on this machine: relative ones are relative to the manifest's directory. */
export function modulePath(m: LoadedManifest): string {
  const module = m.job.spec.function.module;
  return isAbsolute(module) ? module : resolve(dirname(m.path), module);
}

/**
 * spec.function.module for a local run: relative to the manifest's directory (the cluster resolves it
 * inside the image instead). Must exist: the packs would all fail to import it otherwise.
 */
export function resolveModule(m: LoadedManifest): string {
  const path = modulePath(m);
  if (!existsSync(path)) {
    throw new ManifestError(
      `spec.function.module: ${path} does not exist (a relative module is resolved against the manifest's directory, ${dirname(m.path)}; build the worker first if it is compiled)`,
    );
  }
  if (!statSync(path).isFile()) throw new ManifestError(`spec.function.module: ${path} is not a file (name the worker's module itself, not its directory)`);
  return path;
}
