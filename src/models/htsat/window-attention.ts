/**
 * Swin's `WindowAttention` (multi-head self-attention inside ws×ws windows with a learned relative-position
 * bias), batched over all windows of a stream already in window order (see token-order.ts): q/k/v come
 * from three Gemms (the reference's q·head_dim^-0.5 folded into q's weight and bias), and the scores
 * [B, nW, heads, L, L] get one constant per block holding the relative-position bias (gathered once here)
 * plus the shifted-window mask the block passes in.
 *
 * Denormals: the reference's −100 mask makes softmax return ~1e-44 for masked pairs; as MatMul inputs
 * these subnormal floats are ~30× slower on x86, so they are flushed to 0 right after the softmax (they
 * cannot change a float32 sum). See `HtsatBuildOptions.shiftMask`.
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLinear, asFloat32, f32Tensor, type LinearParams, requireTensor, torchLinear, torchParam } from '../layers.js';

/** Additive mask of the 'hard' shiftMask mode: exp underflows to exactly 0. */
const HARD_MASK = -1e4;

/** Smallest power of two that flushes subnormal softmax outputs: (p + 2^-100) − 2^-100 is 0 for p < 2^-124, p for p ≥ 2^-75. */
const FLUSH = 2 ** -100;

export interface WindowAttentionGeometry {
  /** Channels. */
  dim: number;
  heads: number;
  /** Window side. */
  window: number;
  /** Windows per clip. */
  windows: number;
}

/**
 * Where a WindowAttention's tensors sit under its block's prefix: msclap's Swin (`attn.qkv` fused,
 * `attn.proj`) or Hugging Face's (`attention.self.{query,key,value}`, `attention.output.dense`).
 */
export interface WindowAttentionKeys {
  /** The module holding `relative_position_bias_table` / `relative_position_index`. */
  attention: string;
  qkv: { fused: string } | { query: string; key: string; value: string };
  proj: string;
}

export interface WindowAttentionOptions {
  /**
   * The block's shifted-window mask [windows, L, L] (0 or the mask value), or undefined for an unshifted
   * block (the bias is then shared by every window).
   */
  mask?: Float32Array;
  /** Masked pairs get HARD_MASK instead of the mask's value (HtsatBuildOptions.shiftMask 'hard'). */
  hardMask: boolean;
  /** The bias table as a param gathered in the graph (training) instead of a folded constant. */
  trainable: boolean;
}

export interface WindowAttentionParams extends WindowAttentionGeometry {
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  proj: LinearParams;
  /** relative-position bias (+ shift mask): [1 or windows, heads, ws², ws²] */
  bias: Value;
  /** Flush the softmax's subnormal outputs (reference mask values). */
  flush: boolean;
}

/** WindowAttention of the block at `prefix` (`…blocks.<d>.`): q/k/v, proj, the bias table and its index. */
export function windowAttentionParams(
  g: Graph,
  sd: StateDict,
  prefix: string,
  keys: WindowAttentionKeys,
  geo: WindowAttentionGeometry,
  o: WindowAttentionOptions,
): WindowAttentionParams {
  const { dim: C, heads, window: ws, windows: nW } = geo;
  const L = ws * ws;
  const span = 2 * ws - 1;
  // relative-position bias [heads, L, L] = table[index[p, q], h]
  const tableKey = `${prefix}${keys.attention}relative_position_bias_table`;
  const table = asFloat32(requireTensor(sd, tableKey, [span * span, heads]));
  const idxKey = `${prefix}${keys.attention}relative_position_index`;
  const idxT = sd.get(idxKey);
  let relIdx: Int32Array;
  if (idxT) {
    if (idxT.shape.length !== 2 || idxT.shape[0] !== L || idxT.shape[1] !== L) {
      throw new ClapError(`has shape [${idxT.shape.join(', ')}], expected [${L}, ${L}]`, { subject: idxKey });
    }
    relIdx = Int32Array.from(idxT.data as ArrayLike<number | bigint>, (v) => Number(v));
    for (const v of relIdx) {
      if (v < 0 || v >= span * span) throw new ClapError(`index ${v} outside the bias table`, { subject: idxKey });
    }
  } else {
    relIdx = swinRelativePositionIndex(ws);
  }
  const scale = (C / heads) ** -0.5;
  const { q, k, v } = qkvParams(g, sd, prefix, keys.qkv, C, scale);
  const proj = torchLinear(g, sd, `${prefix}${keys.proj}`, { inFeatures: C, outFeatures: C });
  const layout: BiasLayout = {
    relIdx,
    mask: o.mask && (o.hardMask ? Float32Array.from(o.mask, (m) => (m !== 0 ? HARD_MASK : m)) : o.mask),
    windows: nW,
    heads,
    tokens: L,
  };
  const bias = o.trainable ? trainableBias(g, torchParam(g, sd, tableKey), layout) : foldedBias(g, prefix + keys.attention, table, layout);
  return { ...geo, q, k, v, proj, bias, flush: !o.hardMask && o.mask !== undefined };
}

