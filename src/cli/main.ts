import { parseArgs } from 'node:util';
import { ClapError } from '../errors.js';
import { packageVersion } from '../version.js';
import { type Command, type CommandContext, UsageError } from './command.js';
import { commands } from './commands/registry.js';
import { INTERRUPTED_EXIT, Interrupted } from './interrupt.js';

const GLOBAL_OPTIONS = {
  json: { type: 'boolean' },
  debug: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

const version = packageVersion;

function overview(): string {
  const width = Math.max(...commands.map((c) => c.usage.length));
  return [
    `clap ${version()} — CLAP audio-language model (Microsoft CLAP 2023) in TypeScript`,
    '',
    'Usage: clap <command> [options]',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.usage.padEnd(width)}  ${c.summary}`),
    '',
    'Global options:',
    '  --json       machine-readable JSON on stdout',
    '  --debug      show stack traces on errors',
    '  --help, -h   help for a command',
    '  --version    print the version',
  ].join('\n');
}

function findCommand(argv: string[]): { command?: Command; rest: string[] } {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return { command: best, rest: best ? argv.slice(best.path.length) : argv };
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure on an input, 2 usage error). */
export async function main(
  argv: string[],
  io: Pick<CommandContext, 'stdout' | 'stderr'> = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  const debug = argv.includes('--debug');
  if (argv.length === 0 || argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') {
    io.stdout.write(`${overview()}\n`);
    return 0;
  }
  if (argv[0] === '--version' || argv[0] === '-V') {
    io.stdout.write(`${version()}\n`);
    return 0;
  }
  const { command, rest } = findCommand(argv);
  try {
    if (!command)
      throw new UsageError(
        `unknown command '${argv
          .filter((a) => !a.startsWith('-'))
          .slice(0, 2)
          .join(' ')}' (see clap --help)`,
      );
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`Usage: clap ${command.usage}\n\n${command.summary}\n\n${command.help}\n`);
      return 0;
    }
    let parsed: ReturnType<typeof parseArgs>;
    try {
      parsed = parseArgs({ args: rest, options: { ...GLOBAL_OPTIONS, ...command.options }, allowPositionals: true, strict: true });
    } catch (e) {
      throw new UsageError((e as Error).message.split('\n')[0]);
    }
    await command.run({
      values: parsed.values as CommandContext['values'],
      positionals: parsed.positionals,
      json: parsed.values.json === true,
      ...io,
    });
    return 0;
  } catch (e) {
    const err = e as Error;
    if (debug) io.stderr.write(`${err.stack ?? err.message}\n`);
    else io.stderr.write(`clap: ${oneLine(err)}\n`);
    if (e instanceof UsageError) return 2;
    if (e instanceof Interrupted) return INTERRUPTED_EXIT;
    return 1;
  }
}

function oneLine(err: Error): string {
  const msg = err instanceof ClapError || err instanceof UsageError ? err.message : `${err.message}`;
  return msg.replace(/\s*\n\s*/g, ' ');
}
