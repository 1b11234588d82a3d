import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { PACK_POD, redactText } from '@kubeburst/worker-runtime';
import { LABELS, readStatus } from '@kubeburst/api';
import type { Command } from '../command.js';
import { CliUsageError, EXIT, type CliIO } from '../io.js';
import { CLUSTER_EXIT, CLUSTER_FLAGS_HELP, CLUSTER_OPTIONS, EXIT_CODES_HELP, fail, jobName, kubeTarget, parseDuration, withCluster } from './common.js';
import { cliPaths, KubeApiError, type CliKube, type Json } from './kube.js';
import { getJob, jobPods, notFoundMessage } from './read.js';
import { decodeLayout } from './view.js';

const USAGE = 'kubeburst logs NAME [--pack P] [--follow] [-n NS]';
const DEFAULT_LIMIT_BYTES = 16 * 1024 * 1024;
/** Streams open at once with --follow: one connection per pack. */
const MAX_FOLLOWED = 100;

const HELP = `Usage: ${USAGE}

The logs of BurstJob NAME's current attempt: every pack's, each line prefixed "[pack P] ", in pack
order; with --pack P only that pack's, as written.

  --pack P              one pack (0, 1, …)
  -f, --follow          stream the logs until every pack's container exits (at most ${MAX_FOLLOWED} packs:
                        pick one with --pack); packs not started yet are waited for
  --timeout DUR         stop following after this long (default 10m, at most 24h)
  --tail N              only the last N lines of each pack
  --limit-bytes N       at most N bytes of each pack's log (default ${DEFAULT_LIMIT_BYTES}); the API server cuts it
  --timestamps          prefix each line with its RFC 3339 time

${CLUSTER_FLAGS_HELP}
${EXIT_CODES_HELP}`;

interface Target {
  pack: number;
  pod?: string;
  /** Why the pack has no log yet (its pod is gated, unscheduled or its container waits). */
  waiting?: string;
}

/**
 * Why a pack pod's container has not started, or undefined once it has. The API server answers a log
 * request for an unscheduled pod with an empty 204, so this is read off the pod, not the answer.
 */
export function notStartedBecause(pod: Json): string | undefined {
  if ((pod.spec?.schedulingGates ?? []).length > 0) return 'gated: the gang is not admitted yet';
  if (!pod.spec?.nodeName) return 'not scheduled yet';
  const cs: Json | undefined = (pod.status?.containerStatuses ?? []).find((c: Json) => c.name === PACK_POD.container);
  if (cs === undefined) return pod.status?.phase === 'Pending' || pod.status?.phase === undefined ? 'its container has not started' : undefined;
  const w = cs.state?.waiting;
  if (w !== undefined) return `its container is waiting${w.reason ? ` (${w.reason})` : ''}`;
  return undefined;
}

