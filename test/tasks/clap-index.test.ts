/** ClapIndex end to end on the tiny fixture model: incremental runs, deletion, model identity, search. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clap } from '../../src/tasks/clap.js';
import { ClapIndex } from '../../src/tasks/clap-index.js';
import { defaultWorkers } from '../../src/tasks/pipeline.js';
import { loadWeights } from '../../src/weights/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { tone, writeClips, writeWav } from '../store/audio-helpers.js';

let clapPromise: Promise<Clap> | undefined;
const model = (): Promise<Clap> =>
  (clapPromise ??= Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1 }));

function tmp(name: string): string {
  return mkdtempSync(join(tmpdir(), `clap-index-${name}-`));
}

test('index: incremental add, touch, change, sync with deletions and new files; unreadable and non-audio files skipped', async () => {
  const root = tmp('inc');
  const lib = join(root, 'lib');
  const db = join(lib, 'index.clapdb'); // inside the library: never walked into
  const clips = writeClips(lib, 5);
  writeFileSync(join(lib, 'readme.txt'), 'not audio');
  writeFileSync(join(lib, 'broken.wav'), 'RIFF garbage');
  symlinkSync(lib, join(lib, 'loop'));
  symlinkSync(join(lib, 'missing.wav'), join(lib, 'dangling.wav'));
  const clap = await model();
  const index = await ClapIndex.open(db, { clap, create: true });
  try {
    const skipped: string[] = [];
    const r1 = await index.add([lib], { decodeThreads: 1, batchSize: 2, onSkip: (s) => skipped.push(`${s.path}: ${s.reason}`) });
    assert.deepEqual([r1.added, r1.updated, r1.unchanged, r1.removed, r1.files, r1.ignored], [5, 0, 0, 0, 5, 1]);
    assert.equal(r1.skipped.length, 3, skipped.join('\n'));
    assert.match(skipped.join('\n'), /broken\.wav: /);
    assert.match(skipped.join('\n'), /dangling\.wav: broken symlink/);
    assert.match(skipped.join('\n'), /loop: symlink loop/);

    const r2 = await index.add([lib], { decodeThreads: 0 });
    assert.deepEqual([r2.added, r2.updated, r2.unchanged], [0, 0, 5]);

    // Same bytes, new mtime: recognised by hash, not re-embedded; new content: re-embedded.
    const before = new Map((await index.files()).map((f) => [f.path, f]));
    utimesSync(clips[0], new Date(), new Date(Date.now() + 5000));
    writeWav(clips[1], tone(2000, 2, 22050, 99), 22050);
    const r3 = await index.add([lib], { decodeThreads: 0 });
    assert.deepEqual([r3.added, r3.updated, r3.unchanged], [0, 1, 4]);
    const after = new Map((await index.files()).map((f) => [f.path, f]));
    assert.equal(after.get(clips[0])!.hash, before.get(clips[0])!.hash);
    assert.notEqual(after.get(clips[0])!.mtimeMs, before.get(clips[0])!.mtimeMs);
    assert.notEqual(after.get(clips[1])!.hash, before.get(clips[1])!.hash);
    assert.equal(after.get(clips[1])!.sampleRate, 22050);
    assert.ok(Math.abs(after.get(clips[1])!.duration - 2) < 1e-6);

    // sync: deleted files go, new ones come, in every folder added before.
    unlinkSync(clips[2]);
    unlinkSync(clips[3]);
    writeClips(join(lib, 'more'), 2, 'extra');
    const r4 = await index.sync({ decodeThreads: 0 });
    assert.deepEqual([r4.added, r4.updated, r4.removed, r4.files], [2, 0, 2, 5]);
    const paths = (await index.files()).map((f) => f.path).sort();
    assert.equal(new Set(paths).size, paths.length);
    assert.ok(!paths.includes(clips[2]) && !paths.includes(clips[3]));
    const st = await index.stats();
    assert.equal(st.files, 5);
    assert.equal(st.windows, 0);
    assert.ok(st.bytes > 0);

    // A run stopped before its walk is complete prunes nothing (a partial walk says nothing about what is gone).
    unlinkSync(clips[4]);
    const stopped = await index.sync({ decodeThreads: 0, signal: AbortSignal.abort() });
    assert.deepEqual([stopped.interrupted, stopped.removed, stopped.files], [true, 0, 5]);

    assert.equal(await index.remove([join(lib, 'more')]), 2);
    assert.equal((await index.stats()).files, 3);
  } finally {
    await index.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test('index: an index refuses another model or other audio options, and a missing index is named', async () => {
  const root = tmp('model');
  const db = join(root, 'db');
  writeClips(join(root, 'lib'), 1);
  const clap = await model();
  const index = await ClapIndex.open(db, { clap, create: true });
  await index.add([join(root, 'lib')], { decodeThreads: 0 });
  await index.close();
  try {
    // The same weights as an in-memory state dict are the same model.
    const weights = await loadWeights(fixturePath('clap.pth'));
    const same = await Clap.load({ weights, config: fixturePath('config.json') });
    await (await ClapIndex.open(db, { clap: same })).close();
    // One changed tensor is another model.
    const changed = new Map(weights);
    const [name, t] = [...changed.entries()].find(([k]) => k.includes('projection'))!;
    const data = (t.data as Float32Array).slice();
    data[0] += 0.5;
    changed.set(name, { ...t, data });
    const other = await Clap.load({ weights: changed, config: fixturePath('config.json') });
    await assert.rejects(ClapIndex.open(db, { clap: other }), /different model.*weights [0-9a-f]{12}…/);
    await assert.rejects(ClapIndex.open(db, { clap, audio: { sliding: { hopS: 7 } } }), /audio options \(channels mean, sliding/);
    await assert.rejects(ClapIndex.open(join(root, 'nothing')), /no index here/);
    // Without a model the index still opens for stats.
    const ro = await ClapIndex.open(db);
    assert.equal((await ro.stats()).files, 1);
    await assert.rejects(ro.search('x'), /needs the model/);
    await ro.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('index: search by text and by example, filters, sliding windows point to the matching time, captions', async () => {
  const root = tmp('search');
  const lib = join(root, 'lib');
  const sr = 44100;
  const a = tone(300, 7, sr, 1);
  const b = tone(3000, 7, sr, 2);
  const long = new Float32Array(a.length + b.length);
  long.set(a);
  long.set(b, a.length);
  writeWav(join(lib, 'long.wav'), long, sr);
  writeWav(join(lib, 'a.wav'), a, sr);
  writeWav(join(root, 'query-b.wav'), b, sr);
  writeClips(join(lib, 'clips'), 3);
  const clap = await model();
  const index = await ClapIndex.open(join(root, 'db'), { clap, create: true, audio: { sliding: { hopS: 7 } } });
  try {
    await index.add([lib], { decodeThreads: 1 });
    const st = await index.stats();
    assert.equal(st.files, 5);
    assert.equal(st.windows, 6);
    // The second window of long.wav holds exactly query-b's samples.
    const [top] = await index.search({ audio: join(root, 'query-b.wav') }, { top: 3 });
    assert.equal(top.path, join(lib, 'long.wav'));
    assert.deepEqual([top.start, top.end], [7, 14]);
    assert.ok(top.score > 0.9999, String(top.score));
    // By example: a.wav's own file is left out; long.wav's first window is identical to it.
    const like = await index.search({ audio: join(lib, 'a.wav') }, { top: 10 });
    assert.ok(!like.some((h) => h.path === join(lib, 'a.wav')));
    assert.equal(like[0].path, join(lib, 'long.wav'));
    assert.deepEqual([like[0].start, like[0].end], [0, 7]);
    // Text queries rank every file once, best first; filters narrow them.
    const text = await index.search('a high whistle', { top: 10 });
    assert.equal(text.length, 5);
    assert.equal(new Set(text.map((h) => h.path)).size, 5);
    for (let i = 1; i < text.length; i++) assert.ok(text[i - 1].score >= text[i].score);
    assert.deepEqual(
      (await index.search('x', { glob: 'clips/*' })).map((h) => h.path).sort(),
      [0, 1, 2].map((i) => join(lib, 'clips', `clip00${i}.wav`)),
    );
    assert.deepEqual(
      (await index.search('x', { minDuration: 10 })).map((h) => h.path),
      [join(lib, 'long.wav')],
    );
    assert.deepEqual((await index.search('x', { maxDuration: 1.5, top: 2 })).length, 2);
    const files = await index.search('x', { level: 'file', top: 10 });
    assert.equal(files.length, 5);
    assert.equal(files[0].start, undefined);
    // Captions: ranked by similarity to the sound's embedding, consistent with Clap.similarity.
    await assert.rejects(index.rankCaptions({ audio: join(lib, 'a.wav') }), /no captions/);
    const captions = ['a low hum', 'a high whistle', 'rain on a roof'];
    await index.addCaptions(captions);
    const ranked = await index.rankCaptions({ audio: join(lib, 'a.wav') }, { top: 3 });
    const [emb] = await clap.embedAudio([join(lib, 'a.wav')], { sliding: { hopS: 7 } });
    const sims = clap.similarity([emb.embedding], await clap.embedText(captions))[0].map((s) => s / clap.logitScale);
    const want = captions.map((c, i) => ({ c, s: sims[i] })).sort((x, y) => y.s - x.s);
    assert.deepEqual(
      ranked.map((r) => r.text),
      want.map((w) => w.c),
    );
    ranked.forEach((r, i) => assert.ok(Math.abs(r.score - want[i].s) < 1e-4));
  } finally {
    await index.close();
    rmSync(root, { recursive: true, force: true });
  }
});

test.after(async () => {
  if (clapPromise) await (await clapPromise).release();
});

test("index: decodes in the model's warm frontend workers and runs the encoder at the model's batch (the commit's when smaller)", async () => {
  const root = tmp('warm');
  const lib = join(root, 'lib');
  writeClips(lib, 6);
  const clap = await model();
  const index = await ClapIndex.open(join(root, 'db'), { clap, create: true });
  const pool = clap.frontendPool(1);
  const runs: number[] = [];
  const embed = clap.embedLogMels.bind(clap);
  clap.embedLogMels = (logmels, batchSize, isLonger) => {
    runs.push(batchSize ?? -1);
    return embed(logmels, batchSize, isLonger);
  };
  try {
    const r = await index.add([lib], { decodeThreads: 1, batchSize: 6 });
    assert.equal(r.added, 6);
    assert.equal(clap.frontendPool(1), pool, 'the same workers, not a pool per run');
    assert.deepEqual(runs, [await clap.audioBatch()]);
    runs.length = 0;
    writeClips(join(root, 'more'), 3, 'extra');
    await index.add([join(root, 'more')], { decodeThreads: 1, batchSize: 2 });
    assert.deepEqual(runs, [2, 2]);
    const sizes: number[] = [];
    const poolOf = clap.frontendPool.bind(clap);
    clap.frontendPool = (n) => {
      sizes.push(n);
      return poolOf(n);
    };
    writeClips(join(root, 'third'), 2, 'third');
    await index.add([join(root, 'third')]);
    assert.deepEqual(sizes, [defaultWorkers()], "embedAudio's default worker count");
  } finally {
    delete (clap as { embedLogMels?: unknown }).embedLogMels;
    delete (clap as { frontendPool?: unknown }).frontendPool;
    await index.close();
    rmSync(root, { recursive: true, force: true });
  }
});
