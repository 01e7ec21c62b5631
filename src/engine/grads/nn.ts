/** Gradient rules of the nn ops (src/engine/ops/nn.ts). */
import type { Node, OpDef, Value } from '../graph.js';
import { dimEq, normAxis } from '../shape.js';
import { add, mul, reciprocal, sqrt, sub } from '../ops/elementwise.js';
import { concat, reshape, slice, squeeze, transpose, unsqueeze } from '../ops/shape.js';
import { CONV, CONV_TRANSPOSE, type ConvAttrs, convAttrs, convAttrsOut, convOut, LAYER_NORM, MATMUL, matmul } from '../ops/nn.js';
import { reduceMean, reduceSum } from '../ops/reduce.js';
import { sumToShape } from '../ops/broadcast.js';
import { apply, sameDtype } from '../ops/op.js';
import { defineGradient } from './registry.js';

/** Swaps the last two axes. */
function transposeLast(x: Value): Value {
  const perm = Array.from({ length: x.rank }, (_, i) => i);
  [perm[x.rank - 2], perm[x.rank - 1]] = [perm[x.rank - 1], perm[x.rank - 2]];
  return transpose(x, perm);
}

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

/** LayerNorm backward, recomputing mean and 1/σ from the input (no extra forward outputs). */
function layerNormStats(node: Node): { axes: number[]; xhat: Value; rstd: Value } {
  const x = node.inputs[0];
  const axis = normAxis((node.attrs.axis as { i: number } | undefined)?.i ?? -1, x.rank);
  const eps = (node.attrs.epsilon as { f: number } | undefined)?.f ?? 1e-5;
  const axes = Array.from({ length: x.rank - axis }, (_, i) => axis + i);
  const xc = sub(x, reduceMean(x, axes, true));
  const rstd = reciprocal(sqrt(add(reduceMean(mul(xc, xc), axes, true), Math.fround(eps))));
  return { axes, xhat: mul(xc, rstd), rstd };
}

defineGradient(MATMUL, ({ inputs: [a, b] }, [g], needs) => {
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
});

defineGradient(CONV, ({ inputs: [x, w, b], attrs }, [g], needs) => {
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
});

defineGradient(CONV_TRANSPOSE, ({ inputs: [x, w, b], attrs }, [g], needs) => {
  if (!g) return [undefined, undefined, undefined];
  const a = convAttrs(attrs);
  const gx = needs?.[0] !== false ? apply(CONV, [g, w], convAttrsOut(a)) : undefined;
  // convTranspose(x, W) is conv's input gradient with x as the output gradient: swap the roles.
  const gw = needs?.[1] !== false ? convWeightGrad(g, x, w.shape[2] as number, w.shape[3] as number, a) : undefined;
  const gb = b && needs?.[2] !== false ? reduceSum(g, [0, 2, 3]) : undefined;
  return [gx, gw, gb];
});

defineGradient(LAYER_NORM, (node, [g], needs) => {
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
});
