/**
 * HTSAT (`HTSAT_Swin_Transformer` with `enable_tscam`), the audio encoder of msclap 2023, traced into an
 * engine graph: log-mel [B, T, mel] → bn0 → reshape_wav2img → PatchEmbed → BasicLayers (Swin blocks,
 * PatchMerging) → norm → tscam head. One file per reference class beside this one:
 *
 *   wav2img.ts           reshape_wav2img (banded bicubic time resize, fold into the image)
 *   patch-embed.ts       PatchEmbed
 *   basic-layer.ts       BasicLayer
 *   swin-block.ts        SwinTransformerBlock (and its shifted-window attn_mask)
 *   window-attention.ts  WindowAttention
 *   patch-merging.ts     PatchMerging
 *   token-order.ts       the window-ordered token stream those share (our layout, not a reference class)
 *
 * Layout choices (all exact re-orderings of the reference's computation, not approximations): the token
 * stream is 2-D [B·N, C] (ORT fuses every Linear's MatMul + bias into one Gemm) and kept in the window
 * order of the block that reads it, so window partition/reverse and the cyclic shift are Gathers, and
 * PatchMerging's slices + concat are one Gather.
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import {
  applyFrozenBatchNorm,
  applyLayerNorm,
  batchNormAffine,
  f32Tensor,
  frozenBatchNorm,
  torchLayerNorm,
  torchParam,
} from '../layers.js';
import { basicLayer } from './basic-layer.js';
import type { HtsatConfig } from './config.js';
import { patchEmbed } from './patch-embed.js';
import { type TokenStream, toRaster } from './token-order.js';
import { reshapeWav2Img } from './wav2img.js';

export interface HtsatOutputs {
  /** `latent_output` [B, numFeatures] (msclap's audio 'embedding', the projection's input). */
  latent: Value;
  /** `clipwise_output` [B, numClasses] (sigmoid of the tscam logits averaged over time). */
  clipwise: Value;
  /**
   * Intermediate tensors in the reference's layouts, for parity tests (free unless used as graph
   * outputs): bn0 [B,T,mel], wav2img [B,S,S], patch_embed [B,tokens,C] raster order, stage{i} [B,tokens,C_i]
   * raster order (after PatchMerging), final_norm [B,64,8C], tscam_conv [B,classes,1,32].
   */
  stages: Record<string, Value>;
}

export interface HtsatBuildOptions {
  /**
   * How shifted windows mask cross-region pairs:
   * - 'reference' (default): the checkpoint's `attn_mask` (−100) added to the scores as in msclap; the
   *   resulting ~1e-44 probabilities are flushed to 0 after the softmax (subnormals, ~30× slower as MatMul
   *   inputs; below float32 resolution of any sum they enter). Faithful for any input.
   * - 'hard': masked pairs get −1e4 instead (softmax gives exact zeros, no flush pass): ~6% faster, and
   *   identical to the reference unless a masked logit exceeds its row's unmasked maximum by more than ~80.
   */
  shiftMask?: 'reference' | 'hard';
  /**
   * Training path (default false = inference, unchanged): everything trainable is a param built from
   * plain differentiable ops — bn0's weight/bias applied around the fixed running statistics (eval-mode
   * BatchNorm: the statistics are not updated), and each block's `relative_position_bias_table` as a
   * param gathered into the [heads, L, L] bias in the graph instead of a folded constant.
   */
  trainable?: boolean;
}

/**
 * Builds HTSAT on `logmel` ([B, T, melBins] float32, T ≤ specSize·freqRatio; msclap feeds T = 965).
 * `prefix` is the state-dict prefix of the HTSAT module, e.g. `audio_encoder.base.htsat.` (CLAP) or
 * `clap.base.htsat.` (clapcap). Every tensor is checked against `cfg`; a mismatch names the key.
 */
