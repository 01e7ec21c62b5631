import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Graph, ops, Session } from '../../src/engine/index.js';
import { fileFingerprint, lookupModel, resolveCacheDir } from '../../src/engine/cache.js';

const root = mkdtempSync(join(tmpdir(), 'clap-cache-'));
after(() => rmSync(root, { recursive: true, force: true }));

function graph(scale: number): Graph {
  const g = new Graph('cache_test');
  const x = g.input('x', 'float32', ['N', 64]);
  const w = new Float32Array(64 * 64).map((_, i) => ((i % 7) - 3) * scale);
  g.output('y', ops.matmul(x, g.param('w', { dtype: 'float32', shape: [64, 64], data: w })));
  return g;
}
const feed = { x: { dtype: 'float32' as const, shape: [2, 64], data: new Float32Array(128).map((_, i) => i / 128) } };

test('a cached model is built once, reloaded from disk, and gives the same outputs', async () => {
  const dir = join(root, 'a');
  let builds = 0;
  const build = (): Graph => {
    builds++;
    return graph(0.1);
  };
  const s1 = await Session.cached('k1', build, { cacheDir: dir, threads: 1 });
  const y1 = (await s1.run(feed)).y.data;
  await s1.release();
  assert.ok(lookupModel(dir, 'k1'), 'stored');
  const s2 = await Session.cached('k1', build, { cacheDir: dir, threads: 1 });
  assert.deepEqual((await s2.run(feed)).y.data, y1);
  await s2.release();
  assert.equal(builds, 1);
  assert.deepEqual(
    readdirSync(dir).filter((f) => /tmp|raw|opt-/.test(f)),
    [],
    'no temp files left',
  );
});

test('a damaged cache file (truncated, or garbage of the same size) is rebuilt, not trusted', async () => {
  const dir = join(root, 'b');
  let builds = 0;
  const build = (): Graph => {
    builds++;
    return graph(0.2);
  };
  const ref = await Session.cached('k', build, { cacheDir: dir, threads: 1 });
  const y = (await ref.run(feed)).y.data;
  await ref.release();
  const file = join(dir, 'k.onnx');
  truncateSync(file, 100);
  const s2 = await Session.cached('k', build, { cacheDir: dir, threads: 1 });
  assert.deepEqual((await s2.run(feed)).y.data, y);
  await s2.release();
  assert.equal(builds, 2);
  writeFileSync(file, Buffer.alloc(statSync(file).size, 0x41));
  const s3 = await Session.cached('k', build, { cacheDir: dir, threads: 1 });
  assert.deepEqual((await s3.run(feed)).y.data, y);
  await s3.release();
  assert.equal(builds, 3);
});

test('concurrent writers of one key all succeed and leave one valid file', async () => {
  const dir = join(root, 'c');
  const sessions = await Promise.all([0, 1, 2].map(() => Session.cached('same', () => graph(0.3), { cacheDir: dir, threads: 1 })));
  const outs = await Promise.all(sessions.map(async (s) => (await s.run(feed)).y.data));
  for (const o of outs) assert.deepEqual(o, outs[0]);
  await Promise.all(sessions.map((s) => s.release()));
  assert.ok(lookupModel(dir, 'same'));
  assert.deepEqual(readdirSync(dir).sort(), ['same.onnx', 'same.onnx.json']);
});

test('cache directory: option, CLAP_CACHE_DIR, XDG_CACHE_HOME, off', () => {
  const saved = { c: process.env.CLAP_CACHE_DIR, x: process.env.XDG_CACHE_HOME };
  try {
    delete process.env.CLAP_CACHE_DIR;
    process.env.XDG_CACHE_HOME = '/xdg';
    assert.equal(resolveCacheDir(), join('/xdg', 'clap-ts'));
    process.env.CLAP_CACHE_DIR = '/explicit';
    assert.equal(resolveCacheDir(), '/explicit');
    assert.equal(resolveCacheDir('/opt'), '/opt');
    assert.equal(resolveCacheDir(false), undefined);
    process.env.CLAP_CACHE_DIR = 'off';
    assert.equal(resolveCacheDir(), undefined);
  } finally {
    if (saved.c === undefined) delete process.env.CLAP_CACHE_DIR;
    else process.env.CLAP_CACHE_DIR = saved.c;
    if (saved.x === undefined) delete process.env.XDG_CACHE_HOME;
    else process.env.XDG_CACHE_HOME = saved.x;
  }
});

test('file fingerprints change with content and are cheap for big files', () => {
  const f = join(root, 'w.bin');
  writeFileSync(f, Buffer.alloc(5 << 20, 1));
  const a = fileFingerprint(f);
  const buf = Buffer.alloc(5 << 20, 1);
  buf[0] = 2;
  writeFileSync(f, buf);
  assert.notEqual(fileFingerprint(f), a);
  assert.ok(existsSync(f));
});

test('without a cache directory, Session.cached compiles directly', async () => {
  const s = await Session.cached('x', () => graph(0.4), { cacheDir: false, threads: 1 });
  assert.equal((await s.run(feed)).y.shape[0], 2);
  await s.release();
});
