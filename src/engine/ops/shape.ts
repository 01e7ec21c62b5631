import { type OpDef, scalarTensor, type Value } from '../graph.js';
import type { DType } from '../tensor.js';
import { type Dim, dimDiv, dimEq, normAxis, product, shapeToString } from '../shape.js';
import { apply, applyMulti, sameDtype } from './op.js';

/** Static int64 inputs (shape, axes, starts…) are graph constants; inference reads them back. */
export function constInts(v: Value): number[] {
  const c = v.graph.constants.get(v.name);
  if (!c) throw new Error(`${v.name} must be a constant`);
  return Array.from(c.tensor.data as BigInt64Array, Number);
}

/**
 * The literal dims a run-time shape tensor stands for, when the tracer can follow it: `Shape(x)`,
 * constant-index `Gather`s of one and `Concat`s of such pieces and constants.
 */
export function shapeArgDims(v: Value): Dim[] | undefined {
  const c = v.graph.constants.get(v.name);
  if (c) return Array.from(c.tensor.data as BigInt64Array, Number);
  const p = v.producer;
  if (!p) return undefined;
  if (p.op === SHAPE) return [...p.inputs[0].shape];
  if (p.op === GATHER && (p.attrs.axis as { i: number }).i === 0 && p.inputs[1].rank <= 1) {
    const src = shapeArgDims(p.inputs[0]);
    const ci = v.graph.constants.get(p.inputs[1].name);
    if (!src || !ci) return undefined;
    const idx = Array.from(ci.tensor.data as BigInt64Array, (k) => normAxis(Number(k), src.length));
    return idx.map((k) => src[k]);
  }
  if (p.op === CONCAT) {
    const parts = p.inputs.map(shapeArgDims);
    return parts.every((q) => q) ? parts.flatMap((q) => q!) : undefined;
  }
  return undefined;
}

function dynamicDims(v: Value, what: string): Dim[] {
  const d = shapeArgDims(v);
  if (!d) throw new Error(`${what}: the tracer cannot follow the run-time shape ${v.name}`);
  return d;
}

/** Normalised (start, count, step) of a Slice on one axis of static size d, with ONNX clamping. */
export function sliceRange(d: number, start: number, end: number, step: number): { begin: number; count: number } {
  if (step === 0) throw new Error('slice step 0');
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
  if (step > 0) {
    const b = clamp(start, 0, d);
    const e = clamp(end, 0, d);
    return { begin: b, count: Math.max(0, Math.ceil((e - b) / step)) };
  }
  const b = clamp(start, -1, d - 1);
  const e = clamp(end, -1, d - 1);
  return { begin: b, count: Math.max(0, Math.ceil((b - e) / -step)) };
}

/** ONNX Reshape semantics: 0 copies the input dim, -1 takes what is left. */
export function inferReshape(input: readonly Dim[], target: readonly number[]): Dim[] {
  const out: (Dim | null)[] = target.map((t, i) => {
    if (t === 0) {
      if (i >= input.length) throw new Error(`reshape 0 at axis ${i} beyond input rank`);
      return input[i];
    }
    return t === -1 ? null : t;
  });
  const holes = out.filter((d) => d === null).length;
  if (holes > 1) throw new Error('reshape allows one -1');
  const total = product(input);
  const known = product(out.filter((d): d is Dim => d !== null));
  if (holes === 1) {
    const rest = dimDiv(total, known);
    if (rest === undefined) throw new Error(`cannot reshape ${shapeToString(input)} to [${target.join(', ')}]`);
    out[out.indexOf(null)] = rest;
  } else if (!dimEq(total, known)) {
    throw new Error(`cannot reshape ${shapeToString(input)} (${total} elements) to [${target.join(', ')}]`);
  }
  return out as Dim[];
}

