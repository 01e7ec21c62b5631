import type { Node, OpDef, Value, VjpRule } from '../graph.js';
import type { DType } from '../tensor.js';
import { broadcastShapes } from '../shape.js';
import { sumToShape } from './broadcast.js';
import { apply, binaryOp, lift, liftPair, type Operand, sameDtype, unaryOp } from './op.js';

const wants = (needs: readonly boolean[] | undefined, i: number): boolean => needs?.[i] !== false;

/** A broadcasting binary op's rule from its local products g·∂y/∂a and g·∂y/∂b (summed back to each input's shape). */
function binaryVjp(
  da: ((g: Value, a: Value, b: Value, y: Value) => Value) | undefined,
  db: ((g: Value, a: Value, b: Value, y: Value) => Value) | undefined,
): VjpRule {
  return ({ inputs: [a, b], outputs: [y] }, [g], needs) => {
    if (!g) return [undefined, undefined];
    return [
      da && wants(needs, 0) ? sumToShape(da(g, a, b, y), a.shape) : undefined,
      db && wants(needs, 1) ? sumToShape(db(g, a, b, y), b.shape) : undefined,
    ];
  };
}

/** A shape-preserving unary op's rule. */
function unaryVjp(d: (g: Value, x: Value, y: Value, node: Node) => Value | undefined): VjpRule {
  return (node, [g]) => [g && d(g, node.inputs[0], node.outputs[0], node)];
}

const isFloat = (d: DType): boolean => d === 'float32' || d === 'float64' || d === 'float16' || d === 'bfloat16';

/** The value of a rank-0 (or one-element) float constant, if `v` is one. */
function constScalar(v: Value): number | undefined {
  const c = v.graph.constants.get(v.name);
  if (c?.tensor.data.length !== 1 || !isFloat(c.tensor.dtype)) return undefined;
  return Number(c.tensor.data[0]);
}

/** 1 where `pick` holds, ½ on ties, 0 elsewhere: how max/min share their gradient. */
function pickMask(pick: Value, tie: Value, dtype: DType): Value {
  return add(cast(pick, dtype), mul(cast(tie, dtype), 0.5));
}

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);
const GELU_TANH_C = 0.044715;

