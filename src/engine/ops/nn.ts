import type { Attrs, Node, OpDef, Value } from '../graph.js';
import { broadcastShapes, type Dim, dimEq, normAxis, shapeToString } from '../shape.js';
import { sumToShape } from './broadcast.js';
import { add, mul, reciprocal, sqrt, sub } from './elementwise.js';
import { apply, sameDtype } from './op.js';
import { reduceMean, reduceSum } from './reduce.js';
import { concat, reshape, slice, squeeze, transpose, unsqueeze } from './shape.js';

/** Swaps the last two axes. */
function transposeLast(x: Value): Value {
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

export const MATMUL: OpDef = {
  type: 'MatMul',
  infer: ([a, b]) => {
    if (a.rank < 1 || b.rank < 1) throw new Error('matmul of a scalar');
    const as = a.rank === 1 ? [1, a.shape[0]] : a.shape;
    const bs = b.rank === 1 ? [b.shape[0], 1] : b.shape;
    const k1 = as[as.length - 1];
    const k2 = bs[bs.length - 2];
    if (!dimEq(k1, k2)) throw new Error(`inner dims differ: ${shapeToString(a.shape)} x ${shapeToString(b.shape)}`);
    const batch = broadcastShapes(as.slice(0, -2), bs.slice(0, -2));
    const shape: Dim[] = [...batch];
    if (a.rank > 1) shape.push(as[as.length - 2]);
    if (b.rank > 1) shape.push(bs[bs.length - 1]);
    return [{ dtype: sameDtype([a, b]), shape }];
  },
  vjp: ({ inputs: [a, b] }, [g], needs) => {
    if (!g) return [undefined, undefined];
    // Vectors become matrices ([K] → [1, K] or [K, 1]) so one rule covers every case.
    const a2 = a.rank === 1 ? unsqueeze(a, [0]) : a;
    const b2 = b.rank === 1 ? unsqueeze(b, [1]) : b;
    let g2 = g;
    if (b.rank === 1) g2 = unsqueeze(g2, [g2.rank]);
    if (a.rank === 1) g2 = unsqueeze(g2, [g2.rank - 1]);
    let ga: Value | undefined;
    let gb: Value | undefined;
    if (needs?.[0] !== false) {
      ga = sumToShape(matmul(g2, transposeLast(b2)), a2.shape);
      if (a.rank === 1) ga = squeeze(ga, [0]);
    }
    if (needs?.[1] !== false) {
      const [k, n] = [a2.shape[a2.rank - 1], g2.shape[g2.rank - 1]];
      const sameBatch = a2.rank === g2.rank && a2.shape.slice(0, -2).every((d, i) => dimEq(d, g2.shape[i]));
      if (b2.rank === 2 && g2.rank > 2 && sameBatch && typeof k === 'number' && typeof n === 'number') {
        // A shared weight under batched inputs: one [K, B·M] x [B·M, N] product instead of a batch then a sum.
        gb = matmul(transposeLast(reshape(a2, [-1, k])), reshape(g2, [-1, n]));
      } else {
        gb = sumToShape(matmul(transposeLast(a2), g2), b2.shape);
      }
      if (b.rank === 1) gb = squeeze(gb, [1]);
    }
    return [ga, gb];
  },
};

interface ConvAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
}

function convAttrs(attrs: Attrs): ConvAttrs {
  if (attrs.auto_pad && (attrs.auto_pad as { s: string }).s !== 'NOTSET') throw new Error('conv gradients need explicit pads');
  return {
    strides: (attrs.strides as { ints: number[] } | undefined)?.ints ?? [1, 1],
    pads: (attrs.pads as { ints: number[] } | undefined)?.ints ?? [0, 0, 0, 0],
    dilations: (attrs.dilations as { ints: number[] } | undefined)?.ints ?? [1, 1],
    group: (attrs.group as { i: number } | undefined)?.i ?? 1,
  };
}

const convAttrsOut = (a: ConvAttrs): Attrs => ({
  strides: { ints: a.strides },
  pads: { ints: a.pads },
  dilations: { ints: a.dilations },
  group: { i: a.group },
});

const convOut = (n: number, k: number, s: number, d: number, p0: number, p1: number): number =>
  Math.floor((n + p0 + p1 - d * (k - 1) - 1) / s) + 1;

