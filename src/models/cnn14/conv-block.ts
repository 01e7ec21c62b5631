/**
 * PANNs' `ConvBlock` (msclap models/audio.py l.16–51): (conv 3×3, stride 1, pad 1, no bias → BatchNorm →
 * ReLU) twice, then 2×2 average pooling (floor: an odd last row or column is dropped) or none. Eval-mode
 * BatchNorm is folded into the convolution (weight × γ/σ, bias β − μ·γ/σ) at load time.
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { asFloat32, batchNormAffine, f32Tensor, requireTensor } from '../layers.js';

export interface ConvBnParams {
  /** [out, in, 3, 3], BatchNorm folded in. */
  weight: Value;
  /** [out] */
  bias: Value;
}

export interface ConvBlockParams {
  conv1: ConvBnParams;
  conv2: ConvBnParams;
}

function convBn(g: Graph, sd: StateDict, convKey: string, bnPrefix: string, cin: number, cout: number, eps: number): ConvBnParams {
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

/** ConvBlock at `prefix` (`…conv_block<i>.`): in → out channels. */
export function convBlockParams(g: Graph, sd: StateDict, prefix: string, cin: number, cout: number, eps: number): ConvBlockParams {
  return {
    conv1: convBn(g, sd, `${prefix}conv1`, `${prefix}bn1.`, cin, cout, eps),
    conv2: convBn(g, sd, `${prefix}conv2`, `${prefix}bn2.`, cout, cout, eps),
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

/** ConvBlock forward on x [B, C_in, T, M] → [B, C_out, T', M'] (pooled 2×2 unless `pool` is false). */
export function convBlock(x: Value, p: ConvBlockParams, pool: boolean): Value {
  const conv = (v: Value, c: ConvBnParams): Value => ops.relu(ops.conv2d(v, c.weight, c.bias, { pads: [1, 1, 1, 1] }));
  const y = conv(conv(x, p.conv1), p.conv2);
  return pool ? avgPool2x2(y) : y;
}
