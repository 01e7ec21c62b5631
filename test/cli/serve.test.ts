/** End to end: `clap serve` as a spawned program — its first line, its warnings, Ctrl-C, and kill -9 mid-indexing. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';

const BIN = fileURLToPath(new URL('../../bin/clap.js', import.meta.url));
const ENV = { ...process.env, CLAP_THREADS: '1' };
const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];

interface Served {
  child: ChildProcess;
  url: string;
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts `clap serve ARGS`: resolves with the first line of its stdout once it has said what it serves (stderr). */
function serve(...args: string[]): Promise<Served> {
  const child = spawn(process.execPath, [BIN, 'serve', '--port', '0', ...args], { env: ENV });
  const stderr: string[] = [];
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) =>
    child.on('exit', (code, signal) => r({ code, signal })),
  );
  return new Promise((resolve, reject) => {
    let url: string | undefined;
    let ready = false;
    const settle = (): void => {
      if (url !== undefined && ready) resolve({ child, url, stderr, exited });
    };
    createInterface({ input: child.stdout! }).once('line', (line) => {
      url = line;
      settle();
    });
    createInterface({ input: child.stderr! }).on('line', (line) => {
      stderr.push(line);
      if (line.startsWith('serving ')) {
        ready = true;
        settle();
      }
    });
    void exited.then(({ code }) => reject(new Error(`clap serve exited (${code}): ${stderr.join('\n')}`)));
  });
}

const tokenOf = (s: Served): string => /x-clap-token: ([0-9a-f]+)/.exec(s.stderr.join('\n'))![1];

function run(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [BIN, ...args], { env: ENV }, (error, out, err) =>
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, out, err }),
    );
  });
}

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
      assert.match(local.stderr.join('\n'), /library changes through the API need the header x-clap-token: [0-9a-f]{48}/);
      local.child.kill('SIGINT');
      const { code } = await local.exited;
      assert.equal(code, 0);
      assert.match(local.stderr.join('\n'), /^clap: interrupted: stopping/m);
    } finally {
      local.child.kill('SIGKILL');
    }

    const open = await serve('--db', db, '--host', '0.0.0.0');
    try {
      const url = new URL(open.url);
      const token = url.searchParams.get('token');
      assert.match(token ?? '', /^[0-9a-f]{48}$/);
      assert.match(open.stderr.join('\n'), /warning: listening on 0\.0\.0\.0: anyone who can reach this machine and has the token/);
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
