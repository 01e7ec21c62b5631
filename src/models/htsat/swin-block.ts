/**
 * Swin's `SwinTransformerBlock`: x + attn(norm1(x)), then y + mlp(norm2(y)), attention in (shifted)
 * windows. The cyclic shift is not an op here: the stream arrives in this block's (rolled) window order
 * (basic-layer.ts re-orders it), and the block only supplies the shifted-window mask (`attn_mask`).
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, applyLinear, asFloat32, type LayerNormParams, type LinearParams, torchLayerNorm, torchLinear } from '../layers.js';
import type { HtsatConfig } from './config.js';
import { windowAttention, type WindowAttentionKeys, type WindowAttentionParams, windowAttentionParams } from './window-attention.js';

/** Where a block's tensors sit under its prefix (msclap's names, or Hugging Face's ClapAudioLayer's). */
export interface SwinBlockKeys extends WindowAttentionKeys {
  norm1: string;
  norm2: string;
  fc1: string;
  fc2: string;
  /** The stored shifted-window mask buffer (msclap keeps one; Hugging Face computes it). */
  attnMask?: string;
}

/** msclap's HTSAT (`norm1`, `attn.qkv`, `mlp.fc1`, ...). */
export const MSCLAP_SWIN_KEYS: Readonly<SwinBlockKeys> = Object.freeze({
  norm1: 'norm1',
  norm2: 'norm2',
  fc1: 'mlp.fc1',
  fc2: 'mlp.fc2',
  attention: 'attn.',
  qkv: { fused: 'attn.qkv' },
  proj: 'attn.proj',
  attnMask: 'attn_mask',
});

export interface SwinBlockParams {
  norm1: LayerNormParams;
  attn: WindowAttentionParams;
  norm2: LayerNormParams;
  fc1: LinearParams;
  fc2: LinearParams;
}

export interface SwinBlockGeometry {
  /** Grid side H (the grid is H×H tokens). */
  side: number;
  dim: number;
  heads: number;
  /** Window side (min(window_size, H)). */
  window: number;
  /** Cyclic shift (0 for even blocks). */
  shift: number;
}

/** SwinTransformerBlock at `prefix` (`…layers.<s>.blocks.<d>.`). */
export function swinBlockParams(
  g: Graph,
  sd: StateDict,
  prefix: string,
  geo: SwinBlockGeometry,
  cfg: HtsatConfig,
  o: { hardMask: boolean; trainable: boolean; keys: Readonly<SwinBlockKeys> },
): SwinBlockParams {
  const { side: H, dim: C, heads, window: ws, shift } = geo;
  const { keys } = o;
  const windows = (H / ws) ** 2;
  const L = ws * ws;
  let mask: Float32Array | undefined;
  if (shift > 0) {
    const key = `${prefix}${keys.attnMask}`;
    const m = keys.attnMask ? sd.get(key) : undefined;
    if (m && (m.shape.length !== 3 || m.shape[0] !== windows || m.shape[1] !== L || m.shape[2] !== L)) {
      throw new ClapError(`has shape [${m.shape.join(', ')}], expected [${windows}, ${L}, ${L}]`, { subject: key });
    }
    mask = m ? asFloat32(m) : swinShiftMask(H, ws, shift, cfg.maskValue);
  }
  const hidden = Math.round(C * cfg.mlpRatio);
  return {
    norm1: torchLayerNorm(g, sd, prefix + keys.norm1, C, cfg.eps),
    attn: windowAttentionParams(
      g,
      sd,
      prefix,
      keys,
      { dim: C, heads, window: ws, windows },
      { mask, hardMask: o.hardMask, trainable: o.trainable },
    ),
    norm2: torchLayerNorm(g, sd, prefix + keys.norm2, C, cfg.eps),
    fc1: torchLinear(g, sd, prefix + keys.fc1, { inFeatures: C, outFeatures: hidden }),
    fc2: torchLinear(g, sd, prefix + keys.fc2, { inFeatures: hidden, outFeatures: C }),
  };
}

/** One block on a stream [B·N, C] already in this block's window order. */
export function swinBlock(x: Value, p: SwinBlockParams): Value {
  const y = ops.add(x, windowAttention(applyLayerNorm(x, p.norm1), p.attn));
  const m = applyLinear(ops.gelu(applyLinear(applyLayerNorm(y, p.norm2), p.fc1)), p.fc2);
  return ops.add(y, m);
}

/** Swin's shifted-window attention mask [nW, L, L]: maskValue between tokens of different regions. */
export function swinShiftMask(H: number, ws: number, shift: number, maskValue: number): Float32Array {
  const region = (v: number): number => (v < H - ws ? 0 : v < H - shift ? 1 : 2);
  const nwSide = H / ws;
  const L = ws * ws;
  const out = new Float32Array(nwSide * nwSide * L * L);
  for (let wr = 0; wr < nwSide; wr++) {
    for (let wc = 0; wc < nwSide; wc++) {
      const w = wr * nwSide + wc;
      const lab = new Int32Array(L);
      for (let p = 0; p < L; p++) lab[p] = region(wr * ws + Math.floor(p / ws)) * 3 + region(wc * ws + (p % ws));
      for (let p = 0; p < L; p++) for (let q = 0; q < L; q++) out[(w * L + p) * L + q] = lab[p] === lab[q] ? 0 : maskValue;
    }
  }
  return out;
}
