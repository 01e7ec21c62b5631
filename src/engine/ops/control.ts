/**
 * Control flow: ONNX Scan, and a chunked elementwise map built on it. The map keeps long chains of
 * elementwise ops (an optimiser update) in cache: ORT runs each op over the whole tensor before the
 * next one, so a 13-op chain streams a large tensor through memory 13 times; per chunk it does not.
 */
import { Graph, type OpDef, type Subgraph, type Value } from '../graph.js';
import { dimEq, shapeToString } from '../shape.js';
import { identity } from './elementwise.js';
import { reshapeLike } from './broadcast.js';
import { reshape } from './shape.js';

/** ONNX Scan over axis 0 of every scanned input: `num_scan_inputs` trailing inputs, the rest are loop-carried states. */
export const SCAN: OpDef = {
  type: 'Scan',
  opset: 16,
  infer: (xs, attrs) => {
    const body = (attrs.body as { graph: Subgraph }).graph;
    const nScan = (attrs.num_scan_inputs as { i: number }).i;
    const nState = xs.length - nScan;
    const scanned = xs.slice(nState);
    const n = scanned[0].shape[0];
    for (const x of scanned) if (!dimEq(x.shape[0], n)) throw new Error(`scanned inputs differ in length: ${shapeToString(x.shape)}`);
    return body.outputs.map((v, i) => (i < nState ? { dtype: v.dtype, shape: [...v.shape] } : { dtype: v.dtype, shape: [n, ...v.shape] }));
  },
};

let bodies = 0;

/**
 * Scan: `body(states, slices)` runs once per index of axis 0 of `scanned`; it returns the next states
 * and per-iteration outputs, which come back stacked along a new axis 0. The body is traced into its
 * own graph (it may not use values of the outer graph: pass them in as states).
 */
export function scan(
  states: Value[],
  scanned: Value[],
  body: (states: Value[], slices: Value[]) => { states: Value[]; outputs: Value[] },
): { states: Value[]; outputs: Value[] } {
  if (scanned.length === 0) throw new Error('scan needs at least one scanned input');
  const outer = scanned[0].graph;
  const g = new Graph(`scan_body_${bodies}`, `${outer.namePrefix}scan${bodies++}/`);
  const sIn = states.map((v, i) => g.input(`${g.namePrefix}state${i}`, v.dtype, v.shape));
  const xIn = scanned.map((v, i) => g.input(`${g.namePrefix}x${i}`, v.dtype, v.shape.slice(1)));
  const r = body(sIn, xIn);
  if (r.states.length !== states.length) throw new Error(`scan body returned ${r.states.length} states for ${states.length}`);
  // Body outputs must be distinct node outputs of the body graph.
  const seen = new Set<Value>();
  const outs = [...r.states, ...r.outputs].map((v) => {
    if (v.graph !== g) throw new Error('scan body returned a value of another graph');
    const o = !v.producer || seen.has(v) ? identity(v) : v;
    seen.add(o);
    return o;
  });
  const ys = outer.addNode(SCAN, [...states, ...scanned], {
    body: { graph: { graph: g, inputs: [...sIn, ...xIn], outputs: outs } },
    num_scan_inputs: { i: scanned.length },
  });
  return { states: ys.slice(0, states.length), outputs: ys.slice(states.length) };
}

/** A chunk size near `target` that divides `n`, or undefined when `n` is small or has no such divisor. */
export function chunkSize(n: number, target = 4096): number | undefined {
  if (n < 4 * target) return undefined;
  for (let d = 0; d <= target / 2; d++) {
    for (const c of [target + d, target - d]) if (c > 0 && n % c === 0) return c;
  }
  return undefined;
}

/**
 * `f` applied chunk by chunk to tensors of the same number of elements (flattened, split into
 * chunks of `chunk` elements), with `scalars` (rank-0 values of the outer graph) passed to every
 * chunk; results have the shape of `xs[0]`. `f` must be elementwise (each output element depends only
 * on the same element of the inputs), since chunks are processed independently.
 */
export function chunkedMap(xs: Value[], scalars: Value[], f: (chunks: Value[], scalars: Value[]) => Value[], chunk: number): Value[] {
  return chunkedMapRows(xs, scalars, f, chunk).map((y) => reshapeLike(y, xs[0]));
}

/**
 * chunkedMap without the final reshape: results are [n / chunk, chunk]. As graph outputs they are
 * written by the Scan straight into the caller's buffer (a reshape would cost one more copy).
 */
export function chunkedMapRows(xs: Value[], scalars: Value[], f: (chunks: Value[], scalars: Value[]) => Value[], chunk: number): Value[] {
  const n = xs[0].shape.reduce<number>((a, d) => {
    if (typeof d !== 'number') throw new Error('chunkedMap needs static shapes');
    return a * d;
  }, 1);
  if (n % chunk !== 0) throw new Error(`chunk ${chunk} does not divide ${n}`);
  for (const x of xs) {
    const m = x.shape.reduce<number>((a, d) => a * (d as number), 1);
    if (m !== n) throw new Error(`chunkedMap: ${x} has ${m} elements, expected ${n}`);
  }
  for (const s of scalars) if (s.rank !== 0) throw new Error(`chunkedMap: ${s} is not a scalar`);
  const r = scan(
    scalars,
    xs.map((x) => reshape(x, [n / chunk, chunk])),
    (states, slices) => ({
      states: states.map((s) => identity(s)),
      outputs: f(slices, states),
    }),
  );
  return r.outputs;
}
