import type { OptionTable, Values } from './options.js';

export { UsageError } from './options.js';

/** Where a command writes (process.stdout/stderr, or captures in tests). */
export type Output = NodeJS.WritableStream & { isTTY?: boolean; columns?: number };

/** What every command receives: its validated options, positionals, and where to write. */
export interface CommandContext<T extends OptionTable = OptionTable> {
  values: Values<T>;
  /** Flags given on the command line (to tell "left out" from "given"). */
  given: ReadonlySet<string>;
  positionals: string[];
  json: boolean;
  /** A library message with the library's option names written as this command's flags (see options.ts inFlags). */
  inFlags(text: string): string;
  stdout: Output;
  stderr: Output;
}

/**
 * A `clap` subcommand. To add one: write `export const myCommand = defineCommand({ path, usage,
 * summary, options: { ...SHARED_TABLES, 'my-flag': { kind: 'integer', min: 1, help: '...' } }, json,
 * run(ctx) { ... } })` and list it in `commands/registry.ts`. Parsing, validation (ranges, choices,
 * negative numbers), `--help` and the `clap` overview all come from the table; `ctx.values['my-flag']`
 * is already a number (or undefined when left out: the library applies its own default, which the
 * table shows with `default: LIBRARY_DEFAULTS.x`).
 */
export interface Command<T extends OptionTable = OptionTable> {
  /** Words after `clap`, e.g. ['embed', 'audio']. */
  path: string[];
  /** Usage line after `clap`, e.g. 'embed audio FILE... --weights W'. */
  usage: string;
  /** One sentence for the `clap` overview and the top of --help. */
  summary: string;
  /** Paragraphs printed before the options (positional arguments, notes). */
  details?: string;
  options: T;
  /** What --json prints (its shape), for help. */
  json?: string;
  run(ctx: CommandContext<T>): Promise<void>;
}

/** Declares a command with its option table (keeps the table's literal types for `ctx.values`). */
export function defineCommand<const T extends OptionTable>(command: Command<T>): Command<T> {
  return command;
}
