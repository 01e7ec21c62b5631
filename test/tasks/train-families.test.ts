/**
 * Contrastive training of every family: msclap 2022 (Cnn14 + BERT, the fixture's checkpoint), Hugging Face
 * CLAP folders (unfused and fused) and the paper's encoder grid (Cnn14 or HTSAT × BERT, RoBERTa or GPT-2) at the
 * tiny size — the training graph's parameters map back onto each family's keys, every parameter group's
 * gradient agrees with finite differences, the training towers compute what inference computes, Cnn14's
 * BatchNorms move their running statistics as PyTorch's training mode does, and each grid pair trains.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildTrainStep, emitOnnx, type HostTensor, Session } from '../../src/engine/index.js';
import {
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  CLAP_PRESETS,
  type ClapConfig,
  randomClapStateDict,
} from '../../src/models/clap/index.js';
import { buildContrastiveGraph, type ContrastiveGraph, exportStateDict, trainContrastive } from '../../src/tasks/train/index.js';
import { Clap } from '../../src/tasks/clap.js';
import { loadWeights, type StateDict } from '../../src/weights/index.js';
import { startingModel } from '../../src/tasks/train/run-model.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { rng } from '../engine/gradcheck.js';
import { checkGroupGradients, writeToneDataset } from './train-helpers.js';

/** A fixture model as `clap train contrastive --init` reads it (its config.json: the head counts). */
const load = async (init: string): Promise<{ sd: StateDict; cfg: ClapConfig }> => {
  const m = await startingModel({ init }, '');
  return { sd: m.weights!, cfg: m.cfg };
};
const families = {
  'msclap 2022 (fixture)': () => load(msclap2022Path('clap.pth')),
  'Hugging Face unfused (fixture)': () => load(hfclapPath('model-unfused')),
  'Hugging Face fused (fixture)': () => load(hfclapPath('model-fused')),
  ...Object.fromEntries(
    ['tiny-htsat-bert', 'tiny-htsat-roberta', 'tiny-cnn14-gpt2', 'tiny-cnn14-bert', 'tiny-cnn14-roberta'].map((name) => [
      name,
      async () => ({ sd: randomClapStateDict(CLAP_PRESETS[name], 3), cfg: CLAP_PRESETS[name] as ClapConfig }),
    ]),
  ),
};

/**
 * `sd` with Cnn14's ReLU inputs kept positive: every block BatchNorm's weight 0.4 and bias 3 (normalised values
 * ×0.4 + 3), and fc1's bias 30 (its inputs are then about 3).
 */
function reluClear(sd: StateDict): StateDict {
  const out = new Map(sd);
  for (const [k, v] of sd) {
    const m = /(conv_block\d\.bn\d\.weight|conv_block\d\.bn\d\.bias|fc1\.bias)$/.exec(k);
    if (m) out.set(k, { ...v, data: new Float32Array(v.data.length).fill(m[1].endsWith('weight') ? 0.4 : m[1] === 'fc1.bias' ? 30 : 3) });
  }
  return out;
}

/** Random feeds of a contrastive graph: audio input in dB, token ids past the specials with padded rows, identity targets. */
function feeds(cg: ContrastiveGraph, cfg: ClapConfig, seed: number): Record<string, HostTensor> {
  const r = rng(seed);
  const { batch: B, textLen: L } = cg;
  const vocab = cfg.text!.type === 'gpt2' ? cfg.text!.gpt2.vocabSize : cfg.text!.bert.vocabSize;
  const n = B * cg.audio.shape.reduce((a: number, b: number) => a * b, 1);
  const mask = BigInt64Array.from({ length: B * L }, (_, i) => (i % L < L - (i / L >= 1 ? 2 : 0) ? 1n : 0n));
  const targets = new Float32Array(B * B);
  for (let i = 0; i < B; i++) targets[i * B + i] = 1;
  return {
    [cg.audio.name]: { dtype: 'float32', shape: [B, ...cg.audio.shape], data: Float32Array.from({ length: n }, () => -60 + 40 * r()) },
    ...(cg.audio.isLonger ? { is_longer: { dtype: 'bool', shape: [B], data: Uint8Array.from({ length: B }, (_, b) => b % 2) } } : {}),
    input_ids: {
      dtype: 'int64',
      shape: [B, L],
      data: BigInt64Array.from(mask, (m) => (m ? BigInt(3 + Math.floor(r() * (vocab - 3))) : 0n)),
    },
    attention_mask: { dtype: 'int64', shape: [B, L], data: mask },
    targets: { dtype: 'float32', shape: [B, B], data: targets },
  };
}

