/**
 * Optimisers as graph: each builds the update of one parameter from its gradient and state, so the
 * whole training step (forward, backward, update) is one ONNX model. The learning rate and the step
 * count are graph inputs, so schedules and bias correction need no recompilation.
 */
import type { Value } from './graph.js';
import { add, cast, div, equal, minimum, mul, pow, sqrt, sub, sum, where } from './ops/elementwise.js';
import { reduceSum } from './ops/reduce.js';
import type { DType } from './tensor.js';

export interface SgdConfig {
  kind: 'sgd';
  /** Heavy-ball momentum (0 = plain SGD, no state). */
  momentum?: number;
  /** Dampening of the momentum update (PyTorch semantics: none on the first step). */
  dampening?: number;
  nesterov?: boolean;
  /** L2 penalty added to the gradient. */
  weightDecay?: number;
}

export interface AdamConfig {
  /** 'adam': weight decay is an L2 term in the gradient; 'adamw': decoupled, p ← p·(1 − lr·wd) first. */
  kind: 'adam' | 'adamw';
  beta1?: number;
  beta2?: number;
  eps?: number;
  /** Default 0 for adam, 0.01 for adamw (PyTorch's defaults). */
  weightDecay?: number;
}

export type OptimizerConfig = (SgdConfig | AdamConfig) & {
  /** Parameters (by name) that get weight decay; default all. E.g. exclude biases and norms. */
  decay?: (name: string) => boolean;
};

/** Per-step scalars shared by every parameter update (rank-0 graph values). */
export interface StepScalars {
  /** Learning rate, rank 0 of any float dtype (cast to each parameter's; the train step feeds float64). */
  lr: Value;
  /** 1-based count of the step being taken (for bias correction). */
  step: Value;
}

export interface Optimizer {
  readonly config: OptimizerConfig;
  /** Names of the per-parameter state tensors, each shaped like its parameter and zero at the start. */
  readonly slots: readonly string[];
  /** The updated parameter and state for one parameter, as graph values. */
  update(param: Value, grad: Value, state: readonly Value[], scalars: StepScalars, name?: string): { param: Value; state: Value[] };
  /**
   * The same update in two parts, for running the elementwise part chunk by chunk: the rank-0 values
   * every parameter of `dtype` shares (built once per step), and the elementwise update given them
   * (they may be passed into another graph, e.g. a Scan body).
   */
  prepare(scalars: StepScalars, dtype: DType): Value[];
  elementwise(
    param: Value,
    grad: Value,
    state: readonly Value[],
    prepared: readonly Value[],
    name?: string,
  ): { param: Value; state: Value[] };
}

/** An optimiser for `config`; PyTorch's defaults and update formulas. */
export function optimizer(config: OptimizerConfig): Optimizer {
  return config.kind === 'sgd' ? sgd(config) : adam(config);
}

/** Scalars computed once per (step scalars, dtype) rather than once per parameter. */
function scalarCache<T>(make: (s: StepScalars, dtype: DType) => T): (s: StepScalars, dtype: DType) => T {
  const cache = new WeakMap<StepScalars, Map<DType, T>>();
  return (s, dtype) => {
    let m = cache.get(s);
    if (!m) cache.set(s, (m = new Map()));
    let v = m.get(dtype);
    if (v === undefined) m.set(dtype, (v = make(s, dtype)));
    return v;
  };
}

const decays = (config: OptimizerConfig, name: string | undefined): boolean => !config.decay || name === undefined || config.decay(name);

function sgd(config: SgdConfig & OptimizerConfig): Optimizer {
  const momentum = config.momentum ?? 0;
  const dampening = config.dampening ?? 0;
  const wd = config.weightDecay ?? 0;
  if (config.nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('nesterov needs momentum and zero dampening');
  const prepare = scalarCache((s, dtype) => [cast(s.lr, dtype), equal(s.step, 1)]);
  const elementwise: Optimizer['elementwise'] = (p, g0, state, [lr, first], name) => {
    let g = g0;
    if (wd !== 0 && decays(config, name)) g = add(g, mul(p, wd));
    if (momentum <= 0) return { param: sub(p, mul(g, lr)), state: [] };
    let buf = add(mul(state[0], momentum), dampening === 0 ? g : mul(g, 1 - dampening));
    if (dampening !== 0) buf = where(first, g, buf);
    const d = config.nesterov ? add(g, mul(buf, momentum)) : buf;
    return { param: sub(p, mul(d, lr)), state: [buf] };
  };
  return {
    config,
    slots: momentum > 0 ? ['momentum'] : [],
    prepare,
    elementwise,
    update: (p, g, state, s, name) => elementwise(p, g, state, prepare(s, p.dtype), name),
  };
}

function adam(config: AdamConfig & OptimizerConfig): Optimizer {
  const b1 = config.beta1 ?? 0.9;
  const b2 = config.beta2 ?? 0.999;
  const eps = config.eps ?? 1e-8;
  const wd = config.weightDecay ?? (config.kind === 'adamw' ? 0.01 : 0);
  const prepare = scalarCache((s, dtype) => {
    const lr = cast(s.lr, dtype);
    const t = cast(s.step, dtype);
    const bc1 = sub(1, pow(b1, t));
    const bc2 = sub(1, pow(b2, t));
    return [div(lr, bc1), sqrt(bc2), sub(1, mul(lr, wd))];
  });
  const elementwise: Optimizer['elementwise'] = (p0, g0, [m0, v0], [stepSize, bc2Sqrt, decay], name) => {
    let p = p0;
    let g = g0;
    if (wd !== 0 && decays(config, name)) {
      if (config.kind === 'adamw') p = mul(p, decay);
      else g = add(g, mul(p, wd));
    }
    const m = add(mul(m0, b1), mul(g, 1 - b1));
    const v = add(mul(v0, b2), mul(mul(g, g), 1 - b2));
    const denom = add(div(sqrt(v), bc2Sqrt), eps);
    return { param: sub(p, mul(div(m, denom), stepSize)), state: [m, v] };
  };
  return {
    config,
    slots: ['m', 'v'],
    prepare,
    elementwise,
    update: (p, g, state, s, name) => elementwise(p, g, state, prepare(s, p.dtype), name),
  };
}

/** √(Σ‖g‖²) over all gradients, as a rank-0 float32 value. */
export function globalNorm(grads: readonly Value[]): Value {
  const squares = grads.map((g) =>
    cast(
      reduceSum(
        mul(g, g),
        g.shape.map((_, i) => i),
      ),
      'float32',
    ),
  );
  return sqrt(sum(squares));
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) (torch.nn.utils.clip_grad_norm_); also
 * returns the norm before clipping.
 */
export function clipByGlobalNorm(grads: readonly Value[], maxNorm: number): { grads: Value[]; norm: Value; coef: Value } {
  const { norm, coef } = clipCoefficient(grads, maxNorm);
  return { grads: grads.map((g) => mul(g, cast(coef, g.dtype))), norm, coef };
}

/** The global norm and the factor min(1, maxNorm / (‖g‖ + 1e-6)) that clipping multiplies gradients by (float32). */
export function clipCoefficient(grads: readonly Value[], maxNorm: number): { norm: Value; coef: Value } {
  const norm = globalNorm(grads);
  return { norm, coef: minimum(div(maxNorm, add(norm, 1e-6)), 1) };
}
