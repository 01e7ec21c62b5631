import type { OpDef, Value } from '../graph.js';
import { type Dim, dimDiv, dimEq, isStatic, normAxis, product, shapeToString } from '../shape.js';
import { apply, applyMulti, sameDtype } from './op.js';

/** Static int64 inputs (shape, axes, starts…) are graph constants; inference reads them back. */
function constInts(v: Value): number[] {
  const c = v.graph.constants.get(v.name);
  if (!c) throw new Error(`${v.name} must be a constant`);
  return Array.from(c.tensor.data as BigInt64Array, Number);
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
  infer: ([x, s]) => [{ dtype: x.dtype, shape: inferReshape(x.shape, constInts(s)) }],
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
      const step = steps[k];
      if (typeof d !== 'number') {
        if (starts[k] === 0 && ends[k] >= Number.MAX_SAFE_INTEGER && step === 1) return;
        throw new Error(`slice of symbolic axis ${axis}`);
      }
      const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v < 0 ? v + d : v, lo), hi);
      if (step > 0) {
        const b = clamp(starts[k], 0, d);
        const en = clamp(ends[k], 0, d);
        shape[axis] = Math.max(0, Math.ceil((en - b) / step));
      } else {
        const b = clamp(starts[k], -1, d - 1);
        const en = clamp(ends[k], -1, d - 1);
        shape[axis] = Math.max(0, Math.ceil((b - en) / -step));
      }
    });
    return [{ dtype: x.dtype, shape }];
  },
};

export const GATHER: OpDef = {
  type: 'Gather',
  infer: ([x, idx], attrs) => {
    const axis = normAxis((attrs.axis as { i: number }).i, x.rank);
    if (idx.dtype !== 'int64' && idx.dtype !== 'int32') throw new Error('indices must be int64/int32');
    return [{ dtype: x.dtype, shape: [...x.shape.slice(0, axis), ...idx.shape, ...x.shape.slice(axis + 1)] }];
  },
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
    const target = constInts(s);
    const n = Math.max(target.length, x.rank);
    const shape: Dim[] = [];
    for (let i = 0; i < n; i++) {
      const dx = i < n - x.rank ? 1 : x.shape[i - (n - x.rank)];
      const dt = i < n - target.length ? 1 : target[i - (n - target.length)];
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
  infer: ([x, p]) => {
    const pads = constInts(p);
    if (!isStatic(x.shape)) throw new Error('pad needs a static shape');
    const shape = x.shape as number[];
    return [{ dtype: x.dtype, shape: shape.map((d, i) => d + pads[i] + pads[i + shape.length]) }];
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
/** Constant zero padding: `pads` = [begin per axis..., end per axis...]. */
export const pad = (x: Value, pads: readonly number[]): Value => apply(PAD, [x, x.graph.ints(pads)]);

/** x[start:end:step] along one axis (end clamps like Python; use Infinity for "to the end"). */
export function slice(x: Value, axis: number, start: number, end: number, step = 1): Value {
  const big = Number.MAX_SAFE_INTEGER;
  const e = end === Infinity ? big : end === -Infinity ? -big : end;
  const g = x.graph;
  return apply(SLICE, [x, g.ints([start]), g.ints([e]), g.ints([axis]), g.ints([step])]);
}
