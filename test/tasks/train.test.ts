import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { emitOnnx, type HostTensor, Session } from '../../src/engine/index.js';
import { buildAudioEncoderGraph, type ClapConfig, randomClapStateDict, CLAP_PRESETS } from '../../src/models/clap/index.js';
import {
  buildContrastiveGraph,
  endOfEpoch,
  exportStateDict,
  hitProbability,
  initialScheduleState,
  learningRate,
  loadCheckpoint,
  paramGroup,
  parseCsv,
  readManifest,
  retrieval,
  saveCheckpoint,
  trainContrastive,
  betaSample,
  finetune,
  headAccuracy,
  mixupBatch,
  specAugment,
  predictHead,
  trainCaption,
  trainLinearHead,
  trainProbe,
} from '../../src/tasks/train/index.js';
import { Clap } from '../../src/tasks/clap.js';
import { loadWeights, saveSafetensors } from '../../src/weights/index.js';
import { Rng } from '../../src/tasks/rng.js';
import { ClapCapDecoder, randomClapCapWeights } from '../../src/tasks/caption/index.js';
import { checkGroupGradients, writeToneDataset } from './train-helpers.js';
import { mergeIdenticalTexts, randomRecallAtK, randomRetrievalBaseline } from '../../src/tasks/eval/metrics.js';

const TINY = CLAP_PRESETS.tiny as ClapConfig;
const tmp = (): string => mkdtempSync(join(tmpdir(), 'clap-train-'));

