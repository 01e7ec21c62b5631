/** End to end: `clap index …` and `clap search` as spawned programs, including a kill -9 mid-indexing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClapIndex } from '../../src/tasks/clap-index.js';
import { clapCli, commits, until } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';

const cli = clapCli({ ...process.env, CLAP_THREADS: '1' });
const { ok } = cli;
const clap = cli.run;
const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];

test('clap index add / stats / search / captions: the JSON contract, incremental runs, one-line errors', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-cli-index-'));
  const lib = join(root, 'lib');
  const db = join(root, 'db');
  try {
    writeClips(lib, 3);
    writeWav(join(lib, 'long.wav'), tone(500, 9, 22050, 7), 22050);
    writeFileSync(join(lib, 'bad.wav'), 'RIFF nonsense');

    const added = JSON.parse(await ok('index', 'add', lib, '--db', db, ...W, '--json'));
    assert.deepEqual(
      { ...added, seconds: 0 },
      {
        added: 4,
        updated: 0,
        unchanged: 0,
        removed: 0,
        skipped: [{ path: join(lib, 'bad.wav'), reason: added.skipped[0].reason }],
        ignored: 0,
        files: 4,
        seconds: 0,
      },
    );
    const again = await ok('index', 'add', lib, '--db', db, ...W);
    assert.match(again, /0 added, 0 updated, 4 unchanged, 0 removed, 1 skipped/);

    const stats = JSON.parse(await ok('index', 'stats', '--db', db, '--json'));
    assert.deepEqual(Object.keys(stats), ['files', 'windows', 'model', 'family', 'bytes']);
    assert.equal(stats.family, 'msclap 2023 (HTSAT + GPT-2)');
    assert.equal(stats.files, 4);
    assert.equal(stats.windows, 0);
    assert.equal(stats.model.dim, 64);
    assert.match(stats.model.weights, /^[0-9a-f]{64}$/);
    assert.ok(stats.bytes > 0);

    // --weights may be left out: the index remembers them.
    const hits = JSON.parse(await ok('search', 'a dog barking', '--db', db, '--top', '3', '--json')) as { path: string; score: number }[];
    assert.equal(hits.length, 3);
    for (const h of hits) assert.deepEqual(Object.keys(h), ['path', 'score']);
    assert.ok(hits[0].score >= hits[1].score && hits[1].score >= hits[2].score);
    const long = JSON.parse(await ok('search', 'anything', '--db', db, '--min-duration', '5', '--json')) as { path: string }[];
    assert.deepEqual(
      long.map((h) => h.path),
      [join(lib, 'long.wav')],
    );
    const named = JSON.parse(await ok('search', 'anything', '--db', db, '--glob', 'clip00[12].wav', '--json')) as { path: string }[];
    assert.deepEqual(named.map((h) => h.path).sort(), [join(lib, 'clip001.wav'), join(lib, 'clip002.wav')]);
    const like = JSON.parse(await ok('search', '--like', join(lib, 'clip000.wav'), '--db', db, '--json', '--exact')) as { path: string }[];
    assert.equal(like.length, 3);
    assert.ok(!like.some((h) => h.path === join(lib, 'clip000.wav')));
    const table = await ok('search', 'a dog barking', '--db', db, '--top', '2');
    assert.match(table, /^-?\d\.\d{4} {2}\/.*\.wav\n-?\d\.\d{4} {2}\/.*\.wav\n$/);

    writeFileSync(join(root, 'captions.txt'), 'a dog barking\n\na low hum\nrain\n');
    assert.deepEqual(JSON.parse(await ok('index', 'captions', join(root, 'captions.txt'), '--db', db, '--json')), { captions: 3 });
    const caps = JSON.parse(await ok('search', '--audio', join(lib, 'long.wav'), '--captions', '--db', db, '--top', '2', '--json')) as {
      text: string;
      score: number;
    }[];
    assert.equal(caps.length, 2);
    for (const c of caps) assert.deepEqual(Object.keys(c), ['text', 'score']);

    const cases: [string[], number, RegExp][] = [
      [['index', 'add', lib, '--db', db, ...W, '--sliding'], 1, /different model or audio options .*sliding/],
      [['search', 'x', '--db', join(root, 'none'), ...W], 1, /no index here/],
      [['search', '--db', db], 2, /give a search text/],
      [['search', 'x', '--db', db, '--captions'], 2, /--audio FILE/],
      [['index', 'add', lib, '--db', join(root, 'new')], 2, /--weights is required/],
      [['search', 'x', '--db', db, '--ann'], 1, /no ANN vector index/],
    ];
    for (const [args, code, pattern] of cases) {
      const r = await clap(...args);
      assert.equal(r.code, code, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err, pattern);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('clap index add killed with SIGKILL mid-run: the store stays readable, the rerun resumes, no file lost or duplicated', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-cli-kill-'));
  const lib = join(root, 'lib');
  const db = join(root, 'db');
  const N = 40;
  try {
    const clips = writeClips(lib, N);
    const indexer = cli.spawn('index', 'add', lib, '--db', db, ...W, '--batch', '2', '--decode-threads', '1');
    await until('a few commits', () => commits(db) >= 3, [indexer]);
    indexer.child.kill('SIGKILL');
    assert.equal((await indexer.exited).signal, 'SIGKILL');

    const partial = JSON.parse(await ok('index', 'stats', '--db', db, '--json')).files as number;
    assert.ok(partial >= 2 && partial < N, `files after the kill: ${partial}`);

    const resumed = JSON.parse(await ok('index', 'add', lib, '--db', db, ...W, '--batch', '4', '--json'));
    assert.equal(resumed.unchanged, partial);
    assert.equal(resumed.added, N - partial);
    assert.equal(resumed.files, N);

    const index = await ClapIndex.open(db);
    try {
      const paths = (await index.files()).map((f) => f.path).sort();
      assert.deepEqual(paths, clips.slice().sort());
      assert.equal((await index.stats()).files, N);
    } finally {
      await index.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('clap index remove sticks: sync and add of a folder above leave removed paths out until they are added again', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-cli-remove-'));
  const lib = join(root, 'lib');
  const db = join(root, 'db');
  const files = async (): Promise<string[]> => {
    const index = await ClapIndex.open(db);
    try {
      return (await index.files()).map((f) => f.path.slice(lib.length + 1)).sort();
    } finally {
      await index.close();
    }
  };
  const add = async (...args: string[]): Promise<{ added: number; files: number }> =>
    JSON.parse(await ok('index', ...args, '--db', db, ...W, '--json'));
  try {
    writeClips(join(lib, 'drums'), 3, 'kick');
    writeClips(join(lib, 'fx'), 2, 'fx');
    writeClips(lib, 2, 'top');
    assert.equal((await add('add', lib)).files, 7);

    assert.deepEqual(JSON.parse(await ok('index', 'remove', join(lib, 'drums'), '--db', db, '--json')), { removed: 3 });
    assert.match(await ok('index', 'remove', join(lib, 'top000.wav'), '--db', db), /: 1 file removed\n$/);
    const synced = await add('sync');
    assert.deepEqual([synced.added, synced.files], [0, 3]);
    assert.deepEqual(await files(), ['fx/fx000.wav', 'fx/fx001.wav', 'top001.wav']);

    // A file named inside a removed folder comes in on its own; the folder stays out.
    assert.equal((await add('add', join(lib, 'drums', 'kick001.wav'))).added, 1);
    assert.equal((await add('sync')).files, 4);
    // Adding a folder above removed paths includes them again, and says so.
    const again = await clap('index', 'add', lib, '--db', db, ...W);
    assert.equal(again.code, 0, again.err);
    assert.match(again.out, / 3 added, 0 updated, 4 unchanged/);
    assert.deepEqual(
      again.err.split('\n').filter((l) => l.startsWith('included again')),
      [
        `included again (removed before, added now): ${join(lib, 'drums')}`,
        `included again (removed before, added now): ${join(lib, 'top000.wav')}`,
      ],
    );
    assert.equal((await files()).length, 7);

    // Removed twice, or never indexed: said so, one line each, exit status 1; the good paths are still removed.
    await ok('index', 'remove', join(lib, 'fx'), '--db', db);
    const cases: [string[], RegExp, string][] = [
      [[join(lib, 'fx')], /fx: removed already$/, '0 files removed'],
      [[join(lib, 'typo.wav')], /typo\.wav: not in the index/, '0 files removed'],
      [[join(root, 'elsewhere')], /elsewhere: not in the index/, '0 files removed'],
      [
        [join(lib, 'top000.wav'), join(lib, 'nope'), join(lib, 'fx', 'fx000.wav')],
        /2 paths are not in the index: .*nope \(not in the index.*fx000\.wav \(removed already\)/,
        '1 file removed',
      ],
    ];
    for (const [paths, pattern, out] of cases) {
      const r = await clap('index', 'remove', ...paths, '--db', db);
      assert.equal(r.code, 1, r.err);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
      assert.match(r.err.trim(), pattern);
      assert.match(r.out, new RegExp(`${out}\\n$`));
    }
    assert.deepEqual((await add('sync')).files, 4);
    assert.deepEqual(await files(), ['drums/kick000.wav', 'drums/kick001.wav', 'drums/kick002.wav', 'top001.wav']);

    // Removing the root drops everything under it, for good.
    assert.deepEqual(JSON.parse(await ok('index', 'remove', lib, '--db', db, '--json')), { removed: 4 });
    assert.equal((await add('sync')).files, 0);
    const stats = await ClapIndex.open(db);
    assert.deepEqual([stats.roots, stats.excluded], [[], []]);
    await stats.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('Ctrl-C (SIGINT) during clap index add: exits 130 saying what was committed, the index is consistent, the rerun finishes', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-cli-sigint-'));
  const lib = join(root, 'lib');
  const db = join(root, 'db');
  const N = 40;
  try {
    const clips = writeClips(lib, N);
    const indexer = cli.spawn('index', 'add', lib, '--db', db, ...W, '--batch', '2', '--decode-threads', '1', '--json');
    await until('a few commits', () => commits(db) >= 3, [indexer]);
    indexer.child.kill('SIGINT');
    const { code } = await indexer.exited;
    const { out, err } = indexer;
    assert.equal(code, 130, `exit status ${code}: ${err}`);
    const report = JSON.parse(out) as { added: number; files: number; interrupted: boolean; pending: number };
    assert.equal(report.interrupted, true);
    assert.ok(report.added >= 2 && report.added < N, `committed before stopping: ${report.added}`);
    assert.equal(report.files, report.added);
    assert.equal(report.added + report.pending, N);
    const lines = err.trim().split('\n');
    assert.match(lines[0], /^clap: interrupted: finishing the batch in flight, then stopping/);
    assert.equal(
      lines.at(-1),
      `clap: interrupted: ${report.added} files committed by this run (${report.files} in the index), ${report.pending} left; ` +
        'run the same command again to index the rest (committed files are not redone)',
    );

    const index = await ClapIndex.open(db);
    try {
      assert.equal((await index.stats()).files, report.added);
    } finally {
      await index.close();
    }
    const resumed = JSON.parse(await ok('index', 'add', lib, '--db', db, ...W, '--json'));
    assert.deepEqual([resumed.unchanged, resumed.added, resumed.files], [report.added, N - report.added, N]);
    const after = await ClapIndex.open(db);
    try {
      assert.deepEqual((await after.files()).map((f) => f.path).sort(), clips.slice().sort());
    } finally {
      await after.close();
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
