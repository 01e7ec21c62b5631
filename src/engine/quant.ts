/**
 * Weight precision rewrites of a traced inference graph (before emission):
 *   - 'int8': each MatMul with a constant [K, N] float32 weight becomes ORT's `com.microsoft`
 *     DynamicQuantizeMatMul — the weight stored int8 with one scale per output column (symmetric, zero
 *     point 0), the activation quantised to uint8 per run (dynamic quantisation).
 *   - 'fp16-weights': the weight is stored float16 and Cast to float32 in the graph (a smaller file;
 *     compute stays float32).
 * 'fp32' leaves the graph as traced.
 */
import type { Graph, Node, OpDef, Value } from './graph.js';

export type Precision = 'fp32' | 'fp16-weights' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16-weights', 'int8'];

const DYNAMIC_QUANTIZE_MATMUL: OpDef = {
  type: 'DynamicQuantizeMatMul',
  domain: 'com.microsoft',
  infer: () => {
    throw new Error('DynamicQuantizeMatMul is only created by applyPrecision');
  },
};
const CAST: OpDef = {
  type: 'Cast',
  infer: () => {
    throw new Error('Cast is only created by applyPrecision');
  },
};

export interface PrecisionOptions {
  /** Weights with fewer elements stay float32 (default 4096). */
  minElements?: number;
}

/** Rewrites `graph` in place for `precision`; returns how many MatMul weights were converted. */
export function applyPrecision(graph: Graph, precision: Precision, options: PrecisionOptions = {}): number {
  if (precision === 'fp32') return 0;
  if (precision !== 'int8' && precision !== 'fp16-weights') throw new Error(`unknown precision '${String(precision)}'`);
  const minElements = options.minElements ?? 4096;
  const converted = new Map<string, Value[]>();
  let count = 0;
  const out: Node[] = [];
  for (const node of graph.nodes) {
    const w = node.inputs[1];
    const entry = node.op.type === 'MatMul' && w?.kind === 'param' ? graph.params.get(w.name) : undefined;
    const t = entry?.tensor;
    if (t?.dtype !== 'float32' || t.shape.length !== 2 || t.data.length < minElements) {
      out.push(node);
      continue;
    }
    const [K, N] = t.shape;
    const data = t.data as Float32Array;
    if (precision === 'int8') {
      let ins = converted.get(w.name);
      if (!ins) {
        const scale = new Float32Array(N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(data[k * N + n]));
        for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? scale[n] / 127 : 1;
        const q = new Int8Array(K * N);
        for (let k = 0; k < K; k++)
          for (let n = 0; n < N; n++) q[k * N + n] = Math.max(-127, Math.min(127, Math.round(data[k * N + n] / scale[n])));
        ins = [
          graph.param(`${w.name}::int8`, { dtype: 'int8', shape: [K, N], data: q }),
          graph.constant({ dtype: 'float32', shape: [N], data: scale }, 'wscale'),
          graph.constant({ dtype: 'int8', shape: [N], data: new Int8Array(N) }, 'wzero'),
        ];
        converted.set(w.name, ins);
      }
      node.op = DYNAMIC_QUANTIZE_MATMUL;
      node.inputs = [node.inputs[0], ...ins];
      out.push(node);
    } else {
      let cast = converted.get(w.name)?.[0];
      if (!cast) {
        const half = graph.param(`${w.name}::fp16`, { dtype: 'float16', shape: [K, N], data: toFloat16(data) });
        cast = { name: `${w.name}::cast`, dtype: 'float32', shape: [K, N], kind: 'node', graph } as unknown as Value;
        const castNode: Node = { op: CAST, inputs: [half], outputs: [cast], attrs: { to: { i: 1 } } };
        (cast as { producer?: Node }).producer = castNode;
        out.push(castNode);
        converted.set(w.name, [cast]);
      }
      node.inputs = [node.inputs[0], cast, ...node.inputs.slice(2)];
      out.push(node);
    }
    count++;
  }
  graph.nodes.splice(0, graph.nodes.length, ...out);
  return count;
}

/** IEEE half precision bits (round to nearest even) of each value. */
export function toFloat16(x: Float32Array): Uint16Array {
  const out = new Uint16Array(x.length);
  const f = new Float32Array(1);
  const u = new Uint32Array(f.buffer);
  for (let i = 0; i < x.length; i++) {
    f[0] = x[i];
    const b = u[0];
    const sign = (b >>> 16) & 0x8000;
    const exp = (b >>> 23) & 0xff;
    let mant = b & 0x7fffff;
    if (exp === 0xff) {
      out[i] = sign | 0x7c00 | (mant ? 0x200 : 0);
      continue;
    }
    const e = exp - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mant |= 0x800000;
      const shift = 14 - e;
      let h = mant >>> shift;
      const rem = mant & ((1 << shift) - 1);
      const half = 1 << (shift - 1);
      if (rem > half || (rem === half && h & 1)) h++;
      out[i] = sign | h;
      continue;
    }
    let h = (e << 10) | (mant >>> 13);
    const rem = mant & 0x1fff;
    if (rem > 0x1000 || (rem === 0x1000 && h & 1)) h++;
    out[i] = sign | h;
    void e;
  }
  return out;
}