export const CONV: OpDef = {
  type: 'Conv',
  infer: ([x, w, b], attrs) => {
    if (x.rank !== 4 || w.rank !== 4) throw new Error('conv2d needs NCHW input and OIHW weight');
    const strides = (attrs.strides as { ints: number[] }).ints;
    const pads = (attrs.pads as { ints: number[] }).ints;
    const dil = (attrs.dilations as { ints: number[] }).ints;
    const group = (attrs.group as { i: number }).i;
    const [, c, h, wd] = x.shape;
    const [o, ci, kh, kw] = w.shape as number[];
    if (typeof c !== 'number' || c !== ci * group) throw new Error(`channels ${c} vs weight ${shapeToString(w.shape)}`);
    if (b && !dimEq(b.shape[0], o)) throw new Error('bias size');
    const out = (n: Dim, k: number, i: number): Dim => {
      if (typeof n !== 'number') throw new Error('conv over a symbolic spatial size');
      return Math.floor((n + pads[i] + pads[i + 2] - dil[i] * (k - 1) - 1) / strides[i]) + 1;
    };
    return [{ dtype: sameDtype([x, w]), shape: [x.shape[0], o, out(h, kh, 0), out(wd, kw, 1)] }];
  },
  vjp: ({ inputs: [x, w, b], attrs }, [g], needs) => {
    if (!g) return [undefined, undefined, undefined];
    const a = convAttrs(attrs);
    const [h, wd] = [x.shape[2] as number, x.shape[3] as number];
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    const [ho, wo] = [g.shape[2] as number, g.shape[3] as number];
    let gx: Value | undefined;
    if (needs?.[0] !== false) {
      // The adjoint of a strided conv is the transposed conv; output_padding restores rows the stride dropped.
      const outPad = [
        h - ((ho - 1) * a.strides[0] + (kh - 1) * a.dilations[0] + 1 - a.pads[0] - a.pads[2]),
        wd - ((wo - 1) * a.strides[1] + (kw - 1) * a.dilations[1] + 1 - a.pads[1] - a.pads[3]),
      ];
      gx = apply(CONV_TRANSPOSE, [g, w], { ...convAttrsOut(a), output_padding: { ints: outPad } });
    }
    const gw = needs?.[1] !== false ? convWeightGrad(x, g, kh, kw, a) : undefined;
    const gb = b && needs?.[2] !== false ? reduceSum(g, [0, 2, 3]) : undefined;
    return [gx, gw, gb];
  },
};

/**
 * ∂L/∂W of y = conv(x, W) given g = ∂L/∂y, as [O, C/G, kh, kw]: itself a conv over the batch, with the
 * input's channels as its batch, g's channels as its filters, and the roles of stride and dilation swapped.
 */
function convWeightGrad(x: Value, g: Value, kh: number, kw: number, a: ConvAttrs): Value {
  const c = x.shape[1] as number;
  const o = g.shape[1] as number;
  const parts: Value[] = [];
  for (let gi = 0; gi < a.group; gi++) {
    const xs = a.group === 1 ? x : slice(x, 1, (gi * c) / a.group, ((gi + 1) * c) / a.group);
    const gs = a.group === 1 ? g : slice(g, 1, (gi * o) / a.group, ((gi + 1) * o) / a.group);
    const swapped = { strides: a.dilations, pads: a.pads, dilations: a.strides, group: 1 };
    const y = apply(CONV_ANY, [transpose(xs, [1, 0, 2, 3]), transpose(gs, [1, 0, 2, 3])], convAttrsOut(swapped));
    let yk = y;
    if (y.shape[2] !== kh) yk = slice(yk, 2, 0, kh);
    if (y.shape[3] !== kw) yk = slice(yk, 3, 0, kw);
    parts.push(transpose(yk, [1, 0, 2, 3]));
  }
  return concat(parts, 0);
}

/** A plain Conv whose channel dims may be symbolic (the batch becomes channels in weight gradients). */
const CONV_ANY: OpDef = {
  type: 'Conv',
  infer: ([x, w], attrs) => {
    const a = convAttrs(attrs);
    const [h, wd] = [x.shape[2] as number, x.shape[3] as number];
    const [kh, kw] = [w.shape[2] as number, w.shape[3] as number];
    return [
      {
        dtype: sameDtype([x, w]),
        shape: [
          x.shape[0],
          w.shape[0],
          convOut(h, kh, a.strides[0], a.dilations[0], a.pads[0], a.pads[2]),
          convOut(wd, kw, a.strides[1], a.dilations[1], a.pads[1], a.pads[3]),
        ],
      },
    ];
  },
};

export const CONV_TRANSPOSE: OpDef = {
  type: 'ConvTranspose',
  infer: ([x, w, b], attrs) => {
    if (x.rank !== 4 || w.rank !== 4) throw new Error('convTranspose2d needs NCHW input and [C, O/G, kh, kw] weight');
    const a = convAttrs(attrs);
    const op = (attrs.output_padding as { ints: number[] } | undefined)?.ints ?? [0, 0];
    if (!dimEq(x.shape[1], w.shape[0])) throw new Error(`channels ${x.shape[1]} vs weight ${shapeToString(w.shape)}`);
    const o = (w.shape[1] as number) * a.group;
    if (b && !dimEq(b.shape[0], o)) throw new Error('bias size');
    const out = (n: Dim, k: number, i: number): number => {
      if (typeof n !== 'number') throw new Error('convTranspose over a symbolic spatial size');
      return a.strides[i] * (n - 1) + op[i] + (k - 1) * a.dilations[i] + 1 - a.pads[i] - a.pads[i + 2];
    };
    return [
      {
        dtype: sameDtype([x, w]),
        shape: [x.shape[0], o, out(x.shape[2], w.shape[2] as number, 0), out(x.shape[3], w.shape[3] as number, 1)],
      },
    ];
  },
  vjp: ({ inputs: [x, w, b], attrs }, [g], needs) => {
    if (!g) return [undefined, undefined, undefined];
    const a = convAttrs(attrs);
    const gx = needs?.[0] !== false ? apply(CONV, [g, w], convAttrsOut(a)) : undefined;
    // convTranspose(x, W) is conv's input gradient with x as the output gradient: swap the roles.
    const gw = needs?.[1] !== false ? convWeightGrad(g, x, w.shape[2] as number, w.shape[3] as number, a) : undefined;
    const gb = b && needs?.[2] !== false ? reduceSum(g, [0, 2, 3]) : undefined;
    return [gx, gw, gb];
  },
};

