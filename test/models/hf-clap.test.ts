/**
 * Hugging Face ClapModel (LAION CLAP) vs hfclap-tiny-seed1, both model folders: the audio tower at every
 * stage of every clip from the reference's input_features, the fused path's local conv and AFF fusion,
 * and the text tower (RoBERTa, pooler, projection) for the padded batch and the 512-token text.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { type HostTensor, Session } from '../../src/engine/index.js';
import {
  buildHfClapAudioGraph,
  buildHfClapTextGraph,
  clapLogitScales,
  type HfClapConfig,
  hfClapConfigFromJson,
} from '../../src/models/hf-clap/index.js';
import { loadWeights, type StateDict } from '../../src/weights/index.js';
import {
  ClapFeatureExtractor,
  LAION_FUSED_EXTRACTOR,
  LAION_UNFUSED_EXTRACTOR,
  loadMonoWaveform,
  NumpyRandomState,
} from '../../src/audio/index.js';
import { robertaTokenizerFromPath } from '../../src/text/index.js';
import { ClapError } from '../../src/errors.js';
import { assertRelClose } from '../helpers/compare.js';
import { hfclapPath } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

const manifest = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')) as {
  variants: Record<string, { audio: { name: string }[]; logit_scale_a_exp: number; logit_scale_t_exp: number }>;
};
/** Rows of [N, d] scaled to unit length (F.normalize). */
function normalizeRows(t: HostTensor): Float32Array {
  const d = t.shape[1];
  const x = t.data as Float32Array;
  const out = new Float32Array(x.length);
  for (let r = 0; r < t.shape[0]; r++) {
    let s = 0;
    for (let c = 0; c < d; c++) s += x[r * d + c] ** 2;
    const n = Math.max(Math.sqrt(s), 1e-12);
    for (let c = 0; c < d; c++) out[r * d + c] = x[r * d + c] / n;
  }
  return out;
}

/** scale · a bᵀ for row-major a [n, d], b [m, d]. */
function logits(a: Float32Array, b: Float32Array, d: number, scale: number): Float32Array {
  const n = a.length / d;
  const m = b.length / d;
  const out = new Float32Array(n * m);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < m; j++) {
      let s = 0;
      for (let c = 0; c < d; c++) s += a[i * d + c] * b[j * d + c];
      out[i * m + j] = scale * s;
    }
  }
  return out;
}

function softmaxRows(x: Float32Array, m: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length / m; r++) {
    const row = x.subarray(r * m, (r + 1) * m);
    const max = Math.max(...row);
    const e = Array.from(row, (v) => Math.exp(v - max));
    const sum = e.reduce((p, q) => p + q, 0);
    e.forEach((v, c) => {
      out[r * m + c] = v / sum;
    });
  }
  return out;
}

const STAGES = [
  'batch_norm',
  'mel2img',
  'patch_proj',
  'local_conv',
  'fusion',
  'patch_embed',
  'stage0',
  'stage1',
  'stage2',
  'stage3',
  'final_norm',
  'pooler_output',
];

