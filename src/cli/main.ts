import { ClapError } from '../errors.js';
import { packageVersion } from '../version.js';
import type { Command, CommandContext, Output } from './command.js';
import { commands } from './commands/registry.js';
import { INTERRUPTED_EXIT, Interrupted } from './interrupt.js';
import { HELP_WIDTH, helpEntry, inFlags, type OptionTable, optionsHelp, optionTable, parseOptions, UsageError, wrap } from './options.js';

/** Options every command accepts (--json is described per command, with its output shape). */
const GLOBAL_OPTIONS = optionTable({
  json: { kind: 'boolean', help: 'machine-readable JSON on stdout' },
  debug: { kind: 'boolean', help: 'show stack traces on errors' },
});

const version = packageVersion;

/** Command lines of `list`, label (path after `prefix`) beside the wrapped summary. */
function commandList(list: readonly Command[], prefix = 0): string[] {
  return list.flatMap((c) => helpEntry(c.path.slice(prefix).join(' '), c.summary, 22));
}

function overview(): string {
  return [
    ...wrap(`clap ${version()} — CLAP audio-language models (Microsoft CLAP 2023) in TypeScript`, HELP_WIDTH),
    '',
    'Usage: clap <command> [options]',
    '       clap <command> --help   (its options)',
    '',
    'Commands:',
    ...commandList(commands),
    '',
    'Global options:',
    ...helpEntry('--json', GLOBAL_OPTIONS.json.help, 22),
    ...helpEntry('--debug', GLOBAL_OPTIONS.debug.help, 22),
    ...helpEntry('--help, -h', 'help for a command', 22),
    ...helpEntry('--version', 'print the version', 22),
  ].join('\n');
}

function groupHelp(group: string, members: readonly Command[]): string {
  return [
    `Usage: clap ${group} <command> [options]`,
    `       clap ${group} <command> --help   (its options)`,
    '',
    'Commands:',
    ...commandList(members, 1),
  ].join('\n');
}

function commandHelp(c: Command): string {
  const details = c.details
    ? `${c.details
        .split('\n\n')
        .map((p) => wrap(p, HELP_WIDTH).join('\n'))
        .join('\n\n')}\n\n`
    : '';
  return `Usage: clap ${c.usage}\n\n${wrap(c.summary, HELP_WIDTH).join('\n')}\n\n${details}${optionsHelp(c.options, c.json)}`;
}

function findCommand(argv: string[]): { command?: Command; rest: string[] } {
  let best: Command | undefined;
  for (const c of commands) {
    if (c.path.every((w, i) => argv[i] === w) && (!best || c.path.length > best.path.length)) best = c;
  }
  return { command: best, rest: best ? argv.slice(best.path.length) : argv };
}

/**
 * A closed reader (`clap ... | head`) makes writes fail with EPIPE: the rest of the output is dropped
 * quietly and the command ends normally (no stack trace). Other write errors (a full disk) are reported once.
 */
function tolerateClosedOutput(stream: Output, name: string, stderr: Output): void {
  let reported = false;
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE' || e.code === 'ERR_STREAM_DESTROYED' || reported) return;
    reported = true;
    process.exitCode = 1;
    if (stream !== stderr) stderr.write(`clap: cannot write to ${name} (${e.code ?? e.message})\n`);
  });
}

/**
 * A library error about one of the command's options, reported under the flag instead of the library's
 * field name: "entryLength: must be ..." → "--max-tokens: must be ...", "FILE: cropOffset 9 is ..." →
 * "FILE: --crop-offset 9 is ...".
 */
function asFlagError(e: unknown, options: OptionTable): unknown {
  if (!(e instanceof ClapError)) return e;
  const flag = e.subject && Object.entries(options).find(([, def]) => def.field === e.subject)?.[0];
  if (!flag) {
    const message = inFlags(e.message, options);
    return message === e.message ? e : new ClapError(message);
  }
  const body = e.message.slice(e.subject!.length + 2);
  return new UsageError(body.startsWith(`${e.subject} `) ? `--${flag}${body.slice(e.subject!.length)}` : `--${flag}: ${body}`);
}

/** Runs the CLI; returns the exit code (0 ok, 1 failure on an input, 2 usage error). */
export async function main(
  argv: string[],
  io: Pick<CommandContext, 'stdout' | 'stderr'> = { stdout: process.stdout, stderr: process.stderr },
): Promise<number> {
  tolerateClosedOutput(io.stdout, 'stdout', io.stderr);
  tolerateClosedOutput(io.stderr, 'stderr', io.stderr);
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
    if (!command) {
      const members = commands.filter((c) => c.path.length > 1 && c.path[0] === argv[0]);
      const sub = argv.slice(1).find((a) => !a.startsWith('-'));
      if (members.length > 0 && sub === undefined) {
        io.stdout.write(`${groupHelp(argv[0], members)}\n`);
        return 0;
      }
      if (members.length > 0)
        throw new UsageError(
          `unknown command '${argv[0]} ${sub}' (clap ${argv[0]} has ${members.map((c) => c.path[1]).join(', ')}; see clap ${argv[0]} --help)`,
        );
      throw new UsageError(
        `unknown command '${argv
          .filter((a) => !a.startsWith('-'))
          .slice(0, 2)
          .join(' ')}' (see clap --help)`,
      );
    }
    const parsed = parseOptions(rest, { ...command.options, ...GLOBAL_OPTIONS });
    if (parsed.help) {
      io.stdout.write(`${commandHelp(command)}\n`);
      return 0;
    }
    try {
      await command.run({
        values: parsed.values,
        given: parsed.given,
        positionals: parsed.positionals,
        json: parsed.values.json,
        inFlags: (text) => inFlags(text, command.options),
        ...io,
      });
    } catch (e) {
      throw asFlagError(e, command.options);
    }
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
  return err.message.replace(/\s*\n\s*/g, ' ');
}
