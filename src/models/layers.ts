/**
 * Shared building blocks for the model graphs: reading PyTorch state-dict tensors with clear errors,
 * and turning nn.Linear / nn.LayerNorm weights into engine params.
 *
 * Conventions: a param keeps the checkpoint key as its name when the tensor is used as stored; a
 * tensor transformed at load time gets a suffix that says how (`<key>^T` for a transposed Linear weight),
 * so two models composed in one graph share a weight only when they really use the same array.
 */
import { ClapError } from '../errors.js';
import { type BufferUpdate, type Graph, type HostTensor, ops, toFloat32, type Value } from '../engine/index.js';
import type { StateDict } from '../weights/index.js';

const fmt = (s: readonly (number | null)[]): string => `[${s.map((d) => (d === null ? '?' : d)).join(', ')}]`;

/**
 * The tensor at `key`; throws a ClapError naming the key when it is missing or its shape differs from
 * `shape` (null entries match any size).
 */
export function requireTensor(sd: StateDict, key: string, shape?: readonly (number | null)[]): HostTensor {
  const t = sd.get(key);
  if (!t) throw new ClapError('missing from the checkpoint', { subject: key });
  if (shape) checkShape(key, t, shape);
  return t;
}

export function checkShape(key: string, t: HostTensor, shape: readonly (number | null)[]): void {
  const ok = t.shape.length === shape.length && shape.every((d, i) => d === null || d === t.shape[i]);
  if (!ok) throw new ClapError(`has shape ${fmt(t.shape)}, expected ${fmt(shape)}`, { subject: key });
}

/** Float32 copy-or-view of a checkpoint tensor (float16/bfloat16/float64 widened or narrowed). */
export function asFloat32(t: HostTensor): Float32Array {
  return toFloat32(t);
}

export function f32Tensor(shape: number[], data: Float32Array): HostTensor {
  return { dtype: 'float32', shape, data };
}

/** [rows, cols] → [cols, rows]. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    const ro = r * cols;
    for (let c = 0; c < cols; c++) out[c * rows + r] = data[ro + c];
  }
  return out;
}

/** A float32 param from a checkpoint tensor used as stored (shape-checked). */
export function torchParam(g: Graph, sd: StateDict, key: string, shape?: readonly (number | null)[]): Value {
  const t = requireTensor(sd, key, shape);
  return g.param(key, t.dtype === 'float32' ? t : f32Tensor([...t.shape], asFloat32(t)));
}

export interface LinearParams {
  /** [in, out] (the PyTorch [out, in] weight transposed once at load). */
  w: Value;
  b?: Value;
  inFeatures: number;
  outFeatures: number;
}

export interface TorchLinearOptions {
  /** Expected in/out features (checked against the checkpoint; omitted = taken from it). */
  inFeatures?: number;
  outFeatures?: number;
  /** Whether the layer has a bias (default true): a missing bias is an error, an unexpected one too. */
  bias?: boolean;
  /**
   * Multiply weight and bias by this factor at load time (e.g. attention's 1/sqrt(head_dim) folded into
   * the query projection); the param name records it so unscaled users don't share the array.
   */
  scale?: number;
  /** Keep only output rows [start, end) of the weight/bias (e.g. one of q/k/v from a fused qkv). */
  rows?: [number, number];
}

