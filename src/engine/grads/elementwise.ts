/** Gradient rules of the elementwise ops (src/engine/ops/elementwise.ts). */
import {
  ABS,
  ADD,
  CAST,
  CLIP,
  DIV,
  ERF,
  EXP,
  GELU,
  GELU_TANH_C,
  IDENTITY,
  LOG,
  MAX,
  MIN,
  MUL,
  NEG,
  POW,
  RECIPROCAL,
  RELU,
  SIGMOID,
  SIGN,
  SQRT,
  SQRT_2_OVER_PI,
  SUB,
  SUM,
  TANH,
  TWO_OVER_SQRT_PI,
  WHERE,
  add,
  cast,
  div,
  equal,
  erf,
  exp,
  geluForm,
  greater,
  less,
  log,
  mul,
  neg,
  pow,
  sign,
  sub,
  tanh,
  where,
} from '../ops/elementwise.js';
import { sumToShape } from '../ops/broadcast.js';
import type { Node, Value, VjpRule } from '../graph.js';
import { type DType, isFloatDtype } from '../tensor.js';
import { defineGradient, wants } from './registry.js';

const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

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

/** The value of a rank-0 (or one-element) float constant, if `v` is one. */
function constScalar(v: Value): number | undefined {
  const c = v.graph.constants.get(v.name);
  if (c?.tensor.data.length !== 1 || !isFloatDtype(c.tensor.dtype)) return undefined;
  return Number(c.tensor.data[0]);
}

/** 1 where `pick` holds, ½ on ties, 0 elsewhere: how max/min share their gradient. */
function pickMask(pick: Value, tie: Value, dtype: DType): Value {
  return add(cast(pick, dtype), mul(cast(tie, dtype), 0.5));
}

defineGradient(
  ADD,
  binaryVjp(
    (g) => g,
    (g) => g,
  ),
);

defineGradient(
  SUB,
  binaryVjp(
    (g) => g,
    (g) => neg(g),
  ),
);

defineGradient(
  MUL,
  binaryVjp(
    (g, _a, b) => mul(g, b),
    (g, a) => mul(g, a),
  ),
);

defineGradient(
  DIV,
  binaryVjp(
    (g, _a, b) => div(g, b),
    (g, _a, b, y) => neg(div(mul(g, y), b)),
  ),
);

defineGradient(
  POW,
  binaryVjp(
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
);

defineGradient(MAX, ({ inputs: [a, b] }, [g], needs) => {
  if (!g) return [undefined, undefined];
  const m = pickMask(greater(a, b), equal(a, b), g.dtype);
  return [
    wants(needs, 0) ? sumToShape(mul(g, m), a.shape) : undefined,
    wants(needs, 1) ? sumToShape(mul(g, sub(1, m)), b.shape) : undefined,
  ];
});

defineGradient(MIN, ({ inputs: [a, b] }, [g], needs) => {
  if (!g) return [undefined, undefined];
  const m = pickMask(less(a, b), equal(a, b), g.dtype);
  return [
    wants(needs, 0) ? sumToShape(mul(g, m), a.shape) : undefined,
    wants(needs, 1) ? sumToShape(mul(g, sub(1, m)), b.shape) : undefined,
  ];
});

defineGradient(
  NEG,
  unaryVjp((g) => neg(g)),
);

defineGradient(
  EXP,
  unaryVjp((g, _x, y) => mul(g, y)),
);

defineGradient(
  LOG,
  unaryVjp((g, x) => div(g, x)),
);

defineGradient(
  SQRT,
  unaryVjp((g, _x, y) => div(mul(g, 0.5), y)),
);

defineGradient(
  TANH,
  unaryVjp((g, _x, y) => mul(g, sub(1, mul(y, y)))),
);

defineGradient(
  SIGMOID,
  unaryVjp((g, _x, y) => mul(g, mul(y, sub(1, y)))),
);

defineGradient(
  RELU,
  unaryVjp((g, _x, y) => where(greater(y, 0), g, 0)),
);

defineGradient(
  ERF,
  unaryVjp((g, x) => mul(g, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI))),
);

defineGradient(
  ABS,
  unaryVjp((g, x) => mul(g, sign(x))),
);

defineGradient(SIGN, () => [undefined]);

defineGradient(
  RECIPROCAL,
  unaryVjp((g, _x, y) => neg(mul(g, mul(y, y)))),
);

defineGradient(
  IDENTITY,
  unaryVjp((g) => g),
);

defineGradient(
  GELU,
  unaryVjp((g, x, _y, node) => {
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
);

defineGradient(WHERE, ({ inputs: [c, a, b] }, [g], needs) => {
  if (!g) return [undefined, undefined, undefined];
  return [
    undefined,
    wants(needs, 1) ? sumToShape(where(c, g, 0), a.shape) : undefined,
    wants(needs, 2) ? sumToShape(where(c, 0, g), b.shape) : undefined,
  ];
});

defineGradient(CAST, ({ inputs: [x] }, [g]) => [g && isFloatDtype(x.dtype) && isFloatDtype(g.dtype) ? cast(g, x.dtype) : undefined]);

defineGradient(SUM, ({ inputs }, [g], needs) => inputs.map((x, i) => (g && wants(needs, i) ? sumToShape(g, x.shape) : undefined)));

defineGradient(CLIP, ({ inputs: [x, lo, hi] }, [g], needs) => {
  if (!g) return [undefined, undefined, undefined];
  const below = less(x, lo);
  const above = greater(x, hi);
  return [
    wants(needs, 0) ? where(below, 0, where(above, 0, g)) : undefined,
    lo && wants(needs, 1) ? sumToShape(where(below, g, 0), lo.shape) : undefined,
    hi && wants(needs, 2) ? sumToShape(where(above, g, 0), hi.shape) : undefined,
  ];
});