export const RESHAPE: OpDef = {
  type: 'Reshape',
  infer: ([x, s]) => {
    if (s.graph.constants.has(s.name)) return [{ dtype: x.dtype, shape: inferReshape(x.shape, constInts(s)) }];
    const shape = dynamicDims(s, 'reshape');
    if (!dimEq(product(shape), product(x.shape))) throw new Error(`cannot reshape ${shapeToString(x.shape)} to ${shapeToString(shape)}`);
    return [{ dtype: x.dtype, shape }];
  },
};

/** ONNX Shape: the run-time shape of a tensor as int64[rank]. */
export const SHAPE: OpDef = {
  type: 'Shape',
  infer: ([x]) => [{ dtype: 'int64', shape: [x.rank] }],
};

/** ONNX ConstantOfShape: a tensor filled with the `value` attribute's single element. */
export const CONSTANT_OF_SHAPE: OpDef = {
  type: 'ConstantOfShape',
  infer: ([s], attrs) => [{ dtype: (attrs.value as { t: { dtype: DType } }).t.dtype, shape: dynamicDims(s, 'constantOfShape') }],
};

export const TRANSPOSE: OpDef = {
  type: 'Transpose',
  infer: ([x], attrs) => {
    const perm = (attrs.perm as { ints: number[] }).ints;
    if (perm.length !== x.rank || [...perm].sort().some((p, i) => p !== i)) throw new Error(`bad perm [${perm}]`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
};

export const CONCAT: OpDef = {
  type: 'Concat',
  infer: (xs, attrs) => {
    const axis = normAxis((attrs.axis as { i: number }).i, xs[0].rank);
    const shape = [...xs[0].shape];
    let total: Dim = 0;
    for (const x of xs) {
      if (x.rank !== shape.length) throw new Error('concat rank mismatch');
      x.shape.forEach((d, i) => {
        if (i !== axis && !dimEq(d, shape[i])) throw new Error(`concat shape mismatch at axis ${i}`);
      });
      const d = x.shape[axis];
      if (typeof d !== 'number' || typeof total !== 'number') throw new Error('concat along a symbolic axis');
      total += d;
    }
    shape[axis] = total;
    return [{ dtype: sameDtype(xs), shape }];
  },
};

export const SLICE: OpDef = {
  type: 'Slice',
  infer: ([x, s, e, a, st]) => {
    const starts = constInts(s);
    const ends = constInts(e);
    const axes = constInts(a);
    const steps = constInts(st);
    const shape = [...x.shape];
    axes.forEach((axis0, k) => {
      const axis = normAxis(axis0, x.rank);
      const d = shape[axis];
      if (typeof d !== 'number') {
        if (isFullSlice(starts[k], ends[k], steps[k])) return;
        throw new Error(`slice of symbolic axis ${axis}`);
      }
      shape[axis] = sliceRange(d, starts[k], ends[k], steps[k]).count;
    });
    return [{ dtype: x.dtype, shape }];
  },
};

function isFullSlice(start: number, end: number, step: number): boolean {
  return start === 0 && end >= Number.MAX_SAFE_INTEGER && step === 1;
}

export const GATHER: OpDef = {
  type: 'Gather',
  infer: ([x, idx], attrs) => {
    const axis = normAxis((attrs.axis as { i: number }).i, x.rank);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('indices must be int64/int32');
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
};

/** ONNX GatherElements: out[i][j][k] = x[idx[i][j][k]][j][k] (axis 0), shaped like the indices. */
export const GATHER_ELEMENTS: OpDef = {
  type: 'GatherElements',
  infer: ([x, idx], attrs) => {
    normAxis((attrs.axis as { i: number }).i, x.rank);
    if (idx.rank !== x.rank) throw new Error('indices must have the rank of the data');
    return [{ dtype: x.dtype, shape: [...idx.shape] }];
  },
};

/** ONNX ScatterElements (reduction 'none' assumes distinct indices for its gradient). */
export const SCATTER_ELEMENTS: OpDef = {
  type: 'ScatterElements',
  infer: ([x, idx, u]) => {
    if (idx.rank !== x.rank || u.rank !== x.rank) throw new Error('indices and updates must have the rank of the data');
    return [{ dtype: sameDtype([x, u]), shape: [...x.shape] }];
  },
};

/** ONNX GatherND (batch_dims 0): out = x[idx[..., :]] with shape idx.shape[:-1] + x.shape[k:]. */
export const GATHER_ND: OpDef = {
  type: 'GatherND',
  infer: ([x, idx]) => {
    const k = idx.shape[idx.rank - 1];
    if (typeof k !== 'number' || k > x.rank) throw new Error('last indices dim must be a static size <= data rank');
    return [{ dtype: x.dtype, shape: [...idx.shape.slice(0, -1), ...x.shape.slice(k)] }];
  },
};

/** ONNX ScatterND (reduction 'none' assumes distinct indices for its gradient). */
export const SCATTER_ND: OpDef = {
  type: 'ScatterND',
  infer: ([x, , u]) => [{ dtype: sameDtype([x, u]), shape: [...x.shape] }],
};

export const UNSQUEEZE: OpDef = {
  type: 'Unsqueeze',
  infer: ([x, a]) => {
    const rank = x.rank + constInts(a).length;
    const axes = constInts(a).map((ax) => normAxis(ax, rank));
    const shape: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) shape.push(axes.includes(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape }];
  },
};

export const SQUEEZE: OpDef = {
  type: 'Squeeze',
  infer: ([x, a]) => {
    const axes = constInts(a).map((ax) => normAxis(ax, x.rank));
    for (const ax of axes) if (x.shape[ax] !== 1) throw new Error(`squeeze of axis ${ax} with size ${x.shape[ax]}`);
    return [{ dtype: x.dtype, shape: x.shape.filter((_, i) => !axes.includes(i)) }];
  },
};

export const EXPAND: OpDef = {
  type: 'Expand',
  infer: ([x, s]) => {
    const target = dynamicDims(s, 'expand');
    const n = Math.max(target.length, x.rank);
    const shape: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const dx = i < n - x.rank ? 1 : x.shape[i - (n - x.rank)];
      const dt = i < n - target.length ? 1 : target[i - (n - target.length)];
      if (dt !== 1 && dx !== 1 && !dimEq(dx, dt)) throw new Error(`cannot expand ${shapeToString(x.shape)} to ${shapeToString(target)}`);
      shape.push(dt === 1 ? dx : dt);
    }
    return [{ dtype: x.dtype, shape }];
  },
};

export const SPLIT: OpDef = {
  type: 'Split',
  infer: ([x, s], attrs) => {
    const axis = normAxis((attrs.axis as { i: number }).i, x.rank);
    return constInts(s).map((size) => ({ dtype: x.dtype, shape: x.shape.map((d, i) => (i === axis ? size : d)) }));
  },
};

export const PAD: OpDef = {
  type: 'Pad',
  infer: ([x, p], attrs) => {
    const pads = constInts(p);
    const r = x.rank;
    if (pads.length !== 2 * r) throw new Error(`pads needs ${2 * r} values`);
    const mode = (attrs.mode as { s: string } | undefined)?.s ?? 'constant';
    const shape = x.shape.map((d, i) => {
      if (pads[i] === 0 && pads[i + r] === 0) return d;
      if (typeof d !== 'number') throw new Error(`pad of symbolic axis ${i}`);
      return d + pads[i] + pads[i + r];
    });
    if (mode !== 'constant' && pads.some((q) => q < 0)) throw new Error('negative pads need constant mode');
    return [{ dtype: x.dtype, shape }];
  },
};

export const reshape = (x: Value, shape: readonly number[]): Value => apply(RESHAPE, [x, x.graph.ints(shape)]);
export const transpose = (x: Value, perm: readonly number[]): Value => apply(TRANSPOSE, [x], { perm: { ints: [...perm] } });
export const concat = (xs: Value[], axis: number): Value => (xs.length === 1 ? xs[0] : apply(CONCAT, xs, { axis: { i: axis } }));
export const gather = (x: Value, indices: Value, axis = 0): Value => apply(GATHER, [x, indices], { axis: { i: axis } });
export const unsqueeze = (x: Value, axes: readonly number[]): Value => apply(UNSQUEEZE, [x, x.graph.ints(axes)]);
export const squeeze = (x: Value, axes: readonly number[]): Value => apply(SQUEEZE, [x, x.graph.ints(axes)]);
export const expand = (x: Value, shape: readonly number[]): Value => apply(EXPAND, [x, x.graph.ints(shape)]);
export const split = (x: Value, sizes: readonly number[], axis: number): Value[] =>
  applyMulti(SPLIT, [x, x.graph.ints(sizes)], { axis: { i: axis } });
/**
 * Padding, `pads` = [begin per axis..., end per axis...]: zeros ('constant'), or the samples mirrored
 * about the edge without repeating it ('reflect', torch's and numpy's 'reflect'; no gradient).
 */
export const pad = (x: Value, pads: readonly number[], mode: 'constant' | 'reflect' = 'constant'): Value =>
  apply(PAD, [x, x.graph.ints(pads)], mode === 'constant' ? {} : { mode: { s: mode } });

/** ONNX Range(start, limit, delta) of scalars; its length is run-time, named by the caller. */
const rangeOp = (length: Dim): OpDef => ({
  type: 'Range',
  infer: ([start]) => [{ dtype: start.dtype, shape: [length] }],
});

/** 0, 1, …, n−1 (int64) for n the run-time size of `x` along `axis`: positions along an axis whose size is symbolic. */
export function positions(x: Value, axis: number): Value {
  const a = normAxis(axis, x.rank);
  const g = x.graph;
  const n = apply(GATHER, [shapeOf(x), g.scalar(a, 'int64')], { axis: { i: 0 } });
  return apply(rangeOp(x.shape[a]), [g.scalar(0, 'int64'), n, g.scalar(1, 'int64')]);
}

/** x[start:end:step] along one axis (end clamps like Python; use Infinity for "to the end"). */
export function slice(x: Value, axis: number, start: number, end: number, step = 1): Value {
  const big = Number.MAX_SAFE_INTEGER;
  const e = end === Infinity ? big : end === -Infinity ? -big : end;
  const g = x.graph;
  return apply(SLICE, [x, g.ints([start]), g.ints([e]), g.ints([axis]), g.ints([step])]);
}

export const shapeOf = (x: Value): Value => apply(SHAPE, [x]);

/** A tensor of `shape` (an int64 shape tensor) filled with `value`. */
export const constantOfShape = (shape: Value, value: number, dtype: DType = 'float32'): Value =>
  apply(CONSTANT_OF_SHAPE, [shape], { value: { t: { ...scalarTensor(value, dtype), shape: [1] } } });

export const gatherElements = (x: Value, indices: Value, axis: number): Value =>
  apply(GATHER_ELEMENTS, [x, indices], { axis: { i: axis } });
export const scatterElements = (x: Value, indices: Value, updates: Value, axis: number, reduction: 'none' | 'add' = 'none'): Value =>
  apply(SCATTER_ELEMENTS, [x, indices, updates], { axis: { i: axis }, ...(reduction === 'none' ? {} : { reduction: { s: reduction } }) });
export const gatherND = (x: Value, indices: Value): Value => apply(GATHER_ND, [x, indices]);
export const scatterND = (x: Value, indices: Value, updates: Value, reduction: 'none' | 'add' = 'none'): Value =>
  apply(SCATTER_ND, [x, indices, updates], reduction === 'none' ? {} : { reduction: { s: reduction } });
