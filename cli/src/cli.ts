import { createRequire } from 'node:module';
import { COMMANDS, type Command } from './commands.js';
import { KubeburstError, redactText as redactWith, urlSecrets } from '@kubeburst/worker-runtime';
import { CliUsageError, EXIT, type CliIO } from './io.js';

const PROGRAM = 'kubeburst';

export function globalHelp(commands: readonly Command[] = COMMANDS): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  return [
    `${PROGRAM}: burst computing on Kubernetes — flares of packed workers that talk through a pack-aware middleware.`,
    '',
    `Usage: ${PROGRAM} <command> [options]`,
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Options:',
    '  -h, --help     show help (also: kubeburst <command> --help)',
    '  --version      print the version',
    '',
    'Exit codes: 0 success, 1 the flare failed, 2 bad usage, an invalid manifest or a setup problem (the message says which).',
    'status, results and logs also exit 3 (no such BurstJob), 4 (not finished yet), 5 (the API server could not',
    'be reached or refused) and 6 (results: some not collected); see kubeburst status --help.',
    '',
  ].join('\n');
}

/** Runs one CLI invocation; returns the exit code. Never throws for user errors. */
export async function runCli(argv: string[], io: CliIO, commands: readonly Command[] = COMMANDS): Promise<number> {
  const [first, ...rest] = argv;
  // Messages may quote an argument: a URL's password in one is masked however it is written.
  const secrets = argSecrets(argv);
  const redactText = (text: string): string => redactWith(text, secrets);
  const shown = (text: string): string => escapeControls(redactText(text));
  if (first === undefined || first === '-h' || first === '--help' || first === 'help') {
    const topic = first === 'help' ? commands.find((c) => c.name === rest[0]) : undefined;
    io.stdout.write(topic ? topic.help : globalHelp(commands));
    return first === undefined ? EXIT.usage : EXIT.ok;
  }
  if (first === '--version') {
    const pkg = createRequire(import.meta.url)('../package.json') as { version: string };
    io.stdout.write(`${PROGRAM} ${pkg.version}\n`);
    return EXIT.ok;
  }
  const command = commands.find((c) => c.name === first);
  if (command === undefined) {
    io.stderr.write(`${PROGRAM}: unknown command '${shown(first)}': use one of ${commands.map((c) => c.name).join(', ')} (see ${PROGRAM} --help)\n`);
    return EXIT.usage;
  }
  if (rest.includes('-h') || rest.includes('--help')) {
    io.stdout.write(command.help);
    return EXIT.ok;
  }
  try {
    return await command.run(rest, io);
  } catch (err) {
    // A message may quote the command line or a client's error: a broker URL in it is shown redacted.
    if (err instanceof CliUsageError) {
      io.stderr.write(`${PROGRAM}: ${shown(err.message)}\n`);
      if (err.command !== undefined) io.stderr.write(`(see ${PROGRAM} ${err.command} --help)\n`);
      return EXIT.usage;
    }
    // parseArgs' own errors (unknown option, missing value) are usage errors too.
    if (isParseArgsError(err)) {
      io.stderr.write(`${PROGRAM} ${command.name}: ${shown((err as Error).message)} (see ${PROGRAM} ${command.name} --help)\n`);
      return EXIT.usage;
    }
    // The runtime's own errors (a missing build, a bad setting) say what to fix: no stack trace.
    if (err instanceof KubeburstError) {
      io.stderr.write(`${PROGRAM} ${command.name}: ${shown(err.message)}\n`);
      return EXIT.usage;
    }
    throw err;
  }
}

/**
 * Text for the terminal: control characters shown as escapes (\x1b…), so a manifest's
 * or an argument's own text quoted in an error can neither recolour, retitle nor rewrite the terminal.
 * Line breaks and tabs stay.
 */
export function escapeControls(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\x00-\x08\x0b-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function isParseArgsError(err: unknown): boolean {
  const code = (err as { code?: unknown })?.code;
  return typeof code === 'string' && code.startsWith('ERR_PARSE_ARGS_');
}

/** The secrets of every argument that may be a broker URL: `URL`, `KIND=URL`, `--option=URL`. */
function argSecrets(argv: readonly string[]): string[] {
  return argv.flatMap((a) => (a.includes('@') || a.includes('=') ? [a, a.slice(a.indexOf('=') + 1)].flatMap(urlSecrets) : []));
}
