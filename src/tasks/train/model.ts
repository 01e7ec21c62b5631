/**
 * The contrastive CLAP training graph: HTSAT (training path) + GPT-2 text encoder, both projections,
 * L2-normalised embeddings, logits = exp(clamp(logit_scale)) · a·tᵀ, and the symmetric cross-entropy
 * (paper §2.1) — all one traced graph, so forward + backward + optimiser update compile into one ONNX
 * model per step (src/engine/train.ts).
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
import { Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
import { type ClapConfig, describeClap, projection, projectionParams, similarity } from '../../models/clap/index.js';
import type { Gpt2Config } from '../../models/gpt2/index.js';
import type { HtsatConfig } from '../../models/htsat/index.js';
import { gatherRows, gpt2Embed, gpt2Params, gpt2Transformer } from '../../models/gpt2/index.js';
import { buildHtsat, htsatInputFrames, htsatNumFeatures } from '../../models/htsat/index.js';
import type { StateDict } from '../../weights/index.js';

/** Upper clamp of logit_scale (CLIP's: temperature ≥ 1/100). */
export const LOGIT_SCALE_MAX = Math.log(100);

export type ParamGroup = 'audio' | 'text' | 'audio_projection' | 'text_projection' | 'temperature';

export interface ContrastiveGraph {
  graph: Graph;
  loss: Value;
  logits: Value;
  /** Frames of the log-mel input (htsatInputFrames: 965 for msclap's 7 s windows). */
  frames: number;
  batch: number;
  textLen: number;
}

/**
 * Inputs: `logmel` [B, 965, mel] float32, `input_ids` [B, L] int64 (0-padded), `pool_index` [B] int64
 * (b·L + eos position), `targets` [B, B] float32 (rows sum to 1). Output: the mean of the audio→text and
 * text→audio cross-entropies.
 */
export function buildContrastiveGraph(sd: StateDict, cfg: ClapConfig, batch: number, textLen: number): ContrastiveGraph {
  const { htsat, gpt2 } = trainableParts(cfg);
  if (!gpt2) throw new ClapError('contrastive training needs a text encoder in the weights (caption_encoder.*)');
  const g = new Graph('clap_contrastive');
  const frames = htsatInputFrames(htsat);
  const logmel = g.input('logmel', 'float32', [batch, frames, htsat.melBins]);
  const ids = g.input('input_ids', 'int64', [batch, textLen]);
  const pool = g.input('pool_index', 'int64', [batch]);
  const targets = g.input('targets', 'float32', [batch, batch]);

  const h = buildHtsat(g, logmel, sd, htsat, `${cfg.audioPrefix}base.htsat.`, { trainable: true });
  const audioProj = projectionParams(g, sd, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(htsat) });
  const audio = projection(audioProj, h.latent);

  const gpt = gpt2Params(g, sd, `${cfg.textPrefix}base.`, gpt2);
  const textProj = projectionParams(g, sd, `${cfg.textPrefix}projection.`, { inDim: gpt2.nEmbd });
  const pos = g.constant(
    { dtype: 'int64', shape: [textLen], data: BigInt64Array.from({ length: textLen }, (_, i) => BigInt(i)) },
    'positions',
  );
  const { hidden } = gpt2Transformer(gpt, gpt2Embed(gpt, ids, pos), { positionIds: pos });
  const text = projection(textProj, gatherRows(hidden, pool));

  const ls = sd.get('logit_scale');
  if (ls?.data.length !== 1) throw new ClapError('missing from the checkpoint (or not a scalar)', { subject: 'logit_scale' });
  const scale = g.param('logit_scale', { dtype: 'float32', shape: [...ls.shape], data: Float32Array.of(Number(ls.data[0])) });
  const logits = similarity(audio, text, ops.reshape(ops.clip(scale, 0, LOGIT_SCALE_MAX), [])); // [B_audio, B_text]
  const ceA = ops.neg(ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(logits, -1), targets), [-1]), [0]));
  const ceT = ops.neg(
    ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(ops.transpose(logits, [1, 0]), -1), ops.transpose(targets, [1, 0])), [-1]), [0]),
  );
  const loss = ops.mul(ops.add(ceA, ceT), 0.5);
  return { graph: g, loss, logits, frames, batch, textLen };
}

/**
 * The HTSAT and GPT-2 configs of a model `clap train` can train: msclap 2023's architecture (the official
 * weights, or any size of it). Other families are a clear error.
 */
export function trainableParts(cfg: ClapConfig): { htsat: HtsatConfig; gpt2: Gpt2Config | null } {
  if (cfg.layout !== 'msclap' || cfg.audio.type !== 'htsat' || (cfg.text !== null && cfg.text.type !== 'gpt2')) {
    throw new ClapError(`training ${describeClap(cfg)} is not supported: clap train trains msclap 2023's architecture (HTSAT + GPT-2)`);
  }
  return { htsat: cfg.audio.htsat, gpt2: cfg.text?.gpt2 ?? null };
}

/** Which group a graph parameter belongs to (by its official key prefix). */
export function paramGroup(name: string, cfg: ClapConfig): ParamGroup {
  if (name === 'logit_scale') return 'temperature';
  if (name.startsWith(`${cfg.audioPrefix}projection.`)) return 'audio_projection';
  if (name.startsWith(cfg.audioPrefix)) return 'audio';
  if (cfg.text && name.startsWith(`${cfg.textPrefix}projection.`)) return 'text_projection';
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
