import { Graph, Session, type HostTensor, type Value } from '../../src/engine/index.js';

export function f32(shape: number[], data: ArrayLike<number>): HostTensor {
  return { dtype: 'float32', shape, data: Float32Array.from(data) };
}

/** Deterministic pseudo-random floats in [-1, 1). */
export function rand(n: number, seed = 1): Float32Array {
  let s = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

/** Builds a graph from named inputs, runs it once, and returns its single output. */
export async function evalGraph(
  inputs: Record<string, HostTensor>,
  build: (g: Graph, xs: Record<string, Value>) => Value,
): Promise<HostTensor> {
  const g = new Graph('test');
  const xs: Record<string, Value> = {};
  for (const [name, t] of Object.entries(inputs)) xs[name] = g.input(name, t.dtype, t.shape);
  g.output('y', build(g, xs));
  const s = await Session.compile(g, { threads: 1 });
  const out = await s.run(inputs);
  await s.release();
  return out.y;
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what = 'values'): void {
  if (actual.length !== expected.length) throw new Error(`${what}: length ${actual.length} vs ${expected.length}`);
  let worst = 0;
  let at = -1;
  for (let i = 0; i < actual.length; i++) {
    const d = Math.abs(actual[i] - expected[i]);
    if (!(d <= worst)) {
      worst = d;
      at = i;
    }
  }
  if (!(worst <= tol)) throw new Error(`${what}: max abs error ${worst} at ${at} (got ${actual[at]}, want ${expected[at]}) > ${tol}`);
}