export function buildHtsat(
  g: Graph,
  logmel: Value,
  sd: StateDict,
  cfg: HtsatConfig,
  prefix: string,
  opts: HtsatBuildOptions = {},
): HtsatOutputs {
  const layerOptions = { hardMask: (opts.shiftMask ?? 'reference') === 'hard', trainable: opts.trainable === true };
  checkGeometry(logmel, cfg);
  const stages: Record<string, Value> = {};
  const bn = opts.trainable
    ? applyFrozenBatchNorm(logmel, frozenBatchNorm(g, sd, `${prefix}bn0.`, cfg.melBins, cfg.bnEps), 2)
    : bn0(g, logmel, sd, prefix, cfg);
  stages.bn0 = bn;
  const { resized, image } = reshapeWav2Img(g, bn, cfg);
  stages.wav2img = image;
  let s: TokenStream = patchEmbed(g, resized, sd, `${prefix}patch_embed.`, cfg);
  stages.patch_embed = toRaster(g, s.x, s.order);
  for (let i = 0; i < cfg.depths.length; i++) {
    s = basicLayer(g, s, sd, prefix, i, cfg, layerOptions);
    stages[`stage${i}`] = toRaster(g, s.x, s.order);
  }
  const { latent, finalNorm, tscam, clipwise } = tscamHead(g, s, sd, prefix, cfg);
  stages.final_norm = finalNorm;
  stages.tscam_conv = tscam;
  return { latent, clipwise, stages };
}

function checkGeometry(logmel: Value, cfg: HtsatConfig): void {
  const { specSize: S, patchSize: ps, melBins: M, freqRatio: fr } = cfg;
  if (cfg.numHeads.length !== cfg.depths.length)
    throw new ClapError(`num_heads has ${cfg.numHeads.length} entries for ${cfg.depths.length} stages`, { subject: 'htsat config' });
  if (logmel.rank !== 3 || logmel.shape[2] !== M || typeof logmel.shape[1] !== 'number' || logmel.dtype !== 'float32') {
    throw new ClapError(
      `HTSAT input must be float32 [B, frames, ${M}] with a fixed frame count, got ${logmel.dtype} [${logmel.shape.join(', ')}]`,
    );
  }
  const T = logmel.shape[1];
  if (T > S * fr) throw new ClapError(`${T} frames is more than HTSAT's ${S * fr} (msclap never feeds more than 7 s)`);
  if (M !== S / fr) throw new ClapError(`mel bins ${M} must equal spec_size/freq_ratio = ${S / fr}`);
  if (!Number.isInteger(S / ps) || (S / fr) % ps !== 0)
    throw new ClapError(`spec_size ${S} / freq_ratio ${fr} is not a multiple of patch ${ps}`);
}

/** Eval-mode bn0 (BatchNorm2d over mel bins): per-bin scale/shift folded once here, in float64. */
function bn0(g: Graph, x: Value, sd: StateDict, prefix: string, cfg: HtsatConfig): Value {
  const M = cfg.melBins;
  const { scale, shift } = batchNormAffine(sd, `${prefix}bn0.`, M, cfg.bnEps);
  return ops.add(ops.mul(x, g.constant(f32Tensor([M], scale), 'bn0_scale')), g.constant(f32Tensor([M], shift), 'bn0_shift'));
}

/** norm (raster order), latent = token mean, and the tscam conv over the map regrouped by time chunks. */
function tscamHead(
  g: Graph,
  s: TokenStream,
  sd: StateDict,
  prefix: string,
  cfg: HtsatConfig,
): { latent: Value; finalNorm: Value; tscam: Value; clipwise: Value } {
  const { side: H, dim: C } = s;
  const fr = cfg.freqRatio;
  const finalNorm = applyLayerNorm(toRaster(g, s.x, s.order), torchLayerNorm(g, sd, `${prefix}norm`, C, cfg.eps));
  const latent = ops.reduceMean(finalNorm, [1]);
  // [B, H·H, C] → [B, C, H, H] rows = freq F, cols = time; F = fr·cfb → [B, C, cfb, fr·H] with col = g·H + t
  const cfb = H / fr;
  if (!Number.isInteger(cfb) || cfb < 1) throw new ClapError(`final grid ${H} is not a multiple of freq_ratio ${fr}`);
  const map = ops.reshape(ops.transpose(ops.reshape(finalNorm, [0, fr, cfb, H, C]), [0, 4, 2, 1, 3]), [0, C, cfb, fr * H]);
  const convW = torchParam(g, sd, `${prefix}tscam_conv.weight`, [cfg.numClasses, C, cfb, 3]);
  const convB = torchParam(g, sd, `${prefix}tscam_conv.bias`, [cfg.numClasses]);
  const tscam = ops.conv2d(map, convW, convB, { pads: [0, 1, 0, 1] });
  return { latent, finalNorm, tscam, clipwise: ops.sigmoid(ops.reduceMean(tscam, [2, 3])) };
}
