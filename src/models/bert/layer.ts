/**
 * `BertLayer` (also RoBERTa's): BertSelfAttention → BertSelfOutput (dense, residual, LayerNorm) →
 * BertIntermediate (dense, exact GELU) → BertOutput (dense, residual, LayerNorm). Post-LN, unlike GPT-2.
 * Attention is transformers' eager path: `softmax(q·kᵀ/√d + (1 − mask)·finfo(float32).min)`, so padded
 * keys get exactly zero weight and a padded batch gives every real row the numbers of an unpadded run.
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, applyLinear, type LayerNormParams, type LinearParams, torchLayerNorm, torchLinear } from '../layers.js';
import type { BertConfig } from './config.js';

export interface BertLayerParams {
  query: LinearParams;
  key: LinearParams;
  value: LinearParams;
  attentionOutput: LinearParams;
  attentionNorm: LayerNormParams;
  intermediate: LinearParams;
  output: LinearParams;
  outputNorm: LayerNormParams;
  heads: number;
}

/** BertLayer at `prefix` (`…encoder.layer.<i>.`). */
export function bertLayerParams(g: Graph, sd: StateDict, prefix: string, c: BertConfig): BertLayerParams {
  const H = c.hiddenSize;
  const lin = (key: string, inFeatures: number, outFeatures: number): LinearParams =>
    torchLinear(g, sd, prefix + key, { inFeatures, outFeatures });
  return {
    query: lin('attention.self.query', H, H),
    key: lin('attention.self.key', H, H),
    value: lin('attention.self.value', H, H),
    attentionOutput: lin('attention.output.dense', H, H),
    attentionNorm: torchLayerNorm(g, sd, `${prefix}attention.output.LayerNorm`, H, c.layerNormEps),
    intermediate: lin('intermediate.dense', H, c.intermediateSize),
    output: lin('output.dense', c.intermediateSize, H),
    outputNorm: torchLayerNorm(g, sd, `${prefix}output.LayerNorm`, H, c.layerNormEps),
    heads: c.numAttentionHeads,
  };
}

/**
 * The additive attention mask of transformers' `get_extended_attention_mask`: attention_mask [B, T] int64
 * (1 = token, 0 = padding) → [B, 1, 1, T] float, 0 for tokens and float32's lowest value for padding.
 */
export function extendedAttentionMask(attentionMask: Value): Value {
  const m = ops.cast(ops.unsqueeze(attentionMask, [1, 2]), 'float32');
  return ops.mul(ops.sub(1, m), -3.4028234663852886e38);
}

/** One BertLayer on x [B, T, hidden] with the extended mask [B, 1, 1, T]. */
export function bertLayer(x: Value, p: BertLayerParams, mask: Value): Value {
  const H = p.query.outFeatures;
  const hd = H / p.heads;
  const heads = (t: Value): Value => ops.transpose(ops.reshape(t, [0, 0, p.heads, hd]), [0, 2, 1, 3]); // [B, heads, T, hd]
  const q = heads(applyLinear(x, p.query));
  const k = ops.transpose(heads(applyLinear(x, p.key)), [0, 1, 3, 2]);
  const v = heads(applyLinear(x, p.value));
  const scores = ops.add(ops.div(ops.matmul(q, k), Math.sqrt(hd)), mask); // [B, heads, T, T]
  const ctx = ops.reshape(ops.transpose(ops.matmul(ops.softmax(scores, -1), v), [0, 2, 1, 3]), [0, 0, H]);
  const attended = applyLayerNorm(ops.add(applyLinear(ctx, p.attentionOutput), x), p.attentionNorm);
  const inner = ops.gelu(applyLinear(attended, p.intermediate), 'none');
  return applyLayerNorm(ops.add(applyLinear(inner, p.output), attended), p.outputNorm);
}