async function logs(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      ...CLUSTER_OPTIONS,
      pack: { type: 'string' },
      follow: { type: 'boolean', short: 'f' },
      timeout: { type: 'string' },
      tail: { type: 'string' },
      'limit-bytes': { type: 'string' },
      timestamps: { type: 'boolean' },
    },
  });
  const name = jobName(positionals, 'logs', USAGE);
  const pack = values.pack !== undefined ? nonNegative(values.pack, '--pack') : undefined;
  const tail = values.tail !== undefined ? nonNegative(values.tail, '--tail') : undefined;
  const limitBytes = values['limit-bytes'] !== undefined ? nonNegative(values['limit-bytes'], '--limit-bytes') : DEFAULT_LIMIT_BYTES;
  if (limitBytes < 1) throw new CliUsageError('logs: --limit-bytes must be at least 1', 'logs');
  if (values.timeout !== undefined && !values.follow) throw new CliUsageError('logs: --timeout bounds --follow; add -f', 'logs');
  const timeoutMs = values.timeout !== undefined ? parseDuration(values.timeout, '--timeout', 'logs', 1000, 86_400_000) : 600_000;
  const query = { container: PACK_POD.container, tailLines: tail, limitBytes, timestamps: values.timestamps === true };

  return withCluster(io, 'logs', kubeTarget(values, 'logs'), async (kube) => {
    const job = await getJob(kube, name);
    if (job === undefined) return fail(io, 'logs', notFoundMessage(kube, name), CLUSTER_EXIT.notFound);
    const s = readStatus(job.status);
    if (s.attempt === undefined) return fail(io, 'logs', `BurstJob ${name} has not started an attempt yet (phase ${s.phase ?? 'Unknown'}): no logs`, CLUSTER_EXIT.unfinished);
    const attempt = s.attempt.index;
    const pods = (await jobPods(kube, job)).filter((p) => p.metadata?.labels?.[LABELS.attempt] === String(attempt));
    const podOf = new Map(pods.map((p) => [Number(p.metadata.labels[LABELS.packIndex]), p]));
    const count = decodeLayout(s.attempt.layout)?.length ?? Math.max(-1, ...podOf.keys()) + 1;
    if (pack !== undefined && pack >= count) throw new CliUsageError(`logs: --pack ${pack}: BurstJob ${name} has packs 0-${count - 1}`, 'logs');
    const targets: Target[] = (pack !== undefined ? [pack] : Array.from({ length: count }, (_, p) => p)).map((p) => {
      const pod = podOf.get(p);
      if (pod === undefined) return { pack: p };
      const waiting = notStartedBecause(pod);
      return { pack: p, pod: pod.metadata.name as string, ...(waiting !== undefined ? { waiting } : {}) };
    });
    const prefix = pack === undefined;
    if (values.follow) {
      if (targets.length > MAX_FOLLOWED)
        throw new CliUsageError(`logs: --follow streams one connection per pack: ${targets.length} packs is more than ${MAX_FOLLOWED}; pick one with --pack`, 'logs');
      return follow(kube, io, name, attempt, targets, prefix, { ...query, follow: true }, timeoutMs);
    }
    return snapshot(kube, io, name, attempt, targets, prefix, query);
  });
}

function nonNegative(v: string, flag: string): number {
  if (!/^\d{1,15}$/.test(v)) throw new CliUsageError(`logs: ${flag} ${v}: give a whole number (0, 1, …)`, 'logs');
  return Number(v);
}

type Query = Parameters<typeof cliPaths.log>[2];

/** Why a pack has no log to show yet, or undefined when the API server's refusal means something else. */
function notStarted(err: unknown): boolean {
  return (
    err instanceof KubeApiError && err.status === 400 && /waiting to start|ContainerCreating|PodInitializing|does not have a host assigned|is not available/i.test(err.message)
  );
}

function writeLines(io: CliIO, text: string, prefix: string): void {
  if (text === '') return;
  const lines = text.endsWith('\n') ? text.slice(0, -1).split('\n') : text.split('\n');
  io.stdout.write(lines.map((l) => `${prefix}${redactText(l)}\n`).join(''));
}

/** Each pack's log once, in pack order (fetching a few ahead). The first problem decides the exit code. */
async function snapshot(kube: CliKube, io: CliIO, name: string, attempt: number, targets: Target[], prefix: boolean, query: Query): Promise<number> {
  let code: number = CLUSTER_EXIT.ok;
  const problem = (t: Target, message: string, c: number): void => {
    io.stderr.write(`kubeburst logs: pack ${t.pack}${t.pod ? ` (pod ${t.pod})` : ''}: ${redactText(message)}\n`);
    if (code === CLUSTER_EXIT.ok) code = c;
  };
  const fetch = (t: Target): Promise<string | Error> =>
    t.pod === undefined || t.waiting !== undefined
      ? Promise.resolve(new Error('no log'))
      : kube.text(cliPaths.log(kube.namespace, t.pod, query), Number(query.limitBytes) + 64 * 1024).catch((e: unknown) => e as Error);
  const AHEAD = 4;
  const pending = targets.slice(0, AHEAD).map(fetch);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    const got = await pending[i]!;
    if (i + AHEAD < targets.length) pending.push(fetch(targets[i + AHEAD]!));
    if (t.pod === undefined) problem(t, `attempt ${attempt} of BurstJob ${name} has no pod for this pack`, CLUSTER_EXIT.notFound);
    else if (t.waiting !== undefined) problem(t, `not started yet: ${t.waiting}`, CLUSTER_EXIT.unfinished);
    else if (typeof got === 'string') writeLines(io, got, prefix ? `[pack ${t.pack}] ` : '');
    else if (notStarted(got)) problem(t, `not started yet: ${(got as Error).message}`, CLUSTER_EXIT.unfinished);
    else if (got instanceof KubeApiError && got.status === 404) problem(t, `the pod is gone: ${got.message}`, CLUSTER_EXIT.notFound);
    else if (got instanceof KubeApiError) problem(t, `${got.status} ${got.reason}: ${got.message}`, CLUSTER_EXIT.apiError);
    else throw got;
  }
  return code;
}

