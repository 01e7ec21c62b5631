/**
 * End to end: what `clap` prints and where — a closed stdout (`clap ... | head`), progress lines when stderr
 * is a file or pipe, and help (command groups, the overview's width).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clapCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { writeClips } from '../store/audio-helpers.js';
import * as L from '../tasks/eval/layouts.js';

const cli = clapCli({ ...process.env, CLAP_THREADS: '1' });
const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];
const audio = (name: string): string => fixturePath('inputs', 'audio', `${name}.wav`);
const dir = mkdtempSync(join(tmpdir(), 'clap-output-'));

test('a closed stdout (clap ... | head) ends every printing command quietly: no EPIPE, no stack trace (issue 12.5)', async () => {
  const lib = join(dir, 'lib');
  const db = join(dir, 'db');
  writeClips(lib, 3);
  await cli.ok('index', 'add', lib, '--db', db, ...W);
  const labels = Array.from({ length: 500 }, (_, i) => `label ${i}`).join(',');
  const texts = Array.from({ length: 50 }, (_, i) => `text ${i}`);
  const runs: string[][] = [
    ['classify', audio('vowel_16k'), audio('speech_22k'), ...W, '--labels', labels],
    ['classify', audio('vowel_16k'), ...W, '--labels', labels, '--json'],
    ['search', 'a tone', '--db', db, '--top', '1000'],
    ['search', 'a tone', '--db', db, '--top', '1000', '--json'],
    ['embed', 'audio', audio('vowel_16k'), audio('speech_22k'), ...W, '--json'],
    ['embed', 'text', ...texts, ...W],
    ['index', 'stats', '--db', db],
    ['index', 'stats', '--db', db, '--json'],
    ['caption', audio('vowel_16k'), '--weights', fixturePath('clapcap.pth'), '--max-tokens', '4'],
    ['--help'],
    ['index', '--help'],
    ['classify', '--help'],
    ['--version'],
  ];
  const wrong: string[] = [];
  for (const args of runs) {
    const r = await cli.closedStdout(...args);
    if (r.code !== 0 || /EPIPE|\n\s+at /.test(r.err))
      wrong.push(`clap ${args.slice(0, 3).join(' ')}: exit ${r.code} (${r.signal}): ${r.err}`);
  }
  assert.deepEqual(wrong, []);
});

test('progress on a stderr that is not a terminal: plain lines for embed, classify and eval, each count once (issue 12.10)', async () => {
  const files = [audio('vowel_16k'), audio('speech_22k'), audio('stereo_48k')];
  const lines = (err: string): string[] => err.split('\n').filter((l) => l.startsWith('embedding: '));
  const plain = /^embedding: 3\/3 [\d.]+\/s ETA 0:00$/;
  for (const args of [
    ['embed', 'audio', ...files, ...W],
    ['classify', ...files, ...W, '--labels', 'dog,rain'],
  ]) {
    const r = await cli.run(...args);
    assert.equal(r.code, 0, r.err);
    assert.match(lines(r.err).at(-1) ?? '', plain, `${args[0]}: ${r.err}`);
    assert.ok(!r.err.includes('\r') && !r.err.includes('\u001b['), 'no terminal redraws in a log');
    // --json keeps a piped stderr quiet for machines
    assert.deepEqual(lines((await cli.run(...args, '--json')).err), []);
  }
  const esc50 = L.makeEsc50();
  const r = await cli.run('eval', 'esc50', '--data', esc50, ...W, '--no-cache');
  assert.equal(r.code, 0, r.err);
  const done = lines(r.err).filter((l) => l.startsWith('embedding: 6/6 '));
  assert.equal(done.length, 1, r.err);
});

test('clap GROUP --help lists the group’s commands; the overview fits 80 columns (issue 12.10)', async () => {
  const groups: Record<string, string[]> = {
    index: ['add', 'sync', 'stats', 'captions', 'remove'],
    train: ['contrastive', 'probe', 'finetune', 'caption', 'plot'],
    embed: ['audio', 'text'],
    export: ['onnx'],
  };
  for (const [group, members] of Object.entries(groups)) {
    const r = await cli.run(group, '--help');
    assert.equal(r.code, 0, `clap ${group} --help: ${r.err}`);
    assert.match(r.out, new RegExp(`^Usage: clap ${group} <command>`));
    for (const m of members) assert.match(r.out, new RegExp(`^ {2}${m} +\\S`, 'm'), `clap ${group} --help lacks ${m}`);
  }
  const wrong = await cli.run('index', 'frobnicate');
  assert.equal(wrong.code, 2);
  assert.match(wrong.err, /^clap: unknown command 'index frobnicate' \(clap index has add, sync, /);
  const overview = await cli.run('--help');
  assert.equal(overview.code, 0);
  assert.match(overview.out, /^ {2}embed audio +\S/m);
  for (const line of overview.out.split('\n')) assert.ok(line.length <= 80, `${line.length} columns: ${line}`);
});

test('"1 file", not "1 files": counts in messages agree with their nouns (issue 12.10)', async () => {
  const one = join(dir, 'one.csv');
  writeFileSync(one, `path,caption\n${audio('vowel_16k')},a voice says ah\n`);
  const r = await cli.run('eval', 'manifest', '--data', one, '--caption-column', 'caption', ...W, '--no-cache');
  assert.equal(r.code, 0, r.err);
  assert.match(r.out, /\): 1 clip\n/);
});
