/** Gradient rules of the reductions and softmaxes (src/engine/ops/reduce.ts). */
import type { Node, Value } from '../graph.js';
import { normAxis } from '../shape.js';
import { divByCount, expandLike } from '../ops/broadcast.js';
import { cast, div, equal, exp, mul, sub } from '../ops/elementwise.js';
import { LOG_SOFTMAX, REDUCE_MAX, REDUCE_MEAN, REDUCE_SUM, reduceSum, reducedAxes, SOFTMAX } from '../ops/reduce.js';
import { unsqueeze } from '../ops/shape.js';
import { defineGradient } from './registry.js';

/** The output gradient of a reduction node reshaped with the reduced axes kept (size 1). */
function keptGrad(node: Node, g: Value): Value {
  const keep = (node.attrs.keepdims as { i: number } | undefined)?.i !== 0;
  const axes = reducedAxes(node.inputs[0], node.inputs[1]);
  return keep || axes.length === 0 ? g : unsqueeze(g, axes);
}

/** The output itself with the reduced axes kept. */
const keptOutput = (node: Node): Value => keptGrad(node, node.outputs[0]);

const axisOf = (node: Node): number => normAxis((node.attrs.axis as { i: number } | undefined)?.i ?? -1, node.inputs[0].rank);

defineGradient(REDUCE_SUM, (node, [g]) => [g && expandLike(keptGrad(node, g), node.inputs[0]), undefined]);

defineGradient(REDUCE_MEAN, (node, [g]) => {
  if (!g) return [undefined, undefined];
  const x = node.inputs[0];
  return [expandLike(divByCount(keptGrad(node, g), x, reducedAxes(x, node.inputs[1])), x), undefined];
});

/** Ties share the gradient equally (like torch.amax). */
defineGradient(REDUCE_MAX, (node, [g]) => {
  if (!g) return [undefined, undefined];
  const x = node.inputs[0];
  const mask = cast(equal(x, keptOutput(node)), x.dtype);
  const count = reduceSum(mask, reducedAxes(x, node.inputs[1]), true);
  return [mul(mask, div(keptGrad(node, g), count)), undefined];
});

/** dx = y ⊙ (g − Σ g⊙y) */
defineGradient(SOFTMAX, (node, [g]) => {
  if (!g) return [undefined];
  const y = node.outputs[0];
  return [mul(y, sub(g, reduceSum(mul(g, y), [axisOf(node)], true)))];
});

/** dx = g − softmax ⊙ Σ g */
defineGradient(LOG_SOFTMAX, (node, [g]) => {
  if (!g) return [undefined];
  return [sub(g, mul(exp(node.outputs[0]), reduceSum(g, [axisOf(node)], true)))];
});
