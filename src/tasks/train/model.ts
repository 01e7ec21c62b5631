/**
 * The contrastive CLAP training graph of any family — the audio and text towers inference runs
 * (models/clap `clapAudioEmbedding` with its training path, `clapTextEmbedding`), L2-normalised embeddings,
 * logits = exp(clamp(logit scale)) · a·tᵀ, and the symmetric cross-entropy (paper §2.1) — all one traced graph,
 * so forward + backward + optimiser update compile into one ONNX model per step (src/engine/train.ts).
 *
 * Hugging Face CLAP has two logit scales: the audio→text cross-entropy is over logits_per_audio (scaled by
 * exp(logit_scale_a)), the text→audio one over logits_per_text (exp(logit_scale_t)), so each scale is trained
 * as the temperature of the direction it scores at inference. (transformers' `ClapModel` loss uses
 * logits_per_text both ways, LAION's trainer logit_scale_a both ways: each leaves one scale untrained.)
 *
 * Targets are a [B, B] row-stochastic matrix fed with the batch: the identity for distinct captions,
 * spread uniformly over the items that share a caption (labelled data turned into captions by a template
 * often puts the same caption twice in a batch; the plain diagonal would then push identical texts apart).
 *
 * Parameter names are the graph's (see src/models/layers.ts: `<key>^T` for a transposed Linear weight,
 * `<key>[a:b]*s^T` for a scaled row slice of a fused qkv); `exportStateDict` maps them back onto the
 * official key layout.
 */
import { ClapError } from '../../errors.js';
import { type BufferUpdate, Graph, type HostTensor, isFloatDtype, ops, type Value } from '../../engine/index.js';
import {
  audioProjectionPrefix,
  type ClapConfig,
  clapAudioEmbedding,
  clapTextEmbedding,
  describeClap,
  similarity,
  textProjectionPrefix,
} from '../../models/clap/index.js';
import type { StateDict } from '../../weights/index.js';
import { type AudioInputSpec, audioInputSpec } from '../audio-tower.js';

/** Upper clamp of the logit scales (CLIP's: temperature ≥ 1/100). */
export const LOGIT_SCALE_MAX = Math.log(100);

export type ParamGroup = 'audio' | 'text' | 'audio_projection' | 'text_projection' | 'temperature';

export interface ContrastiveGraph {
  graph: Graph;
  loss: Value;
  /** logits_per_audio [B, B]. */
  logits: Value;
  /** The towers' outputs (projections, not normalised), as inference computes them. */
  embeddings: { audio: Value; text: Value };
  /** The BatchNorms' running statistics each step updates (Cnn14's, in training mode): the train step's buffers. */
  buffers: BufferUpdate[];
  /** The audio encoder's input (its name and per-clip shape; fused Hugging Face models also take `is_longer`). */
  audio: AudioInputSpec;
  batch: number;
  textLen: number;
}

/**
 * Inputs: the audio encoder's input — `logmel` [B, frames, mel] for msclap's encoders (965 frames for HTSAT's
 * 7 s, 690 for Cnn14's 5 s), `input_features` [B, 1|4, 1001, mel] (and, fused, `is_longer` [B] bool) for
 * Hugging Face's — `input_ids` and `attention_mask` [B, L] int64 (rows padded with the tokenizer's pad id, mask
 * 0 there), `targets` [B, B] float32 (rows sum to 1). Output: the mean of the two directions' cross-entropies.
 */