function rand(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

function batchFeeds(B: number, L: number, seed: number): Record<string, HostTensor> {
  const r = rand(seed);
  const logmel = Float32Array.from({ length: B * 965 * 64 }, () => -40 + 20 * r());
  const ids = BigInt64Array.from({ length: B * L }, () => BigInt(1 + Math.floor(r() * 999)));
  const targets = new Float32Array(B * B);
  for (let i = 0; i < B; i++) targets[i * B + i] = 1;
  return {
    logmel: { dtype: 'float32', shape: [B, 965, 64], data: logmel },
    input_ids: { dtype: 'int64', shape: [B, L], data: ids },
    attention_mask: { dtype: 'int64', shape: [B, L], data: new BigInt64Array(B * L).fill(1n) },
    targets: { dtype: 'float32', shape: [B, B], data: targets },
  };
}

test('manifest: CSV quoting, label → caption via template, several captions per clip, JSONL', () => {
  assert.deepEqual(parseCsv('a,"b, ""c"""\n1,2\n'), [
    ['a', 'b, "c"'],
    ['1', '2'],
  ]);
  const dir = tmp();
  writeFileSync(join(dir, 'm.csv'), 'path,caption,label\nx.wav,a dog barks,dog\nx.wav,barking,dog\ny.wav,,cat\n');
  const items = readManifest(join(dir, 'm.csv'), { template: 'the sound of {}' });
  assert.equal(items.length, 2);
  assert.deepEqual(items[0].captions, ['a dog barks', 'barking']);
  assert.equal(items[0].path, join(dir, 'x.wav'));
  assert.deepEqual(items[1].captions, ['the sound of cat']);
  writeFileSync(join(dir, 'm.jsonl'), '{"path":"z.wav","caption":["one","two"],"label":"z"}\n');
  assert.deepEqual(readManifest(join(dir, 'm.jsonl'))[0].captions, ['one', 'two']);
});

test('schedules: plateau ×0.1 after `patience` epochs without improvement; warm-up + cosine', () => {
  const c = { kind: 'plateau' as const, lr: 1e-3, warmupSteps: 0, totalSteps: 100, minLr: 0, patience: 2, factor: 0.1 };
  const s = initialScheduleState();
  endOfEpoch(c, s, 0.5);
  assert.equal(endOfEpoch(c, s, 0.4), false);
  assert.equal(endOfEpoch(c, s, 0.5), true);
  assert.ok(Math.abs(learningRate(c, s, 10) - 1e-4) < 1e-12);
  const k = { ...c, kind: 'cosine' as const, warmupSteps: 10 };
  assert.ok(Math.abs(learningRate(k, s, 5) - 5e-4) < 1e-12);
  assert.ok(Math.abs(learningRate(k, s, 10) - 1e-3) < 1e-12);
  assert.ok(learningRate(k, s, 100) < 1e-9);
});

test('retrieval: identical caption texts are one query relevant to every clip having it (no ties with copies)', () => {
  // 3 classes × 12 clips, every clip captioned only by its class prompt; clips of class 0 score class 1 first
  const classes = ['a dog', 'a cat', 'a car'];
  const captionClip: number[] = [];
  const texts: string[] = [];
  const sim: number[][] = [];
  for (let i = 0; i < 36; i++) {
    captionClip.push(i);
    texts.push(classes[Math.floor(i / 12)]);
  }
  for (let i = 0; i < 36; i++) {
    const c = Math.floor(i / 12);
    sim.push(texts.map((t) => (t === classes[c] ? 0.5 : c === 0 && t === classes[1] ? 0.9 : 0.1)));
  }
  const m = retrieval(sim, captionClip, texts);
  assert.equal(m.val_texts, 3);
  // class 0 clips: their caption ranks 2nd of 3 distinct texts → R@1 miss, R@10 hit (copies of 'a cat' used to push it to rank 13)
  assert.ok(Math.abs(m.a2t_r1 - 24 / 36) < 1e-12);
  assert.equal(m.a2t_r10, 1);
  // with 3 candidate texts any ranking hits within 10: the random baseline says so
  assert.equal(m.a2t_r10_random, 1);
  // text → audio: 3 queries, each relevant to its 12 clips; 'a cat' ranks the 12 class-0 clips first
  assert.ok(Math.abs(m.t2a_r1 - 2 / 3) < 1e-12);
  assert.ok(Math.abs(m.t2a_r10 - 2 / 3) < 1e-12);
  assert.equal(m.t2a_r10_random, randomRecallAtK(36, 12, 10));
  // without merging (caption texts unknown) each column is its own clip's query
  const u = retrieval(sim, captionClip);
  assert.equal(u.val_texts, 36);
});

test('mergeIdenticalTexts / randomRetrievalBaseline (shared with the eval harness)', () => {
  const m = mergeIdenticalTexts([['a', 'b'], ['b', 'b'], undefined, ['c']]);
  assert.deepEqual(m.texts, ['a', 'b', 'c']);
  assert.deepEqual(m.relevant, [[0], [0, 1], [3]]);
  // exact: 1 − C(n−r, k)/C(n, k)
  assert.ok(Math.abs(randomRecallAtK(20, 2, 10) - (1 - (10 * 9) / (20 * 19))) < 1e-12);
  assert.equal(randomRecallAtK(5, 1, 10), 1);
  assert.equal(randomRecallAtK(50, 0, 10), 0);
  const base = randomRetrievalBaseline(4, m.relevant, 1);
  // a→t over 3 texts: clip 0 has 2 relevant (2/3), clip 1 has 1 (1/3), clip 3 has 1 (1/3); clip 2 is no query
  assert.ok(Math.abs(base.audioToText - (2 / 3 + 1 / 3 + 1 / 3) / 3) < 1e-12);
  // t→a over 4 clips: 'a' 1/4, 'b' 2/4, 'c' 1/4
  assert.ok(Math.abs(base.textToAudio - (1 / 4 + 2 / 4 + 1 / 4) / 3) < 1e-12);
});

test('retrieval metrics and the random baseline', () => {
  const m = retrieval(
    [
      [1, 0],
      [0, 1],
    ],
    [0, 1],
  );
  assert.equal(m.a2t_r1, 1);
  assert.equal(m.t2a_r1, 1);
  assert.ok(Math.abs(hitProbability(100, 1, 10) - 0.1) < 1e-12);
});

test("exportStateDict: the training graph's parameters map back onto the official keys", () => {
  const sd = randomClapStateDict(TINY, 3);
  const cg = buildContrastiveGraph(sd, TINY, 2, 8);
  const params = Object.fromEntries([...cg.graph.params].map(([k, v]) => [k, v.tensor]));
  const out = exportStateDict(sd, params);
  assert.deepEqual([...out.keys()].sort(), [...sd.keys()].sort());
  let worst = 0;
  for (const [k, t] of sd) {
    const a = t.data as Float32Array;
    const b = out.get(k)!.data as Float32Array;
    assert.deepEqual(out.get(k)!.shape, t.shape, k);
    for (let i = 0; i < a.length; i++)
      worst = Math.max(worst, Math.abs(Number(a[i]) - Number(b[i])) / Math.max(1e-6, Math.abs(Number(a[i]))));
  }
  assert.ok(worst < 1e-6, `worst relative round-trip error ${worst}`); // only the q rows (÷ head scale) can differ by an ulp
  const groups = new Set(Object.keys(params).map((k) => paramGroup(k, TINY)));
  assert.deepEqual([...groups].sort(), ['audio', 'audio_projection', 'temperature', 'text', 'text_projection']);
});

test('HTSAT training path (bn0 and bias tables as params) computes what the inference graph computes', async () => {
  const sd = randomClapStateDict(TINY, 4);
  const feeds = { logmel: batchFeeds(2, 4, 9).logmel };
  const a = await Session.compile(buildAudioEncoderGraph(sd, TINY), { threads: 1 });
  const ya = (await a.run(feeds)).audio_embed.data as Float32Array;
  await a.release();
  // the training graph's audio embedding, via an extra output
  const cg = buildContrastiveGraph(sd, TINY, 2, 4);
  const proj = cg.graph.nodes
    .filter((n) => n.op.type === 'LayerNormalization')
    .map((n) => n.outputs[0])
    .find((v) => v.shape.join() === `2,${TINY.dProj}`)!;
  const s = await Session.fromBytes(emitOnnx(cg.graph, { inputs: [cg.graph.inputs[0]], outputs: [{ name: 'audio', value: proj }] }), {
    threads: 1,
  });
  const yb = (await s.run(feeds)).audio.data as Float32Array;
  await s.release();
  let worst = 0;
  for (let i = 0; i < ya.length; i++) worst = Math.max(worst, Math.abs(ya[i] - yb[i]));
  assert.ok(worst < 1e-4, `max abs difference ${worst}`);
});

test('full CLAP loss (tiny config): gradients of every parameter group vs finite differences', async (t) => {
  const sd = randomClapStateDict(TINY, 5);
  await checkGroupGradients(buildContrastiveGraph(sd, TINY, 3, 6), TINY, batchFeeds(3, 6, 11), t);
});

test('checkpoints load back bit-exact', async () => {
  const dir = tmp();
  const p = { a: { dtype: 'float32' as const, shape: [3], data: Float32Array.of(1.5, -2.25, 1e-30) } };
  const opt = {
    step: 7,
    slots: {
      a: {
        m: { dtype: 'float32' as const, shape: [3], data: Float32Array.of(0.1, 0.2, 0.3) },
        v: { dtype: 'float32' as const, shape: [3], data: Float32Array.of(4, 5, 6) },
      },
    },
  };
  await saveCheckpoint(join(dir, 'c.safetensors'), { params: p, optimizer: opt, state: { step: 7, rng: 123 } });
  const back = await loadCheckpoint<{ step: number; rng: number }>(join(dir, 'c.safetensors'));
  assert.deepEqual(back.params.a.data, p.a.data);
  assert.deepEqual(back.optimizer.slots.a.m.data, opt.slots.a.m.data);
  assert.equal(back.optimizer.step, 7);
  assert.deepEqual(back.state, { step: 7, rng: 123 });
});

test('end to end on synthetic tones: the loss falls and held-out clips are classified zero-shot well above chance', async (t) => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 16);
  const out = join(dir, 'run');
  const s = await trainContrastive({
    data: manifest,
    out,
    config: 'tiny',
    epochs: 4,
    batch: 8,
    valFraction: 0.25,
    seed: 3,
    threads: 2,
    workers: 1,
    template: 'a {} tone',
  });
  const log = readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { type: string; loss?: number; train_loss?: number; val?: { zero_shot_acc: number } });
  const epochs = log.filter((e) => e.type === 'epoch');
  t.diagnostic(
    `epoch losses ${epochs.map((e) => e.train_loss!.toFixed(3)).join(' ')}; ` +
      `zero-shot ${epochs.map((e) => e.val!.zero_shot_acc.toFixed(3)).join(' ')}; ${s.seconds_per_step!.toFixed(3)} s/step`,
  );
  assert.equal(s.status, 'finished');
  assert.equal(epochs.length, 4);
  assert.ok(epochs[3].train_loss! < epochs[0].train_loss! - 0.3, 'the training loss falls by more than 0.3');
  assert.ok(s.best_score! >= 0.5, `best held-out zero-shot accuracy ${s.best_score} (chance 0.25)`);
  // the written weights load in the inference API and classify like the validation did
  const clap = await Clap.load({ weights: join(out, 'final.pth'), config: join(out, 'config.json'), threads: 1 });
  const res = await clap.classify([join(dir, 'data', 'low_0.wav')], ['low', 'middle', 'high', 'buzz'], { template: 'a {} tone' });
  await clap.release();
  assert.equal(Object.keys(res[0].scores).length, 4);
  const a = await loadWeights(join(out, 'final.pth'));
  const b = await loadWeights(join(out, 'final.safetensors'));
  for (const [k, v] of a) assert.deepEqual(b.get(k)!.data, v.data, k);
});

