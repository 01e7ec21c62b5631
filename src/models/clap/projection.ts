/**
 * msclap's `Projection` (models/clap.py) and, in a graph, the similarity of `CLAPWrapper.compute_similarity`
 * (the host-side one, for embeddings already computed, is tasks/similarity.ts).
 *
 *   embed1 = linear1(x)             (no bias)
 *   embed2 = linear2(gelu(embed1))  (exact erf GELU, no bias; dropout is off at inference)
 *   out    = LayerNorm(embed1 + embed2)
 *
 * Checkpoint prefixes: `audio_encoder.projection.` and `caption_encoder.projection.` (clap.pth),
 * `clap.projection.` (clapcap.pth's own audio projection).
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import {
  applyLayerNorm,
  applyLinear,
  type LayerNormParams,
  type LinearParams,
  requireTensor,
  torchLayerNorm,
  torchLinear,
} from '../layers.js';

export interface ProjectionParams {
  /** [d_in, d_out] (transposed once at load, see layers.ts) */
  linear1: LinearParams;
  /** [d_out, d_out] */
  linear2: LinearParams;
  norm: LayerNormParams;
  dIn: number;
  dOut: number;
}

/**
 * A Projection's weights under `prefix` (e.g. `caption_encoder.projection.`). Sizes come from the
 * checkpoint; `inDim` (when given) is checked against linear1.
 */
export function projectionParams(g: Graph, sd: StateDict, prefix: string, opts: { inDim?: number; eps?: number } = {}): ProjectionParams {
  const w1 = requireTensor(sd, `${prefix}linear1.weight`, [null, opts.inDim ?? null]);
  const dOut = w1.shape[0];
  const linear1 = torchLinear(g, sd, `${prefix}linear1`, { bias: false, inFeatures: opts.inDim });
  const linear2 = torchLinear(g, sd, `${prefix}linear2`, { bias: false, inFeatures: dOut, outFeatures: dOut });
  return { linear1, linear2, norm: torchLayerNorm(g, sd, `${prefix}layer_norm`, dOut, opts.eps ?? 1e-5), dIn: linear1.inFeatures, dOut };
}

/** Projection forward: [..., d_in] → [..., d_out]. */
export function projection(p: ProjectionParams, x: Value): Value {
  const e1 = applyLinear(x, p.linear1);
  const e2 = applyLinear(ops.gelu(e1, 'none'), p.linear2);
  return applyLayerNorm(ops.add(e1, e2), p.norm);
}

// ------------------------------------------------------------------------------------------ similarity

/** x / ‖x‖₂ along the last axis (torch's `x / x.norm(dim=-1, keepdim=True)`: no epsilon). */
export function l2Normalize(x: Value): Value {
  return ops.div(x, ops.sqrt(ops.reduceSum(ops.mul(x, x), [-1], true)));
}

/**
 * compute_similarity in a graph: audio [Na, d], text [Nt, d], logitScale a rank-0 param (the
 * checkpoint's `logit_scale`, exponentiated here) → [Na, Nt] = exp(s) · norm(audio) @ norm(text)ᵀ.
 */
export function similarity(audio: Value, text: Value, logitScale: Value): Value {
  return ops.mul(ops.matmul(l2Normalize(audio), ops.transpose(l2Normalize(text), [1, 0])), ops.exp(logitScale));
}

/** exp(`logit_scale`) from a clap.pth state dict (msclap's `self.clap.logit_scale.exp()`), in float32 as torch computes it. */
export function logitScaleExp(sd: StateDict, key = 'logit_scale'): number {
  const t = sd.get(key);
  if (t?.data.length !== 1) throw new ClapError('missing from the checkpoint (or not a scalar)', { subject: key });
  return Math.fround(Math.exp(Number(t.data[0])));
}
