/**
 * `ClapAudioAFFBlock` (attentional feature fusion, 2-D): the global patch map g and the local chunks'
 * map l (both [C, H, W], here per-token [B, N, C]) are blended by `w = sigmoid(local_att(g + l) +
 * global_att(g + l))`, `out = 2·g·w + 2·l·(1 − w)` (the factor 2 is the reference's). local_att is
 * 1×1 conv → BatchNorm → ReLU → 1×1 conv → BatchNorm per token; global_att the same on the mean over all
 * tokens (adaptive average pooling to 1×1). 1×1 convs are Linears over channels. Inference folds the eval-mode
 * BatchNorms into them at load time; the training path keeps convs and BatchNorms apart and the BatchNorms'
 * running statistics frozen (eval mode): the reference runs the block on the batch's fused clips only — often
 * one or two, too few for batch statistics (with one, PyTorch stops: "Expected more than 1 value per channel").
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import {
  applyFrozenBatchNorm,
  applyLinear,
  asFloat32,
  batchNormAffine,
  f32Tensor,
  type FrozenBatchNorm,
  frozenBatchNorm,
  type LinearParams,
  requireTensor,
  torchParam,
  transpose2d,
} from '../layers.js';

/** A 1×1 conv and the BatchNorm after it: folded into the conv (inference), or apart (training). */
interface ConvBn {
  conv: LinearParams;
  bn?: FrozenBatchNorm;
}

export interface AffBlockParams {
  local: [ConvBn, ConvBn];
  global: [ConvBn, ConvBn];
}

/** A 1×1 Conv2d at `convKey` followed by the BatchNorm2d at `bnKey`, as a Linear [in, out] (and the BatchNorm when training). */
function conv1x1Bn(g: Graph, sd: StateDict, convKey: string, bnKey: string, [cin, cout]: [number, number], training: boolean): ConvBn {
  const w = asFloat32(requireTensor(sd, `${convKey}.weight`, [cout, cin, 1, 1]));
  const wt = transpose2d(w, cout, cin); // [in, out]
  if (training) {
    const conv = { w: g.param(`${convKey}.weight^T`, f32Tensor([cin, cout], wt)), b: torchParam(g, sd, `${convKey}.bias`, [cout]) };
    return { conv: { ...conv, inFeatures: cin, outFeatures: cout }, bn: frozenBatchNorm(g, sd, `${bnKey}.`, cout, 1e-5) };
  }
  const b = asFloat32(requireTensor(sd, `${convKey}.bias`, [cout]));
  const { scale, shift } = batchNormAffine(sd, `${bnKey}.`, cout, 1e-5);
  for (let i = 0; i < cin; i++) for (let o = 0; o < cout; o++) wt[i * cout + o] *= scale[o];
  const bias = Float32Array.from(b, (v, o) => v * scale[o] + shift[o]);
  return {
    conv: {
      w: g.param(`${convKey}.weight*${bnKey}^T`, f32Tensor([cin, cout], wt)),
      b: g.param(`${convKey}.bias*${bnKey}`, f32Tensor([cout], bias)),
      inFeatures: cin,
      outFeatures: cout,
    },
  };
}

/** ClapAudioAFFBlock at `prefix` (`…patch_embed.fusion_model.`) for `channels` channels; `training`: the training path's params. */
export function affBlockParams(g: Graph, sd: StateDict, prefix: string, channels: number, r: number, training = false): AffBlockParams {
  const inter = Math.floor(channels / r);
  const pair = (att: string, [a, b, c, d]: number[]): [ConvBn, ConvBn] => [
    conv1x1Bn(g, sd, `${prefix}${att}.${a}`, `${prefix}${att}.${b}`, [channels, inter], training),
    conv1x1Bn(g, sd, `${prefix}${att}.${c}`, `${prefix}${att}.${d}`, [inter, channels], training),
  ];
  return { local: pair('local_att', [0, 1, 3, 4]), global: pair('global_att', [1, 2, 4, 5]) };
}

/** The block on g, l [B, N, C] → [B, N, C]. */
export function affBlock(p: AffBlockParams, g: Value, l: Value): Value {
  const convBn = (x: Value, s: ConvBn): Value => {
    const y = applyLinear(x, s.conv);
    return s.bn ? applyFrozenBatchNorm(y, s.bn, y.rank - 1) : y;
  };
  const two = (x: Value, [a, b]: [ConvBn, ConvBn]): Value => convBn(ops.relu(convBn(x, a)), b);
  const xa = ops.add(g, l);
  const w = ops.sigmoid(ops.add(two(xa, p.local), two(ops.reduceMean(xa, [1], true), p.global)));
  return ops.add(ops.mul(ops.mul(g, 2), w), ops.mul(ops.mul(l, 2), ops.sub(1, w)));
}