test('linear head: softmax regression separates Gaussian blobs; the loss falls from ln(classes)', () => {
  const r = rand(11);
  const centres = [
    [2, 0, 0],
    [0, 2, 0],
    [0, 0, 2],
    [-2, -2, 0],
  ];
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  for (let i = 0; i < 200; i++) {
    const c = i % 4;
    xs.push(Float32Array.from(centres[c], (m) => m + (r() - 0.5)));
    ys.push(c);
  }
  const { head, losses } = trainLinearHead(xs.slice(0, 160), ys.slice(0, 160), 4, { epochs: 200, lr: 0.05 });
  assert.ok(Math.abs(losses[0] - Math.log(4)) < 1e-9);
  assert.ok(losses[losses.length - 1] < 0.1, `final loss ${losses[losses.length - 1]}`);
  assert.equal(headAccuracy(head, xs.slice(160), ys.slice(160)), 1);
  // the prediction is W·x + b
  const z = predictHead(head, xs[0]);
  assert.ok(Math.abs(z[2] - (head.bias[2] + head.weight[6] * xs[0][0] + head.weight[7] * xs[0][1] + head.weight[8] * xs[0][2])) < 1e-9);
});

test('probe: frozen embeddings of a CLAP (random tiny weights) + a linear head classify held-out tone clips', async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 10);
  const w = join(dir, 'w.safetensors');
  await saveSafetensors(w, randomClapStateDict(TINY, 5));
  const s = await trainProbe({
    data: manifest,
    weights: w,
    config: 'tiny',
    out: join(dir, 'probe'),
    workers: 1,
    threads: 1,
    valFraction: 0.3,
  });
  assert.deepEqual(s.classes, ['buzz', 'high', 'low', 'middle']);
  // stratified split: 3 of each class's 10 clips held out
  assert.equal(s.val_clips, 12);
  for (const c of s.classes) assert.equal(s.per_class[c].clips, 3);
  assert.equal(s.chance, 0.25);
  assert.ok(s.val_accuracy >= 0.75, `held-out accuracy ${s.val_accuracy}`);
  assert.ok(s.last_loss! < s.first_loss! / 2);
  const head = await loadWeights(join(dir, 'probe', 'probe.safetensors'));
  assert.deepEqual(head.get('probe.weight')!.shape, [4, 32]);
  assert.deepEqual(head.get('probe.bias')!.shape, [4]);
  // the same labels shuffled across clips: no signal left, the probe falls back towards chance
  const shuffled = join(dir, 'data', 'shuffled.csv');
  const lines = readFileSync(manifest, 'utf8').trim().split('\n');
  const labels = new Rng(3).shuffle(lines.slice(1).map((l) => l.split(',').pop()!));
  writeFileSync(shuffled, `${[lines[0], ...lines.slice(1).map((l, i) => `${l.slice(0, l.lastIndexOf(','))},${labels[i]}`)].join('\n')}\n`);
  const bad = await trainProbe({ data: shuffled, weights: w, config: 'tiny', workers: 1, threads: 1, valFraction: 0.3 });
  assert.ok(bad.val_accuracy < s.val_accuracy, `shuffled labels ${bad.val_accuracy} vs ${s.val_accuracy}`);
});

