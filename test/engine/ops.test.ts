import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ops } from '../../src/engine/index.js';
import { assertClose, evalGraph, f32, rand } from './helpers.js';

test('matmul with broadcast batch matches a plain loop', async () => {
  const a = rand(2 * 3 * 4, 1);
  const b = rand(4 * 5, 2);
  const y = await evalGraph({ a: f32([2, 3, 4], a), b: f32([4, 5], b) }, (_, x) => ops.matmul(x.a, x.b));
  assert.deepEqual(y.shape, [2, 3, 5]);
  const want = new Float32Array(30);
  for (let n = 0; n < 2; n++)
    for (let i = 0; i < 3; i++)
      for (let j = 0; j < 5; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += a[n * 12 + i * 4 + k] * b[k * 5 + j];
        want[n * 15 + i * 5 + j] = s;
      }
  assertClose(y.data as Float32Array, want, 1e-6);
});

test('elementwise ops with scalars and broadcasting', async () => {
  const x = rand(6, 3);
  const y = await evalGraph({ x: f32([2, 3], x), b: f32([3], [1, 2, 3]) }, (_, v) =>
    ops.div(ops.add(ops.mul(v.x, 2), v.b), ops.add(ops.exp(ops.neg(ops.abs(v.x))), 1)),
  );
  const want = Array.from(x, (xi, i) => (xi * 2 + [1, 2, 3][i % 3]) / (Math.exp(-Math.abs(xi)) + 1));
  assertClose(y.data as Float32Array, want, 1e-6);
});

test('gelu exact and tanh forms', async () => {
  const x = rand(50, 4).map((v) => v * 4);
  const exact = await evalGraph({ x: f32([50], x) }, (_, v) => ops.gelu(v.x));
  const tanhForm = await evalGraph({ x: f32([50], x) }, (_, v) => ops.gelu(v.x, 'tanh'));
  const erf = (z: number): number => {
    // Abramowitz-Stegun 7.1.26 is too coarse; use a series/continued fraction via Math
    let sum = z,
      term = z;
    for (let n = 1; n < 200; n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return (2 / Math.sqrt(Math.PI)) * sum;
  };
  assertClose(
    exact.data as Float32Array,
    Array.from(x, (v) => 0.5 * v * (1 + erf(v / Math.SQRT2))),
    2e-6,
  );
  assertClose(
    tanhForm.data as Float32Array,
    Array.from(x, (v) => 0.5 * v * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (v + 0.044715 * v ** 3)))),
    2e-6,
  );
});

test('softmax, reductions and layerNorm', async () => {
  const x = rand(12, 5);
  const sm = await evalGraph({ x: f32([3, 4], x) }, (_, v) => ops.softmax(v.x, -1));
  const want: number[] = [];
  for (let r = 0; r < 3; r++) {
    const row = Array.from(x.slice(r * 4, r * 4 + 4));
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b);
    want.push(...e.map((v) => v / s));
  }
  assertClose(sm.data as Float32Array, want, 1e-6);

  const rs = await evalGraph({ x: f32([3, 4], x) }, (_, v) => ops.reduceSum(v.x, [0], true));
  assert.deepEqual(rs.shape, [1, 4]);
  assertClose(
    rs.data as Float32Array,
    [0, 1, 2, 3].map((j) => x[j] + x[4 + j] + x[8 + j]),
    1e-6,
  );

  const ln = await evalGraph({ x: f32([3, 4], x), g: f32([4], [1, 2, 3, 4]), b: f32([4], [0, 1, 0, 1]) }, (_, v) =>
    ops.layerNorm(v.x, v.g, v.b),
  );
  const lw: number[] = [];
  for (let r = 0; r < 3; r++) {
    const row = Array.from(x.slice(r * 4, r * 4 + 4));
    const mu = row.reduce((a, b) => a + b) / 4;
    const va = row.reduce((a, b) => a + (b - mu) ** 2, 0) / 4;
    row.forEach((v, j) => lw.push(((v - mu) / Math.sqrt(va + 1e-5)) * [1, 2, 3, 4][j] + [0, 1, 0, 1][j]));
  }
  assertClose(ln.data as Float32Array, lw, 1e-5);
});