/** nn.Linear at `key` (`key.weight` [out, in], `key.bias` [out]) as x @ W^T + b. */
export function torchLinear(g: Graph, sd: StateDict, key: string, o: TorchLinearOptions = {}): LinearParams {
  const wt = requireTensor(sd, `${key}.weight`, [o.outFeatures ?? null, o.inFeatures ?? null]);
  if (wt.shape.length !== 2) throw new ClapError(`has shape ${fmt(wt.shape)}, expected a 2-D Linear weight`, { subject: `${key}.weight` });
  const [outAll, inF] = wt.shape;
  const [r0, r1] = o.rows ?? [0, outAll];
  const outF = r1 - r0;
  const scale = o.scale ?? 1;
  const tag = `${o.rows ? `[${r0}:${r1}]` : ''}${scale !== 1 ? `*${scale}` : ''}`;
  const w = asFloat32(wt).subarray(r0 * inF, r1 * inF);
  const wT = transpose2d(w, outF, inF);
  if (scale !== 1) for (let i = 0; i < wT.length; i++) wT[i] *= scale;
  const lin: LinearParams = { w: g.param(`${key}.weight${tag}^T`, f32Tensor([inF, outF], wT)), inFeatures: inF, outFeatures: outF };
  const bt = sd.get(`${key}.bias`);
  const wantBias = o.bias ?? true;
  if (wantBias && !bt) throw new ClapError('missing from the checkpoint', { subject: `${key}.bias` });
  if (!wantBias && bt) throw new ClapError('unexpected bias (this layer is bias-free in the reference)', { subject: `${key}.bias` });
  if (bt) {
    checkShape(`${key}.bias`, bt, [outAll]);
    let b = asFloat32(bt).subarray(r0, r1);
    if (scale !== 1 || o.rows) b = Float32Array.from(b, (v) => v * scale);
    lin.b = tag ? g.param(`${key}.bias${tag}`, f32Tensor([outF], b)) : torchParam(g, sd, `${key}.bias`);
  }
  return lin;
}

export function applyLinear(x: Value, p: LinearParams): Value {
  return ops.linear(x, p.w, p.b);
}

export interface LayerNormParams {
  gamma: Value;
  beta: Value;
  eps: number;
}

/** nn.LayerNorm at `key` (`key.weight`, `key.bias`, both [dim]). */
export function torchLayerNorm(g: Graph, sd: StateDict, key: string, dim: number, eps = 1e-5): LayerNormParams {
  return { gamma: torchParam(g, sd, `${key}.weight`, [dim]), beta: torchParam(g, sd, `${key}.bias`, [dim]), eps };
}

export function applyLayerNorm(x: Value, p: LayerNormParams): Value {
  return ops.layerNorm(x, p.gamma, p.beta, p.eps);
}

/**
 * An eval-mode BatchNorm at `prefix` (`…bn1.`: weight, bias, running_mean, running_var) as a per-channel
 * affine map: scale γ/√(var + eps) and shift β − μ·scale, computed in float64 and stored as float32.
 */
export function batchNormAffine(
  sd: StateDict,
  prefix: string,
  channels: number,
  eps: number,
): { scale: Float32Array; shift: Float32Array } {
  const w = asFloat32(requireTensor(sd, `${prefix}weight`, [channels]));
  const b = asFloat32(requireTensor(sd, `${prefix}bias`, [channels]));
  const mean = asFloat32(requireTensor(sd, `${prefix}running_mean`, [channels]));
  const variance = asFloat32(requireTensor(sd, `${prefix}running_var`, [channels]));
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    const s = w[c] / Math.sqrt(variance[c] + eps);
    scale[c] = s;
    shift[c] = b[c] - mean[c] * s;
  }
  return { scale, shift };
}

// ------------------------------------------------------------------------------------------ BatchNorm, training path

/**
 * A BatchNorm kept in eval mode while training: weight (γ) and bias (β) are params under their checkpoint keys,
 * the running statistics constants — `(x − running_mean)/√(running_var + eps)·γ + β`, statistics frozen.
 */
export interface FrozenBatchNorm {
  weight: Value;
  bias: Value;
  /** running_mean [C] (constant). */
  mean: Value;
  /** 1/√(running_var + eps) [C] (constant, computed in float64). */
  invStd: Value;
}

export function frozenBatchNorm(g: Graph, sd: StateDict, prefix: string, channels: number, eps: number): FrozenBatchNorm {
  const mean = Float32Array.from(asFloat32(requireTensor(sd, `${prefix}running_mean`, [channels])));
  const inv = Float32Array.from(asFloat32(requireTensor(sd, `${prefix}running_var`, [channels])), (v) => 1 / Math.sqrt(v + eps));
  return {
    weight: torchParam(g, sd, `${prefix}weight`, [channels]),
    bias: torchParam(g, sd, `${prefix}bias`, [channels]),
    mean: g.constant(f32Tensor([channels], mean), 'bn_running_mean'),
    invStd: g.constant(f32Tensor([channels], inv), 'bn_invstd'),
  };
}

