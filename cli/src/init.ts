import { existsSync, lstatSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { MAX_NAME_LENGTH, nameProblem } from '@kubeburst/api';
import { createRequire } from 'node:module';
import { basename, join, relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import type { Command } from './command.js';
import { CliUsageError, EXIT, type CliIO } from './io.js';

const HELP = `Usage: kubeburst init [dir] [--name NAME]

Scaffolds a worker project in dir (default: the current directory), which must not hold any of the files
it writes (nothing is overwritten):

  package.json     depends on @kubeburst/worker-runtime and @kubeburst/cli; npm test, npm start
  tsconfig.json    type checking only (npm run typecheck): kubeburst compiles worker.ts itself
  worker.ts        the worker: defineWorker(async (ctx, params) => …)
  burstjob.yaml    the BurstJob: kubeburst run burstjob.yaml here, kubectl apply in a cluster
  worker.test.mjs  runs the flare locally (node --test), as kubeburst run does
  Dockerfile       the worker image plus this project, for a cluster (docs/workers.md)
  .gitignore

NAME (default: the directory's name) names the package and the BurstJob. Then:
  npm install && npm test && npx kubeburst run burstjob.yaml
`;

/** The files `kubeburst init` writes, by path relative to the project: pure, for tests. */
export function scaffold(name: string, version: string): Record<string, string> {
  const range = `^${version}`;
  const pkg = {
    name,
    version: '0.1.0',
    private: true,
    type: 'module',
    scripts: {
      start: 'kubeburst run burstjob.yaml',
      test: 'node --test worker.test.mjs',
      typecheck: 'tsc --noEmit',
      validate: 'kubeburst validate burstjob.yaml',
    },
    // The worker image provides @kubeburst/worker-runtime in a cluster (see Dockerfile): development only here.
    devDependencies: {
      '@kubeburst/cli': range,
      '@kubeburst/worker-runtime': range,
      '@types/node': '^20.19.0',
      typescript: '~5.9.0',
    },
    engines: { node: '>=20.19' },
  };
  const tsconfig = {
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      strict: true,
      noEmit: true,
      isolatedModules: true,
      verbatimModuleSyntax: true,
      skipLibCheck: true,
      types: ['node'],
    },
    include: ['*.ts'],
  };
  return {
    'package.json': JSON.stringify(pkg, null, 2) + '\n',
    'tsconfig.json': JSON.stringify(tsconfig, null, 2) + '\n',
    'worker.ts': WORKER,
    'burstjob.yaml': burstJob(name),
    'worker.test.mjs': TEST,
    Dockerfile: dockerfile(name, version),
    '.gitignore': 'node_modules/\n*.tsbuildinfo\nresults.json\n',
  };
}

const WORKER = `import { decodeJson, defineWorker, encodeJson, type WorkerContext } from '@kubeburst/worker-runtime';

export interface Params {
  greeting: string;
}

/**
 * Every worker adds its id with allReduce (pack mates combine in shared memory, one message per pack
 * crosses), and worker 0 gathers everyone's greeting. A worker's result is any JSON value.
 */
export default defineWorker(async (ctx: WorkerContext, params: Params) => {
  const { workerId, packId } = ctx.info;
  const sum = await ctx.allReduce(new Float64Array([workerId]), 'sum');
  const greetings = await ctx.gather(encodeJson(\`\${params.greeting} from worker \${workerId} in pack \${packId}\`), 0);
  return { workerId, sum: sum[0], ...(greetings ? { greetings: greetings.map((g) => decodeJson<string>(g)) } : {}) };
});
`;

function burstJob(name: string): string {
  return `# kubeburst run burstjob.yaml runs it here (one process per pack); kubectl apply -f runs it in a cluster,
# with spec.function.image set to the image the Dockerfile builds.
apiVersion: kubeburst.io/v1alpha1
kind: BurstJob
metadata:
  name: ${name}
spec:
  size: 4
  granularity: 2
  function:
    # Relative to this file for kubeburst run; in the image it is /opt/kubeburst/functions/${name}/worker.ts.
    module: worker.ts
  params:
    value:
      greeting: hello
  transport:
    kind: direct
`;
}

const TEST = `// Runs the flare on this machine, as \`kubeburst run\` does: one process per pack, worker.ts compiled once.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { runLocalFlare } from '@kubeburst/worker-runtime/launch';

test('4 workers in 2 packs add their ids and greet worker 0', async () => {
  const r = await runLocalFlare({
    size: 4,
    granularity: 2,
    transport: { kind: 'direct' },
    modulePath: fileURLToPath(new URL('./worker.ts', import.meta.url)),
    params: { value: { greeting: 'hi' } },
  });
  assert.ok(r.ok, JSON.stringify(r.failure ?? r.stderr));
  assert.deepEqual(r.workers.map((w) => w.result.sum), [6, 6, 6, 6]);
  assert.deepEqual(r.workers[0].result.greetings, ['hi from worker 0 in pack 0', 'hi from worker 1 in pack 0', 'hi from worker 2 in pack 1', 'hi from worker 3 in pack 1']);
});
`;

function dockerfile(name: string, version: string): string {
  return `# syntax=docker/dockerfile:1
# This worker in the kubeburst worker image: docker build -t registry.example/${name}:0.1.0 .
# (--build-arg WORKER_IMAGE=<image> builds it on another worker image: a mirror, one built locally)
# then set spec.function.image to that tag and spec.function.module to
# /opt/kubeburst/functions/${name}/worker.ts. The image's pack runtime compiles worker.ts once per pack;
# @kubeburst/worker-runtime (a devDependency here) is the image's own copy, the one the pack runs.
ARG WORKER_IMAGE=ghcr.io/kubeburst/worker:${version}
FROM \${WORKER_IMAGE}
USER root
WORKDIR /opt/kubeburst/functions/${name}
COPY package.json package-lock.json* ./
# The worker's own runtime dependencies (devDependencies stay out of the image), from the package-lock.json
# that npm install writes. A project without dependencies needs neither the lock file nor npm.
RUN if [ -f package-lock.json ]; then npm ci --omit=dev --no-audit --no-fund; \\
    else node -e '${NO_DEPENDENCIES_CHECK}'; fi
COPY *.ts ./
USER node
`;
}

/** The Dockerfile's step for a project with no package-lock.json: it must have no dependencies to install. */
const NO_DEPENDENCIES_CHECK =
  'const d = Object.keys(require("./package.json").dependencies ?? {}); ' +
  'if (d.length > 0) { console.error(`package.json has dependencies (${d.join(", ")}) but no package-lock.json: run npm install`); process.exit(1); }';

/** A name metadata.name takes (api nameProblem), from a directory name. */
export function projectName(dir: string): string {
  let n = basename(dir)
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, '-')
    .replace(/^-+|-+$/g, '');
  if (n === '') return 'my-flare';
  if (!/^[a-z]/.test(n)) n = `flare-${n}`;
  return n.slice(0, MAX_NAME_LENGTH).replace(/-+$/, '');
}

