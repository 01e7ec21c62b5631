/**
 * PANNs' `ConvBlock` (msclap models/audio.py l.16–51): (conv 3×3, stride 1, pad 1, no bias → BatchNorm →
 * ReLU) twice, then 2×2 average pooling (floor: an odd last row or column is dropped) or none. Inference
 * folds the eval-mode BatchNorm into the convolution (weight × γ/σ, bias β − μ·γ/σ) at load time; the
 * training path keeps the conv weight and runs the BatchNorm in training mode (layers.ts).
 */
import { type BufferUpdate, type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import {
  applyTrainingBatchNorm,
  asFloat32,
  batchNormAffine,
  f32Tensor,
  requireTensor,
  torchParam,
  type TrainingBatchNorm,
  trainingBatchNorm,
} from '../layers.js';

export type ConvBnParams =
  /** Inference: [out, in, 3, 3] with the BatchNorm folded in, and its shift [out]. */
  | { weight: Value; bias: Value }
  /** Training: the conv's own weight and the BatchNorm after it. */
  | { weight: Value; bn: TrainingBatchNorm };

export interface ConvBlockParams {
  conv1: ConvBnParams;
  conv2: ConvBnParams;
}

function convBn(
  g: Graph,
  sd: StateDict,
  convKey: string,
  bnPrefix: string,
  [cin, cout]: [number, number],
  eps: number,
  training: boolean,
): ConvBnParams {
  if (training)
    return { weight: torchParam(g, sd, `${convKey}.weight`, [cout, cin, 3, 3]), bn: trainingBatchNorm(g, sd, bnPrefix, cout, eps) };
  const w = asFloat32(requireTensor(sd, `${convKey}.weight`, [cout, cin, 3, 3]));
  const { scale, shift } = batchNormAffine(sd, bnPrefix, cout, eps);
  const folded = new Float32Array(w.length);
  const per = cin * 9;
  for (let o = 0; o < cout; o++) for (let i = 0; i < per; i++) folded[o * per + i] = w[o * per + i] * scale[o];
  return {
    weight: g.param(`${convKey}.weight*${bnPrefix}`, f32Tensor([cout, cin, 3, 3], folded)),
    bias: g.param(`${bnPrefix}shift`, f32Tensor([cout], shift)),
  };
}

/** ConvBlock at `prefix` (`…conv_block<i>.`): in → out channels; `training`: the training path's params. */
export function convBlockParams(
  g: Graph,
  sd: StateDict,
  prefix: string,
  cin: number,
  cout: number,
  eps: number,
  training = false,
): ConvBlockParams {
  return {
    conv1: convBn(g, sd, `${prefix}conv1`, `${prefix}bn1.`, [cin, cout], eps, training),
    conv2: convBn(g, sd, `${prefix}conv2`, `${prefix}bn2.`, [cout, cout], eps, training),
  };
}

/** avg_pool2d(kernel 2) on x [B, C, T, M] with static T and M: floor, as PyTorch. */
export function avgPool2x2(x: Value): Value {
  const [, C, T, M] = x.shape as [unknown, number, number, number];
  const t = Math.floor(T / 2);
  const m = Math.floor(M / 2);
  let y = x;
  if (T % 2 === 1) y = ops.slice(y, 2, 0, 2 * t);
  if (M % 2 === 1) y = ops.slice(y, 3, 0, 2 * m);
  return ops.reduceMean(ops.reshape(y, [-1, C, t, 2, m, 2]), [3, 5]);
}

/**
 * ConvBlock forward on x [B, C_in, T, M] → [B, C_out, T', M'] (pooled 2×2 unless `pool` is false); a training
 * block's BatchNorms push their running statistics' updates onto `updates`.
 */
export function convBlock(x: Value, p: ConvBlockParams, pool: boolean, updates: BufferUpdate[] = []): Value {
  const pads = { pads: [1, 1, 1, 1] as [number, number, number, number] };
  const conv = (v: Value, c: ConvBnParams): Value =>
    ops.relu(
      'bn' in c
        ? applyTrainingBatchNorm(ops.conv2d(v, c.weight, undefined, pads), c.bn, 1, updates)
        : ops.conv2d(v, c.weight, c.bias, pads),
    );
  const y = conv(conv(x, p.conv1), p.conv2);
  return pool ? avgPool2x2(y) : y;
}
