import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Clap, applyTemplate, isInputError, scoreLabels } from '../../src/tasks/clap.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { cosine, relativeError } from '../helpers/compare.js';
import { readNpy } from '../helpers/npy.js';

const manifest = JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8')) as {
  audio: { name: string; crop_offset?: number }[];
  audio_batch: { order: string[]; crop_offsets: Record<string, number> };
};
const texts = JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')) as {
  texts: string[];
  zero_shot_prompt: string;
  zero_shot_classes: string[];
};

let clapPromise: Promise<Clap> | undefined;
const clap = (): Promise<Clap> =>
  (clapPromise ??= Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1 }));
after(async () => {
  if (clapPromise) await (await clapPromise).release();
});

test('embedAudio reproduces msclap get_audio_embeddings for every fixture file (file → embedding)', async () => {
  const c = await clap();
  for (const a of manifest.audio) {
    const [e] = await c.embedAudio([fixturePath('inputs', 'audio', `${a.name}.wav`)], { channels: 'reference', cropOffset: a.crop_offset });
    const want = fixtureF32('expected', 'audio', a.name, 'audio_embed.npy');
    const r = relativeError(e.embedding, want);
    assert.ok(r <= 1e-4, `${a.name}: rel err ${r}`);
    assert.ok(cosine(e.embedding, want) >= 0.99999, `${a.name}: cosine`);
  }
});

test('embedText reproduces msclap get_text_embeddings for every fixture text, quirks included', async () => {
  const c = await clap();
  const got = await c.embedText(texts.texts);
  const want = readNpy(fixturePath('expected', 'text', 'text_embed.npy'));
  const d = want.shape[1];
  got.forEach((e, i) => {
    const w = (want.data as Float32Array).subarray(i * d, (i + 1) * d);
    assert.ok(relativeError(e, w) <= 1e-4, `text ${i} (${JSON.stringify(texts.texts[i])}): rel err ${relativeError(e, w)}`);
  });
});

test('zero-shot probabilities match examples/zero_shot_classification.py', async () => {
  const c = await clap();
  const order = manifest.audio_batch.order;
  const audio = [];
  for (const name of order) {
    const [e] = await c.embedAudio([fixturePath('inputs', 'audio', `${name}.wav`)], {
      channels: 'reference',
      cropOffset: manifest.audio_batch.crop_offsets[name],
    });
    audio.push(e.embedding);
  }
  const labels = texts.zero_shot_classes;
  const text = await c.embedText(labels.map((l) => applyTemplate(texts.zero_shot_prompt, l)));
  const probs = scoreLabels(c.similarity(audio, text), labels, false);
  const want = readNpy(fixturePath('expected', 'zeroshot_probs.npy'));
  probs.forEach((p, i) => {
    const row = labels.map((l) => p[l]);
    const w = Array.from((want.data as Float32Array).subarray(i * labels.length, (i + 1) * labels.length));
    assert.ok(relativeError(row, w) <= 1e-4, `${order[i]}: ${row} vs ${w}`);
  });
});

test('classify: labels are validated with clear errors', async () => {
  const c = await clap();
  const file = fixturePath('inputs', 'audio', 'vowel_16k.wav');
  await assert.rejects(c.classify([file], []), /no labels/);
  await assert.rejects(c.classify([file], ['dog', 'dog']), /given twice/);
  const [r] = await c.classify([file], ['dog', 'cat', 'rain'], { multiLabel: true });
  assert.deepEqual(Object.keys(r.scores), ['dog', 'cat', 'rain']);
  for (const v of Object.values(r.scores)) assert.ok(v > 0 && v < 1);
});

test('applyTemplate replaces {} or appends the label', () => {
  assert.equal(applyTemplate('this is the sound of ', 'dog'), 'this is the sound of dog');
  assert.equal(applyTemplate('a {} in the distance', 'dog'), 'a dog in the distance');
});