describe('every family in the contrastive training graph', () => {
  for (const [name, make] of Object.entries(families)) {
    test(`${name}: parameters map back onto its keys; every parameter group's gradient vs finite differences`, async (t) => {
      const { sd, cfg } = await make();
      const cg = buildContrastiveGraph(sd, cfg, 2, 6);
      const params = Object.fromEntries([...cg.graph.params].map(([k, v]) => [k, v.tensor]));
      const out = exportStateDict(sd, params);
      assert.deepEqual([...out.keys()].sort(), [...sd.keys()].sort());
      for (const [k, v] of sd) {
        const a = out.get(k)!.data;
        for (let i = 0; i < a.length; i++) {
          const want = Number(v.data[i]);
          assert.ok(Math.abs(Number(a[i]) - want) <= 1e-6 * Math.max(1, Math.abs(want)), `${k}[${i}]`);
        }
      }
      // Cnn14's ReLUs after batch statistics: a float32 step moves every value of a channel and straddles kinks
      // somewhere among hundreds of thousands (see test/models/training-layers.test.ts); with its blocks'
      // BatchNorm bias raised, their inputs stay positive and the loss is smooth where it is checked.
      const smooth = cfg.audio.type === 'cnn14' ? buildContrastiveGraph(reluClear(sd), cfg, 2, 6) : cg;
      await checkGroupGradients(smooth, cfg, feeds(smooth, cfg, 7), t);
    });
  }
});

test('the training towers compute what inference computes (Hugging Face fused and unfused; BERT text of msclap 2022)', async () => {
  for (const make of [
    families['Hugging Face fused (fixture)'],
    families['Hugging Face unfused (fixture)'],
    families['msclap 2022 (fixture)'],
  ]) {
    const { sd, cfg } = await make();
    const cg = buildContrastiveGraph(sd, cfg, 2, 6);
    const f = feeds(cg, cfg, 9);
    const train = await Session.fromBytes(
      emitOnnx(cg.graph, {
        outputs: [
          { name: 'audio', value: cg.embeddings.audio },
          { name: 'text', value: cg.embeddings.text },
        ],
      }),
      { threads: 1 },
    );
    const got = await train.run(f);
    await train.release();
    const text = await Session.compile(buildTextEncoderGraph(sd, cfg), { threads: 1 });
    const want = { text: (await text.run({ input_ids: f.input_ids, attention_mask: f.attention_mask })).text_embed };
    await text.release();
    const towers: [string, HostTensor, HostTensor][] = [['text', got.text, want.text]];
    if (cfg.audio.type !== 'cnn14') {
      // Cnn14 normalises by the batch's statistics when training: not the inference numbers by design
      const audio = await Session.compile(buildAudioEncoderGraph(sd, cfg), { threads: 1 });
      const { is_longer, [cg.audio.name]: x } = f;
      towers.push(['audio', got.audio, (await audio.run({ [cg.audio.name]: x, ...(is_longer ? { is_longer } : {}) })).audio_embed]);
      await audio.release();
    }
    for (const [what, a, b] of towers) {
      const x = a.data as Float32Array;
      const y = b.data as Float32Array;
      const scale = Math.max(...y.map(Math.abs));
      const worst = Math.max(...x.map((v, i) => Math.abs(v - y[i])));
      assert.ok(worst <= 1e-4 * scale, `${what}: max abs difference ${worst} (scale ${scale})`);
    }
  }
});

test("Cnn14's BatchNorms train in training mode: running statistics move as PyTorch's (momentum 0.1, unbiased variance)", async () => {
  const { sd, cfg } = await families['msclap 2022 (fixture)']();
  const cg = buildContrastiveGraph(sd, cfg, 2, 6);
  const f = feeds(cg, cfg, 11);
  const step = await buildTrainStep(cg.loss, { optimizer: { kind: 'sgd' }, lr: 0, buffers: cg.buffers, runtime: { threads: 1 } });
  await step.run(f);
  await step.run(f);
  const after = exportStateDict(sd, step.params());
  await step.release();
  const P = 'audio_encoder.base.bn0.';
  const x = f.logmel.data as Float32Array;
  const M = 64;
  const n = x.length / M;
  for (let m = 0; m < M; m += 9) {
    let s = 0;
    let s2 = 0;
    for (let i = m; i < x.length; i += M) s += x[i];
    const mean = s / n;
    for (let i = m; i < x.length; i += M) s2 += (x[i] - mean) ** 2;
    const unbiased = s2 / (n - 1);
    // two steps on the same batch: r ← 0.9·(0.9·r0 + 0.1·b) + 0.1·b = 0.81·r0 + 0.19·b
    const r0 = Number(sd.get(`${P}running_mean`)!.data[m]);
    const v0 = Number(sd.get(`${P}running_var`)!.data[m]);
    const rm = Number(after.get(`${P}running_mean`)!.data[m]);
    const rv = Number(after.get(`${P}running_var`)!.data[m]);
    assert.ok(Math.abs(rm - (0.81 * r0 + 0.19 * mean)) < 1e-3, `running_mean[${m}] ${rm}`);
    assert.ok(Math.abs(rv - (0.81 * v0 + 0.19 * unbiased)) < 1e-3 * v0, `running_var[${m}] ${rv}`);
  }
  assert.equal(after.get(`${P}num_batches_tracked`)!.data[0], BigInt(sd.get(`${P}num_batches_tracked`)!.data[0]) + 2n);
  for (const k of ['conv_block1.bn1', 'conv_block6.bn2']) {
    const before = sd.get(`audio_encoder.base.${k}.running_var`)!.data;
    assert.notDeepEqual(after.get(`audio_encoder.base.${k}.running_var`)!.data, before, k);
  }
  // lr 0: the trainable parameters did not move
  assert.deepEqual(
    after.get('audio_encoder.base.conv_block1.conv1.weight')!.data,
    sd.get('audio_encoder.base.conv_block1.conv1.weight')!.data,
  );
});