/**
 * Every pack's log as it is written, until each pack's container exits, `timeoutMs` passes or the user
 * interrupts. A pack that has not started is asked again every second.
 */
async function follow(kube: CliKube, io: CliIO, name: string, attempt: number, targets: Target[], prefix: boolean, query: Query, timeoutMs: number): Promise<number> {
  const abort = new AbortController();
  let why: 'timeout' | 'interrupted' | undefined;
  const timer = setTimeout(() => {
    why = 'timeout';
    abort.abort();
  }, timeoutMs);
  void io.interrupted?.then(() => {
    why ??= 'interrupted';
    abort.abort();
  });
  let code: number = CLUSTER_EXIT.ok;
  const problem = (t: Target, message: string, c: number): void => {
    io.stderr.write(`kubeburst logs: pack ${t.pack}${t.pod ? ` (pod ${t.pod})` : ''}: ${redactText(message)}\n`);
    if (code === CLUSTER_EXIT.ok) code = c;
  };
  const one = async (t: Target): Promise<void> => {
    if (t.pod === undefined) return problem(t, `attempt ${attempt} of BurstJob ${name} has no pod for this pack`, CLUSTER_EXIT.notFound);
    const lead = prefix ? `[pack ${t.pack}] ` : '';
    let waiting = t.waiting;
    while (waiting !== undefined && !abort.signal.aborted) {
      await sleep(1000, abort.signal);
      if (abort.signal.aborted) return;
      try {
        waiting = notStartedBecause(await kube.get(cliPaths.pod(kube.namespace, t.pod)));
      } catch (err) {
        if (err instanceof KubeApiError && err.status === 404) return problem(t, 'the pod is gone', CLUSTER_EXIT.notFound);
        throw err;
      }
    }
    while (!abort.signal.aborted) {
      let res;
      try {
        res = await kube.stream(cliPaths.log(kube.namespace, t.pod, query), abort.signal);
      } catch (err) {
        if (abort.signal.aborted) return;
        if (notStarted(err)) {
          await sleep(1000, abort.signal);
          continue;
        }
        if (err instanceof KubeApiError) return problem(t, `${err.status} ${err.reason}: ${err.message}`, CLUSTER_EXIT.apiError);
        return problem(t, (err as Error).message, CLUSTER_EXIT.apiError);
      }
      const lines = createInterface({ input: res, crlfDelay: Infinity });
      lines.on('line', (l) => io.stdout.write(`${lead}${redactText(l)}\n`));
      // A stream cut by --timeout or Ctrl-C errors with 'aborted': that is its end, not a failure.
      const cut = await new Promise<Error | undefined>((done) => {
        res.on('close', () => done(undefined));
        res.on('error', (e) => done(e));
        lines.on('error', (e) => done(e));
        lines.on('close', () => done(undefined));
      });
      if (cut !== undefined && !abort.signal.aborted) problem(t, `the log stream broke: ${cut.message}`, CLUSTER_EXIT.apiError);
      return;
    }
  };
  try {
    await Promise.all(targets.map(one));
  } finally {
    clearTimeout(timer);
  }
  if (why === 'timeout') {
    io.stderr.write(`kubeburst logs: stopped following after ${timeoutMs / 1000} s (--timeout)\n`);
    return code === CLUSTER_EXIT.ok ? CLUSTER_EXIT.unfinished : code;
  }
  if (why === 'interrupted') return EXIT.interrupted;
  return code;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
const sleep = (ms: number, signal: AbortSignal): Promise<void> =>
  new Promise((r) => {
    const done = (): void => {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      r();
    };
    const t = setTimeout(done, ms);
    signal.addEventListener('abort', done);
  });

export const logsCommand: Command = {
  name: 'logs',
  summary: "a BurstJob's pack logs (current attempt; all packs prefixed, or --pack P; --follow)",
  help: HELP,
  run: logs,
};