/** A per-channel [C] value shaped to broadcast along `axis` of a rank-`rank` tensor. */
function perChannel(v: Value, axis: number, rank: number): Value {
  return axis === rank - 1 ? v : ops.reshape(v, [-1, ...new Array<number>(rank - 1 - axis).fill(1)]);
}

/** The frozen BatchNorm on `x`, channels along `axis`. */
export function applyFrozenBatchNorm(x: Value, p: FrozenBatchNorm, axis: number): Value {
  const c = (v: Value): Value => perChannel(v, axis, x.rank);
  return ops.add(ops.mul(ops.mul(ops.sub(x, c(p.mean)), c(p.invStd)), c(p.weight)), c(p.bias));
}

/**
 * A BatchNorm in training mode (PyTorch's `model.train()`): weight and bias are params; running_mean,
 * running_var (and num_batches_tracked, when the checkpoint has it) are params the loss does not depend on —
 * the train step's buffers, updated after every forward pass.
 */
export interface TrainingBatchNorm {
  weight: Value;
  bias: Value;
  runningMean: Value;
  runningVar: Value;
  numBatchesTracked?: Value;
  eps: number;
  /** PyTorch's default 0.1: running ← (1 − momentum)·running + momentum·batch. */
  momentum: number;
}

export function trainingBatchNorm(g: Graph, sd: StateDict, prefix: string, channels: number, eps: number): TrainingBatchNorm {
  const nbt = sd.get(`${prefix}num_batches_tracked`);
  return {
    weight: torchParam(g, sd, `${prefix}weight`, [channels]),
    bias: torchParam(g, sd, `${prefix}bias`, [channels]),
    runningMean: torchParam(g, sd, `${prefix}running_mean`, [channels]),
    runningVar: torchParam(g, sd, `${prefix}running_var`, [channels]),
    ...(nbt && nbt.data.length === 1
      ? {
          numBatchesTracked: g.param(`${prefix}num_batches_tracked`, {
            dtype: 'int64',
            shape: [],
            data: BigInt64Array.of(BigInt(Number(nbt.data[0]))),
          }),
        }
      : {}),
    eps,
    momentum: 0.1,
  };
}

/**
 * The BatchNorm in training mode on `x`, channels along `axis` (static sizes elsewhere): normalised by the
 * batch's mean and biased variance over every other axis; the running statistics' next values (the unbiased
 * variance, as PyTorch) are pushed onto `updates`.
 */
export function applyTrainingBatchNorm(x: Value, p: TrainingBatchNorm, axis: number, updates: BufferUpdate[]): Value {
  const axes = x.shape.map((_, i) => i).filter((i) => i !== axis);
  const n = axes.reduce((k, i) => {
    const d = x.shape[i];
    if (typeof d !== 'number') throw new ClapError(`a BatchNorm in training mode needs static sizes, got [${x.shape.join(', ')}]`);
    return k * d;
  }, 1);
  const c = (v: Value): Value => perChannel(v, axis, x.rank);
  const mean = ops.reduceMean(x, axes, true);
  const centred = ops.sub(x, mean);
  const variance = ops.reduceMean(ops.mul(centred, centred), axes, true);
  const y = ops.add(ops.mul(ops.div(centred, ops.sqrt(ops.add(variance, p.eps))), c(p.weight)), c(p.bias));
  const m = p.momentum;
  const flat = (v: Value): Value => ops.reshape(v, [-1]);
  const moved = (running: Value, batch: Value): Value => ops.add(ops.mul(running, 1 - m), ops.mul(batch, m));
  updates.push(
    { param: p.runningMean, next: moved(p.runningMean, flat(mean)) },
    { param: p.runningVar, next: moved(p.runningVar, ops.mul(flat(variance), n / Math.max(1, n - 1))) },
  );
  if (p.numBatchesTracked) updates.push({ param: p.numBatchesTracked, next: ops.add(p.numBatchesTracked, 1) });
  return y;
}