test("the paper's encoder grid: each audio × text pair trains from scratch at the tiny size, and its weights load for inference", async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-train-grid-'));
  const manifest = writeToneDataset(join(dir, 'data'), 4);
  const tokenizers: Record<string, string | undefined> = {
    bert: msclap2022Path('bert-base-uncased'),
    roberta: hfclapPath('model-unfused'),
    gpt2: undefined,
  };
  for (const audio of ['cnn14', 'htsat']) {
    for (const text of ['bert', 'roberta', 'gpt2']) {
      const out = join(dir, `${audio}-${text}`);
      const s = await trainContrastive({
        data: manifest,
        out,
        config: `tiny-${audio}-${text}`,
        tokenizer: tokenizers[text],
        batch: 4,
        maxSteps: 3,
        valFraction: 0.25,
        seed: 4,
        threads: 1,
        workers: 1,
        template: 'a {} tone',
      });
      const losses = readFileSync(join(out, 'log.jsonl'), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { type: string; loss?: number })
        .filter((e) => e.type === 'step')
        .map((e) => e.loss!);
      t.diagnostic(`${audio} × ${text}: losses ${losses.map((l) => l.toFixed(4)).join(' ')}`);
      assert.equal(losses.length, 3);
      assert.ok(losses.every(Number.isFinite), `${audio} × ${text}: finite losses`);
      assert.ok(new Set(losses).size > 1, `${audio} × ${text}: the loss changes`);
      // final.pth loads with nothing else: config.json and the tokenizer's copy are beside it
      const clap = await Clap.load({ weights: s.final_weights, threads: 1 });
      assert.equal(clap.config.audio.type, audio);
      assert.equal((await clap.embedText(['a low tone']))[0].length, 32);
      assert.equal((await clap.embedAudio([join(dir, 'data', 'low_0.wav')]))[0].embedding.length, 32);
      await clap.release();
    }
  }
});

test('a run of another family resumes exactly: msclap 2022 (BatchNorm running statistics in the checkpoint), a Hugging Face folder', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-train-resume-'));
  const manifest = writeToneDataset(join(dir, 'data'), 4);
  const lossesOf = (out: string): number[] =>
    readFileSync(join(out, 'log.jsonl'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { type: string; step?: number; loss?: number })
      .filter((e) => e.type === 'step')
      .map((e) => e.loss!);
  for (const init of [msclap2022Path('clap.pth'), hfclapPath('model-fused')]) {
    const o = { data: manifest, init, batch: 4, valFraction: 0, seed: 5, threads: 1, workers: 1, template: 'a {} tone' };
    const straight = join(dir, `straight-${init.length}`);
    await trainContrastive({ ...o, out: straight, maxSteps: 3 });
    const resumed = join(dir, `resumed-${init.length}`);
    await trainContrastive({ ...o, out: resumed, maxSteps: 1 });
    const s = await trainContrastive({ ...o, out: resumed, maxSteps: 3, resume: true });
    assert.equal(s.steps, 3);
    const [a, b] = [lossesOf(straight), lossesOf(resumed)];
    assert.equal(b.length, 3);
    // steps 2 and 3 depend on the weights and BatchNorm statistics the checkpoint carried over
    b.forEach((l, i) => assert.ok(Math.abs(l - a[i]) <= 1e-5 * Math.max(1, Math.abs(a[i])), `${init} step ${i + 1}: ${l} vs ${a[i]}`));
    const w = (out: string) => (init.endsWith('.pth') ? join(out, 'final.safetensors') : join(out, 'final', 'model.safetensors'));
    const [x, y] = [await loadWeights(w(straight)), await loadWeights(w(resumed))];
    for (const [k, t] of x) assert.deepEqual(y.get(k)!.data, t.data, k);
  }
});