test('weightsHash: the tensors’ identity, remembered per weights file version in the model cache', async () => {
  const { mkdtempSync, readdirSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { hashStateDict, loadWeights } = await import('../../src/weights/index.js');
  const cacheDir = mkdtempSync(join(tmpdir(), 'clap-whash-'));
  const opts = { weights: fixturePath('clap.pth'), config: fixturePath('config.json'), cacheDir };
  const first = await Clap.load(opts);
  const want = hashStateDict(await loadWeights(fixturePath('clap.pth')));
  assert.equal(await first.weightsHash(), want);
  // A second model on the same file reads the remembered value instead of hashing again.
  const record = readdirSync(cacheDir).find((f) => f.endsWith('.weights.json'))!;
  writeFileSync(join(cacheDir, record), JSON.stringify({ hash: 'remembered' }));
  const second = await Clap.load(opts);
  assert.equal(await second.weightsHash(), 'remembered');
  await Promise.all([first.release(), second.release()]);
});

test('embedAudio reports progress once per input, counting up to the total', async () => {
  const c = await clap();
  const files = ['vowel_16k', 'speech_22k', 'tone_noise_short_44k'].map((n) => fixturePath('inputs', 'audio', `${n}.wav`));
  const seen: [number, number][] = [];
  await c.embedAudio(files, { batchSize: 2, onProgress: (done, total) => seen.push([done, total]) });
  assert.deepEqual(seen, [
    [1, 3],
    [2, 3],
    [3, 3],
  ]);
});

test("errors: 'return' gives every good input's result and { input, error } in place of a bad one; 'throw' names the file", async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const c = await clap();
  const bad = join(mkdtempSync(join(tmpdir(), 'clap-bad-')), 'broken.wav');
  writeFileSync(bad, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt garbage'));
  const good = ['vowel_16k', 'speech_22k'].map((n) => fixturePath('inputs', 'audio', `${n}.wav`));
  const want = await c.embedAudio(good);
  for (const workers of [0, 2]) {
    await assert.rejects(c.embedAudio([good[0], bad, good[1]], { workers }), (e: Error) => e.message.startsWith(`${bad}: `));
    const mixed = await c.embedAudio([good[0], bad, good[1]], { workers, errors: 'return' });
    assert.deepEqual(
      mixed.map((r) => (isInputError(r) ? `error ${r.input}` : r.input)),
      [good[0], `error ${bad}`, good[1]],
    );
    assert.deepEqual(mixed[0], want[0]);
    assert.deepEqual(mixed[2], want[1]);
    const classified = await c.classify([bad, good[0]], ['dog', 'rain'], { workers, errors: 'return' });
    assert.ok(isInputError(classified[0]) && classified[0].input === bad && classified[0].error.length > 0);
    assert.ok(!isInputError(classified[1]) && Math.abs(classified[1].scores.dog + classified[1].scores.rain - 1) < 1e-9);
  }
  await assert.rejects(c.embedAudio(good, { errors: 'ignore' as 'throw' }), /errors must be 'throw' or 'return'/);
});

test('an unusable cache directory only costs speed: the model loads, embeds and caches nothing', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const notADir = join(mkdtempSync(join(tmpdir(), 'clap-nocache-')), 'file');
  writeFileSync(notADir, 'not a directory');
  const c = await Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir: notADir });
  try {
    const ref = await clap();
    const file = fixturePath('inputs', 'audio', 'vowel_16k.wav');
    assert.deepEqual(await c.embedAudio([file]), await ref.embedAudio([file]));
    assert.deepEqual(await c.embedText(['a dog']), await ref.embedText(['a dog']));
  } finally {
    await c.release();
  }
});

test("precision 'int8' stays within cosine 0.999 of msclap's embeddings on this CPU's integer kernels", async () => {
  // Measured 0.99976 (audio) / 0.999995 (text), identical on AVX-512/AMX and AVX2 (engine/quant.ts):
  // before the per-CPU weight encoding, AVX2's saturating kernels gave ~0.97.
  const q = await Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), precision: 'int8', cacheDir: false });
  try {
    for (const a of manifest.audio) {
      const [e] = await q.embedAudio([fixturePath('inputs', 'audio', `${a.name}.wav`)], {
        channels: 'reference',
        cropOffset: a.crop_offset,
      });
      const c = cosine(e.embedding, fixtureF32('expected', 'audio', a.name, 'audio_embed.npy'));
      assert.ok(c >= 0.999, `${a.name}: int8 audio cosine ${c}`);
    }
    const t = await q.embedText(texts.texts);
    const want = readNpy(fixturePath('expected', 'text', 'text_embed.npy'));
    const d = want.shape[1];
    t.forEach((v, i) => {
      const c = cosine(v, (want.data as Float32Array).subarray(i * d, (i + 1) * d));
      assert.ok(c >= 0.999, `text ${i}: int8 cosine ${c}`);
    });
  } finally {
    await q.release();
  }
});
