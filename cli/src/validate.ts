import { existsSync } from 'node:fs';
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { CliUsageError, EXIT, type CliIO } from './io.js';
import { loadManifest, modulePath } from './manifest.js';

const HELP = `Usage: kubeburst validate <job.yaml> [--name NAME]

Checks a BurstJob manifest against the API schema (the one the operator and the CRD use) and prints
what it would run. Invalid manifests exit 2 with one line per problem: the field and the rule.
`;

async function validate(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { name: { type: 'string' } } });
  if (positionals.length !== 1) throw new CliUsageError('validate: which manifest? (kubeburst validate job.yaml)', 'validate');
  const m = loadManifest(positionals[0]!, io.cwd, values.name !== undefined ? { name: values.name } : {});
  const s = m.job.spec;
  const g = s.granularity ?? (s.packing?.mode === 'Auto' ? undefined : s.size);
  const packing = g === undefined ? `automatic packing${s.packing?.maxGranularity ? ` (at most ${s.packing.maxGranularity} per pack)` : ''}` : `${Math.ceil(s.size / g)} pack${Math.ceil(s.size / g) === 1 ? '' : 's'} of ${s.size % g === 0 ? '' : '≤'}${g}`;
  io.stdout.write(`${positionals[0]}: BurstJob ${m.job.metadata.name} is valid: ${s.size} workers, ${packing}, transport ${s.transport.kind}\n`);
  const module = modulePath(m);
  if (!existsSync(module)) {
    io.stdout.write(`note: spec.function.module ${module} does not exist here: \`kubeburst run\` needs it (a cluster run looks for it in the image)\n`);
  }
  return EXIT.ok;
}

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check a BurstJob manifest against the schema (field and rule for every problem)',
  help: HELP,
  run: validate,
};