async function init(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseArgs({ args, allowPositionals: true, strict: true, options: { name: { type: 'string' } } });
  if (positionals.length > 1) throw new CliUsageError('init: one directory at most (kubeburst init my-flare)', 'init');
  const dir = resolve(io.cwd, positionals[0] ?? '.');
  const name = values.name ?? projectName(dir);
  const problem = nameProblem(name);
  if (problem !== undefined) throw new CliUsageError(`init: --name ${name}: ${problem}`, 'init');
  if (existsSync(dir) && !statSync(dir).isDirectory()) throw new CliUsageError(`init: ${dir} is not a directory`, 'init');
  const version = (createRequire(import.meta.url)('../package.json') as { version: string }).version;
  const files = scaffold(name, version);
  // A link counts, dangling or not: a write would follow it out of the directory.
  const taken = Object.keys(files).filter((f) => lstatSync(join(dir, f), { throwIfNoEntry: false }) !== undefined);
  if (taken.length > 0) {
    throw new CliUsageError(
      `init: ${taken.map((f) => join(dir, f)).join(', ')} already exist${taken.length === 1 ? 's' : ''}: nothing was written (init never overwrites; choose an empty directory)`,
      'init',
    );
  }
  mkdirSync(dir, { recursive: true });
  // 'wx': never through a link or over a file that appeared since the check above.
  for (const [f, text] of Object.entries(files)) {
    try {
      writeFileSync(join(dir, f), text, { flag: 'wx' });
    } catch (err) {
      throw new CliUsageError(`init: cannot write ${join(dir, f)}: ${(err as Error).message}`, 'init');
    }
  }
  const rel = relative(io.cwd, dir);
  const where = rel === '' ? '.' : rel.startsWith('..') ? dir : rel;
  io.stdout.write(
    `kubeburst: wrote ${Object.keys(files).join(', ')} in ${where}\n` +
      `next: ${where === '.' ? '' : `cd ${where} && `}npm install && npm test && npx kubeburst run burstjob.yaml\n`,
  );
  return EXIT.ok;
}

export const initCommand: Command = {
  name: 'init',
  summary: 'scaffold a worker project: package.json, tsconfig, worker.ts, burstjob.yaml, a test, a Dockerfile',
  help: HELP,
  run: init,
};