const CAPTION_TRAINING_TEST =
  'clap train caption: mapper + GPT-2 learn the captions of tone clips from precomputed embeddings; clapcap.pth loads in the captioning code';
test(CAPTION_TRAINING_TEST, async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 3);
  const clapW = join(dir, 'clap.safetensors');
  await saveSafetensors(clapW, randomClapStateDict(TINY, 5));
  const gpt = { vocabSize: 50257, nPositions: 48, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  const init = randomClapCapWeights({ gpt, prefixDim: TINY.dProj, prefixLength: 4, clipLength: 4, numLayers: 1, seed: 3 });
  const s = await trainCaption({
    data: manifest,
    clap: clapW,
    clapConfig: 'tiny',
    init,
    settings: { gpt2: { n_head: 2 } },
    out: join(dir, 'cap'),
    trainGpt2: true,
    epochs: 80,
    batch: 4,
    lr: 5e-3,
    maxTokens: 8,
    workers: 1,
    threads: 1,
  });
  assert.equal(s.examples, 12);
  assert.ok(s.last_epoch_loss! < s.first_epoch_loss! / 4, `caption loss ${s.first_epoch_loss} → ${s.last_epoch_loss}`);
  const sd = await loadWeights(s.weights);
  // the mapper moved, the tied head is the trained token table
  assert.notDeepEqual(sd.get('clap_project.linear.weight')!.data, init.get('clap_project.linear.weight')!.data);
  assert.deepEqual(sd.get('gpt.lm_head.weight')!.data, sd.get('gpt.transformer.wte.weight')!.data);
  const dec = await ClapCapDecoder.load(sd, { gpt2: { n_head: 2 } }, { threads: 1 });
  const clap = await Clap.load({ weights: clapW, config: CLAP_PRESETS.tiny as ClapConfig, threads: 1 });
  try {
    const files = ['high_0.wav', 'low_1.wav', 'buzz_2.wav'];
    const emb = (await clap.embedAudio(files.map((f) => join(dir, 'data', f)))).map((e) => e.embedding);
    const caps = await dec.caption(emb, { strategy: 'greedy', entryLength: 8 });
    assert.deepEqual(
      caps.map((c) => c.text.trim()),
      ['a high tone', 'a low tone', 'a buzz tone'],
    );
  } finally {
    await dec.release();
    await clap.release();
  }
});

