/**
 * `ClapAudioEncoder` (transformers modeling_clap.py), LAION's HTSAT: input_features [B, channels, 1001,
 * 64] → batch_norm over the mel bins → reshape_mel2img per channel (bicubic 1001 → 1024 frames, fold) →
 * ClapAudioPatchEmbed (with the fused checkpoints' AFF fusion) → Swin stages → norm → the mean of the
 * tokens (`pooler_output`). Its Swin blocks are msclap's with Hugging Face's names (separate q/k/v, q·kᵀ
 * scaled after the product, mask −100 computed rather than stored), so the stages are htsat/'s; there is
 * no tscam head. The training path (`trainable`) is htsat/'s: batch_norm in eval mode with its weight and bias
 * trained (as msclap's bn0), bias tables as params; and the AFF block's (aff-block.ts).
 *
 *   patch-embed.ts  ClapAudioPatchEmbed
 *   aff-block.ts    ClapAudioAFFBlock
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyFrozenBatchNorm, applyLayerNorm, batchNormAffine, f32Tensor, frozenBatchNorm, torchLayerNorm } from '../layers.js';
import { basicLayer, reshapeWav2Img, type SwinBlockKeys, toRaster } from '../htsat/index.js';
import type { ClapAudioConfig } from './config.js';
import { clapPatchEmbed } from './patch-embed.js';

/** ClapAudioLayer's key names under `…layers.<s>.blocks.<d>.`. */
export const HF_SWIN_KEYS: Readonly<SwinBlockKeys> = Object.freeze({
  norm1: 'layernorm_before',
  norm2: 'layernorm_after',
  fc1: 'intermediate.dense',
  fc2: 'output.dense',
  attention: 'attention.self.',
  qkv: { query: 'attention.self.query', key: 'attention.self.key', value: 'attention.self.value' },
  proj: 'attention.output.dense',
});

export interface ClapAudioEncoderOutputs {
  /** Mean of the final tokens [B, hidden]: what the audio projection reads. */
  pooler: Value;
  /**
   * The reference's intermediate tensors (tests): batch_norm [B, ch, T, mel], mel2img [B, ch, S, S],
   * patch_embed [B, tokens, C] raster, stage{i}, final_norm [B, 64, 8C]; fused: patch_proj, local_conv, fusion.
   */
  stages: Record<string, Value>;
}

/**
 * ClapAudioEncoder on `inputFeatures` [B, 1|4, T, mel] (static channels and frames; 4 channels when fused)
 * with `isLonger` [B] bool (fused only) and weights under `prefix` (`audio_model.audio_encoder.`);
 * `trainable`: the training path (see the file comment).
 */
export function buildClapAudioEncoder(
  g: Graph,
  inputFeatures: Value,
  isLonger: Value | undefined,
  sd: StateDict,
  cfg: ClapAudioConfig,
  prefix: string,
  trainable = false,
): ClapAudioEncoderOutputs {
  const h = cfg.htsat;
  const [, channels, T, M] = inputFeatures.shape;
  const want = cfg.enableFusion ? 4 : 1;
  if (inputFeatures.rank !== 4 || channels !== want || typeof T !== 'number' || M !== h.melBins) {
    throw new ClapError(`ClapAudioEncoder input must be [B, ${want}, frames, ${h.melBins}], got [${inputFeatures.shape.join(', ')}]`);
  }
  if (T > h.specSize * h.freqRatio) throw new ClapError(`${T} frames is more than the model's ${h.specSize * h.freqRatio}`);
  const stages: Record<string, Value> = {};
  const normed = trainable
    ? applyFrozenBatchNorm(inputFeatures, frozenBatchNorm(g, sd, `${prefix}batch_norm.`, M, h.bnEps), 3)
    : foldedBatchNorm(g, inputFeatures, sd, `${prefix}batch_norm.`, M, h.bnEps);
  stages.batch_norm = normed;
  const { resized, image } = reshapeWav2Img(g, ops.reshape(normed, [-1, T, M]), h);
  const S = h.specSize;
  stages.mel2img = ops.reshape(image, [-1, want, S, S]);
  const pe = clapPatchEmbed(g, ops.reshape(resized, [-1, want, S * h.freqRatio, M]), isLonger, sd, `${prefix}patch_embed.`, cfg, trainable);
  Object.assign(stages, pe.stages);
  let s = pe.stream;
  stages.patch_embed = toRaster(g, s.x, s.order);
  for (let i = 0; i < h.depths.length; i++) {
    s = basicLayer(g, s, sd, prefix, i, h, { hardMask: false, trainable, keys: HF_SWIN_KEYS });
    stages[`stage${i}`] = toRaster(g, s.x, s.order);
  }
  const finalNorm = applyLayerNorm(toRaster(g, s.x, s.order), torchLayerNorm(g, sd, `${prefix}norm`, s.dim, h.eps));
  stages.final_norm = finalNorm;
  return { pooler: ops.reduceMean(finalNorm, [1]), stages };
}

/** Eval-mode batch_norm over the mel bins (last axis), folded into a scale and shift once here. */
function foldedBatchNorm(g: Graph, x: Value, sd: StateDict, prefix: string, M: number, eps: number): Value {
  const bn = batchNormAffine(sd, prefix, M, eps);
  return ops.add(ops.mul(x, g.constant(f32Tensor([M], bn.scale), 'bn_scale')), g.constant(f32Tensor([M], bn.shift), 'bn_shift'));
}
