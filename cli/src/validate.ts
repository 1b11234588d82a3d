import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { compileWorkerModule, moduleKind } from '@kubeburst/worker-runtime/module';
import type { Command } from './command.js';
import { CliUsageError, EXIT, type CliIO } from './io.js';
import { loadManifest, modulePath, resolveModule } from './manifest.js';

const HELP = `Usage: kubeburst validate <job.yaml> [--name NAME]

Checks a BurstJob manifest against the API schema (the one the operator and the CRD use) and prints
what it would run. Invalid manifests exit 2 with one line per problem: the field and the rule.

It also says how spec.function.module will be loaded: an ES module or CommonJS (by its extension, else
the nearest package.json's "type"), or TypeScript, which \`kubeburst run\` and the pack compile once with
esbuild (types stripped, not checked). A TypeScript module is compiled here too: a syntax error or an
import that does not resolve exits 2 now, not after every pack joined.
`;

async function validate(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { name: { type: 'string' } } });
  if (positionals.length !== 1) throw new CliUsageError('validate: which manifest? (kubeburst validate job.yaml)', 'validate');
  const m = loadManifest(positionals[0]!, io.cwd, values.name !== undefined ? { name: values.name } : {});
  const s = m.job.spec;
  const g = s.granularity ?? (s.packing?.mode === 'Auto' ? undefined : s.size);
  const packing =
    g === undefined
      ? `automatic packing${s.packing?.maxGranularity ? ` (at most ${s.packing.maxGranularity} per pack)` : ''}`
      : `${Math.ceil(s.size / g)} pack${Math.ceil(s.size / g) === 1 ? '' : 's'} of ${s.size % g === 0 ? '' : '≤'}${g}`;
  io.stdout.write(`${positionals[0]}: BurstJob ${m.job.metadata.name} is valid: ${s.size} workers, ${packing}, transport ${s.transport.kind}\n`);
  if (!existsSync(modulePath(m))) {
    io.stdout.write(`note: spec.function.module ${modulePath(m)} does not exist here: \`kubeburst run\` needs it (a cluster run looks for it in the image)\n`);
    return EXIT.ok;
  }
  // What `kubeburst run` would take: a file (not a directory) where the manifest says.
  const module = resolveModule(m);
  const kind = moduleKind(module);
  io.stdout.write(`spec.function.module ${module}: ${kind.detail}\n`);
  if (kind.kind === 'typescript') {
    // Throws ConfigError (exit 2) naming the file, the line and the problem.
    await compileWorkerModule(module);
    io.stdout.write(`spec.function.module compiles, and every package it imports resolves from ${dirname(module)}\n`);
  }
  return EXIT.ok;
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a BurstJob manifest against the schema (field and rule for every problem)',
  help: HELP,
  run: validate,
};