export const ADD = binaryOp('Add', undefined, {
  vjp: binaryVjp(
    (g) => g,
    (g) => g,
  ),
});
export const SUB = binaryOp('Sub', undefined, {
  vjp: binaryVjp(
    (g) => g,
    (g) => neg(g),
  ),
});
export const MUL = binaryOp('Mul', undefined, {
  vjp: binaryVjp(
    (g, _a, b) => mul(g, b),
    (g, a) => mul(g, a),
  ),
});
export const DIV = binaryOp('Div', undefined, {
  vjp: binaryVjp(
    (g, _a, b) => div(g, b),
    (g, _a, b, y) => neg(div(mul(g, y), b)),
  ),
});
export const POW = binaryOp('Pow', undefined, {
  vjp: binaryVjp(
    (g, a, b) => {
      const c = constScalar(b);
      if (c === undefined) return mul(g, mul(b, pow(a, sub(b, 1))));
      if (c === 0) return mul(g, 0);
      if (c === 1) return g;
      if (c === 2) return mul(g, mul(a, 2));
      return mul(g, mul(pow(a, c - 1), c));
    },
    (g, a, _b, y) => mul(g, mul(y, log(a))),
  ),
});
export const MAX = binaryOp('Max', undefined, {
  vjp: ({ inputs: [a, b] }, [g], needs) => {
    if (!g) return [undefined, undefined];
    const m = pickMask(greater(a, b), equal(a, b), g.dtype);
    return [
      wants(needs, 0) ? sumToShape(mul(g, m), a.shape) : undefined,
      wants(needs, 1) ? sumToShape(mul(g, sub(1, m)), b.shape) : undefined,
    ];
  },
});
export const MIN = binaryOp('Min', undefined, {
  vjp: ({ inputs: [a, b] }, [g], needs) => {
    if (!g) return [undefined, undefined];
    const m = pickMask(less(a, b), equal(a, b), g.dtype);
    return [
      wants(needs, 0) ? sumToShape(mul(g, m), a.shape) : undefined,
      wants(needs, 1) ? sumToShape(mul(g, sub(1, m)), b.shape) : undefined,
    ];
  },
});
export const EQUAL = binaryOp('Equal', 'bool');
export const LESS = binaryOp('Less', 'bool');
export const GREATER = binaryOp('Greater', 'bool');
export const NEG = unaryOp('Neg', { vjp: unaryVjp((g) => neg(g)) });
export const EXP = unaryOp('Exp', { vjp: unaryVjp((g, _x, y) => mul(g, y)) });
export const LOG = unaryOp('Log', { vjp: unaryVjp((g, x) => div(g, x)) });
export const SQRT = unaryOp('Sqrt', { vjp: unaryVjp((g, _x, y) => div(mul(g, 0.5), y)) });
export const TANH = unaryOp('Tanh', { vjp: unaryVjp((g, _x, y) => mul(g, sub(1, mul(y, y)))) });
export const SIGMOID = unaryOp('Sigmoid', { vjp: unaryVjp((g, _x, y) => mul(g, mul(y, sub(1, y)))) });
export const RELU = unaryOp('Relu', { vjp: unaryVjp((g, _x, y) => where(greater(y, 0), g, 0)) });
export const ERF = unaryOp('Erf', {
  vjp: unaryVjp((g, x) => mul(g, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI))),
  lower: ({ inputs: [x] }) => (x.dtype === 'float64' ? [erfSeries(x)] : undefined),
});
export const ABS = unaryOp('Abs', { vjp: unaryVjp((g, x) => mul(g, sign(x))) });
export const SIGN = unaryOp('Sign', { vjp: () => [undefined] });
export const RECIPROCAL = unaryOp('Reciprocal', { vjp: unaryVjp((g, _x, y) => neg(mul(g, mul(y, y)))) });
export const IDENTITY = unaryOp('Identity', { vjp: unaryVjp((g) => g) });
export const GELU = unaryOp('Gelu', {
  opset: 20,
  vjp: unaryVjp((g, x, _y, node) => {
    if (geluForm(node) === 'tanh') {
      // y = ½x(1 + t), t = tanh(u), u = √(2/π)(x + c·x³)
      const x2 = mul(x, x);
      const t = tanh(mul(mul(x, add(mul(x2, GELU_TANH_C), 1)), SQRT_2_OVER_PI));
      const du = mul(add(mul(x2, 3 * GELU_TANH_C), 1), SQRT_2_OVER_PI);
      const dt = mul(sub(1, mul(t, t)), du);
      return mul(g, mul(add(add(t, 1), mul(x, dt)), 0.5));
    }
    // y = x·Φ(x): y' = Φ(x) + x·φ(x)
    const cdf = mul(add(erf(mul(x, Math.SQRT1_2)), 1), 0.5);
    const pdf = mul(exp(mul(mul(x, x), -0.5)), INV_SQRT_2PI);
    return mul(g, add(cdf, mul(x, pdf)));
  }),
  lower: (node) => {
    const x = node.inputs[0];
    if (x.dtype !== 'float64') return undefined;
    if (geluForm(node) === 'tanh') {
      const u = mul(mul(x, add(mul(mul(x, x), GELU_TANH_C), 1)), SQRT_2_OVER_PI);
      return [mul(mul(x, add(tanh(u), 1)), 0.5)];
    }
    return [mul(mul(x, add(erf(mul(x, Math.SQRT1_2)), 1)), 0.5)];
  },
});
export const WHERE: OpDef = {
  type: 'Where',
  infer: (xs) => {
    if (xs[0].dtype !== 'bool') throw new Error('condition must be bool');
    return [{ dtype: sameDtype(xs.slice(1)), shape: broadcastShapes(broadcastShapes(xs[0].shape, xs[1].shape), xs[2].shape) }];
  },
  vjp: ({ inputs: [c, a, b] }, [g], needs) => {
    if (!g) return [undefined, undefined, undefined];
    return [
      undefined,
      wants(needs, 1) ? sumToShape(where(c, g, 0), a.shape) : undefined,
      wants(needs, 2) ? sumToShape(where(c, 0, g), b.shape) : undefined,
    ];
  },
};
export const CAST: OpDef = {
  type: 'Cast',
  infer: (xs, attrs) => [{ dtype: CAST_TO[(attrs.to as { i: number }).i], shape: [...xs[0].shape] }],
  vjp: ({ inputs: [x] }, [g]) => [g && isFloat(x.dtype) && isFloat(g.dtype) ? cast(g, x.dtype) : undefined],
};
/** ONNX Sum: elementwise sum of any number of broadcasting inputs. */
export const SUM: OpDef = {
  type: 'Sum',
  infer: (xs) => [{ dtype: sameDtype(xs), shape: xs.reduce<Value['shape']>((s, x) => broadcastShapes(s, x.shape), []) }],
  vjp: ({ inputs }, [g], needs) => inputs.map((x, i) => (g && wants(needs, i) ? sumToShape(g, x.shape) : undefined)),
};
/** ONNX Clip with tensor bounds (use ±Infinity for a missing one). */
export const CLIP: OpDef = {
  type: 'Clip',
  infer: (xs) => {
    for (const b of xs.slice(1)) if (b.rank !== 0) throw new Error('clip bounds must be scalars');
    return [{ dtype: sameDtype(xs), shape: [...xs[0].shape] }];
  },
  vjp: ({ inputs: [x, lo, hi] }, [g], needs) => {
    if (!g) return [undefined, undefined, undefined];
    const below = less(x, lo);
    const above = greater(x, hi);
    return [
      wants(needs, 0) ? where(below, 0, where(above, 0, g)) : undefined,
      lo && wants(needs, 1) ? sumToShape(where(below, g, 0), lo.shape) : undefined,
      hi && wants(needs, 2) ? sumToShape(where(above, g, 0), hi.shape) : undefined,
    ];
  },
};
const ONNX_TYPE: Record<DType, number> = {
  float32: 1,
  uint8: 2,
  int8: 3,
  int32: 6,
  int64: 7,
  bool: 9,
  float16: 10,
  float64: 11,
  bfloat16: 16,
};
const CAST_TO = Object.fromEntries(Object.entries(ONNX_TYPE).map(([k, v]) => [v, k])) as Record<number, DType>;

