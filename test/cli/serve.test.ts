/** End to end: `clap serve` as a spawned program — its first line, its warnings, Ctrl-C, and kill -9 mid-indexing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ClapProcess, clapCli, until } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';

const { run, spawn } = clapCli({ ...process.env, CLAP_THREADS: '1' });
const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];

/** `clap serve ARGS` once it has printed its address (first line of stdout) and what it serves (stderr). */
async function serve(...args: string[]): Promise<ClapProcess & { url: string }> {
  const p = spawn('serve', '--port', '0', ...args);
  await until('clap serve to start', () => p.out.includes('\n') && p.err.includes('serving '), [p], 120_000);
  return Object.assign(p, { url: p.out.split('\n')[0] });
}

const tokenOf = (p: ClapProcess): string => /x-clap-token: ([0-9a-f]+)/.exec(p.err)![1];

test('clap serve: the URL is the first line; 0.0.0.0 warns and needs the token; Ctrl-C stops it; usage errors', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-serve-cli-'));
  try {
    const lib = join(root, 'lib');
    writeClips(lib, 2);
    writeWav(join(lib, 'long.wav'), tone(500, 9, 8000, 7), 8000);
    const db = join(root, 'db');
    assert.equal((await run('index', 'add', lib, '--db', db, ...W, '--sliding', '--hop', '2')).code, 0);

    const local = await serve('--db', db); // the weights recorded in the index
    try {
      assert.match(local.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
      const hits = (await (await fetch(`${local.url}api/search?q=a%20tone&top=3`)).json()) as {
        path: string;
        start?: number;
        end?: number;
      }[];
      const cli = JSON.parse((await run('search', 'a tone', '--db', db, '--top', '3', '--json')).out) as typeof hits;
      assert.deepEqual(
        hits.map((h) => [h.path, h.start, h.end]),
        cli.map((h) => [h.path, h.start, h.end]),
      );
      assert.ok(
        hits.some((h) => h.path.endsWith('long.wav') && h.start !== undefined),
        'window times for a sliding index',
      );
      assert.match(local.err, /library changes through the API need the header x-clap-token: [0-9a-f]{48}/);
      local.child.kill('SIGINT');
      const { code } = await local.exited;
      assert.equal(code, 0);
      assert.match(local.err, /^clap: interrupted: stopping/m);
    } finally {
      local.child.kill('SIGKILL');
    }

    const open = await serve('--db', db, '--host', '0.0.0.0');
    try {
      const url = new URL(open.url);
      const token = url.searchParams.get('token');
      assert.match(token ?? '', /^[0-9a-f]{48}$/);
      assert.match(open.err, /warning: listening on 0\.0\.0\.0: anyone who can reach this machine and has the token/);
      const base = `http://127.0.0.1:${url.port}`;
      assert.equal((await fetch(`${base}/api/stats`)).status, 401);
      assert.equal((await fetch(`${base}/api/stats?token=${token}`)).status, 200);
    } finally {
      open.child.kill('SIGKILL');
    }

    for (const [args, message] of [
      [['--db', db, '--no-auth', '--token', 'x'.repeat(20)], /give --token or --no-auth, not both/],
      [['--db', db, '--token', 'short'], /--token must be at least 16 printable characters/],
      [['--db', db, '--max-upload-mb', '0'], /--max-upload-mb must be a number > 0, got '0'/],
      [['--db', db, '--port', '70000'], /--port must be/],
      [['--db', join(root, 'nothing')], /no index here/],
    ] as const) {
      const r = await run('serve', ...args);
      assert.notEqual(r.code, 0);
      assert.match(r.err, message);
      assert.equal(r.err.trim().split('\n').length, 1, r.err);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('clap serve killed with SIGKILL while indexing from the API: a restart resumes, nothing lost or doubled', async () => {
  const root = mkdtempSync(join(tmpdir(), 'clap-serve-kill-'));
  const N = 40;
  try {
    const lib = join(root, 'lib');
    writeClips(lib, N);
    const db = join(root, 'db');
    const args = ['--db', db, ...W, '--allow', root, '--batch', '2', '--decode-threads', '1'];
    const first = await serve(...args);
    try {
      const post = await fetch(`${first.url}api/library/add`, {
        method: 'POST',
        headers: { 'x-clap-token': tokenOf(first), 'content-type': 'application/json' },
        body: JSON.stringify({ path: lib }),
      });
      assert.equal(post.status, 202);
      // Kill once a few batches are committed.
      for (;;) {
        const files = ((await (await fetch(`${first.url}api/stats`)).json()) as { files: number }).files;
        if (files >= 4) break;
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      first.child.kill('SIGKILL');
    }
    assert.equal((await first.exited).signal, 'SIGKILL');

    const partial = JSON.parse((await run('index', 'stats', '--db', db, '--json')).out).files as number;
    assert.ok(partial >= 4 && partial < N, `files after the kill: ${partial}`);
    const second = await serve(...args);
    try {
      const r = await fetch(`${second.url}api/library/sync`, { method: 'POST', headers: { 'x-clap-token': tokenOf(second) } });
      assert.equal(r.status, 202);
      let job: { state: string; report?: { added: number; unchanged: number; files: number } };
      do {
        await new Promise((res) => setTimeout(res, 50));
        [job] = (await (await fetch(`${second.url}api/library/jobs`)).json()) as (typeof job)[];
      } while (job.state !== 'done' && job.state !== 'failed');
      assert.equal(job.state, 'done');
      assert.deepEqual([job.report!.unchanged, job.report!.added, job.report!.files], [partial, N - partial, N]);
    } finally {
      second.child.kill('SIGKILL');
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
