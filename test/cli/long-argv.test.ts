/**
 * Long command lines: onnxruntime recursed over /proc/self/cmdline at start-up and a ~28 KB command line
 * (5,000 texts or labels) died of SIGSEGV with no output. bin/clap.js now relaunches itself with the
 * arguments in a file; these run the real launcher well past the length that crashed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARGV_BYTES_LIMIT } from '../../src/cli/long-argv.js';
import { clapCli, commits, until } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { writeClips } from '../store/audio-helpers.js';

const tmp = mkdtempSync(join(tmpdir(), 'clap-long-argv-'));
const cli = clapCli({ ...process.env, CLAP_THREADS: '1', TMPDIR: tmp });
const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];
const many = (prefix: string, n: number): string[] => Array.from({ length: n }, (_, i) => `${prefix} ${i}`);

test('embed text with 8,000 texts on the command line: every embedding, in order', async () => {
  const texts = many('a dog barking', 8000);
  const out = JSON.parse(await cli.ok('embed', 'text', ...texts, ...W, '--json')) as { input: string }[];
  assert.deepEqual(
    out.map((e) => e.input),
    texts,
  );
  assert.deepEqual(readdirSync(tmp), [], 'the argument file is removed');
});

test('classify with 6,000 labels in one --labels: a score for each', async () => {
  const labels = many('label', 6000);
  const out = JSON.parse(
    await cli.ok('classify', fixturePath('inputs', 'audio', 'vowel_16k.wav'), ...W, '--labels', labels.join(','), '--json'),
  ) as { scores: Record<string, number> }[];
  assert.deepEqual(Object.keys(out[0]!.scores), labels);
});

test('a long command line keeps the exit status and the one-line error of the command', async () => {
  const r = await cli.run('embed', 'text', ...many('t', 6000), '--weights', join(tmp, 'missing.pth'));
  assert.equal(r.code, 1);
  assert.match(r.err, /missing\.pth/);
  assert.doesNotMatch(r.err, /\n\s+at /);
  assert.equal(existsSync(join(tmp, 'missing.pth')), false);
});

test("Ctrl-C with a long command line: the terminal's SIGINT stops the relaunched command as it says, nothing left behind", async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-long-argv-int-'));
  try {
    const clips = writeClips(join(root, 'lib'), 300);
    const db = join(root, 'db');
    const args = ['index', 'add', ...clips, '--db', db, ...W, '--batch', '2', '--decode-threads', '1', '--json'];
    assert.ok(args.join(' ').length > ARGV_BYTES_LIMIT, 'the command line is relaunched');
    const job = cli.spawnJob(...args);
    await until('a few commits', () => commits(db) >= 3, [job]);
    process.kill(-job.child.pid!, 'SIGINT'); // what Ctrl-C in a terminal does
    const { code } = await job.exited;
    assert.equal(code, 130, job.err);
    assert.equal((JSON.parse(job.out) as { interrupted: boolean }).interrupted, true);
    assert.match(job.err, /interrupted: \d+ files committed by this run .*run the same command again/);
    assert.throws(() => process.kill(-job.child.pid!, 0), { code: 'ESRCH' }, 'no process of the group is left');
    assert.deepEqual(readdirSync(tmp), [], 'the argument file is removed');
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