/** q (pre-scaled by `scale`), k, v: rows of one fused Linear, or three Linears. */
function qkvParams(g: Graph, sd: StateDict, prefix: string, keys: WindowAttentionKeys['qkv'], C: number, scale: number) {
  if ('fused' in keys) {
    const key = prefix + keys.fused;
    return {
      q: torchLinear(g, sd, key, { inFeatures: C, outFeatures: 3 * C, rows: [0, C], scale }),
      k: torchLinear(g, sd, key, { inFeatures: C, outFeatures: 3 * C, rows: [C, 2 * C] }),
      v: torchLinear(g, sd, key, { inFeatures: C, outFeatures: 3 * C, rows: [2 * C, 3 * C] }),
    };
  }
  return {
    q: torchLinear(g, sd, prefix + keys.query, { inFeatures: C, outFeatures: C, scale }),
    k: torchLinear(g, sd, prefix + keys.key, { inFeatures: C, outFeatures: C }),
    v: torchLinear(g, sd, prefix + keys.value, { inFeatures: C, outFeatures: C }),
  };
}

/** Where the bias comes from: the table rows per (query, key) pair, and the additive shift mask if any. */
interface BiasLayout {
  relIdx: Int32Array;
  /** [windows, L, L], already in the mask mode's values. */
  mask?: Float32Array;
  windows: number;
  heads: number;
  /** Tokens per window (L). */
  tokens: number;
}

/** The bias table gathered through the index, plus the mask, as one constant [1 or nW, heads, L, L]. */
function foldedBias(g: Graph, prefix: string, table: Float32Array, { relIdx, mask, windows, heads, tokens: L }: BiasLayout): Value {
  const nb = mask ? windows : 1;
  const bias = new Float32Array(nb * heads * L * L);
  for (let w = 0; w < nb; w++) {
    for (let h = 0; h < heads; h++) {
      const o = (w * heads + h) * L * L;
      for (let pq = 0; pq < L * L; pq++) bias[o + pq] = table[relIdx[pq] * heads + h] + (mask ? mask[w * L * L + pq] : 0);
    }
  }
  return g.constant(f32Tensor([nb, heads, L, L], bias), `attn_bias_${prefix}`);
}

/** The training path's bias: the table param gathered in the graph ([1, heads, L, L]), plus the constant mask. */
function trainableBias(g: Graph, table: Value, { relIdx, mask, windows, heads, tokens: L }: BiasLayout): Value {
  const idx = g.constant({ dtype: 'int64', shape: [L * L], data: BigInt64Array.from(relIdx, (v) => BigInt(v)) }, 'rel_idx');
  const bias = ops.reshape(ops.transpose(ops.gather(table, idx, 0), [1, 0]), [1, heads, L, L]);
  if (!mask) return bias;
  return ops.add(bias, g.constant(f32Tensor([windows, 1, L, L], mask), 'shift_mask'));
}

/** Window attention over a normed stream h [B·N, C] in window order (windows are consecutive runs of L tokens) → [B·N, C]. */
export function windowAttention(h: Value, p: WindowAttentionParams): Value {
  const { dim: C, heads, windows: nW } = p;
  const L = p.window * p.window;
  const hd = C / heads;
  // [B·N, C] → [B, nW, L, heads, hd] → q, v: [B, nW, heads, L, hd]; k: [B, nW, heads, hd, L]
  const split = (t: Value): Value => ops.reshape(t, [-1, nW, L, heads, hd]);
  const q = ops.transpose(split(applyLinear(h, p.q)), [0, 1, 3, 2, 4]);
  const k = ops.transpose(split(applyLinear(h, p.k)), [0, 1, 3, 4, 2]);
  const v = ops.transpose(split(applyLinear(h, p.v)), [0, 1, 3, 2, 4]);
  const scores = ops.add(ops.matmul(q, k), p.bias); // [B, nW, heads, L, L] + [1|nW, heads, L, L]
  let attn = ops.softmax(scores, -1);
  if (p.flush) attn = ops.sub(ops.add(attn, FLUSH), FLUSH);
  const ctx = ops.matmul(attn, v); // [B, nW, heads, L, hd]
  return applyLinear(ops.reshape(ops.transpose(ctx, [0, 1, 3, 2, 4]), [-1, C]), p.proj);
}

/** Swin's relative_position_index for a ws×ws window (used when the checkpoint lacks the buffer). */
export function swinRelativePositionIndex(ws: number): Int32Array {
  const L = ws * ws;
  const idx = new Int32Array(L * L);
  for (let p = 0; p < L; p++) {
    for (let q = 0; q < L; q++) {
      const dh = Math.floor(p / ws) - Math.floor(q / ws) + ws - 1;
      const dw = (p % ws) - (q % ws) + ws - 1;
      idx[p * L + q] = dh * (2 * ws - 1) + dw;
    }
  }
  return idx;
}
