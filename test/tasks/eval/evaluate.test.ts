/**
 * Zero-shot evaluation with the tiny fixture model (compiled once): scoring per §2.3 cross-checked
 * against the library API, prompt ensembles, the embedding cache, retrieval, captions, reports,
 * and the HEAR API.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { Clap } from '../../../src/tasks/clap.js';
import { encodeWav, MODEL_SAMPLE_RATE, WINDOW_SAMPLES } from '../../../src/audio/index.js';
import {
  bidirectionalRetrieval,
  CacheShard,
  EmbeddingCache,
  evaluateCaptions,
  evaluateDataset,
  HearModel,
  loadDataset,
  loadManifest,
  meanAveragePrecision,
  modelKey,
  oneHot,
  renderMarkdown,
  reportJson,
  writeReport,
} from '../../../src/tasks/eval/index.js';
import { fixturePath } from '../../helpers/fixtures.js';
import * as L from './layouts.js';

let clapPromise: Promise<Clap> | undefined;
const model = (): Promise<Clap> =>
  (clapPromise ??= Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1 }));
after(async () => {
  if (clapPromise) await (await clapPromise).release();
});

const close = (a: number, b: number, tol: number, msg = ''): void => assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);
const normalized = (v: ArrayLike<number>): number[] => {
  const n = Math.hypot(...Array.from(v));
  return Array.from(v, (x) => x / n);
};

test('multi-class: softmax over the classes, the same probabilities as Clap.classify; accuracy and confusion agree', async () => {
  const clap = await model();
  const data = loadDataset('esc50', L.makeEsc50());
  const r = await evaluateDataset(clap, data);
  assert.equal(r.task, 'esc50');
  assert.equal(r.n, 6);
  assert.equal(r.classes, 3);
  const ref = await clap.classify(
    data.items.map((i) => i.path),
    data.classification!.prompts,
  );
  let hits = 0;
  ref.forEach((c, i) => {
    const best = Object.entries(c.scores).sort((a, b) => b[1] - a[1])[0];
    const p = r.details.predictions![i];
    assert.equal(p.predicted, data.classification!.classes[data.classification!.prompts.indexOf(best[0])]);
    close(p.probability, best[1], 1e-9, p.id);
    if (p.truth[0] === p.predicted) hits++;
  });
  assert.equal(r.metrics.accuracy, hits / 6);
  const conf = r.details.confusion!;
  assert.equal(
    conf.flat().reduce((a, b) => a + b, 0),
    6,
  );
  assert.equal(
    conf.reduce((s, row, i) => s + row[i], 0),
    hits,
  );
  assert.ok(r.metrics.mAP >= 0 && r.metrics.mAP <= 1);
});

test('prompt ensemble: a class is the mean of its normalised template embeddings', async () => {
  const clap = await model();
  const data = loadDataset('esc50', L.makeEsc50(), { fold: 1 });
  const templates = ['this is the sound of {}', 'a recording of a {}'];
  const r = await evaluateDataset(clap, data, { templates });
  assert.deepEqual(r.details.templates, templates);
  const [a] = await clap.embedAudio([data.items[0].path]);
  const cls = await Promise.all(
    data.classification!.prompts.map(async (p) => {
      const [e1, e2] = await clap.embedText([`this is the sound of ${p}`, `a recording of a ${p}`]);
      return Float32Array.from(normalized(e1), (x, i) => (x + normalized(e2)[i]) / 2);
    }),
  );
  const sim = clap.similarity([a.embedding], cls)[0];
  const m = Math.max(...sim);
  const z = sim.reduce((s, v) => s + Math.exp(v - m), 0);
  const probs = sim.map((v) => Math.exp(v - m) / z);
  const best = probs.indexOf(Math.max(...probs));
  assert.equal(r.details.predictions![0].predicted, data.classification!.classes[best]);
  close(r.details.predictions![0].probability, probs[best], 1e-6);
});

test('embedding cache: a re-run embeds nothing, new prompts reuse the audio, changed files and options miss', async () => {
  const clap = await model();
  const root = L.makeEsc50();
  const data = loadDataset('esc50', root);
  const cache = new EmbeddingCache(join(root, 'cache'));
  const first = await evaluateDataset(clap, data, { cache });
  assert.deepEqual(first.details.cache && [first.details.cache.audioHits, first.details.cache.audioMisses], [0, 6]);
  const second = await evaluateDataset(clap, data, { cache: new EmbeddingCache(join(root, 'cache')) });
  assert.deepEqual(
    second.details.cache && [second.details.cache.audioHits, second.details.cache.audioMisses, second.details.cache.textMisses],
    [6, 0, 0],
  );
  assert.deepEqual(second.metrics, first.metrics);
  assert.deepEqual(second.details.predictions, first.details.predictions);
  const other = await evaluateDataset(clap, data, { cache: new EmbeddingCache(join(root, 'cache')), templates: ['{} noise'] });
  assert.deepEqual(other.details.cache && [other.details.cache.audioHits, other.details.cache.textMisses], [6, 3]);
  // new content → a miss for that file only; other audio options → another shard
  L.writeWav(data.items[0].path);
  const changed = await evaluateDataset(clap, data, { cache: new EmbeddingCache(join(root, 'cache')) });
  assert.deepEqual(changed.details.cache && [changed.details.cache.audioHits, changed.details.cache.audioMisses], [5, 1]);
  const sliding = await evaluateDataset(clap, data, { cache: new EmbeddingCache(join(root, 'cache')), audio: { sliding: true } });
  assert.equal(sliding.details.cache!.audioMisses, 6);
  // random crops without a seed are not reproducible: not cached
  const random = await evaluateDataset(clap, data, { cache: new EmbeddingCache(join(root, 'cache')), audio: { crop: 'random' } });
  assert.equal(random.details.cache!.audioHits + random.details.cache!.audioMisses, 0);
  // a torn record at the end of a shard (an interrupted run) is dropped on load
  const modelDir = join(root, 'cache', readdirSync(join(root, 'cache'))[0]);
  const shardFile = join(modelDir, readdirSync(modelDir).find((f) => f.startsWith('audio-'))!);
  const size = statSync(shardFile).size;
  appendFileSync(shardFile, Buffer.alloc(40, 7));
  const reopened = new CacheShard(shardFile, clap.config.dProj);
  assert.equal(reopened.size, 7);
  assert.equal(statSync(shardFile).size, size);
});

test('model identity: the weights (a file and the same tensors in memory agree) and the config', async () => {
  const clap = await model();
  const a = await modelKey(clap);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(await modelKey(clap), a);
  const { loadWeights } = await import('../../../src/weights/index.js');
  const dict = await loadWeights(fixturePath('clap.pth'));
  const m1 = await Clap.load({ weights: dict, config: fixturePath('config.json') });
  const m2 = await Clap.load({ weights: dict, config: fixturePath('config.json') });
  const k1 = await modelKey(m1);
  assert.equal(k1, a);
  assert.equal(await modelKey(m2), k1);
  const other = new Map(dict);
  const [name, t] = [...other.entries()].find(([, v]) => v.dtype === 'float32' && v.data.length > 1)!;
  const data = (t.data as Float32Array).slice();
  data[0] += 1;
  other.set(name, { ...t, data });
  assert.notEqual(await modelKey(await Clap.load({ weights: other, config: fixturePath('config.json') })), k1);
});

test('multi-label: sigmoid per class, macro mAP and DCASE F1 recomputed from the similarities', async () => {
  const clap = await model();
  const data = loadDataset('fsd50k', L.makeFsd50k());
  const r = await evaluateDataset(clap, data, { threshold: 0.5 });
  assert.deepEqual(Object.keys(r.metrics), ['mAP', 'f1', 'precision', 'recall']);
  const audio = (await clap.embedAudio(data.items.map((i) => i.path))).map((a) => a.embedding);
  const text = await clap.embedText(data.classification!.prompts.map((p) => `this is the sound of ${p}`));
  const probs = clap.similarity(audio, text).map((row) => row.map((s) => 1 / (1 + Math.exp(-s))));
  const truth = oneHot(
    data.items.map((i) => i.labels),
    4,
  );
  close(r.metrics.mAP, meanAveragePrecision(truth, probs).mAP, 1e-9);
  let tp = 0,
    fp = 0,
    fn = 0;
  probs.forEach((row, i) =>
    row.forEach((p, c) => {
      const d = p > 0.5,
        t = truth[i][c] === 1;
      if (d && t) tp++;
      else if (d) fp++;
      else if (t) fn++;
    }),
  );
  close(r.metrics.f1, tp ? (2 * tp) / (2 * tp + fp + fn) : 0, 1e-12);
  assert.equal(r.details.threshold, 0.5);
  assert.equal(r.details.confusion, undefined);
});

test('retrieval: raw similarities of clips and captions, both directions (Clotho layout)', async () => {
  const clap = await model();
  const data = loadDataset('clotho', L.makeClotho());
  const r = await evaluateDataset(clap, data);
  assert.equal(r.classes, 0);
  assert.equal(r.details.retrieval!.texts, 15);
  const audio = (await clap.embedAudio(data.items.map((i) => i.path))).map((a) => a.embedding);
  const texts = data.items.flatMap((i) => i.captions!);
  const sim = clap.similarity(audio, await clap.embedText(texts));
  const want = bidirectionalRetrieval(
    sim,
    data.items.flatMap((it, a) => it.captions!.map(() => a)),
  );
  for (const k of ['R@1', 'R@5', 'R@10', 'mAP@10'] as const) {
    close(r.metrics[`a2t_${k}`], want.audioToText[k], 1e-12, k);
    close(r.metrics[`t2a_${k}`], want.textToAudio[k], 1e-12, k);
  }
  assert.equal(r.details.retrieval!.audioToText.queries, 3);
  assert.equal(r.details.retrieval!.textToAudio.queries, 15);
});

test('GTZAN .au clips are decoded by the audio layer and embed like the same samples in a 16-bit WAV', async () => {
  const clap = await model();
  const data = loadDataset('gtzan-genres', L.makeGtzanGenres());
  const r = await evaluateDataset(clap, data);
  assert.equal(r.n, 3);
  assert.equal(r.classes, 10);
  const au = readFileSync(data.items[0].path); // 16-bit big-endian PCM after a 24-byte header
  const samples = Float32Array.from({ length: (au.length - 24) / 2 }, (_, i) => au.readInt16BE(24 + 2 * i) / 32768);
  const [viaPcm] = await clap.embedAudio([encodeWav([samples], 22050, 'pcm16')]);
  const { embedItems } = await import('../../../src/tasks/eval/evaluate.js');
  const { embeddings } = await embedItems(clap, data.items.slice(0, 1));
  assert.deepEqual(Array.from(embeddings[0]!), Array.from(viaPcm.embedding));
});

test('undecodable clips stop the run naming the file, or are listed and left out with skipErrors', async () => {
  const clap = await model();
  const root = L.makeEsc50();
  const data = loadDataset('esc50', root);
  writeFileSync(data.items[2].path, Buffer.from('RIFF\x10\x00\x00\x00WAVEfmt garbage'));
  await assert.rejects(evaluateDataset(clap, data), (e: Error) => e.message.includes('1-100046-A-40.wav'));
  const r = await evaluateDataset(clap, data, { skipErrors: true });
  assert.equal(r.n, 5);
  assert.equal(r.details.skipped.length, 1);
  assert.match(r.details.skipped[0].path, /1-100046-A-40\.wav$/);
});

test('manifest with labels and captions: classification plus retrieval with merged identical captions', async () => {
  const clap = await model();
  const dir = L.tempDir('manifest-eval');
  for (const f of ['a.wav', 'b.wav', 'c.wav', 'd.wav']) L.writeWav(join(dir, 'clips', f));
  writeFileSync(
    join(dir, 'manifest.csv'),
    'path,label,caption\nclips/a.wav,dog,a dog barks\nclips/b.wav,siren,a siren\nclips/c.wav,dog,a dog barks\nclips/d.wav,,typing on a keyboard\n',
  );
  const data = loadManifest(join(dir, 'manifest.csv'), { labelColumn: 'label', captionColumn: 'caption' });
  const r = await evaluateDataset(clap, data);
  assert.equal(r.n, 4);
  assert.equal(r.classes, 2);
  assert.deepEqual(Object.keys(r.metrics), [
    'accuracy',
    'mAP',
    'a2t_R@1',
    'a2t_R@5',
    'a2t_R@10',
    'a2t_mAP@10',
    't2a_R@1',
    't2a_R@5',
    't2a_R@10',
    't2a_mAP@10',
  ]);
  assert.equal(r.details.predictions!.length, 3); // d.wav has no label
  assert.equal(r.details.retrieval!.texts, 3); // 'a dog barks' once, relevant to a.wav and c.wav
  assert.equal(r.metrics['t2a_R@5'], 1);
});

test('captioning: CIDEr-D of generated captions, SPIDEr only with a SPICE score', () => {
  const data = loadDataset('clotho-captions', L.makeClotho());
  const preds = new Map([
    ['Santa Motor.wav', 'caption 1 of clip 0'],
    ['Radio Garble.wav', 'a radio plays'],
  ]);
  const r = evaluateCaptions(data, preds);
  assert.equal(r.n, 2);
  assert.deepEqual(Object.keys(r.metrics), ['cider_d']);
  assert.ok(r.metrics.cider_d > 0);
  assert.ok(r.details.notes.some((n) => /^1 clip has no generated caption and is left out$/.test(n)));
  const s = evaluateCaptions(data, preds, 0.2);
  close(s.metrics.spider, (s.metrics.cider_d + 0.2) / 2, 1e-15);
  assert.throws(() => evaluateCaptions(data, new Map([['x.wav', 'y']])), /no prediction matches/);
});

test('report: Markdown with the paper column, JSON, and a valid confusion-matrix PNG', async () => {
  const clap = await model();
  const root = L.makeEsc50();
  const r = await evaluateDataset(clap, loadDataset('esc50', root));
  const out = writeReport(r, join(root, 'out', 'esc50.md'), { model: 'tiny.pth' });
  const md = readFileSync(out.markdown, 'utf8');
  assert.match(md, /\| accuracy \| [\d.]+ \| 93\.9 \|/);
  assert.match(md, /!\[confusion matrix\]\(esc50\.confusion\.png\)/);
  const json = JSON.parse(readFileSync(out.json, 'utf8'));
  assert.deepEqual([json.task, json.n, json.classes, json.paper], ['esc50', 6, 3, { accuracy: 0.939 }]);
  // the paper's numbers are msclap 2023's: another family's report has no paper column
  const other = renderMarkdown(r, { model: 'x.pth', family: 'msclap-2022' });
  assert.doesNotMatch(other, /paper \(CLAP 2023\)|93\.9/);
  assert.match(other, /^\| accuracy \| [\d.]+ \|$/m);
  assert.equal(reportJson(r, { family: 'hf-clap' }).paper, null);
  const png = readFileSync(out.png!);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  // walk the chunks: CRCs valid, IDAT inflates to (3w + 1) × h bytes
  let o = 8;
  let w = 0,
    h = 0;
  const idat: Buffer[] = [];
  while (o < png.length) {
    const len = png.readUInt32BE(o);
    const type = png.toString('ascii', o + 4, o + 8);
    const body = png.subarray(o + 8, o + 8 + len);
    assert.equal(png.readUInt32BE(o + 8 + len), zlib.crc32(png.subarray(o + 4, o + 8 + len)), type);
    if (type === 'IHDR') {
      w = body.readUInt32BE(0);
      h = body.readUInt32BE(4);
      assert.deepEqual([body[8], body[9]], [8, 2]);
    }
    if (type === 'IDAT') idat.push(body);
    o += 12 + len;
  }
  assert.equal(zlib.inflateSync(Buffer.concat(idat)).length, (3 * w + 1) * h);
});

test('HEAR API: scene embeddings as msclap embeds the whole sound; timestamp embeddings of centred 7 s windows', async () => {
  const clap = await model();
  const hear = new HearModel(clap);
  assert.equal(hear.sampleRate, 44100);
  assert.equal(hear.sceneEmbeddingSize, clap.config.dProj);
  const sr = 16000;
  const sound = L.clip(0.3, sr);
  const [scene] = await hear.getSceneEmbeddings([sound], sr);
  const [ref] = await clap.embedAudio([{ samples: sound, sampleRate: sr }]);
  assert.deepEqual(Array.from(scene), Array.from(ref.embedding));
  const ts = await hear.getTimestampEmbeddings([sound, L.clip(0.1, sr)], sr, { hopMs: 100 });
  assert.deepEqual(ts.timestamps, [
    [0, 100, 200, 300],
    [0, 100],
  ]);
  assert.equal(ts.embeddings[0].length, 4);
  assert.equal(ts.embeddings[0][0].length, clap.config.dProj);
  // the embedding at t = 100 ms is that of the zero-padded 7 s window centred there (44.1 kHz)
  const { resample } = await import('../../../src/audio/index.js');
  const x = resample(sound, sr, MODEL_SAMPLE_RATE);
  const win = new Float32Array(WINDOW_SAMPLES);
  const start = Math.round(0.1 * MODEL_SAMPLE_RATE) - Math.floor(WINDOW_SAMPLES / 2);
  win.set(x.subarray(0, Math.min(x.length, start + WINDOW_SAMPLES)), -start);
  const [direct] = await clap.embedAudio([{ samples: win, sampleRate: MODEL_SAMPLE_RATE }]);
  const a = ts.embeddings[0][1];
  const maxErr = Math.max(...Array.from(a, (v, i) => Math.abs(v - direct.embedding[i])));
  assert.ok(maxErr < 1e-5, `max err ${maxErr}`);
  await assert.rejects(hear.getSceneEmbeddings([], sr), /no sounds/);
});