test('clap train caption: only the mapper trains by default (GPT-2 stays bit-identical)', async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 2);
  const clapW = join(dir, 'clap.safetensors');
  await saveSafetensors(clapW, randomClapStateDict(TINY, 5));
  const gpt = { vocabSize: 50257, nPositions: 48, nEmbd: 32, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 };
  const init = randomClapCapWeights({ gpt, prefixDim: TINY.dProj, prefixLength: 4, clipLength: 4, numLayers: 1, seed: 3 });
  const s = await trainCaption({
    data: manifest,
    clap: clapW,
    clapConfig: 'tiny',
    init,
    settings: { gpt2: { n_head: 2 } },
    out: join(dir, 'cap'),
    epochs: 3,
    batch: 4,
    lr: 3e-3,
    maxTokens: 8,
    workers: 1,
    threads: 1,
  });
  assert.ok(s.last_epoch_loss! < s.first_epoch_loss!);
  const sd = await loadWeights(s.weights);
  for (const k of ['gpt.transformer.wte.weight', 'gpt.transformer.h.0.attn.c_attn.weight', 'gpt.transformer.ln_f.bias'])
    assert.deepEqual(sd.get(k)!.data, init.get(k)!.data, k);
  assert.notDeepEqual(sd.get('clap_project.prefix_const')!.data, init.get('clap_project.prefix_const')!.data);
});

