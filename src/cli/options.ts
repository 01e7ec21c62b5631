/**
 * Declarative command-line options: one table per command is the single source of parsing, validation
 * and help. Defaults shown in help come from the library's exported default constants (the library
 * applies them; an option left out is `undefined` here), so help cannot drift from behaviour.
 */
import { statSync } from 'node:fs';
import { dirname } from 'node:path';

/** A mistake in how the command was called (exit code 2). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

interface BaseOption {
  /** One sentence (wrapped to the terminal width by the help generator). */
  help: string;
  /** Placeholder in help, e.g. `K` in `--top K`. */
  arg?: string;
  /** The error is a usage error when the option is missing. */
  required?: true;
  /** Help section heading (options without one are listed first, under "Options"). */
  section?: string;
  /**
   * The library option this flag sets, when the library reports errors about it by its own name
   * (e.g. 'entryLength' for --max-tokens): such errors are shown under the flag.
   */
  field?: string;
  /** Another option this one only works with (`--hop` needs `--sliding`): giving this one alone is a usage error. */
  needs?: string;
}

interface DefaultShown {
  /** Shown when the library's default is not a constant (e.g. 'all cores'). */
  defaultText?: string;
}

export interface StringOption extends BaseOption, DefaultShown {
  kind: 'string' | 'path';
  default?: string;
  /** Given several times, the values are collected in order. */
  repeatable?: true;
  /** An output path: refused when it exists as the wrong kind (a file for 'dir', a folder for 'file'). */
  output?: 'dir' | 'file';
}

export interface NumberOption extends BaseOption, DefaultShown {
  kind: 'number' | 'integer';
  default?: number;
  /** Inclusive bounds. */
  min?: number;
  max?: number;
  /** Exclusive bounds (e.g. above 0 for "a positive number"). */
  above?: number;
  below?: number;
  /** Another number option this one may not exceed when both are given (`--min-duration` ≤ `--max-duration`). */
  atMost?: string;
}

export interface BooleanOption extends BaseOption {
  kind: 'boolean';
}

export interface EnumOption<C extends string = string> extends BaseOption, DefaultShown {
  kind: 'enum';
  choices: readonly C[];
  default?: C;
}

/** Comma-separated values (`--freeze audio,text`), each one of `choices` when given. */
export interface ListOption<C extends string = string> extends BaseOption {
  kind: 'list';
  choices?: readonly C[];
}

export type OptionDef = StringOption | NumberOption | BooleanOption | EnumOption | ListOption;
export type OptionKind = OptionDef['kind'];
export type OptionTable = Readonly<Record<string, OptionDef>>;

type ValueOf<D> = D extends BooleanOption
  ? boolean
  : D extends NumberOption
    ? Given<D, number>
    : D extends EnumOption<infer C>
      ? Given<D, C>
      : D extends ListOption<infer C>
        ? C[] | undefined
        : D extends { repeatable: true }
          ? string[] | undefined
          : Given<D, string>;
type Given<D, T> = D extends { required: true } ? T : T | undefined;

/** Parsed, validated values of a table: numbers are numbers, lists are arrays, absent options undefined. */
export type Values<T extends OptionTable> = { -readonly [K in keyof T]: ValueOf<T[K]> };

/** Keeps the literal types of a table (choices, required) so `Values` is exact. */
export function optionTable<const T extends OptionTable>(table: T): T {
  return table;
}

export interface Parsed<T extends OptionTable> {
  values: Values<T>;
  /** Flags given on the command line. */
  given: ReadonlySet<string>;
  positionals: string[];
  /** --help or -h was given (values are then not validated). */
  help: boolean;
}

/**
 * Parses `args` against `table`: `--flag value`, `--flag=value`, booleans without a value, `--` ends
 * options, `--help`/`-h` anywhere asks for help. A value may start with '-' (`--top -1` reaches
 * validation as -1 instead of being read as an option); a value starting with '--' needs '='.
 */