export function buildContrastiveGraph(sd: StateDict, cfg: ClapConfig, batch: number, textLen: number): ContrastiveGraph {
  if (!cfg.text) throw new ClapError(`contrastive training needs a text encoder in the weights (${describeClap(cfg)} has none)`);
  const g = new Graph('clap_contrastive');
  const spec = audioInputSpec(cfg);
  const input = g.input(spec.name, 'float32', [batch, ...spec.shape]);
  const isLonger = spec.isLonger ? g.input('is_longer', 'bool', [batch]) : undefined;
  const ids = g.input('input_ids', 'int64', [batch, textLen]);
  const mask = g.input('attention_mask', 'int64', [batch, textLen]);
  const targets = g.input('targets', 'float32', [batch, batch]);

  const audio = clapAudioEmbedding(g, sd, cfg, input, isLonger, true);
  const text = clapTextEmbedding(g, sd, cfg, ids, mask).embed;
  const scale = (key: string): Value => {
    const t = sd.get(key);
    if (t?.data.length !== 1) throw new ClapError('missing from the checkpoint (or not a scalar)', { subject: key });
    const p = g.param(key, { dtype: 'float32', shape: [...t.shape], data: Float32Array.of(Number(t.data[0])) });
    return ops.reshape(ops.clip(p, 0, LOGIT_SCALE_MAX), []);
  };
  const hf = cfg.layout === 'hf';
  const logits = similarity(audio.embed, text, scale(hf ? 'logit_scale_a' : 'logit_scale')); // [B_audio, B_text]
  const perText = hf ? similarity(text, audio.embed, scale('logit_scale_t')) : ops.transpose(logits, [1, 0]);
  const crossEntropy = (l: Value, t: Value): Value => ops.neg(ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(l, -1), t), [-1]), [0]));
  const loss = ops.mul(ops.add(crossEntropy(logits, targets), crossEntropy(perText, ops.transpose(targets, [1, 0]))), 0.5);
  return { graph: g, loss, logits, embeddings: { audio: audio.embed, text }, buffers: audio.updates, audio: spec, batch, textLen };
}

/** Which group a graph parameter belongs to (by its official key prefix). */
export function paramGroup(name: string, cfg: ClapConfig): ParamGroup {
  if (name.startsWith('logit_scale')) return 'temperature';
  if (name.startsWith(audioProjectionPrefix(cfg))) return 'audio_projection';
  if (name.startsWith(cfg.audioPrefix)) return 'audio';
  if (cfg.text && name.startsWith(textProjectionPrefix(cfg))) return 'text_projection';
  return 'text';
}

/** `<key>[r0:r1]*scale^T` → its parts (all optional but the key). */
const TAGGED = /^(.*?)(?:\[(\d+):(\d+)\])?(?:\*([-+0-9.eE]+))?(\^T)?$/;

export function parseParamName(name: string): { key: string; rows?: [number, number]; scale: number; transposed: boolean } {
  const m = TAGGED.exec(name);
  if (!m) return { key: name, scale: 1, transposed: false };
  return {
    key: m[1],
    ...(m[2] !== undefined ? { rows: [Number(m[2]), Number(m[3])] as [number, number] } : {}),
    scale: m[4] !== undefined ? Number(m[4]) : 1,
    transposed: m[5] !== undefined,
  };
}

/**
 * The full state dict in the official layout: `base` (every key, buffers included) with the trained
 * parameters written back — transposes undone, scales divided out, q/k/v rows put back into the fused
 * qkv. Float32 throughout.
 */
export function exportStateDict(base: StateDict, params: Record<string, HostTensor>): Map<string, HostTensor> {
  const out = new Map<string, HostTensor>();
  for (const [k, t] of base) out.set(k, t);
  const cloned = new Set<string>();
  for (const [name, t] of Object.entries(params)) {
    const { key, rows, scale, transposed } = parseParamName(name);
    const target = out.get(key);
    if (!target) throw new ClapError(`trained parameter ${name} has no key ${key} in the base weights`);
    if (!isFloatDtype(t.dtype)) {
      // a counter buffer (BatchNorm's num_batches_tracked): stored as it is, in the checkpoint's dtype
      if (t.dtype !== target.dtype || t.data.length !== target.data.length) throw new ClapError(`buffer ${name} does not fit ${key}`);
      out.set(key, { ...target, data: t.data.slice() });
      continue;
    }
    if (!cloned.has(key)) {
      out.set(key, { dtype: 'float32', shape: [...target.shape], data: Float32Array.from(target.data as ArrayLike<number>) });
      cloned.add(key);
    }
    const dst = out.get(key)!.data as Float32Array;
    const src = t.data as Float32Array;
    let values: Float32Array;
    if (transposed) {
      const [inF, outF] = t.shape;
      values = new Float32Array(src.length);
      for (let i = 0; i < inF; i++) for (let o = 0; o < outF; o++) values[o * inF + i] = src[i * outF + o];
    } else {
      values = Float32Array.from(src);
    }
    if (scale !== 1) for (let i = 0; i < values.length; i++) values[i] /= scale;
    const per = dst.length / (target.shape[0] || 1);
    const offset = rows ? rows[0] * (target.shape.length > 0 ? per : 1) : 0;
    if (offset + values.length > dst.length)
      throw new ClapError(`trained parameter ${name} does not fit ${key} [${target.shape.join(', ')}]`);
    dst.set(values, offset);
  }
  return out;
}