test('clap train finetune: audio encoder + classifier on tone clips; held-out accuracy above chance; text tower untouched', async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 8);
  const w = join(dir, 'clap.safetensors');
  const init = randomClapStateDict(TINY, 5);
  await saveSafetensors(w, init);
  const s = await finetune({
    data: manifest,
    weights: w,
    config: 'tiny',
    out: join(dir, 'ft'),
    epochs: 3,
    batch: 4,
    lr: 3e-3,
    valFraction: 0.25,
    workers: 1,
    threads: 1,
  });
  assert.equal(s.val_clips, 8);
  assert.equal(s.steps, 3 * 6);
  assert.equal(s.val_accuracy_per_epoch.length, 3);
  assert.ok(s.val_accuracy > s.chance + 0.25, `held-out accuracy ${s.val_accuracy}`);
  assert.ok(s.last_loss! < s.first_loss!, `loss ${s.first_loss} → ${s.last_loss}`);
  const sd = await loadWeights(s.weights);
  assert.equal(sd.has('classifier.weight'), false);
  const audioKey = 'audio_encoder.base.htsat.patch_embed.proj.weight';
  const textKey = 'caption_encoder.base.h.0.attn.c_attn.weight';
  assert.ok(sd.has(audioKey) && sd.has(textKey));
  assert.notDeepEqual(sd.get(audioKey)!.data, init.get(audioKey)!.data);
  assert.deepEqual(sd.get(textKey)!.data, init.get(textKey)!.data);
  const head = await loadWeights(join(dir, 'ft', 'classifier.safetensors'));
  assert.deepEqual(head.get('classifier.weight')!.shape, [4, TINY.dProj]);
});

test('SpecAugment masks bands with the clip mean; mixup keeps the targets doubly stochastic; Beta(α, α) draws', () => {
  const frames = 100;
  const bins = 16;
  const mel = Float32Array.from({ length: 2 * frames * bins }, (_, i) => i % 7);
  const before = mel.slice();
  specAugment(mel, frames * bins, frames, bins, new Rng(4), { freqMasks: 1, freqWidth: 4, timeMasks: 1, timeWidth: 10 });
  assert.deepEqual(mel.subarray(0, frames * bins), before.subarray(0, frames * bins), 'the other clip is untouched');
  const clip = before.subarray(frames * bins);
  const mean = clip.reduce((a, b) => a + b, 0) / clip.length;
  let changed = 0;
  mel.subarray(frames * bins).forEach((v, i) => {
    if (v !== clip[i]) {
      changed++;
      assert.ok(Math.abs(v - mean) < 1e-5);
    }
  });
  assert.ok(changed > 0 && changed <= 4 * frames + 10 * bins, `${changed} values masked`);

  const B = 4;
  const x = Float32Array.from({ length: B * 3 }, (_, i) => Math.floor(i / 3)); // clip k is all k
  const t = new Float32Array(B * B);
  for (let k = 0; k < B; k++) t[k * B + k] = 1;
  const lam = mixupBatch(x, t, B, new Rng(9), 1);
  assert.ok(lam > 0 && lam < 1);
  for (let k = 0; k < B; k++) {
    assert.ok(Math.abs(x[k * 3] - (lam * k + (1 - lam) * ((k + 1) % B))) < 1e-5);
    let row = 0;
    let col = 0;
    for (let j = 0; j < B; j++) {
      row += t[k * B + j];
      col += t[j * B + k];
    }
    assert.ok(Math.abs(row - 1) < 1e-6 && Math.abs(col - 1) < 1e-6);
  }
  const r = new Rng(1);
  const draws = Array.from({ length: 4000 }, () => betaSample(r, 0.4));
  const m = draws.reduce((a, b) => a + b, 0) / draws.length;
  const v = draws.reduce((a, b) => a + (b - m) ** 2, 0) / draws.length;
  assert.ok(Math.abs(m - 0.5) < 0.03, `mean ${m}`);
  assert.ok(Math.abs(v - 1 / (4 * (2 * 0.4 + 1))) < 0.02, `variance ${v}`); // Beta(a, a): 1 / (4(2a + 1))
});

