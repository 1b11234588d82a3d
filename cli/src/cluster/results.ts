import { parseArgs } from 'node:util';
import { readStatus } from '@kubeburst/api';
import type { Command } from '../command.js';
import type { CliIO } from '../io.js';
import {
  CLUSTER_EXIT,
  CLUSTER_FLAGS_HELP,
  CLUSTER_OPTIONS,
  EXIT_CODES_HELP,
  fail,
  jobName,
  kubeTarget,
  outputFormat,
  OUTPUT_OPTION,
  printMachine,
  table,
  withCluster,
} from './common.js';
import { getConfigMap, getJob, notFoundMessage } from './read.js';
import { decodeLayout, FINISHED, resultsConfigMapOf, resultsView, type ResultsView } from './view.js';

const USAGE = 'kubeburst results NAME [-n NS] [-o json|yaml]';

const HELP = `Usage: ${USAGE}

The results of BurstJob NAME, once it Succeeded: the ConfigMap the operator writes (status.results,
usually NAME-results), one line per worker in worker order. Results that were not collected (a pack's
report over Kubernetes' 4 KiB termination message, or none written) are null, and stderr names their
packs and why.

  -o, --output json|yaml   one object (kind BurstJobResults, version 1; see README.md):
                           results[w] is worker w's result

${CLUSTER_FLAGS_HELP}
${EXIT_CODES_HELP}`;

async function results(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...CLUSTER_OPTIONS, ...OUTPUT_OPTION } });
  const name = jobName(positionals, 'results', USAGE);
  const format = outputFormat(values.output, 'results');
  return withCluster(io, 'results', kubeTarget(values, 'results'), async (kube) => {
    const job = await getJob(kube, name);
    if (job === undefined) return fail(io, 'results', notFoundMessage(kube, name), CLUSTER_EXIT.notFound);
    const s = readStatus(job.status);
    const phase = s.phase ?? 'Unknown';
    if (phase === 'Failed') {
      const f = s.lastFailure;
      return fail(
        io,
        'results',
        `BurstJob ${name} Failed, so it has no results${f ? `: attempt ${f.attempt}${f.pack !== undefined ? `, pack ${f.pack}` : ''}: ${f.reason}: ${f.message}` : ''} (kubeburst status ${name}, kubeburst logs ${name})`,
        CLUSTER_EXIT.failed,
      );
    }
    if (!FINISHED.includes(phase)) {
      return fail(io, 'results', `BurstJob ${name} is ${phase}: results come once it Succeeded (kubeburst status ${name})`, CLUSTER_EXIT.unfinished);
    }
    const cmName = s.results?.configMap ?? resultsConfigMapOf(name);
    const cm = await getConfigMap(kube, cmName);
    if (cm === undefined) {
      return fail(io, 'results', `BurstJob ${name} Succeeded but its results ConfigMap '${cmName}' is not in namespace '${kube.namespace}' (deleted?)`, CLUSTER_EXIT.incomplete);
    }
    const view = resultsView(job, cm);
    if (format === 'text') io.stdout.write(formatResults(view, s.attempt?.layout));
    else printMachine(io, format, view);
    if (view.missing > 0) {
      const packs =
        view.missingPacks.length > 0
          ? ` (pack${view.missingPacks.length === 1 ? '' : 's'} ${view.missingPacks.slice(0, 50).join(', ')}${view.missingPacks.length > 50 ? ', …' : ''})`
          : '';
      return fail(
        io,
        'results',
        `${view.missing} of ${view.workers} workers' results were not collected${packs}${view.message ? `: ${view.message}` : ''}`,
        CLUSTER_EXIT.incomplete,
      );
    }
    return CLUSTER_EXIT.ok;
  });
}

/** One line per worker: its pack and its result as compact JSON. */
export function formatResults(v: ResultsView, layout: string | undefined): string {
  const sizes = layout !== undefined ? decodeLayout(layout) : undefined;
  const packOf: number[] = [];
  sizes?.forEach((n, p) => {
    for (let i = 0; i < n; i++) packOf.push(p);
  });
  const rows = [['WORKER', 'PACK', 'RESULT']];
  v.results.forEach((r, w) =>
    rows.push([
      String(w),
      packOf[w] !== undefined ? String(packOf[w]) : '-',
      r === null && v.missingPacks.includes(packOf[w] ?? -1) ? '(not collected)' : (JSON.stringify(r) ?? 'null'),
    ]),
  );
  return table(rows);
}

export const resultsCommand: Command = {
  name: 'results',
  summary: "a succeeded BurstJob's results, worker by worker (and which packs' are missing)",
  help: HELP,
  run: results,
};
