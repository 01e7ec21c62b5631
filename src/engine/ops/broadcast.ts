/**
 * Shape plumbing shared by gradient rules: undoing broadcasts, reshaping/expanding to the shape of
 * another tensor (symbolic dims included), zeros and element counts of symbolic size.
 */
import type { Graph, Value } from '../graph.js';
import type { DType, HostTensor } from '../tensor.js';
import { type Dim, dimEq, isStatic, product, shapeToString } from '../shape.js';
import { cast, div } from './elementwise.js';
import { REDUCE_PROD, reduceSum } from './reduce.js';
import { constantOfShape, expand, EXPAND, gather, reshape, RESHAPE, shapeOf, squeeze } from './shape.js';
import { apply } from './op.js';

/**
 * Sums `g` (the gradient of a broadcast result) down to `shape`: over the leading axes `shape` lacks
 * and over the axes where `shape` has 1 and `g` does not.
 */
export function sumToShape(g: Value, shape: readonly Dim[]): Value {
  const lead = g.rank - shape.length;
  if (lead < 0) throw new Error(`cannot sum ${shapeToString(g.shape)} to the larger ${shapeToString(shape)}`);
  const axes: number[] = [];
  for (let i = 0; i < g.rank; i++) {
    if (i < lead) {
      axes.push(i);
      continue;
    }
    const want = shape[i - lead];
    if (dimEq(want, g.shape[i])) continue;
    if (want === 1) axes.push(i);
    else throw new Error(`cannot sum ${shapeToString(g.shape)} to ${shapeToString(shape)}`);
  }
  if (axes.length === 0) return g;
  const r = reduceSum(g, axes, true);
  return lead > 0
    ? squeeze(
        r,
        Array.from({ length: lead }, (_, i) => i),
      )
    : r;
}

/** Reshape target for `shape` as a constant when it can be one (at most one symbolic dim, as -1). */
function staticTarget(shape: readonly Dim[]): number[] | undefined {
  if (isStatic(shape)) return shape.length === 0 ? [] : [...shape];
  const sym = shape.filter((d) => typeof d !== 'number');
  if (sym.length !== 1) return undefined;
  return shape.map((d) => (typeof d === 'number' ? d : -1));
}

/** `x` reshaped to the shape of `like` (a constant target when possible, else `Shape(like)` at run time). */
export function reshapeLike(x: Value, like: Value): Value {
  if (like.rank === x.rank && like.shape.every((d, i) => dimEq(d, x.shape[i]))) return x;
  const t = staticTarget(like.shape);
  if (t) {
    try {
      const y = reshape(x, t);
      if (y.shape.every((d, i) => dimEq(d, like.shape[i]))) return y;
    } catch {
      // symbolic sizes that only agree at run time: fall through to a dynamic reshape
    }
  }
  return apply(RESHAPE, [x, shapeOf(like)]);
}

/** `x` broadcast to the shape of `like`. */
export function expandLike(x: Value, like: Value): Value {
  if (x.rank === like.rank && x.shape.every((d, i) => dimEq(d, like.shape[i]))) return x;
  if (isStatic(like.shape)) return expand(x, like.shape);
  return apply(EXPAND, [x, shapeOf(like)]);
}

/** Zeros with the dtype and (run-time) shape of `like`, never materialised as a constant. */
export function zerosLike(like: Value): Value {
  return constantOfShape(shapeOf(like), 0, like.dtype);
}

/** The number of elements of `x` over `axes` as a rank-0 tensor of `dtype` (static dims fold to a constant). */
export function countOf(x: Value, axes: readonly number[], dtype = x.dtype): Value {
  const dims = axes.map((a) => x.shape[a]);
  const n = product(dims);
  if (typeof n === 'number') return x.graph.scalar(n, dtype);
  const sizes = gather(shapeOf(x), x.graph.ints(axes));
  return cast(apply(REDUCE_PROD, [sizes, x.graph.ints([0])], { keepdims: { i: 0 } }), dtype);
}

/** g / count, for mean-type reductions. */
export function divByCount(g: Value, x: Value, axes: readonly number[]): Value {
  return div(g, countOf(x, axes, g.dtype));
}

/** A small constant of ones (e.g. the seed of a gradient). */
export function ones(graph: Graph, shape: readonly number[], dtype: DType): Value {
  if (shape.length === 0) return graph.scalar(1, dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  const data =
    dtype === 'float64'
      ? new Float64Array(n).fill(1)
      : dtype === 'float16'
        ? new Uint16Array(n).fill(0x3c00)
        : dtype === 'bfloat16'
          ? new Uint16Array(n).fill(0x3f80)
          : new Float32Array(n).fill(1);
  return graph.constant({ dtype, shape: [...shape], data } as HostTensor, 'ones');
}
