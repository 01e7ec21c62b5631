import type { Node, OpDef, Value, VjpRule } from '../graph.js';
import { normAxis } from '../shape.js';
import { divByCount, expandLike } from './broadcast.js';
import { cast, div, equal, exp, mul, sub } from './elementwise.js';
import { apply } from './op.js';
import { unsqueeze } from './shape.js';

function reduceOp(type: string, vjp?: VjpRule): OpDef {
  return {
    type,
    opset: 18,
    infer: ([x, a], attrs) => {
      const axes = reducedAxes(x, a);
      const keep = (attrs.keepdims as { i: number } | undefined)?.i !== 0;
      const shape = keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
      return [{ dtype: x.dtype, shape }];
    },
    vjp,
  };
}

/** The normalised, sorted axes a reduction node reduces over (all axes when the axes input is absent). */
function reducedAxes(x: Value, a: Value | undefined): number[] {
  if (!a) return Array.from({ length: x.rank }, (_, i) => i);
  const c = a.graph.constants.get(a.name);
  if (!c) throw new Error('axes must be a constant');
  if (c.tensor.data.length === 0) return Array.from({ length: x.rank }, (_, i) => i); // ONNX: empty axes reduce all
  return Array.from(c.tensor.data as BigInt64Array, (v) => normAxis(Number(v), x.rank)).sort((p, q) => p - q);
}

/** The output gradient of a reduction node reshaped with the reduced axes kept (size 1). */
function keptGrad(node: Node, g: Value): Value {
  const keep = (node.attrs.keepdims as { i: number } | undefined)?.i !== 0;
  const axes = reducedAxes(node.inputs[0], node.inputs[1]);
  return keep || axes.length === 0 ? g : unsqueeze(g, axes);
}

/** The output itself with the reduced axes kept. */
const keptOutput = (node: Node): Value => keptGrad(node, node.outputs[0]);

export const REDUCE_SUM = reduceOp('ReduceSum', (node, [g]) => [g && expandLike(keptGrad(node, g), node.inputs[0]), undefined]);
export const REDUCE_MEAN = reduceOp('ReduceMean', (node, [g]) => {
  if (!g) return [undefined, undefined];
  const x = node.inputs[0];
  return [expandLike(divByCount(keptGrad(node, g), x, reducedAxes(x, node.inputs[1])), x), undefined];
});
/** Ties share the gradient equally (like torch.amax). */
export const REDUCE_MAX = reduceOp('ReduceMax', (node, [g]) => {
  if (!g) return [undefined, undefined];
  const x = node.inputs[0];
  const mask = cast(equal(x, keptOutput(node)), x.dtype);
  const count = reduceSum(mask, reducedAxes(x, node.inputs[1]), true);
  return [mul(mask, div(keptGrad(node, g), count)), undefined];
});
export const REDUCE_PROD = reduceOp('ReduceProd');

const reducer =
  (op: OpDef) =>
  (x: Value, axes: readonly number[], keepdims = false): Value =>
    apply(op, [x, x.graph.ints(axes)], { keepdims: { i: keepdims ? 1 : 0 } });

export const reduceSum = reducer(REDUCE_SUM);
export const reduceMean = reducer(REDUCE_MEAN);
export const reduceMax = reducer(REDUCE_MAX);
export const reduceProd = reducer(REDUCE_PROD);

const axisOp = (type: string, vjp: VjpRule): OpDef => ({ type, infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }], vjp });
const axisOf = (node: Node): number => normAxis((node.attrs.axis as { i: number } | undefined)?.i ?? -1, node.inputs[0].rank);

/** dx = y ⊙ (g − Σ g⊙y) */
export const SOFTMAX = axisOp('Softmax', (node, [g]) => {
  if (!g) return [undefined];
  const y = node.outputs[0];
  return [mul(y, sub(g, reduceSum(mul(g, y), [axisOf(node)], true)))];
});
/** dx = g − softmax ⊙ Σ g */
export const LOG_SOFTMAX = axisOp('LogSoftmax', (node, [g]) => {
  if (!g) return [undefined];
  return [sub(g, mul(exp(node.outputs[0]), reduceSum(g, [axisOf(node)], true)))];
});

export const softmax = (x: Value, axis = -1): Value => apply(SOFTMAX, [x], { axis: { i: axis } });
export const logSoftmax = (x: Value, axis = -1): Value => apply(LOG_SOFTMAX, [x], { axis: { i: axis } });
