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

test('relations between options: needs and atMost', () => {
  const table = optionTable({
    sliding: { kind: 'boolean', help: 'windows' },
    hop: { kind: 'number', above: 0, needs: 'sliding', help: 'hop' },
    min: { kind: 'number', atMost: 'max', help: 'least' },
    max: { kind: 'number', help: 'most' },
  });
  assert.throws(() => parseOptions(['--hop', '2'], table), /^UsageError: --hop needs --sliding$/);
  assert.equal(parseOptions(['--hop', '2', '--sliding'], table).values.hop, 2);
  assert.throws(() => parseOptions(['--min', '3', '--max', '2'], table), /^UsageError: --min 3 is more than --max 2$/);
  assert.deepEqual(parseOptions(['--min', '2', '--max', '2'], table).values, { sliding: false, hop: undefined, min: 2, max: 2 });
  assert.equal(parseOptions(['--min', '3'], table).values.min, 3);
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

test('clap as run: option errors are one line naming the flag, the value and the range — never a library field (issue 12.7)', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { clapCli } = await import('../helpers/cli.js');
  const { fixturePath } = await import('../helpers/fixtures.js');
  const cli = clapCli({ ...process.env, CLAP_THREADS: '1' });
  const dir = mkdtempSync(join(tmpdir(), 'clap-options-'));
  const aFile = join(dir, 'a-file');
  writeFileSync(aFile, 'not a folder');
  const W = ['--weights', fixturePath('clap.pth')];
  const CAP = ['--weights', fixturePath('clapcap.pth')];
  const wav = fixturePath('inputs', 'audio', 'vowel_16k.wav');
  const long = fixturePath('inputs', 'audio', 'bursts_long_44k.wav');
  const cases: [string[], number, RegExp][] = [
    [['classify', wav, ...W, '--labels', 'a,b', '--top', '-1'], 2, /^--top must be an integer ≥ 1, got '-1'$/],
    [['caption', wav, ...CAP, '--beam', '-3'], 2, /^--beam must be an integer in 1\.\.32, got '-3'$/],
    [['caption', wav, ...CAP, '--beam', '1000'], 2, /^--beam must be an integer in 1\.\.32, got '1000'$/],
    [['caption', wav, ...CAP, '--top-p', '0'], 2, /^--top-p must be a number in \(0, 1\], got '0'$/],
    [['caption', wav, ...CAP, '--max-tokens', '100000'], 2, /^--max-tokens: must be an integer in 1\.\.\d+, got 100000$/],
    [['embed', 'audio', wav, ...W, '--sliding', '--hop', '-1'], 2, /^--hop must be a number > 0, got '-1'$/],
    [['embed', 'audio', wav, ...W, '--hop', '2'], 2, /^--hop needs --sliding$/],
    [['embed', 'audio', long, ...W, '--crop-offset', '99999999'], 1, /: --crop-offset 99999999 is outside \[0, \d+\]/],
    [['train', 'contrastive', '--data', 'x.csv', '--out', join(dir, 'run'), '--lr', '-1'], 2, /^--lr must be a number > 0, got '-1'$/],
    [['search', 'x', '--db', dir, '--min-duration', '5', '--max-duration', '2'], 2, /^--min-duration 5 is more than --max-duration 2$/],
    [['index', 'add', dir, '--db', join(dir, 'db'), ...W, '--job-files', '3'], 2, /^--job-files needs --queue$/],
    [['export', 'onnx', ...W, '--out', aFile], 2, /^--out .*a-file: exists and is not a folder$/],
    [['export', 'onnx', ...W, '--out', join(aFile, 'sub')], 2, /^--out .*a-file\/sub: .*a-file is a file, not a folder$/],
    [['train', 'probe', '--data', 'x.csv', ...W, '--out', aFile], 2, /^--out .*a-file: exists and is not a folder$/],
    [
      ['train', 'caption', '--data', 'x.csv', '--init', fixturePath('clapcap.pth'), '--out', aFile],
      2,
      /a-file: exists and is not a folder$/,
    ],
    [['train', 'contrastive', '--data', 'x.csv', '--out', join(aFile, 'run')], 2, /a-file is a file, not a folder$/],
  ];
  const wrong: string[] = [];
  for (const [args, code, says] of cases) {
    const r = await cli.run(...args);
    const lines = r.err.trim().split('\n');
    const line = lines[0].replace(/^clap: /, '');
    if (r.code !== code || lines.length !== 1 || !says.test(line) || /entryLength|topP|topK|hopS|cropOffset|beamSize|batchSize/.test(r.err))
      wrong.push(`clap ${args.join(' ')}: exit ${r.code}: ${r.err}`);
  }
  assert.deepEqual(wrong, []);
});
