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
  /** Learning rate. */
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
  const scalars = scalarCache((s, dtype) => ({ lr: cast(s.lr, dtype), first: equal(s.step, 1) }));
  return {
    config,
    slots: momentum > 0 ? ['momentum'] : [],
    update(p, g0, state, s, name) {
      const { lr, first } = scalars(s, p.dtype);
      let g = g0;
      if (wd !== 0 && decays(config, name)) g = add(g, mul(p, wd));
      if (momentum <= 0) return { param: sub(p, mul(g, lr)), state: [] };
      let buf = add(mul(state[0], momentum), dampening === 0 ? g : mul(g, 1 - dampening));
      if (dampening !== 0) buf = where(first, g, buf);
      const d = config.nesterov ? add(g, mul(buf, momentum)) : buf;
      return { param: sub(p, mul(d, lr)), state: [buf] };
    },
  };
}

function adam(config: AdamConfig & OptimizerConfig): Optimizer {
  const b1 = config.beta1 ?? 0.9;
  const b2 = config.beta2 ?? 0.999;
  const eps = config.eps ?? 1e-8;
  const wd = config.weightDecay ?? (config.kind === 'adamw' ? 0.01 : 0);
  const scalars = scalarCache((s, dtype) => {
    const lr = cast(s.lr, dtype);
    const t = cast(s.step, dtype);
    const bc1 = sub(1, pow(b1, t));
    const bc2 = sub(1, pow(b2, t));
    return { lr, stepSize: div(lr, bc1), bc2Sqrt: sqrt(bc2), decay: sub(1, mul(lr, wd)) };
  });
  return {
    config,
    slots: ['m', 'v'],
    update(p0, g0, [m0, v0], s, name) {
      const k = scalars(s, p0.dtype);
      let p = p0;
      let g = g0;
      if (wd !== 0 && decays(config, name)) {
        if (config.kind === 'adamw') p = mul(p, k.decay);
        else g = add(g, mul(p, wd));
      }
      const m = add(mul(m0, b1), mul(g, 1 - b1));
      const v = add(mul(v0, b2), mul(mul(g, g), 1 - b2));
      const denom = add(div(sqrt(v), k.bc2Sqrt), eps);
      return { param: sub(p, mul(div(m, denom), k.stepSize)), state: [m, v] };
    },
  };
}

/** √(Σ‖g‖²) over all gradients, as a rank-0 float32 value. */
export function globalNorm(grads: readonly Value[]): Value {
  const squares = grads.map((g) => cast(reduceSum(mul(g, g), g.shape.map((_, i) => i)), 'float32'));
  return sqrt(sum(squares));
}

/**
 * Scales all gradients by min(1, maxNorm / (‖g‖ + 1e-6)) (torch.nn.utils.clip_grad_norm_); also
 * returns the norm before clipping.
 */
export function clipByGlobalNorm(grads: readonly Value[], maxNorm: number): { grads: Value[]; norm: Value } {
  const norm = globalNorm(grads);
  const coef = minimum(div(maxNorm, add(norm, 1e-6)), 1);
  return { grads: grads.map((g) => mul(g, cast(coef, g.dtype))), norm };
}