export function parseOptions<T extends OptionTable>(args: readonly string[], table: T): Parsed<T> {
  const raw = new Map<string, string[] | true>();
  const positionals: string[] = [];
  let help = false;
  let error: string | undefined;
  for (let i = 0; i < args.length; i++) {
    const a = args[i];
    if (a === '--') {
      positionals.push(...args.slice(i + 1));
      break;
    }
    if (a === '--help' || a === '-h') {
      help = true;
      continue;
    }
    if (a.startsWith('--') && a.length > 2) {
      const eq = a.indexOf('=');
      const name = a.slice(2, eq < 0 ? undefined : eq);
      const def = table[name];
      if (!def) {
        error ??= unknownOption(`--${name}`, Object.keys(table));
        continue;
      }
      if (def.kind === 'boolean') {
        if (eq >= 0) error ??= `--${name} takes no value`;
        raw.set(name, true);
        continue;
      }
      let value: string | undefined = eq >= 0 ? a.slice(eq + 1) : args[i + 1];
      if (eq < 0) {
        if (value === undefined || (value.startsWith('--') && value.length > 2)) value = undefined;
        else i++;
      }
      if (value === undefined) {
        error ??= `--${name} needs a value (${argName(name, def)})`;
        continue;
      }
      const prev = raw.get(name);
      raw.set(name, Array.isArray(prev) && 'repeatable' in def && def.repeatable ? [...prev, value] : [value]);
      continue;
    }
    if (a.startsWith('-') && a.length > 1 && !/^-[\d.]/.test(a)) error ??= unknownOption(a, Object.keys(table));
    else positionals.push(a);
  }
  const given = new Set(raw.keys());
  if (help) return { values: {} as Values<T>, given, positionals, help };
  if (error) throw new UsageError(error);
  const values: Record<string, unknown> = {};
  for (const [name, def] of Object.entries(table)) {
    const r = raw.get(name);
    if (def.kind === 'boolean') values[name] = r === true;
    else if (r === undefined || r === true) {
      if (def.required) throw new UsageError(`--${name} is required`);
      values[name] = undefined;
    } else values[name] = 'repeatable' in def && def.repeatable ? r.map((v) => convert(name, def, v)) : convert(name, def, r[0]);
  }
  checkRelations(table, values, given);
  return { values: values as Values<T>, given, positionals, help };
}

/** The table's `needs` and `atMost` between options given together. */
function checkRelations(table: OptionTable, values: Record<string, unknown>, given: ReadonlySet<string>): void {
  for (const [name, def] of Object.entries(table)) {
    if (def.needs !== undefined && given.has(name) && !given.has(def.needs)) throw new UsageError(`--${name} needs --${def.needs}`);
    if ((def.kind === 'number' || def.kind === 'integer') && def.atMost !== undefined) {
      const [v, limit] = [values[name], values[def.atMost]];
      if (typeof v === 'number' && typeof limit === 'number' && v > limit)
        throw new UsageError(`--${name} ${v} is more than --${def.atMost} ${limit}`);
    }
  }
}

function convert(name: string, def: Exclude<OptionDef, BooleanOption>, value: string): unknown {
  switch (def.kind) {
    case 'number':
    case 'integer': {
      const n = value.trim() === '' ? Number.NaN : Number(value);
      const ok =
        Number.isFinite(n) &&
        (def.kind === 'number' || Number.isInteger(n)) &&
        (def.min === undefined || n >= def.min) &&
        (def.max === undefined || n <= def.max) &&
        (def.above === undefined || n > def.above) &&
        (def.below === undefined || n < def.below);
      if (!ok) throw new UsageError(`--${name} must be ${describeNumber(def)}, got '${value}'`);
      return n;
    }
    case 'enum':
      if (!def.choices.includes(value)) throw new UsageError(`--${name} must be one of ${def.choices.join(', ')}; got '${value}'`);
      return value;
    case 'list': {
      const items = value
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
      const bad = def.choices && items.find((s) => !def.choices!.includes(s));
      if (bad !== undefined) throw new UsageError(`--${name} takes a comma list of ${def.choices!.join(', ')}; got '${bad}'`);
      return items;
    }
    case 'string':
    case 'path':
      if (def.kind === 'path' && value === '') throw new UsageError(`--${name} needs a path, got ''`);
      if (def.output) checkOutput(name, value, def.output);
      return value;
  }
}

/**
 * `text` (a library error) with the library's option names that the table's flags set written as the flags:
 * "cropOffset 9 is outside …" → "--crop-offset 9 is outside …". Only identifier-like names (camelCase)
 * are replaced; plain words such as 'seed' read the same either way.
 */
export function inFlags(text: string, table: OptionTable): string {
  let out = text;
  for (const [flag, def] of Object.entries(table)) {
    if (def.field && /[A-Z]/.test(def.field)) out = out.replace(new RegExp(`\\b${def.field}\\b`, 'g'), `--${flag}`);
  }
  return out;
}

function checkOutput(name: string, path: string, kind: 'dir' | 'file'): void {
  const blocker = fileOnTheWay(path);
  if (blocker !== undefined) throw new UsageError(`--${name} ${path}: ${blocker} is a file, not a folder`);
  const st = statSync(path, { throwIfNoEntry: false });
  if (!st) return;
  if (kind === 'dir' && !st.isDirectory()) throw new UsageError(`--${name} ${path}: exists and is not a folder`);
  if (kind === 'file' && st.isDirectory()) throw new UsageError(`--${name} ${path}: is a folder, give a file name`);
}

/** The file among `path`'s parent folders, when one of them is a file (ENOTDIR), else undefined. */
function fileOnTheWay(path: string): string | undefined {
  for (let dir = dirname(path); dir !== dirname(dir); dir = dirname(dir)) {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(dir, { throwIfNoEntry: false });
    } catch {
      continue; // ENOTDIR: a file further up
    }
    if (st) return st.isDirectory() ? undefined : dir;
  }
  return undefined;
}

