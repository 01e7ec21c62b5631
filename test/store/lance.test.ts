/** The LanceDB store on constructed vectors: atomic replace/remove, exact search, filters, windows, captions, ANN. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { annTuning, LanceStore } from '../../src/store/lance.js';
import type { FileRecord } from '../../src/store/store.js';
import { cosine } from '../helpers/compare.js';

const D = 16;

/** A unit vector along axis `i`, tilted towards axis `j` by `t`. */
function vec(i: number, j = i, t = 0): Float32Array {
  const v = new Float32Array(D);
  v[i] += 1;
  v[j] += t;
  return v;
}

function rec(path: string, embedding: Float32Array, extra: Partial<FileRecord> = {}): FileRecord {
  return { path, hash: `h-${path}`, size: 100, mtimeMs: 1, duration: 5, sampleRate: 44100, channels: 1, model: 'm1', embedding, ...extra };
}

async function withStore(fn: (store: LanceStore, dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'clap-store-'));
  const store = await LanceStore.open(dir, { dim: D });
  try {
    await fn(store, dir);
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

test('store: exact search ranks by cosine similarity, with path-glob, duration and exclusion filters', async () => {
  await withStore(async (store) => {
    // Files along axis 0 at growing angles, plus unrelated ones.
    const files = [
      rec('/lib/a/near.wav', vec(0, 1, 0.1), { duration: 3 }),
      rec('/lib/a/mid.flac', vec(0, 1, 0.5), { duration: 8 }),
      rec('/lib/b/far.wav', vec(0, 1, 2), { duration: 12 }),
      rec('/lib/b/other.wav', vec(5), { duration: 1 }),
      rec("/lib/b/it's.wav", vec(6, 0, 0.3), { duration: 2 }),
    ];
    await store.commit(files);
    const q = vec(0);
    const hits = await store.search({ vector: q, top: 3, level: 'file' });
    assert.deepEqual(
      hits.map((h) => h.path),
      ['/lib/a/near.wav', '/lib/a/mid.flac', '/lib/b/far.wav'],
    );
    for (const h of hits) assert.ok(Math.abs(h.score - cosine(q, files.find((f) => f.path === h.path)!.embedding)) < 1e-5);
    assert.equal(hits[0].start, undefined);

    assert.deepEqual((await store.search({ vector: q, top: 5, level: 'file', filter: { glob: '*.wav' } })).map((h) => h.path).slice(0, 2), [
      '/lib/a/near.wav',
      '/lib/b/far.wav',
    ]);
    assert.deepEqual((await store.search({ vector: q, top: 5, level: 'file', filter: { glob: 'b/*' } })).map((h) => h.path).sort(), [
      '/lib/b/far.wav',
      "/lib/b/it's.wav",
      '/lib/b/other.wav',
    ]);
    assert.deepEqual(
      (await store.search({ vector: q, top: 5, level: 'file', filter: { minDuration: 4, maxDuration: 10 } })).map((h) => h.path),
      ['/lib/a/mid.flac'],
    );
    assert.deepEqual(
      (await store.search({ vector: q, top: 2, level: 'file', filter: { excludePaths: ['/lib/a/near.wav', "/lib/b/it's.wav"] } })).map(
        (h) => h.path,
      ),
      ['/lib/a/mid.flac', '/lib/b/far.wav'],
    );
    assert.equal((await store.search({ vector: q, top: 3, level: 'file', mode: 'exact' })).length, 3);
    await assert.rejects(store.search({ vector: q, top: 3, level: 'file', mode: 'ann' }), /no ANN vector index/);
    await assert.rejects(store.search({ vector: new Float32Array(3), top: 3, level: 'file' }), /width 3/);
  });
});

test("store: commit replaces a file's rows atomically (no stale windows, no duplicates) and removes", async () => {
  await withStore(async (store) => {
    const win = (n: number, axis: number) =>
      Array.from({ length: n }, (_, i) => ({ start: i * 7, end: i * 7 + 7, embedding: vec(axis, (axis + i + 1) % D, 0.2 * i) }));
    await store.commit([rec('/x/long.wav', vec(1), { windows: win(3, 1) }), rec('/x/short.wav', vec(2), { windows: win(1, 2) })]);
    assert.deepEqual(await store.counts(), { files: 2, windows: 4, captions: 0 });
    // Re-put long.wav with two windows and a new hash: the third window must go.
    await store.commit([rec('/x/long.wav', vec(3), { hash: 'new', windows: win(2, 3) })]);
    assert.deepEqual(await store.counts(), { files: 2, windows: 3, captions: 0 });
    const [got] = await store.getFiles(['/x/long.wav']);
    assert.equal(got.hash, 'new');
    assert.equal(got.windows?.length, 2);
    assert.deepEqual(Array.from(got.embedding), Array.from(vec(3)));
    assert.deepEqual(
      got.windows!.map((w) => w.start),
      [0, 7],
    );
    // Window-level search reports the best window per file, with its times.
    const hits = await store.search({ vector: vec(3, 5, 0.2), top: 5, level: 'window' });
    assert.deepEqual(
      hits.map((h) => h.path),
      ['/x/long.wav', '/x/short.wav'],
    );
    assert.equal(hits[0].start, 7);
    assert.equal(hits[0].end, 14);
    // Re-put with as many windows: each replaced in place, none doubled.
    await store.commit([rec('/x/long.wav', vec(5), { hash: 'same-length', windows: win(2, 5) })]);
    assert.deepEqual(await store.counts(), { files: 2, windows: 3, captions: 0 });
    const [again] = await store.getFiles(['/x/long.wav']);
    assert.deepEqual(
      again.windows!.map((w) => Array.from(w.embedding)),
      win(2, 5).map((w) => Array.from(w.embedding)),
    );
    // File-level rows replaced (no windows before or after): one row each, the new vector.
    await store.commit([rec('/x/short.wav', vec(6), { hash: 'v2' })]);
    assert.deepEqual(await store.counts(), { files: 2, windows: 2, captions: 0 });
    await store.commit([rec('/x/short.wav', vec(7), { hash: 'v3' })]);
    assert.deepEqual(await store.counts(), { files: 2, windows: 2, captions: 0 });
    const [short] = await store.getFiles(['/x/short.wav']);
    assert.deepEqual([short.hash, Array.from(short.embedding), short.windows], ['v3', Array.from(vec(7)), undefined]);
    // Remove in the same commit as a put, then alone.
    await store.commit([rec('/x/new.wav', vec(4))], ['/x/short.wav']);
    assert.deepEqual((await store.listFiles()).map((f) => f.path).sort(), ['/x/long.wav', '/x/new.wav']);
    await store.commit([], ['/x/long.wav']);
    assert.deepEqual(await store.counts(), { files: 1, windows: 0, captions: 0 });
  });
});

test('store: captions are added, replaced by text, and ranked', async () => {
  await withStore(async (store) => {
    await store.putCaptions(['dog', 'cat', 'rain'], [vec(0), vec(1), vec(2)]);
    await store.putCaptions(['cat', 'wind'], [vec(3), vec(4)]);
    assert.equal((await store.counts()).captions, 4);
    assert.deepEqual(
      (await store.searchCaptions(vec(3, 0, 0.1), 2)).map((h) => h.text),
      ['cat', 'dog'],
    );
    await store.putCaptions(['sea'], [vec(5)], true);
    assert.deepEqual(
      (await store.searchCaptions(vec(5), 5)).map((h) => h.text),
      ['sea'],
    );
  });
});

test('store: the IVF-PQ index is built from the threshold, used by default, bypassed by exact mode', async () => {
  await withStore(async (store) => {
    let s = 42;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    const recs = Array.from({ length: 600 }, (_, i) => rec(`/r/${i}.wav`, Float32Array.from({ length: D }, rnd)));
    await store.commit(recs);
    assert.equal(await store.maintain({ annThreshold: 1000 }), null);
    const info = await store.maintain({ annThreshold: 500 });
    assert.ok(info && /ivf_?pq/i.test(info.kind), JSON.stringify(info));
    const q = recs[17].embedding;
    const exact = await store.search({ vector: q, top: 10, level: 'file', mode: 'exact' });
    assert.equal(exact[0].path, '/r/17.wav');
    const want = recs
      .map((r) => ({ path: r.path, score: cosine(q, r.embedding) }))
      .sort((a, b) => b.score - a.score)
      .slice(0, 10);
    assert.deepEqual(
      exact.map((h) => h.path),
      want.map((w) => w.path),
    );
    const ann = await store.search({ vector: q, top: 10, level: 'file', mode: 'ann', nprobes: 20, refineFactor: 10 });
    assert.equal(ann.length, 10);
    assert.equal(ann[0].path, '/r/17.wav');
    // New rows are searched before the index covers them.
    await store.commit([rec('/r/new.wav', q)]);
    assert.ok((await store.search({ vector: q, top: 2, level: 'file' })).some((h) => h.path === '/r/new.wav'));
  });
});

test('store: the vector index follows the table: new rows folded in, retrained with more partitions once it has grown 4x', async () => {
  await withStore(async (store, dir) => {
    let s = 3;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    const batch = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) => rec(`/g/${from + i}.wav`, Float32Array.from({ length: D }, rnd)));
    const built = (): { rows: number; partitions: number; nprobes: number } => JSON.parse(readFileSync(join(dir, 'ann.json'), 'utf8'));
    await store.commit(batch(300, 0));
    await store.maintain({ annThreshold: 256 });
    assert.deepEqual(built(), { kind: 'ivf-pq', rows: 300, ...annTuning(300, D) });
    // Below 4x: the same index, with the new rows folded in by compaction.
    await store.commit(batch(800, 300));
    const info = await store.maintain({ annThreshold: 256 });
    assert.equal(built().rows, 300);
    assert.equal(info?.unindexed, 0);
    // At 4x the rows it was trained on: retrained for the size.
    await store.commit(batch(100, 1100));
    await store.maintain({ annThreshold: 256 });
    assert.deepEqual(built(), { kind: 'ivf-pq', rows: 1200, ...annTuning(1200, D) });
    assert.ok(annTuning(1_000_000, 1024).partitions === 250 && annTuning(5_000_000, 1024).nprobes === 45);
  });
});

test('store: HNSW on request; an explicit index waits for enough vectors', async () => {
  await withStore(async (store) => {
    let s = 7;
    const rnd = (): number => {
      s = (s * 1103515245 + 12345) % 2147483648;
      return s / 2147483648 - 0.5;
    };
    await store.commit(Array.from({ length: 100 }, (_, i) => rec(`/h/${i}.wav`, Float32Array.from({ length: D }, rnd))));
    assert.equal(await store.maintain({ ann: 'hnsw' }), null);
    await store.commit(Array.from({ length: 300 }, (_, i) => rec(`/h/more${i}.wav`, Float32Array.from({ length: D }, rnd))));
    const info = await store.maintain({ ann: 'hnsw' });
    assert.ok(info && /hnsw/i.test(info.kind), JSON.stringify(info));
    const q = Float32Array.from({ length: D }, rnd);
    const exact = await store.search({ vector: q, top: 5, level: 'file', mode: 'exact' });
    const ann = await store.search({ vector: q, top: 5, level: 'file', mode: 'ann' });
    assert.equal(ann.length, 5);
    assert.equal(ann[0].path, exact[0].path);
  });
});