test('contrastive training with --spec-augment and --mixup runs and learns', async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 4);
  const s = await trainContrastive({
    data: manifest,
    out: join(dir, 'run'),
    config: 'tiny',
    epochs: 3,
    batch: 4,
    valFraction: 0,
    seed: 1,
    threads: 1,
    workers: 1,
    specAugment: true,
    mixup: 0.4,
    template: 'a {} tone',
  });
  assert.equal(s.steps, 12);
  assert.ok(Number.isFinite(s.last_loss!) && s.last_loss! < s.first_loss!, `loss ${s.first_loss} → ${s.last_loss}`);
});

test('contrastive training with accumulate 2: the loss falls, steps count updates, and a resume continues exactly', async () => {
  const dir = tmp();
  const manifest = writeToneDataset(join(dir, 'data'), 4);
  const common = {
    data: manifest,
    config: 'tiny',
    epochs: 3,
    batch: 4,
    accumulate: 2,
    valFraction: 0,
    seed: 2,
    threads: 1,
    workers: 1,
    template: 'a {} tone',
  };
  const ref = await trainContrastive({ ...common, out: join(dir, 'ref') });
  assert.equal(ref.steps, 6); // 16 clips, 2 micro-batches of 4 per step: 2 steps per epoch
  assert.ok(Number.isFinite(ref.last_loss!) && ref.last_loss! < ref.first_loss!, `loss ${ref.first_loss} → ${ref.last_loss}`);
  const steps = (run: string): Map<number, number> =>
    new Map(
      readFileSync(join(run, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; step: number; loss: number })
        .filter((e) => e.type === 'step')
        .map((e) => [e.step, e.loss]),
    );

  // stop mid-epoch after 3 updates (a checkpoint at that update boundary), then resume to the end
  const run = join(dir, 'run');
  const part = await trainContrastive({ ...common, out: run, maxSteps: 3 });
  assert.equal(part.status, 'max_steps');
  assert.equal(part.steps, 3);
  await assert.rejects(trainContrastive({ ...common, accumulate: 1, out: run, resume: true }), /--accumulate 2/);
  const resumed = await trainContrastive({ ...common, out: run, resume: true });
  assert.equal(resumed.steps, 6);
  const a = steps(join(dir, 'ref'));
  const b = steps(run);
  assert.deepEqual([...b.keys()], [1, 2, 3, 4, 5, 6]);
  for (const [k, v] of a) assert.ok(Math.abs(b.get(k)! - v) <= 1e-5 * Math.max(1, Math.abs(v)), `step ${k}: ${b.get(k)} vs ${v}`);
  const wa = await loadWeights(join(dir, 'ref', 'final.safetensors'));
  const wb = await loadWeights(join(run, 'final.safetensors'));
  for (const [k, v] of wa) {
    const u = wb.get(k)!.data;
    v.data.forEach((x, i) => assert.ok(Math.abs(Number(x) - Number(u[i])) <= 1e-5 * Math.max(1, Math.abs(Number(x))), `${k}[${i}]`));
  }
});
