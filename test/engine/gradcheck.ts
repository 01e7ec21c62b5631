/**
 * Generic gradient checker: analytic gradients from `grad` against central finite differences of the
 * same ONNX graph, for L = Σ y ⊙ u with a random cotangent u.
 */
import { emitOnnx, Graph, grad, type HostTensor, ops, Session, type Shape, type Value } from '../../src/engine/index.js';

export interface GradCheckOptions {
  /** Inputs to differentiate (default: every floating-point input). */
  wrt?: string[];
  /** Declared shapes (symbolic dims allowed) instead of the concrete ones. */
  shapes?: Record<string, Shape>;
  /** Finite-difference step (default 1e-6 in float64, 1e-2 in float32). */
  h?: number;
  /** Pass when |analytic − numeric| ≤ atol + rtol·max(|analytic|, |numeric|). */
  rtol?: number;
  atol?: number;
  /** Elements checked per input (a random subset when larger). */
  samples?: number;
  seed?: number;
}

export interface GradCheckResult {
  /** Largest |analytic − numeric|. */
  maxAbs: number;
  /** Largest |analytic − numeric| / max(|analytic|, |numeric|, 1e-3·max|numeric| of that input). */
  maxRel: number;
  checked: number;
}

export function rng(seed: number): () => number {
  let s = (seed * 2654435761) >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 2 ** 32;
  };
}

/** Uniform floats in [lo, hi). */
export function uniform(shape: number[], seed: number, lo = -1, hi = 1, dtype: 'float64' | 'float32' = 'float64'): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * r();
  return { dtype, shape, data };
}

/** Floats with |x| in [0.2, 1.2) and random sign (away from kinks at 0). */
export function away(shape: number[], seed: number, dtype: 'float64' | 'float32' = 'float64'): HostTensor {
  const t = uniform(shape, seed, 0.2, 1.2, dtype);
  const r = rng(seed + 99);
  for (let i = 0; i < t.data.length; i++) if (r() < 0.5) (t.data as Float64Array)[i] *= -1;
  return t;
}

const isFloat = (t: HostTensor): boolean => t.dtype === 'float32' || t.dtype === 'float64';

export async function gradCheck(
  inputs: Record<string, HostTensor>,
  build: (g: Graph, xs: Record<string, Value>) => Value,
  o: GradCheckOptions = {},
): Promise<GradCheckResult> {
  const g = new Graph('gradcheck');
  const xs: Record<string, Value> = {};
  for (const [name, t] of Object.entries(inputs)) xs[name] = g.input(name, t.dtype, o.shapes?.[name] ?? t.shape);
  const y = build(g, xs);
  const wrtNames = o.wrt ?? Object.keys(inputs).filter((k) => isFloat(inputs[k]));
  const dtype = y.dtype as 'float32' | 'float64';

  // Concrete output shape for the cotangent.
  const fwd = await Session.fromBytes(emitOnnx(g, { outputs: [{ name: 'y', value: y }] }), { threads: 1 });
  const yShape = (await fwd.run(inputs)).y.shape;
  await fwd.release();

  const u = g.input('__u', dtype, y.shape);
  const loss =
    y.rank === 0
      ? ops.mul(y, u)
      : ops.reduceSum(
          ops.mul(y, u),
          y.shape.map((_, i) => i),
        );
  const grads = grad(
    loss,
    wrtNames.map((k) => xs[k]),
  );
  const outputs = [{ name: 'loss', value: loss }, ...grads.map((v, i) => ({ name: `grad_${i}`, value: v }))];
  const full = await Session.fromBytes(emitOnnx(g, { outputs }), { threads: 1 });
  const lossOnly = await Session.fromBytes(emitOnnx(g, { outputs: [outputs[0]] }), { threads: 1 });

  const feeds: Record<string, HostTensor> = { ...inputs, __u: uniform(yShape, (o.seed ?? 1) + 7, -1, 1, dtype) };
  const res = await full.run(feeds);

  const f64 = wrtNames.every((k) => inputs[k].dtype === 'float64');
  const h = o.h ?? (f64 ? 1e-6 : 1e-2);
  const rtol = o.rtol ?? (f64 ? 1e-6 : 1e-2);
  const atol = o.atol ?? (f64 ? 1e-9 : 1e-4);
  const samples = o.samples ?? 24;
  const pick = rng((o.seed ?? 1) + 13);
  const result: GradCheckResult = { maxAbs: 0, maxRel: 0, checked: 0 };
  const failures: string[] = [];

  for (let wi = 0; wi < wrtNames.length; wi++) {
    const name = wrtNames[wi];
    const base = inputs[name];
    const analytic = res[`grad_${wi}`];
    if (analytic.shape.join() !== base.shape.join()) throw new Error(`${name}: gradient shape [${analytic.shape}] vs [${base.shape}]`);
    const n = base.data.length;
    let idx = Array.from({ length: n }, (_, i) => i);
    if (n > samples) {
      for (let i = n - 1; i > 0; i--) {
        const j = Math.floor(pick() * (i + 1));
        [idx[i], idx[j]] = [idx[j], idx[i]];
      }
      idx = idx.slice(0, samples);
    }
    const numeric: number[] = [];
    for (const i of idx) {
      const data = (base.data as Float64Array).slice();
      const x0 = data[i];
      data[i] = x0 + h;
      const xp = data[i];
      const lp = await lossAt(lossOnly, feeds, name, { ...base, data });
      data[i] = x0 - h;
      const xm = data[i];
      const lm = await lossAt(lossOnly, feeds, name, { ...base, data });
      numeric.push((lp - lm) / (xp - xm));
    }
    const scale = Math.max(...numeric.map(Math.abs), 1e-12);
    idx.forEach((i, k) => {
      const a = Number(analytic.data[i]);
      const num = numeric[k];
      const err = Math.abs(a - num);
      const rel = err / Math.max(Math.abs(a), Math.abs(num), 1e-3 * scale);
      result.maxAbs = Math.max(result.maxAbs, err);
      result.maxRel = Math.max(result.maxRel, rel);
      result.checked++;
      if (!(err <= atol + rtol * Math.max(Math.abs(a), Math.abs(num)))) {
        failures.push(`${name}[${i}]: analytic ${a} vs numeric ${num} (|err| ${err.toExponential(2)})`);
      }
    });
  }
  await full.release();
  await lossOnly.release();
  if (failures.length) throw new Error(`gradient check failed (rtol ${rtol}, atol ${atol}):\n  ${failures.slice(0, 8).join('\n  ')}`);
  return result;
}

async function lossAt(s: Session, feeds: Record<string, HostTensor>, name: string, t: HostTensor): Promise<number> {
  const out = await s.run({ ...feeds, [name]: t });
  return Number(out.loss.data[0]);
}
