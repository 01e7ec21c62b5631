/** The option tables: parsing, validation messages, generated help, and every command's table. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { commands } from '../../src/cli/commands/registry.js';
import { main } from '../../src/cli/main.js';
import { HELP_WIDTH, optionsHelp, optionTable, parseOptions, UsageError } from '../../src/cli/options.js';

const TABLE = optionTable({
  top: { kind: 'integer', min: 1, help: 'results' },
  beam: { kind: 'integer', min: 1, max: 32, default: 5, help: 'beams' },
  hop: { kind: 'number', above: 0, help: 'hop' },
  frac: { kind: 'number', min: 0, below: 1, help: 'fraction' },
  mode: { kind: 'enum', choices: ['a', 'b'], help: 'mode' },
  freeze: { kind: 'list', choices: ['x', 'y'], help: 'parts' },
  template: { kind: 'string', repeatable: true, help: 'prompts' },
  out: { kind: 'path', required: true, help: 'where' },
  flag: { kind: 'boolean', help: 'a switch' },
});

const parse = (...args: string[]) => parseOptions(['--out', 'o', ...args], TABLE);
const usageError = (args: string[], pattern: RegExp) =>
  assert.throws(
    () => parse(...args),
    (e: Error) => e instanceof UsageError && pattern.test(e.message),
  );

test('values are typed and validated; options left out are undefined', () => {
  const p = parse(
    '--top',
    '3',
    '--hop=0.5',
    '--mode',
    'b',
    '--freeze',
    'x, y',
    '--template',
    'a {}',
    '--template',
    'b',
    '--flag',
    'pos',
    '--',
    '--top',
  );
  assert.deepEqual(p.values, {
    top: 3,
    beam: undefined,
    hop: 0.5,
    frac: undefined,
    mode: 'b',
    freeze: ['x', 'y'],
    template: ['a {}', 'b'],
    out: 'o',
    flag: true,
  });
  assert.deepEqual(p.positionals, ['pos', '--top']);
  assert.deepEqual([...p.given].sort(), ['flag', 'freeze', 'hop', 'mode', 'out', 'template', 'top']);
  assert.equal(parse().values.flag, false);
});

test('negative numbers reach validation, which names the flag, the value and the allowed range', () => {
  usageError(['--top', '-1'], /^--top must be an integer ≥ 1, got '-1'$/);
  usageError(['--beam', '-3'], /^--beam must be an integer in 1\.\.32, got '-3'$/);
  usageError(['--beam', '1000'], /^--beam must be an integer in 1\.\.32, got '1000'$/);
  usageError(['--hop', '-1'], /^--hop must be a number > 0, got '-1'$/);
  usageError(['--frac', '1'], /^--frac must be a number in \[0, 1\), got '1'$/);
  usageError(['--top', '2.5'], /--top must be an integer ≥ 1, got '2\.5'/);
  usageError(['--top', 'ten'], /--top must be an integer ≥ 1, got 'ten'/);
  usageError(['--top', ''], /--top must be an integer/);
  usageError(['--mode', 'c'], /^--mode must be one of a, b; got 'c'$/);
  usageError(['--freeze', 'x,z'], /^--freeze takes a comma list of x, y; got 'z'$/);
});

test('malformed command lines are one-line usage errors', () => {
  usageError(['--tpo', '1'], /^unknown option '--tpo' \(did you mean --top\?\)$/);
  usageError(['-x'], /^unknown option '-x'$/);
  usageError(['--top'], /^--top needs a value/);
  usageError(['--top', '--flag'], /^--top needs a value/);
  usageError(['--flag=yes'], /^--flag takes no value$/);
  assert.throws(() => parseOptions([], TABLE), /^UsageError: --out is required$/);
  // --help wins over every error.
  assert.equal(parseOptions(['--tpo', '--help'], TABLE).help, true);
});

test('generated help lists every option with its default and range, within 80 columns', () => {
  const help = optionsHelp(TABLE, '{"x"}');
  for (const name of Object.keys(TABLE)) assert.match(help, new RegExp(`^ {2}--${name}\\b`, 'm'), name);
  assert.match(help, /--beam N +beams \(1\.\.32; default 5\)/);
  assert.match(help, /--out PATH +where \(required\)/);
  assert.match(help, /--json +\{"x"\}/);
  for (const line of help.split('\n')) assert.ok(line.length <= HELP_WIDTH, line);
});

function capture(): { stream: Writable; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(c, _e, cb) {
      chunks.push(String(c));
      cb();
    },
  });
  return { stream, text: () => chunks.join('') };
}

test('every command: every option has help text, and `clap COMMAND --help` lists every option within 80 columns', async () => {
  for (const c of commands) {
    const name = c.path.join(' ');
    assert.ok(c.summary.length > 0 && c.usage.startsWith(name), name);
    for (const [flag, def] of Object.entries(c.options)) {
      assert.ok(def.help.trim().length > 0, `${name} --${flag} has no help`);
      if ('default' in def && def.default !== undefined && 'defaultText' in def)
        assert.equal(def.defaultText, undefined, `${name} --${flag}`);
    }
    const out = capture();
    const code = await main([...c.path, '--help'], { stdout: out.stream, stderr: out.stream });
    assert.equal(code, 0, name);
    const help = out.text();
    assert.ok(help.startsWith(`Usage: clap ${c.usage}\n`), name);
    for (const flag of Object.keys(c.options)) assert.match(help, new RegExp(`^ {2}--${flag}\\b`, 'm'), `${name} --help lacks --${flag}`);
    if (c.json) assert.match(help, /^ {2}--json\b/m, name);
    for (const line of help.split('\n')) assert.ok(line.length <= HELP_WIDTH, `${name}: ${line}`);
  }
});
