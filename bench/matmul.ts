import { Graph, ops, Session } from '../src/engine/index.js';
import { timeIt } from './util.js';

/** Engine MatMul throughput: a chain of square MatMuls in one session (one run = many GFLOP). */
export async function engineMatmulGflops(n = 1024, chain = 4, threads?: number): Promise<number> {
  const g = new Graph('matmul_peak');
  let x = g.input('x', 'float32', [n, n]);
  for (let i = 0; i < chain; i++) {
    const w = new Float32Array(n * n);
    for (let j = 0; j < w.length; j++) w[j] = ((j * 2654435761) % 1000) / 1000 / n;
    x = ops.matmul(x, g.param(`w${i}`, { dtype: 'float32', shape: [n, n], data: w }));
  }
  g.output('y', x);
  const s = await Session.compile(g, { threads });
  const feed = { x: { dtype: 'float32' as const, shape: [n, n], data: new Float32Array(n * n).fill(0.5) } };
  const t = await timeIt(() => s.run(feed), 5, 2);
  await s.release();
  return (2 * n * n * n * chain) / t / 1e9;
}

/** The same product as a plain TypeScript triple loop (i-k-j order, the fast one for row-major). */
export async function plainMatmulGflops(n = 256): Promise<number> {
  const a = new Float32Array(n * n).fill(0.5);
  const b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const t = await timeIt(
    () => {
      c.fill(0);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < n; k++) {
          const aik = a[i * n + k];
          const bo = k * n;
          const co = i * n;
          for (let j = 0; j < n; j++) c[co + j] += aik * b[bo + j];
        }
      }
    },
    3,
    1,
  );
  return (2 * n * n * n) / t / 1e9;
}