/** "an integer ≥ 1", "an integer in 1..32", "a number in [0, 1)", "a number > 0". */
export function describeNumber(def: NumberOption): string {
  const what = def.kind === 'integer' ? 'an integer' : 'a number';
  const lo = def.above !== undefined ? { v: def.above, open: true } : def.min !== undefined ? { v: def.min, open: false } : undefined;
  const hi = def.below !== undefined ? { v: def.below, open: true } : def.max !== undefined ? { v: def.max, open: false } : undefined;
  if (lo && hi) {
    if (def.kind === 'integer' && !lo.open && !hi.open) return `${what} in ${lo.v}..${hi.v}`;
    return `${what} in ${lo.open ? '(' : '['}${lo.v}, ${hi.v}${hi.open ? ')' : ']'}`;
  }
  if (lo) return `${what} ${lo.open ? '>' : '≥'} ${lo.v}`;
  if (hi) return `${what} ${hi.open ? '<' : '≤'} ${hi.v}`;
  return what;
}

function unknownOption(flag: string, names: readonly string[]): string {
  const bare = flag.replace(/^-+/, '');
  const near = names.find((n) => n.startsWith(bare) || editDistance(n, bare) <= 2);
  return `unknown option '${flag}'${near ? ` (did you mean --${near}?)` : ''}`;
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const row = [i];
    for (let j = 1; j <= b.length; j++) row.push(Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1)));
    prev = row;
  }
  return prev[b.length];
}

// ---------------------------------------------------------------------------------------------------
// Help

/** Terminal width help is wrapped to. */
export const HELP_WIDTH = 80;
/** Column where an option's description starts. */
const HELP_COLUMN = 24;

function argName(name: string, def: OptionDef): string {
  if (def.arg) return def.arg;
  switch (def.kind) {
    case 'enum':
      return def.choices.join('|');
    case 'integer':
      return 'N';
    case 'number':
      return 'X';
    case 'list':
      return def.choices ? def.choices.join(',') : 'A,B,...';
    case 'path':
      return 'PATH';
    default:
      return name.toUpperCase();
  }
}

function showDefault(v: string | number): string {
  return typeof v === 'number' ? String(v) : /^[\w.-]+$/.test(v) ? v : `'${v}'`;
}

/** `help` with `note` in its closing parenthesis when it has one: "beams (1 = greedy; 1..32; default 5)". */
function annotate(help: string, note: string): string {
  if (!note) return help;
  return help.endsWith(')') ? `${help.slice(0, -1)}; ${note})` : `${help} (${note})`;
}

/** What an option's description adds: "required", "1..32", "default 5". */
function annotation(def: OptionDef): string {
  const parts: string[] = [];
  if (def.required) parts.push('required');
  if ((def.kind === 'number' || def.kind === 'integer') && (def.max !== undefined || def.below !== undefined))
    parts.push(describeNumber(def).replace(/^an? \w+ (in )?/, ''));
  if ('repeatable' in def && def.repeatable) parts.push('repeatable');
  if ('default' in def && def.default !== undefined) parts.push(`default ${showDefault(def.default)}`);
  else if ('defaultText' in def && def.defaultText) parts.push(`default: ${def.defaultText}`);
  return parts.join('; ');
}

/** Words of `text` in lines of at most `width` characters (a longer word is broken after its commas, e.g. JSON shapes). */
export function wrap(text: string, width: number): string[] {
  const lines: string[] = [];
  let line = '';
  const words = text.split(/\s+/).flatMap((w) => (w.length > width ? w.split(/(?<=,)/) : [w]));
  for (const word of words.filter(Boolean)) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  if (line) lines.push(line);
  return lines;
}

/** A two-column help entry: `label` then `text` wrapped beside it (below it when the label is wide). */
export function helpEntry(label: string, text: string, column = HELP_COLUMN): string[] {
  const body = wrap(text, HELP_WIDTH - column);
  const pad = ' '.repeat(column);
  const head = `  ${label}`;
  if (head.length + 2 > column) return [head, ...body.map((l) => pad + l)];
  return [head.padEnd(column) + (body[0] ?? ''), ...body.slice(1).map((l) => pad + l)];
}

/** Help for `table`, grouped by section; `json` describes what --json prints. */
export function optionsHelp(table: OptionTable, json?: string): string {
  const sections = new Map<string, string[]>();
  for (const [name, def] of Object.entries(table)) {
    const label = def.kind === 'boolean' ? `--${name}` : `--${name} ${argName(name, def)}`;
    const key = def.section ?? 'Options';
    if (!sections.has(key)) sections.set(key, []);
    sections.get(key)!.push(...helpEntry(label, annotate(def.help, annotation(def))));
  }
  if (json) {
    if (!sections.has('Options')) sections.set('Options', []);
    sections.get('Options')!.push(...helpEntry('--json', json));
  }
  const ordered = [...sections].sort(([a], [b]) => (a === 'Options' ? -1 : b === 'Options' ? 1 : 0));
  return ordered.map(([title, lines]) => `${title}:\n${lines.join('\n')}`).join('\n\n');
}
