import type { Attrs, OpDef, Value } from '../graph.js';
import { normAxis, type Shape } from '../shape.js';
import { apply } from './op.js';

function reducedShape(x: Value, axes: readonly number[], attrs: Attrs): Shape {
  const keep = (attrs.keepdims as { i: number } | undefined)?.i !== 0;
  return keep ? x.shape.map((d, i) => (axes.includes(i) ? 1 : d)) : x.shape.filter((_, i) => !axes.includes(i));
}

/**
 * A reduction with its axes as an input (opset 18; ReduceSum since 13). For older opsets the others are
 * written in their opset-13 form, the axes as an attribute.
 */
function reduceOp(type: string): OpDef {
  const axesInputSince = type === 'ReduceSum' ? 13 : 18;
  const withAxesAttribute: OpDef = {
    type,
    infer: ([x], attrs) => [{ dtype: x.dtype, shape: reducedShape(x, (attrs.axes as { ints: number[] }).ints, attrs) }],
  };
  return {
    type,
    opset: axesInputSince,
    infer: ([x, a], attrs) => [{ dtype: x.dtype, shape: reducedShape(x, reducedAxes(x, a), attrs) }],
    lower: ({ inputs: [x, a], attrs }, target) =>
      target.opset >= axesInputSince ? undefined : [apply(withAxesAttribute, [x], { ...attrs, axes: { ints: reducedAxes(x, a) } })],
  };
}

/** The normalised, sorted axes a reduction node reduces over (all axes when the axes input is absent). */
export function reducedAxes(x: Value, a: Value | undefined): number[] {
  if (!a) return Array.from({ length: x.rank }, (_, i) => i);
  const c = a.graph.constants.get(a.name);
  if (!c) throw new Error('axes must be a constant');
  if (c.tensor.data.length === 0) return Array.from({ length: x.rank }, (_, i) => i); // ONNX: empty axes reduce all
  return Array.from(c.tensor.data as BigInt64Array, (v) => normAxis(Number(v), x.rank)).sort((p, q) => p - q);
}

export const REDUCE_SUM = reduceOp('ReduceSum');
export const REDUCE_MEAN = reduceOp('ReduceMean');
export const REDUCE_MAX = reduceOp('ReduceMax');
export const REDUCE_PROD = reduceOp('ReduceProd');

const reducer =
  (op: OpDef) =>
  (x: Value, axes: readonly number[], keepdims = false): Value =>
    apply(op, [x, x.graph.ints(axes)], { keepdims: { i: keepdims ? 1 : 0 } });

export const reduceSum = reducer(REDUCE_SUM);
export const reduceMean = reducer(REDUCE_MEAN);
export const reduceMax = reducer(REDUCE_MAX);
export const reduceProd = reducer(REDUCE_PROD);

const axisOp = (type: string): OpDef => ({ type, infer: ([x]) => [{ dtype: x.dtype, shape: [...x.shape] }] });

export const SOFTMAX = axisOp('Softmax');
export const LOG_SOFTMAX = axisOp('LogSoftmax');

export const softmax = (x: Value, axis = -1): Value => apply(SOFTMAX, [x], { axis: { i: axis } });
export const logSoftmax = (x: Value, axis = -1): Value => apply(LOG_SOFTMAX, [x], { axis: { i: axis } });
