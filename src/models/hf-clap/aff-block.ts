/**
 * `ClapAudioAFFBlock` (attentional feature fusion, 2-D): the global patch map g and the local chunks'
 * map l (both [C, H, W], here per-token [B, N, C]) are blended by `w = sigmoid(local_att(g + l) +
 * global_att(g + l))`, `out = 2·g·w + 2·l·(1 − w)` (the factor 2 is the reference's). local_att is
 * 1×1 conv → BatchNorm → ReLU → 1×1 conv → BatchNorm per token; global_att the same on the mean over all
 * tokens (adaptive average pooling to 1×1). 1×1 convs are Linears over channels, eval-mode BatchNorms are
 * folded into them at load time.
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLinear, asFloat32, batchNormAffine, f32Tensor, type LinearParams, requireTensor, transpose2d } from '../layers.js';

export interface AffBlockParams {
  local: [LinearParams, LinearParams];
  global: [LinearParams, LinearParams];
}

/** A 1×1 Conv2d at `convKey` followed by the BatchNorm2d at `bnKey`, as one Linear [in, out]. */
function conv1x1Bn(g: Graph, sd: StateDict, convKey: string, bnKey: string, cin: number, cout: number): LinearParams {
  const w = asFloat32(requireTensor(sd, `${convKey}.weight`, [cout, cin, 1, 1]));
  const b = asFloat32(requireTensor(sd, `${convKey}.bias`, [cout]));
  const { scale, shift } = batchNormAffine(sd, `${bnKey}.`, cout, 1e-5);
  const wt = transpose2d(w, cout, cin); // [in, out]
  for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) wt[i * cout + o] *= scale[o];
  const bias = Float32Array.from(b, (v, o) => v * scale[o] + shift[o]);
  return {
    w: g.param(`${convKey}.weight*${bnKey}^T`, f32Tensor([cin, cout], wt)),
    b: g.param(`${convKey}.bias*${bnKey}`, f32Tensor([cout], bias)),
    inFeatures: cin,
    outFeatures: cout,
  };
}

/** ClapAudioAFFBlock at `prefix` (`…patch_embed.fusion_model.`) for `channels` channels. */
export function affBlockParams(g: Graph, sd: StateDict, prefix: string, channels: number, r: number): AffBlockParams {
  const inter = Math.floor(channels / r);
  return {
    local: [
      conv1x1Bn(g, sd, `${prefix}local_att.0`, `${prefix}local_att.1`, channels, inter),
      conv1x1Bn(g, sd, `${prefix}local_att.3`, `${prefix}local_att.4`, inter, channels),
    ],
    global: [
      conv1x1Bn(g, sd, `${prefix}global_att.1`, `${prefix}global_att.2`, channels, inter),
      conv1x1Bn(g, sd, `${prefix}global_att.4`, `${prefix}global_att.5`, inter, channels),
    ],
  };
}

/** The block on g, l [B, N, C] → [B, N, C]. */
export function affBlock(p: AffBlockParams, g: Value, l: Value): Value {
  const two = (x: Value, [a, b]: [LinearParams, LinearParams]): Value => applyLinear(ops.relu(applyLinear(x, a)), b);
  const xa = ops.add(g, l);
  const w = ops.sigmoid(ops.add(two(xa, p.local), two(ops.reduceMean(xa, [1], true), p.global)));
  return ops.add(ops.mul(ops.mul(g, 2), w), ops.mul(ops.mul(l, 2), ops.sub(1, w)));
}