function geluForm(node: Node): 'none' | 'tanh' {
  return (node.attrs.approximate as { s: string } | undefined)?.s === 'tanh' ? 'tanh' : 'none';
}

/**
 * erf for dtypes without a runtime kernel (float64), exact to double precision:
 * erf(x) = 2/√π · e^(−x²) · Σₙ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)), all terms positive (no cancellation);
 * 100 terms converge for |x| ≤ 6, beyond which erf is ±1 in double precision.
 */
function erfSeries(x: Value): Value {
  const xc = minimum(maximum(x, -6), 6);
  const x2 = mul(xc, xc);
  const z = mul(x2, 2);
  let inner: Value = x.graph.scalar(1, x.dtype);
  for (let k = 100; k >= 1; k--) inner = add(mul(mul(z, inner), 1 / (2 * k + 1)), 1);
  return mul(mul(mul(xc, inner), exp(neg(x2))), TWO_OVER_SQRT_PI);
}

const bin =
  (op: OpDef) =>
  (a: Operand, b: Operand): Value =>
    apply(op, liftPair(a, b));
export const add = bin(ADD);
export const sub = bin(SUB);
export const mul = bin(MUL);
export const div = bin(DIV);
export const pow = bin(POW);
export const maximum = bin(MAX);
export const minimum = bin(MIN);
export const equal = bin(EQUAL);
export const less = bin(LESS);
export const greater = bin(GREATER);

export const neg = (x: Value): Value => apply(NEG, [x]);
export const exp = (x: Value): Value => apply(EXP, [x]);
export const log = (x: Value): Value => apply(LOG, [x]);
export const sqrt = (x: Value): Value => apply(SQRT, [x]);
export const tanh = (x: Value): Value => apply(TANH, [x]);
export const sigmoid = (x: Value): Value => apply(SIGMOID, [x]);
export const relu = (x: Value): Value => apply(RELU, [x]);
export const erf = (x: Value): Value => apply(ERF, [x]);
export const abs = (x: Value): Value => apply(ABS, [x]);
export const reciprocal = (x: Value): Value => apply(RECIPROCAL, [x]);
export const identity = (x: Value): Value => apply(IDENTITY, [x]);
export const sign = (x: Value): Value => apply(SIGN, [x]);
/** Elementwise sum of several tensors (one ONNX Sum node). */
export const sum = (xs: Value[]): Value => (xs.length === 1 ? xs[0] : apply(SUM, xs));
/** clamp(x, lo, hi); either bound may be omitted. */
export const clip = (x: Value, lo?: Operand, hi?: Operand): Value => apply(CLIP, [x, lift(lo ?? -Infinity, x), lift(hi ?? Infinity, x)]);

/** GELU: 'none' is the exact erf form (nn.GELU), 'tanh' is GPT-2's gelu_new. */
export const gelu = (x: Value, approximate: 'none' | 'tanh' = 'none'): Value =>
  apply(GELU, [x], approximate === 'tanh' ? { approximate: { s: 'tanh' } } : {});

export const where = (cond: Value, a: Operand, b: Operand): Value => {
  const [va, vb] = liftPair(a, b);
  return apply(WHERE, [cond, va, vb]);
};

export const cast = (x: Value, to: DType): Value => (x.dtype === to ? x : apply(CAST, [x], { to: { i: ONNX_TYPE[to] } }));
