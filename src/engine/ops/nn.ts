import type { Attrs, OpDef, Value } from '../graph.js';
import { broadcastShapes, type Dim, dimEq, shapeToString } from '../shape.js';
import { add } from './elementwise.js';
import { apply, sameDtype } from './op.js';

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
};

export interface ConvAttrs {
  strides: number[];
  pads: number[];
  dilations: number[];
  group: number;
}

export function convAttrs(attrs: Attrs): ConvAttrs {
  if (attrs.auto_pad && (attrs.auto_pad as { s: string }).s !== 'NOTSET') throw new Error('conv gradients need explicit pads');
  return {
    strides: (attrs.strides as { ints: number[] } | undefined)?.ints ?? [1, 1],
    pads: (attrs.pads as { ints: number[] } | undefined)?.ints ?? [0, 0, 0, 0],
    dilations: (attrs.dilations as { ints: number[] } | undefined)?.ints ?? [1, 1],
    group: (attrs.group as { i: number } | undefined)?.i ?? 1,
  };
}

export const convAttrsOut = (a: ConvAttrs): Attrs => ({
  strides: { ints: a.strides },
  pads: { ints: a.pads },
  dilations: { ints: a.dilations },
  group: { i: a.group },
});

export const convOut = (n: number, k: number, s: number, d: number, p0: number, p1: number): number =>
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
};

export const LAYER_NORM: OpDef = {
  type: 'LayerNormalization',
  opset: 17,
  infer: ([x, g]) => {
    const n = g.rank;
    if (!x.shape.slice(-n).every((d, i) => dimEq(d, g.shape[i])))
      throw new Error(`scale ${shapeToString(g.shape)} vs input ${shapeToString(x.shape)}`);
    return [{ dtype: x.dtype, shape: [...x.shape] }];
  },
};

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
