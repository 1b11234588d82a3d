import { parseArgs } from 'node:util';
import type { Command } from '../command.js';
import type { CliIO } from '../io.js';
import {
  age,
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
import { getJob, jobPods, notFoundMessage } from './read.js';
import { statusView, type StatusView } from './view.js';

const USAGE = 'kubeburst status NAME [-n NS] [-o json|yaml]';

const HELP = `Usage: ${USAGE}

The state of BurstJob NAME in the current kube context: phase, attempt, restarts, every pack of the
current attempt (from its pod: Gated, Pending, Running, Succeeded, Failed, Terminating, or Missing when
the attempt has no pod for it; ready, restarts, node, why it failed or waits), conditions, the last
failure and where the results are.

  -o, --output json|yaml   the same as one object (kind BurstJobStatus, version 1; see README.md)

${CLUSTER_FLAGS_HELP}
${EXIT_CODES_HELP}
Wait for a job in a script:  until kubeburst status NAME -o json >/dev/null; [ $? -ne 4 ]; do sleep 2; done
`;

export const statusExit = (v: StatusView): number => (v.phase === 'Succeeded' ? CLUSTER_EXIT.ok : v.phase === 'Failed' ? CLUSTER_EXIT.failed : CLUSTER_EXIT.unfinished);

async function status(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { ...CLUSTER_OPTIONS, ...OUTPUT_OPTION } });
  const name = jobName(positionals, 'status', USAGE);
  const format = outputFormat(values.output, 'status');
  return withCluster(io, 'status', kubeTarget(values, 'status'), async (kube) => {
    const job = await getJob(kube, name);
    if (job === undefined) return fail(io, 'status', notFoundMessage(kube, name), CLUSTER_EXIT.notFound);
    const view = statusView(job, await jobPods(kube, job));
    if (format === 'text') io.stdout.write(formatStatus(view, io.now()));
    else printMachine(io, format, view);
    return statusExit(view);
  });
}

export function formatStatus(v: StatusView, now: number): string {
  const out: string[] = [];
  const attempt = v.attempt === null ? 'no attempt yet' : `attempt ${v.attempt}, ${v.restarts} restart${v.restarts === 1 ? '' : 's'}`;
  out.push(`BurstJob ${v.namespace}/${v.name}: ${v.phase} (${attempt})`);
  const shape = [
    v.size !== null ? `${v.size} workers` : undefined,
    v.packCount !== null ? `${v.packCount} pack${v.packCount === 1 ? '' : 's'}` : undefined,
    v.layout !== null ? `layout ${v.layout}` : undefined,
  ].filter((x) => x);
  if (shape.length > 0) out.push(`  ${shape.join(', ')}`);
  const times = [
    v.startTime ? `started ${age(v.startTime, now)} ago` : undefined,
    v.completionTime ? `finished ${age(v.completionTime, now)} ago` : undefined,
    v.startupLatency?.packsRunningSeconds !== undefined ? `packs running after ${v.startupLatency.packsRunningSeconds.toFixed(2)} s` : undefined,
    v.startupLatency?.workersJoinedSeconds !== undefined ? `joined after ${v.startupLatency.workersJoinedSeconds.toFixed(2)} s` : undefined,
  ].filter((x) => x);
  if (times.length > 0) out.push(`  ${times.join(', ')}`);
  out.push('');
  if (v.packs.length > 0) {
    const rows = [['PACK', 'POD', 'WORKERS', 'STATE', 'READY', 'RESTARTS', 'NODE', 'REASON']];
    for (const p of v.packs) {
      const why = [p.exitCode !== undefined && p.state === 'Failed' ? `exit ${p.exitCode}` : undefined, p.reason, p.message].filter((x) => x).join(': ');
      rows.push([String(p.pack), p.pod ?? '-', p.workers ?? '-', p.state, p.ready ? 'yes' : 'no', String(p.restarts), p.node ?? '-', why]);
    }
    out.push(table(rows).trimEnd());
  } else {
    out.push('No pack pods yet.');
  }
  if (v.missingPacks.length > 0) {
    const shown = v.missingPacks.slice(0, 20).join(', ') + (v.missingPacks.length > 20 ? `, … (${v.missingPacks.length} in all)` : '');
    out.push(`Missing: attempt ${v.attempt} has no pod for pack${v.missingPacks.length === 1 ? '' : 's'} ${shown}`);
  }
  if (v.conditions.length > 0) {
    out.push('');
    const rows = [['CONDITION', 'STATUS', 'REASON', 'AGE', 'MESSAGE']];
    for (const c of v.conditions) rows.push([c.type, c.status, c.reason, age(c.lastTransitionTime, now), c.message]);
    out.push(table(rows).trimEnd());
  }
  if (v.lastFailure !== null) {
    const f = v.lastFailure;
    out.push('', `Last failure: attempt ${f.attempt}${f.pack !== undefined ? `, pack ${f.pack}` : ''}: ${f.reason}: ${f.message}`);
  }
  if (v.results !== null) {
    const r = v.results;
    out.push('', `Results: ${r.workers} of ${r.workers + r.missing} workers in ConfigMap ${r.configMap} (kubeburst results ${v.name})`);
    if (r.missing > 0 && r.message) out.push(`  missing: ${r.message}`);
  }
  return `${out.join('\n')}\n`;
}

export const statusCommand: Command = {
  name: 'status',
  summary: 'a BurstJob in the cluster: phase, packs (from their pods), conditions, last failure',
  help: HELP,
  run: status,
};