for (const v of ['unfused', 'fused'] as const) {
  describe(`${v} model folder`, () => {
    const npy = (...p: string[]) => readNpy(hfclapPath('expected', v, ...p));
    const f32 = (...p: string[]): Float32Array => npy(...p).data as Float32Array;
    let sd: StateDict;
    let cfg: HfClapConfig;
    let audio: Session;
    let text: Session;

    before(async () => {
      sd = await loadWeights(hfclapPath(`model-${v}`, 'model.safetensors'));
      cfg = hfClapConfigFromJson(JSON.parse(readFileSync(hfclapPath(`model-${v}`, 'config.json'), 'utf8')));
      assert.equal(cfg.audio.enableFusion, v === 'fused');
      audio = await Session.compile(buildHfClapAudioGraph(sd, cfg, { debugOutputs: true }), { threads: 2 });
      text = await Session.compile(buildHfClapTextGraph(sd, cfg, { debugOutputs: true }), { threads: 1 });
    });
    after(async () => {
      await audio?.release();
      await text?.release();
    });

    test('every clip, every stage recorded, from the reference input_features (≤ 1e-4 × max)', async (t) => {
      for (const { name } of manifest.variants[v].audio) {
        const features = npy('audio', name, 'input_features.npy');
        const feeds: Record<string, HostTensor> = {
          input_features: { dtype: 'float32', shape: [1, ...features.shape], data: features.data as Float32Array },
        };
        if (v === 'fused') feeds.is_longer = { dtype: 'bool', shape: [1], data: npy('audio', name, 'is_longer.npy').data as Uint8Array };
        const out = await audio.run(feeds);
        for (const stage of STAGES) {
          let want: Float32Array;
          try {
            want = f32('audio', name, `${stage}.npy`);
          } catch {
            continue; // the set records the big stages for two clips only (its README)
          }
          assertRelClose(t, `${name} ${stage}`, out[stage].data as Float32Array, want);
        }
        assertRelClose(t, `${name} audio_projection`, out.audio_embed.data as Float32Array, f32('audio', name, 'audio_projection.npy'));
      }
    });

    test('text: the padded batch (RoBERTa positions from the ids, in the graph), pooler, projection; the 512-token text', async (t) => {
      const ids = npy('text', 'input_ids.npy');
      const [B, T] = ids.shape;
      const out = await text.run({
        input_ids: { dtype: 'int64', shape: [B, T], data: ids.data as BigInt64Array },
        attention_mask: { dtype: 'int64', shape: [B, T], data: npy('text', 'attention_mask.npy').data as BigInt64Array },
      });
      assertRelClose(t, 'last_hidden_state', out.last_hidden_state.data as Float32Array, f32('text', 'last_hidden_state.npy'));
      assertRelClose(t, 'pooler_output', out.pooler_output.data as Float32Array, f32('text', 'pooler_output.npy'));
      assertRelClose(t, 'text_projection', out.text_embed.data as Float32Array, f32('text', 'text_projection.npy'));
      const long = npy('text_long', 'input_ids.npy');
      const L = long.shape[1];
      const lo = await text.run({
        input_ids: { dtype: 'int64', shape: [1, L], data: long.data as BigInt64Array },
        attention_mask: { dtype: 'int64', shape: [1, L], data: new BigInt64Array(L).fill(1n) },
      });
      assertRelClose(
        t,
        'text_long last_hidden_state',
        lo.last_hidden_state.data as Float32Array,
        f32('text_long', 'last_hidden_state.npy'),
      );
      assertRelClose(t, 'text_long pooler_output', lo.pooler_output.data as Float32Array, f32('text_long', 'pooler_output.npy'));
    });

    test('file → ClapFeatureExtractor (the batch call, replayed) → both towers → logits and zero-shot probabilities', async (t) => {
      const b = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')).variants[v].audio_batch as {
        order: string[];
        np_random_seed: number;
      };
      const files = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')).audio as { name: string; file: string }[];
      const fx = new ClapFeatureExtractor(v === 'fused' ? LAION_FUSED_EXTRACTOR : LAION_UNFUSED_EXTRACTOR);
      const waves = await Promise.all(
        b.order.map(async (n) => (await loadMonoWaveform(hfclapPath(files.find((f) => f.name === n)!.file), 48000)).waveform),
      );
      const feats = fx.extractBatch(waves, { rng: new NumpyRandomState(b.np_random_seed) });
      const ch = fx.channels;
      const data = new Float32Array(feats.length * ch * 1001 * 64);
      feats.forEach((f, i) => data.set(f.features, i * f.features.length));
      const feeds: Record<string, HostTensor> = { input_features: { dtype: 'float32', shape: [feats.length, ch, 1001, 64], data } };
      if (v === 'fused')
        feeds.is_longer = { dtype: 'bool', shape: [feats.length], data: Uint8Array.from(feats, (f) => (f.isLonger ? 1 : 0)) };
      const audioEmbeds = normalizeRows((await audio.run(feeds)).audio_embed);
      assertRelClose(t, 'audio_batch audio_embeds', audioEmbeds, f32('audio_batch', 'audio_embeds.npy'));
      const inputs = JSON.parse(readFileSync(hfclapPath('inputs', 'texts.json'), 'utf8')) as {
        texts: string[];
        zero_shot_classes: string[];
        zero_shot_prompt: string;
      };
      const tok = robertaTokenizerFromPath(hfclapPath(`model-${v}`));
      const embedTexts = async (texts: string[]): Promise<Float32Array> => {
        const batch = tok.encodeBatch(texts);
        const ids = batch.ids as BigInt64Array;
        const out = await text.run({
          input_ids: { dtype: 'int64', shape: [batch.batchSize, batch.seqLen], data: ids },
          attention_mask: { dtype: 'int64', shape: [batch.batchSize, batch.seqLen], data: batch.attentionMask as BigInt64Array },
        });
        return normalizeRows(out.text_embed);
      };
      const texts = await embedTexts(inputs.texts);
      const { audio: sa, text: st } = clapLogitScales(sd);
      const P = cfg.projectionDim;
      assertRelClose(t, 'logits_per_audio', logits(audioEmbeds, texts, P, sa), f32('logits_per_audio.npy'));
      assertRelClose(t, 'logits_per_text', logits(texts, audioEmbeds, P, st), f32('logits_per_text.npy'));
      const prompts = await embedTexts(inputs.zero_shot_classes.map((c) => inputs.zero_shot_prompt.replace('{}', c)));
      const zs = logits(audioEmbeds, prompts, P, sa);
      assertRelClose(t, 'zeroshot logits_per_audio', zs, f32('zeroshot', 'logits_per_audio.npy'));
      assertRelClose(t, 'zeroshot probs', softmaxRows(zs, inputs.zero_shot_classes.length), f32('zeroshot', 'probs.npy'));
    });

    test('two logit scales, exp(logit_scale_a) ≠ exp(logit_scale_t) (within torch’s float32 exp, 1 ulp)', () => {
      const s = clapLogitScales(sd);
      const { logit_scale_a_exp: a, logit_scale_t_exp: t } = manifest.variants[v];
      assert.ok(Math.abs(s.audio - a) <= 2e-7 * a && Math.abs(s.text - t) <= 2e-7 * t, `${s.audio} ${s.text} vs ${a} ${t}`);
      assert.ok(Math.abs(s.audio - s.text) > 1);
    });
  });
}

test('config.json: transformers defaults fill missing keys; unsupported settings are named', () => {
  const cfg = hfClapConfigFromJson({ model_type: 'clap' });
  assert.deepEqual(
    [cfg.audio.htsat.embedDim, cfg.audio.htsat.depths, cfg.text.hiddenSize, cfg.text.vocabSize, cfg.projectionDim],
    [96, [2, 2, 6, 2], 768, 50265, 512],
  );
  assert.throws(
    () => hfClapConfigFromJson({ model_type: 'whisper' }),
    (e: Error) => e instanceof ClapError && /expected "clap"/.test(e.message),
  );
  assert.throws(() => hfClapConfigFromJson({ audio_config: { fusion_type: 'channel_map' } }), /fusion_type "channel_map" is not supported/);
  assert.throws(() => hfClapConfigFromJson({ audio_config: { hidden_size: 100 } }), /hidden_size 100 != patch_embeds_hidden_size/);
});