/** LayerNorm backward, recomputing mean and 1/σ from the input (no extra forward outputs). */
export const LAYER_NORM: OpDef = {
  type: 'LayerNormalization',
  opset: 17,
  infer: ([x, g]) => {
    const n = g.rank;
    if (!x.shape.slice(-n).every((d, i) => dimEq(d, g.shape[i])))
      throw new Error(`scale ${shapeToString(g.shape)} vs input ${shapeToString(x.shape)}`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
  vjp: (node, [g], needs) => {
    if (!g) return [undefined, undefined, undefined];
    const [, gamma, beta] = node.inputs;
    const { axes, xhat, rstd } = layerNormStats(node);
    let gx: Value | undefined;
    if (needs?.[0] !== false) {
      const dxhat = mul(g, gamma);
      const m1 = reduceMean(dxhat, axes, true);
      const m2 = reduceMean(mul(dxhat, xhat), axes, true);
      gx = mul(sub(sub(dxhat, m1), mul(xhat, m2)), rstd);
    }
    const gg = needs?.[1] !== false ? sumToShape(mul(g, xhat), gamma.shape) : undefined;
    const gbeta = beta && needs?.[2] !== false ? sumToShape(g, beta.shape) : undefined;
    return [gx, gg, gbeta];
  },
};

function layerNormStats(node: Node): { axes: number[]; xhat: Value; rstd: Value } {
  const x = node.inputs[0];
  const axis = normAxis((node.attrs.axis as { i: number } | undefined)?.i ?? -1, x.rank);
  const eps = (node.attrs.epsilon as { f: number } | undefined)?.f ?? 1e-5;
  const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const xc = sub(x, reduceMean(x, axes, true));
  const rstd = reciprocal(sqrt(add(reduceMean(mul(xc, xc), axes, true), Math.fround(eps))));
  return { axes, xhat: mul(xc, rstd), rstd };
}

export const matmul = (a: Value, b: Value): Value => apply(MATMUL, [a, b]);

/** x @ w (+ b): w is [in, out] (transpose PyTorch Linear weights once when loading). */
export function linear(x: Value, w: Value, b?: Value): Value {
  const y = matmul(x, w);
  return b ? add(y, b) : y;
}

export interface Conv2dOptions {
  stride?: [number, number];
  /** [top, left, bottom, right] */
  pads?: [number, number, number, number];
  dilation?: [number, number];
  groups?: number;
}

export function conv2d(x: Value, w: Value, b: Value | undefined, o: Conv2dOptions = {}): Value {
  return apply(CONV, b ? [x, w, b] : [x, w], {
    strides: { ints: o.stride ?? [1, 1] },
    pads: { ints: o.pads ?? [0, 0, 0, 0] },
    dilations: { ints: o.dilation ?? [1, 1] },
    group: { i: o.groups ?? 1 },
  });
}

export interface ConvTranspose2dOptions extends Conv2dOptions {
  /** Extra rows/columns at the bottom/right of the output (each below its stride). */
  outputPadding?: [number, number];
}

/** Transposed conv; `w` is [C_in, C_out/groups, kh, kw] (PyTorch's ConvTranspose2d layout). */
export function convTranspose2d(x: Value, w: Value, b: Value | undefined, o: ConvTranspose2dOptions = {}): Value {
  return apply(CONV_TRANSPOSE, b ? [x, w, b] : [x, w], {
    strides: { ints: o.stride ?? [1, 1] },
    pads: { ints: o.pads ?? [0, 0, 0, 0] },
    dilations: { ints: o.dilation ?? [1, 1] },
    group: { i: o.groups ?? 1 },
    output_padding: { ints: o.outputPadding ?? [0, 0] },
  });
}

/** LayerNorm over the trailing dims of `gamma`'s rank. */
export function layerNorm(x: Value, gamma: Value, beta: Value, eps = 1e-5): Value {
  return apply(LAYER_NORM, [x, gamma, beta], { axis: { i: -gamma.rank }, epsilon: { f: eps } });
}