test('reshape, transpose, slice, concat and gather keep C order', async () => {
  const x = Float32Array.from({ length: 24 }, (_, i) => i);
  const t = await evalGraph({ x: f32([2, 3, 4], x) }, (_, v) => ops.transpose(ops.reshape(v.x, [0, -1]), [1, 0]));
  assert.deepEqual(t.shape, [12, 2]);
  assert.deepEqual(Array.from(t.data as Float32Array).slice(0, 4), [0, 12, 1, 13]);
  const s = await evalGraph({ x: f32([2, 3, 4], x) }, (_, v) => ops.concat([ops.slice(v.x, 2, 1, 3), ops.slice(v.x, 2, 0, 1)], 2));
  assert.deepEqual(s.shape, [2, 3, 3]);
  assert.deepEqual(Array.from(s.data as Float32Array).slice(0, 6), [1, 2, 0, 5, 6, 4]);
  const idx = { dtype: 'int64' as const, shape: [2], data: BigInt64Array.of(2n, 0n) };
  const gt = await evalGraph({ x: f32([2, 3, 4], x), i: idx }, (_, v) => ops.gather(v.x, v.i, 1));
  assert.deepEqual(gt.shape, [2, 2, 4]);
  assert.deepEqual(Array.from(gt.data as Float32Array).slice(0, 8), [8, 9, 10, 11, 0, 1, 2, 3]);
});

test('conv2d with stride and padding matches a direct loop', async () => {
  const x = rand(1 * 2 * 5 * 6, 7);
  const w = rand(3 * 2 * 2 * 3, 8);
  const b = [0.1, -0.2, 0.3];
  const y = await evalGraph({ x: f32([1, 2, 5, 6], x), w: f32([3, 2, 2, 3], w), b: f32([3], b) }, (_, v) =>
    ops.conv2d(v.x, v.w, v.b, { stride: [2, 1], pads: [0, 1, 0, 1] }),
  );
  assert.deepEqual(y.shape, [1, 3, 2, 6]);
  const want: number[] = [];
  for (let o = 0; o < 3; o++)
    for (let i = 0; i < 2; i++)
      for (let j = 0; j < 6; j++) {
        let s = b[o];
        for (let c = 0; c < 2; c++)
          for (let ki = 0; ki < 2; ki++)
            for (let kj = 0; kj < 3; kj++) {
              const r = i * 2 + ki;
              const col = j + kj - 1;
              if (col < 0 || col >= 6) continue;
              s += x[c * 30 + r * 6 + col] * w[o * 12 + c * 6 + ki * 3 + kj];
            }
        want.push(s);
      }
  assertClose(y.data as Float32Array, want, 1e-5);
});

test('stft (float64, one-sided) matches a direct windowed DFT per frame', async () => {
  const [L, n, hop] = [40, 16, 6];
  const x = rand(2 * L, 9);
  const win = Float64Array.from({ length: n }, (_, i) => 0.5 - 0.5 * Math.cos((2 * Math.PI * i) / n));
  const y = await evalGraph({ x: f32([2, L], x) }, (g, v) =>
    ops.cast(ops.stft(ops.cast(v.x, 'float64'), hop, g.constant({ dtype: 'float64', shape: [n], data: win })), 'float32'),
  );
  const frames = Math.floor((L - n) / hop) + 1;
  const bins = n / 2 + 1;
  assert.deepEqual(y.shape, [2, frames, bins, 2]);
  const want: number[] = [];
  for (let b = 0; b < 2; b++)
    for (let t = 0; t < frames; t++)
      for (let k = 0; k < bins; k++) {
        let [re, im] = [0, 0];
        for (let i = 0; i < n; i++) {
          const v = x[b * L + t * hop + i] * win[i];
          re += v * Math.cos((2 * Math.PI * k * i) / n);
          im -= v * Math.sin((2 * Math.PI * k * i) / n);
        }
        want.push(re, im);
      }
  assertClose(y.data as Float32Array, want, 1e-6);
});

test('one session serves every batch size through a symbolic batch dim', async () => {
  const { Graph, Session } = await import('../../src/engine/index.js');
  const g = new Graph();
  const x = g.input('x', 'float32', ['B', 4]);
  const w = g.param('w', f32([4, 2], [1, 0, 0, 1, 1, 0, 0, 1]));
  const y = ops.reshape(ops.matmul(x, w), [-1]);
  assert.deepEqual(y.shape, ['2*B']);
  g.output('y', y);
  const s = await Session.compile(g, { threads: 1 });
  for (const n of [1, 3]) {
    const out = await s.run({
      x: f32(
        [n, 4],
        Array.from({ length: 4 * n }, (_, i) => i),
      ),
    });
    assert.deepEqual(out.y.shape, [2 * n]);
    assert.deepEqual(Array.from(out.y.data as Float32Array).slice(0, 2), [2, 4]);
  }
  await s.release();
});
