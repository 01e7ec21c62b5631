import type { Node, OpDef, Value } from '../graph.js';
import type { DType } from '../tensor.js';
import { broadcastShapes } from '../shape.js';
import { apply, binaryOp, lift, liftPair, type Operand, sameDtype, unaryOp } from './op.js';

export const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
export const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
export const GELU_TANH_C = 0.044715;

export const ADD = binaryOp('Add');
export const SUB = binaryOp('Sub');
export const MUL = binaryOp('Mul');
export const DIV = binaryOp('Div');
export const POW = binaryOp('Pow');
export const MAX = binaryOp('Max');
export const MIN = binaryOp('Min');
export const EQUAL = binaryOp('Equal', 'bool');
export const LESS = binaryOp('Less', 'bool');
export const GREATER = binaryOp('Greater', 'bool');
export const NEG = unaryOp('Neg');
export const EXP = unaryOp('Exp');
export const LOG = unaryOp('Log');
export const SQRT = unaryOp('Sqrt');
export const TANH = unaryOp('Tanh');
export const SIGMOID = unaryOp('Sigmoid');
export const RELU = unaryOp('Relu');
export const ERF = unaryOp('Erf', {
  lower: ({ inputs: [x] }) => (x.dtype === 'float64' ? [erfSeries(x)] : undefined),
});
export const ABS = unaryOp('Abs');
export const SIGN = unaryOp('Sign');
export const RECIPROCAL = unaryOp('Reciprocal');
export const IDENTITY = unaryOp('Identity');
/** ONNX Gelu (opset 20); written out as its formula for float64 (no kernel) and for older opsets. */
export const GELU = unaryOp('Gelu', {
  opset: 20,
  lower: (node, target) => {
    const x = node.inputs[0];
    if (x.dtype !== 'float64' && target.opset >= 20) return undefined;
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
};
export const CAST: OpDef = {
  type: 'Cast',
  infer: (xs, attrs) => [{ dtype: CAST_TO[(attrs.to as { i: number }).i], shape: [...xs[0].shape] }],
};
/** ONNX Sum: elementwise sum of any number of broadcasting inputs. */
export const SUM: OpDef = {
  type: 'Sum',
  infer: (xs) => [{ dtype: sameDtype(xs), shape: xs.reduce<Value['shape']>((s, x) => broadcastShapes(s, x.shape), []) }],
};
/** ONNX Clip with tensor bounds (use ±Infinity for a missing one). */
export const CLIP: OpDef = {
  type: 'Clip',
  infer: (xs) => {
    for (const b of xs.slice(1)) if (b.rank !== 0) throw new Error('clip bounds must be scalars');
    return [{ dtype: sameDtype(xs), shape: [...xs[0].shape] }];
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

export function geluForm(node: Node): 'none' | 'tanh' {
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
