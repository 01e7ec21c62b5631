import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.js';

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

async function clap(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = capture();
  const err = capture();
  const code = await main(argv, { stdout: out.stream, stderr: err.stream });
  return { code, out: out.text(), err: err.text() };
}

test('clap --help lists commands and global options', async () => {
  const r = await clap('--help');
  assert.equal(r.code, 0);
  assert.match(r.out, /Usage: clap <command>/);
  assert.match(r.out, /--json/);
});

test('clap --version prints the package version', async () => {
  const r = await clap('--version');
  assert.equal(r.code, 0);
  assert.match(r.out, /^\d+\.\d+\.\d+\n$/);
});

test('an unknown command is a one-line usage error with exit code 2', async () => {
  const r = await clap('frobnicate', 'x');
  assert.equal(r.code, 2);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /^clap: unknown command 'frobnicate x'/);
});

test('clap convert writes safetensors with every tensor of the fixture checkpoint', async () => {
  const { mkdtempSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { fixturePath } = await import('../helpers/fixtures.js');
  const { loadWeights } = await import('../../src/weights/index.js');
  const out = join(mkdtempSync(join(tmpdir(), 'clap-convert-')), 'clap.safetensors');
  const r = await clap('convert', fixturePath('clap.pth'), out, '--json');
  assert.equal(r.code, 0, r.err);
  assert.equal(JSON.parse(r.out).tensors, 165);
  const [a, b] = await Promise.all([loadWeights(fixturePath('clap.pth')), loadWeights(out)]);
  for (const [k, t] of a)
    assert.deepEqual(
      Buffer.from(b.get(k)!.data.buffer, b.get(k)!.data.byteOffset, b.get(k)!.data.byteLength),
      Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength),
      k,
    );
});

test('clap convert on a missing file fails with one line naming it', async () => {
  const r = await clap('convert', '/nonexistent/x.pth', '/tmp/y.safetensors');
  assert.equal(r.code, 1);
  assert.equal(r.err.trim().split('\n').length, 1);
  assert.match(r.err, /\/nonexistent\/x\.pth/);
});

test('the CLI loads no queue or HTTP stack until a command needs it (each cost ~0.3 CPU-s per run of any command)', () => {
  const probe = [
    "import { createRequire } from 'node:module';",
    `await import(${JSON.stringify(new URL('../../src/cli/main.ts', import.meta.url).href)});`,
    'const cache = createRequire(import.meta.url).cache;',
    'console.log(JSON.stringify(Object.keys(cache).filter((k) => /node_modules[\\\\/](bullmq|ioredis|fastify)[\\\\/]/.test(k))));',
  ].join('\n');
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', probe], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split('\n').pop()!), []);
});
