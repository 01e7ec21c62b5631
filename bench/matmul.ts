import { Graph, ops, Session } from '../src/engine/index.js';
import { timeCpu } from './util.js';

/** One measurement of the engine's MatMul throughput: per wall second and per CPU second (all threads). */
export interface PeakSample {
  gflops: number;
  gflopsPerCpuS: number;
}

/**
 * Engine MatMul throughput: a chain of square MatMuls in one session (one run = many GFLOP). The session
 * is kept, so the bench can measure again before every section (the peak is the best sample of the run).
 */
export async function matmulPeakMeter(
  n = 1024,
  chain = 4,
  threads?: number,
): Promise<{ measure(): Promise<PeakSample>; release(): Promise<void> }> {
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
  const gflop = (2 * n * n * n * chain) / 1e9;
  let warm = false;
  return {
    async measure() {
      const t = await timeCpu(() => s.run(feed), 3, warm ? 0 : 2);
      warm = true;
      return { gflops: gflop / t.wall, gflopsPerCpuS: gflop / t.cpu };
    },
    release: () => s.release(),
  };
}

/** The same product as a plain TypeScript triple loop (i-k-j order, the fast one for row-major). */
export async function plainMatmulGflops(n = 256): Promise<number> {
  const a = new Float32Array(n * n).fill(0.5);
  const b = new Float32Array(n * n).fill(0.25);
  const c = new Float32Array(n * n);
  const t = await timeCpu(
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
  return (2 * n * n * n) / t.wall / 1e9;
}
