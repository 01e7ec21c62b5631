/**
 * msclap's `Projection` (models/clap.py) and the similarity of `CLAPWrapper.compute_similarity`.
 *
 *   embed1 = linear1(x)             (no bias)
 *   embed2 = linear2(gelu(embed1))  (exact erf GELU, no bias; dropout is off at inference)
 *   out    = LayerNorm(embed1 + embed2)
 *
 * Checkpoint prefixes: `audio_encoder.projection.` and `caption_encoder.projection.` (clap.pth),
 * `clap.projection.` (clapcap.pth's own audio projection).
 */
import { ClapError } from '../errors.js';
import { type HostTensor, type Graph, ops, type Value } from '../engine/index.js';
import {
  applyLayerNorm,
  applyLinear,
  type LayerNormParams,
  type LinearParams,
  requireTensor,
  type StateDict,
  stateDictGet,
  torchLayerNorm,
  torchLinear,
} from './layers.js';

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
  const t = stateDictGet(sd, key);
  if (t?.data.length !== 1) throw new ClapError('missing from the checkpoint (or not a scalar)', { subject: key });
  return Math.fround(Math.exp(Number(t.data[0])));
}

function rowsOf(t: HostTensor, what: string): { n: number; d: number; data: ArrayLike<number> } {
  if (t.shape.length !== 2) throw new ClapError(`${what} embeddings must be [N, d], got [${t.shape.join(', ')}]`);
  if (t.dtype !== 'float32' && t.dtype !== 'float64') throw new ClapError(`${what} embeddings must be float, got ${t.dtype}`);
  return { n: t.shape[0], d: t.shape[1], data: t.data as Float32Array | Float64Array };
}

/**
 * compute_similarity on the host (CLAPWrapper l.329–336): both sides L2-normalised,
 * `logitScale · text @ audioᵀ`, returned transposed → [n_audio, n_text] float32.
 * `logitScale` is the already exponentiated factor (see logitScaleExp). Accumulates in float64.
 */
export function computeSimilarity(audio: HostTensor, text: HostTensor, logitScale: number): HostTensor {
  const a = rowsOf(audio, 'audio');
  const t = rowsOf(text, 'text');
  if (a.d !== t.d) throw new ClapError(`audio embeddings have ${a.d} dims, text embeddings ${t.d}`);
  const normalise = (m: { n: number; d: number; data: ArrayLike<number> }): Float64Array => {
    const out = new Float64Array(m.n * m.d);
    for (let r = 0; r < m.n; r++) {
      let s = 0;
      for (let c = 0; c < m.d; c++) s += m.data[r * m.d + c] ** 2;
      const inv = 1 / Math.sqrt(s);
      for (let c = 0; c < m.d; c++) out[r * m.d + c] = m.data[r * m.d + c] * inv;
    }
    return out;
  };
  const an = normalise(a);
  const tn = normalise(t);
  const out = new Float32Array(a.n * t.n);
  for (let i = 0; i < a.n; i++) {
    for (let j = 0; j < t.n; j++) {
      let s = 0;
      for (let c = 0; c < a.d; c++) s += an[i * a.d + c] * tn[j * a.d + c];
      out[i * t.n + j] = logitScale * s;
    }
  }
  return { dtype: 'float32', shape: [a.n, t.n], data: out };
}

/** Row-wise softmax of [N, M] (zero-shot: `softmax(similarity, dim=1)`), float64 accumulation. */
export function softmaxRows(x: HostTensor): HostTensor {
  const { n, d, data } = rowsOf(x, 'similarity');
  const out = new Float32Array(n * d);
  for (let r = 0; r < n; r++) {
    let m = -Infinity;
    for (let c = 0; c < d; c++) m = Math.max(m, data[r * d + c]);
    let s = 0;
    for (let c = 0; c < d; c++) s += Math.exp(data[r * d + c] - m);
    for (let c = 0; c < d; c++) out[r * d + c] = Math.exp(data[r * d + c] - m) / s;
  }
  return { dtype: 'float32', shape: [n, d], data: out };
}
