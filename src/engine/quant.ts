/**
 * Weight precision rewrites of a traced inference graph (before emission):
 *   - 'int8': each MatMul with a constant [K, N] float32 weight becomes ORT's `com.microsoft`
 *     DynamicQuantizeMatMul — the weight quantised to 8 bits with one scale per output column
 *     (symmetric: values −127…127), the activation quantised to uint8 per run (dynamic quantisation).
 *     The weight is stored either as int8 (zero point 0) or as uint8 (the same values + 128, zero point
 *     128): the dequantised weights are identical, but ORT runs them with different integer kernels (see
 *     `exactInt8Weights`).
 *   - 'fp16-weights': the weight is stored float16 and Cast to float32 in the graph (a smaller file;
 *     compute stays float32).
 * 'fp32' leaves the graph as traced.
 */
import { Graph, type Node, type OpDef, type Value } from './graph.js';
import * as ops from './ops/index.js';
import { Session } from './runtime.js';

export type Precision = 'fp32' | 'fp16-weights' | 'int8';
export const PRECISIONS: readonly Precision[] = ['fp32', 'fp16-weights', 'int8'];

/** How 'int8' stores its quantised weights (same values either way; see the file comment). */
export type Int8Weights = 'int8' | 'uint8';

/** A name for each distinct graph a precision makes: 'fp32', 'fp16-weights', 'int8-int8', 'int8-uint8'. */
export function precisionKey(precision: Precision, int8Weights: Int8Weights = 'uint8'): string {
  return precision === 'int8' ? `int8-${int8Weights}` : precision;
}

/** Every (precision, int8 weight encoding) pair that makes a different graph. */
export const PRECISION_VARIANTS: readonly { precision: Precision; int8Weights?: Int8Weights }[] = [
  { precision: 'fp32' },
  { precision: 'fp16-weights' },
  { precision: 'int8', int8Weights: 'int8' },
  { precision: 'int8', int8Weights: 'uint8' },
];

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
  /** 'int8' only: the weight encoding (default 'uint8', exact with every ORT CPU kernel). */
  int8Weights?: Int8Weights;
}

/** Rewrites `graph` in place for `precision`; returns how many MatMul weights were converted. */
export function applyPrecision(graph: Graph, precision: Precision, options: PrecisionOptions = {}): number {
  if (precision === 'fp32') return 0;
  if (precision !== 'int8' && precision !== 'fp16-weights') throw new Error(`unknown precision '${String(precision)}'`);
  const minElements = options.minElements ?? 4096;
  const unsigned = (options.int8Weights ?? 'uint8') === 'uint8';
  const converted = new Map<string, Value[]>();
  let count = 0;
  const out: Node[] = [];
  for (const node of graph.nodes) {
    const weight = node.op.type === 'MatMul' ? constantWeight(graph, node.inputs[1]) : undefined;
    if (!weight || weight.data.length < minElements) {
      out.push(node);
      continue;
    }
    const { name, K, N, data } = weight;
    const w = { name };
    if (precision === 'int8') {
      let ins = converted.get(w.name);
      if (!ins) {
        const scale = new Float32Array(N);
        for (let k = 0; k < K; k++) for (let n = 0; n < N; n++) scale[n] = Math.max(scale[n], Math.abs(data[k * N + n]));
        for (let n = 0; n < N; n++) scale[n] = scale[n] > 0 ? scale[n] / 127 : 1;
        const zero = unsigned ? 128 : 0;
        const q = unsigned ? new Uint8Array(K * N) : new Int8Array(K * N);
        for (let k = 0; k < K; k++)
          for (let n = 0; n < N; n++) q[k * N + n] = zero + Math.max(-127, Math.min(127, Math.round(data[k * N + n] / scale[n])));
        const dtype = unsigned ? 'uint8' : 'int8';
        ins = [
          graph.param(`${w.name}::${dtype}`, { dtype, shape: [K, N], data: q }),
          graph.constant({ dtype: 'float32', shape: [N], data: scale }, 'wscale'),
          graph.constant({ dtype, shape: [N], data: unsigned ? new Uint8Array(N).fill(zero) : new Int8Array(N) }, 'wzero'),
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

/**
 * A MatMul's right-hand side when it is a constant float32 [K, N] weight: a param, or a param's 2-D
 * transpose (a tied LM head: logits = hidden · wteᵀ), whose data is then transposed here.
 */
function constantWeight(graph: Graph, v: Value | undefined): { name: string; K: number; N: number; data: Float32Array } | undefined {
  const direct = (x: Value | undefined) => {
    const t = x?.kind === 'param' ? graph.params.get(x.name)?.tensor : undefined;
    return t?.dtype === 'float32' && t.shape.length === 2
      ? { name: x!.name, shape: t.shape as number[], data: t.data as Float32Array }
      : undefined;
  };
  const p = direct(v);
  if (p) return { name: p.name, K: p.shape[0], N: p.shape[1], data: p.data };
  const producer = (v as { producer?: Node } | undefined)?.producer;
  const perm = producer?.attrs?.perm as { ints?: number[] } | undefined;
  const src = producer?.op.type === 'Transpose' && perm?.ints?.join() === '1,0' ? direct(producer.inputs[0]) : undefined;
  if (!src) return undefined;
  const [N, K] = src.shape;
  const data = new Float32Array(K * N);
  for (let n = 0; n < N; n++) for (let k = 0; k < K; k++) data[k * N + n] = src.data[n * K + k];
  return { name: `${src.name}::T`, K, N, data };
}

let probed: Promise<Int8Weights> | undefined;

/**
 * The int8 weight encoding that ORT multiplies exactly on this CPU, found once per process by running it.
 * ORT's uint8 × int8 kernels (MLAS) on x86 CPUs without VNNI or AMX (AVX2, AVX-512 without VNNI, SSE)
 * sum pairs of products in a saturating int16 (pmaddubsw): 255·127·2 overflows, and outputs drift far from
 * fp32 (cosine 0.97 on a small MLP). With VNNI, AMX or on ARM the same kernels are exact and fastest.
 * The uint8 × uint8 kernels widen to int16 before multiplying and are exact on every CPU, but skip VNNI
 * and AMX (on an AMX Xeon int8 then gives no speed-up). So: 'int8' where the probe is exact, else 'uint8'
 * — the same numbers either way, only the kernel differs. The probe multiplies all-ones activations
 * (quantised to 255) by weights at 127, the worst case for the int16 pairs.
 */
export function exactInt8Weights(): Promise<Int8Weights> {
  probed ??= (async () => {
    const [M, K, N] = [4, 64, 8];
    const g = new Graph('int8_probe');
    const x = g.input('x', 'float32', [M, K]);
    g.output('y', ops.matmul(x, g.param('w', { dtype: 'float32', shape: [K, N], data: new Float32Array(K * N).fill(1) })));
    applyPrecision(g, 'int8', { minElements: 0, int8Weights: 'int8' });
    const s = await Session.compile(g, { threads: 1 });
    try {
      const y = (await s.run({ x: { dtype: 'float32', shape: [M, K], data: new Float32Array(M * K).fill(1) } })).y.data as Float32Array;
      return y.every((v) => Math.abs(v - K) < 1e-3 * K) ? 'int8' : 'uint8';
    } finally {
      await s.release();
    }
  })();
  return probed;
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
