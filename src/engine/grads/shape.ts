/** Gradient rules of the shape ops (src/engine/ops/shape.ts). */
import { normAxis } from '../shape.js';
import { cast } from '../ops/elementwise.js';
import {
  CONCAT,
  EXPAND,
  GATHER,
  GATHER_ELEMENTS,
  GATHER_ND,
  PAD,
  RESHAPE,
  SCATTER_ELEMENTS,
  SCATTER_ND,
  SLICE,
  SPLIT,
  SQUEEZE,
  TRANSPOSE,
  UNSQUEEZE,
  concat,
  constInts,
  constantOfShape,
  gather,
  gatherElements,
  gatherND,
  pad,
  scatterElements,
  scatterND,
  shapeOf,
  slice,
  sliceRange,
  split,
  transpose,
  unsqueeze,
} from '../ops/shape.js';
import { reshapeLike, sumToShape, zerosLike } from '../ops/broadcast.js';
import { defineGradient } from './registry.js';
defineGradient(RESHAPE, ({ inputs: [x] }, [g]) => [g && reshapeLike(g, x), undefined]);

defineGradient(TRANSPOSE, ({ attrs }, [g]) => {
  const perm = (attrs.perm as { ints: number[] }).ints;
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => {
    inv[p] = i;
  });
  return [g && transpose(g, inv)];
});

defineGradient(CONCAT, ({ inputs, attrs }, [g]) => {
  if (!g) return inputs.map(() => undefined);
  const axis = normAxis((attrs.axis as { i: number }).i, g.rank);
  return split(
    g,
    inputs.map((x) => x.shape[axis] as number),
    axis,
  );
});

defineGradient(SLICE, ({ inputs: [x, s, e, a, st] }, [g0]) => {
  if (!g0) return [undefined];
  let g = g0;
  const [starts, ends, steps] = [constInts(s), constInts(e), constInts(st)];
  const pads = new Array<number>(2 * x.rank).fill(0);
  constInts(a).forEach((axis0, k) => {
    const axis = normAxis(axis0, x.rank);
    const d = x.shape[axis];
    if (typeof d !== 'number') return; // a full slice of a symbolic axis
    const { begin, count } = sliceRange(d, starts[k], ends[k], steps[k]);
    if (steps[k] === 1) {
      pads[axis] = begin;
      pads[axis + x.rank] = d - begin - count;
      return;
    }
    // Any other step: gather each input position from g, or from an appended zero slab when unselected.
    const from = new Array<number>(d).fill(count);
    for (let i = 0; i < count; i++) from[begin + i * steps[k]] = i;
    const padded = concat([g, zerosLike(slice(g, axis, 0, 1))], axis);
    g = gather(padded, g.graph.ints(from), axis);
  });
  if (pads.some((p) => p !== 0)) g = pad(g, pads);
  return [g, undefined, undefined, undefined, undefined];
});

defineGradient(GATHER, ({ inputs: [x, idx], attrs }, [g]) => {
  if (!g) return [undefined, undefined];
  const axis = normAxis((attrs.axis as { i: number }).i, x.rank);
  const r = idx.rank;
  const indices = unsqueeze(idx.dtype === 'int64' ? idx : cast(idx, 'int64'), [r]);
  if (axis === 0) return [scatterND(zerosLike(x), indices, g, 'add'), undefined];
  // Move the gathered axis to the front, scatter rows, move it back.
  const rest = Array.from({ length: x.rank }, (_, i) => i).filter((i) => i !== axis);
  const permX = [axis, ...rest];
  const zeros = constantOfShape(gather(shapeOf(x), x.graph.ints(permX)), 0, x.dtype);
  const gIdx = Array.from({ length: r }, (_, i) => axis + i);
  const gPre = Array.from({ length: axis }, (_, i) => i);
  const gPost = Array.from({ length: g.rank - axis - r }, (_, i) => axis + r + i);
  const upd = transpose(g, [...gIdx, ...gPre, ...gPost]);
  const scattered = scatterND(zeros, indices, upd, 'add');
  const inv = new Array<number>(x.rank);
  permX.forEach((p, i) => {
    inv[p] = i;
  });
  return [transpose(scattered, inv), undefined];
});

defineGradient(GATHER_ELEMENTS, ({ inputs: [x, idx], attrs }, [g]) => [
  g && scatterElements(zerosLike(x), idx, g, (attrs.axis as { i: number }).i, 'add'),
  undefined,
]);

defineGradient(SCATTER_ELEMENTS, ({ inputs: [, idx, u], attrs }, [g], needs) => {
  if (!g) return [undefined, undefined, undefined];
  const axis = (attrs.axis as { i: number } | undefined)?.i ?? 0;
  const red = (attrs.reduction as { s: string } | undefined)?.s ?? 'none';
  if (red !== 'none' && red !== 'add') throw new Error(`no gradient for ScatterElements reduction ${red}`);
  const gx = needs?.[0] === false ? undefined : red === 'add' ? g : scatterElements(g, idx, zerosLike(u), axis, 'none');
  const gu = needs?.[2] === false ? undefined : gatherElements(g, idx, axis);
  return [gx, undefined, gu];
});

defineGradient(GATHER_ND, ({ inputs: [x, idx] }, [g]) => [g && scatterND(zerosLike(x), idx, g, 'add'), undefined]);

defineGradient(SCATTER_ND, ({ inputs: [, idx, u], attrs }, [g], needs) => {
  if (!g) return [undefined, undefined, undefined];
  const red = (attrs.reduction as { s: string } | undefined)?.s ?? 'none';
  if (red !== 'none' && red !== 'add') throw new Error(`no gradient for ScatterND reduction ${red}`);
  const gx = needs?.[0] === false ? undefined : red === 'add' ? g : scatterND(g, idx, zerosLike(u), 'none');
  const gu = needs?.[2] === false ? undefined : gatherND(g, idx);
  return [gx, undefined, gu];
});

defineGradient(UNSQUEEZE, ({ inputs: [x] }, [g]) => [g && reshapeLike(g, x), undefined]);

defineGradient(SQUEEZE, ({ inputs: [x] }, [g]) => [g && reshapeLike(g, x), undefined]);

defineGradient(EXPAND, ({ inputs: [x] }, [g]) => [g && sumToShape(g, x.shape), undefined]);

defineGradient(SPLIT, (node, gs) => {
  if (gs.every((g) => !g)) return [undefined, undefined];
  const axis = normAxis((node.attrs.axis as { i: number }).i, node.inputs[0].rank);
  return [
    concat(
      node.outputs.map((y, i) => gs[i] ?? zerosLike(y)),
      axis,
    ),
    undefined,
  ];
});

defineGradient(PAD, ({ inputs: [x, p], attrs }, [g]) => {
  if (!g) return [undefined, undefined, undefined];
  const mode = (attrs.mode as { s: string } | undefined)?.s ?? 'constant';
  if (mode !== 'constant') throw new Error(`no gradient for Pad mode ${mode}`);
  const pads = constInts(p);
  const r = x.rank;
  // Positive pads were added: slice them off. Negative pads cropped: pad the gradient back.
  let y = g;
  for (let i = 0; i < r; i++) {
    const [b, e] = [pads[i], pads[i + r]];
    if (b > 0 || e > 0) {
      const n = g.shape[i] as number;
      y = slice(y, i, Math.max(b, 0), n - Math.max(e, 0));
    }
  }
  const back = [...pads.slice(0, r).map((b) => Math.max(-b, 0)), ...pads.slice(r).map((e) => Math.max(-e, 0))];
  if (back.some((q) => q > 0)) y = pad(y, back);
  return [y, undefined, undefined];
});
