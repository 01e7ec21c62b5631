import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, grad, type HostTensor, ops, Session, type Value } from '../../src/engine/index.js';
import { away, gradCheck, type GradCheckOptions, uniform } from './gradcheck.js';

type Build = (g: Graph, x: Record<string, Value>) => Value;
interface Case {
  name: string;
  inputs: Record<string, HostTensor>;
  build: Build;
  opts?: GradCheckOptions;
}

const U = (shape: number[], seed: number, lo = -1, hi = 1): HostTensor => uniform(shape, seed, lo, hi);
const P = (shape: number[], seed: number): HostTensor => uniform(shape, seed, 0.5, 2); // positive
const A = (shape: number[], seed: number): HostTensor => away(shape, seed);
const F32 = (t: HostTensor): HostTensor => ({ ...t, dtype: 'float32', data: Float32Array.from(t.data as Float64Array) });
const i64 = (shape: number[], values: number[]): HostTensor => ({ dtype: 'int64', shape, data: BigInt64Array.from(values, BigInt) });

const summary: string[] = [];
after(() => {
  console.log(`gradient checks (max |analytic − numeric|, max relative):\n${summary.join('\n')}`);
});

async function run(c: Case): Promise<void> {
  const r = await gradCheck(c.inputs, c.build, c.opts);
  summary.push(`  ${c.name.padEnd(44)} abs ${r.maxAbs.toExponential(1)}  rel ${r.maxRel.toExponential(1)}  (${r.checked} elements)`);
}

const cases: Case[] = [
  // Broadcasting binary ops
  { name: 'add [2,3,4]+[3,1]', inputs: { a: U([2, 3, 4], 1), b: U([3, 1], 2) }, build: (_, x) => ops.add(x.a, x.b) },
  { name: 'sub [4]-[2,3,4]', inputs: { a: U([4], 3), b: U([2, 3, 4], 4) }, build: (_, x) => ops.sub(x.a, x.b) },
  { name: 'mul [2,3,4]*[2,1,4]', inputs: { a: U([2, 3, 4], 5), b: U([2, 1, 4], 6) }, build: (_, x) => ops.mul(x.a, x.b) },
  { name: 'mul x*x (fan-in)', inputs: { a: U([3, 4], 7) }, build: (_, x) => ops.mul(ops.mul(x.a, x.a), ops.exp(x.a)) },
  { name: 'div [3,4]/[] scalar tensor', inputs: { a: U([3, 4], 8), b: A([], 9) }, build: (_, x) => ops.div(x.a, x.b) },
  { name: 'div [4]/[3,4]', inputs: { a: U([4], 10), b: A([3, 4], 11) }, build: (_, x) => ops.div(x.a, x.b) },
  { name: 'pow x^3 (constant)', inputs: { a: U([3, 4], 12) }, build: (_, x) => ops.pow(x.a, 3) },
  { name: 'pow x^0.5, x^2 (constant)', inputs: { a: P([3, 4], 13) }, build: (_, x) => ops.add(ops.pow(x.a, 0.5), ops.pow(x.a, 2)) },
  { name: 'pow a^b (both, broadcast)', inputs: { a: P([3, 4], 14), b: U([4], 15) }, build: (_, x) => ops.pow(x.a, x.b) },
  { name: 'max [3,4],[4]', inputs: { a: U([3, 4], 16), b: U([4], 17) }, build: (_, x) => ops.maximum(x.a, x.b) },
  { name: 'min [3,4],[3,1]', inputs: { a: U([3, 4], 18), b: U([3, 1], 19) }, build: (_, x) => ops.minimum(x.a, x.b) },
  {
    name: 'sum of 3 (broadcast)',
    inputs: { a: U([2, 3], 20), b: U([3], 21), c: U([2, 1], 22) },
    build: (_, x) => ops.sum([x.a, x.b, x.c]),
  },
  // Unary ops
  { name: 'neg', inputs: { a: U([5, 3], 23) }, build: (_, x) => ops.neg(x.a) },
  { name: 'exp', inputs: { a: U([5, 3], 24) }, build: (_, x) => ops.exp(x.a) },
  { name: 'log', inputs: { a: P([5, 3], 25) }, build: (_, x) => ops.log(x.a) },
  { name: 'sqrt', inputs: { a: P([5, 3], 26) }, build: (_, x) => ops.sqrt(x.a) },
  { name: 'tanh', inputs: { a: U([5, 3], 27, -2, 2) }, build: (_, x) => ops.tanh(x.a) },
  { name: 'sigmoid', inputs: { a: U([5, 3], 28, -3, 3) }, build: (_, x) => ops.sigmoid(x.a) },
  { name: 'relu', inputs: { a: A([5, 3], 29) }, build: (_, x) => ops.relu(x.a) },
  { name: 'erf (float64 lowered)', inputs: { a: U([5, 3], 30, -2.5, 2.5) }, build: (_, x) => ops.erf(x.a) },
  { name: 'abs', inputs: { a: A([5, 3], 31) }, build: (_, x) => ops.abs(x.a) },
  { name: 'reciprocal', inputs: { a: A([5, 3], 32) }, build: (_, x) => ops.reciprocal(x.a) },
  { name: 'identity', inputs: { a: U([5, 3], 33) }, build: (_, x) => ops.identity(x.a) },
  { name: 'gelu exact', inputs: { a: U([5, 4], 34, -3, 3) }, build: (_, x) => ops.gelu(x.a) },
  { name: 'gelu tanh', inputs: { a: U([5, 4], 35, -3, 3) }, build: (_, x) => ops.gelu(x.a, 'tanh') },
  { name: 'clip [-0.5, 0.3]', inputs: { a: A([5, 4], 36) }, build: (_, x) => ops.clip(x.a, -0.5, 0.3) },
  {
    name: 'where (bool from a comparison)',
    inputs: { c: U([3, 1], 37), a: U([3, 4], 38), b: U([4], 39) },
    build: (_, x) => ops.where(ops.greater(x.c, 0), x.a, x.b),
    opts: { wrt: ['a', 'b'] },
  },
  {
    name: 'comparison path carries no gradient',
    inputs: { a: U([3, 4], 40) },
    build: (_, x) => ops.mul(ops.cast(ops.greater(x.a, 0), 'float64'), x.a),
  },
  {
    name: 'cast float64→float32→float64',
    inputs: { a: U([3, 4], 41) },
    build: (_, x) => ops.cast(ops.mul(ops.cast(x.a, 'float32'), 3), 'float64'),
    opts: { h: 1e-2, rtol: 1e-5, atol: 1e-6 },
  },
  // MatMul
  {
    name: 'matmul [2,3,4]@[4,5] (shared weight)',
    inputs: { a: U([2, 3, 4], 42), b: U([4, 5], 43) },
    build: (_, x) => ops.matmul(x.a, x.b),
  },
  { name: 'matmul [3,4]@[2,4,5] (broadcast a)', inputs: { a: U([3, 4], 44), b: U([2, 4, 5], 45) }, build: (_, x) => ops.matmul(x.a, x.b) },
  {
    name: 'matmul [2,1,3,4]@[3,4,5] (batch bcast)',
    inputs: { a: U([2, 1, 3, 4], 46), b: U([3, 4, 5], 47) },
    build: (_, x) => ops.matmul(x.a, x.b),
  },
  {
    name: 'matmul [4]@[2,4,5], [3,4]@[4], [4]@[4]',
    inputs: { v: U([4], 48), b: U([2, 4, 5], 49), m: U([3, 4], 50) },
    build: (_, x) =>
      ops.add(ops.reduceSum(ops.matmul(x.v, x.b), [0, 1]), ops.add(ops.reduceSum(ops.matmul(x.m, x.v), [0]), ops.matmul(x.v, x.v))),
  },
  // Shape ops
  {
    name: 'reshape [2,3,4]→[6,4]→[4,6]',
    inputs: { a: U([2, 3, 4], 51) },
    build: (_, x) => ops.mul(ops.reshape(ops.reshape(x.a, [6, -1]), [4, 6]), ops.reshape(x.a, [4, 6])),
  },
  {
    name: 'transpose [2,3,4] perm 2,0,1',
    inputs: { a: U([2, 3, 4], 52) },
    build: (_, x) => ops.mul(ops.transpose(x.a, [2, 0, 1]), ops.transpose(x.a, [2, 0, 1])),
  },
  {
    name: 'concat 3 inputs axis 1',
    inputs: { a: U([2, 1, 3], 53), b: U([2, 2, 3], 54), c: U([2, 3, 3], 55) },
    build: (_, x) => ops.concat([x.a, x.b, x.c], 1),
  },
  { name: 'slice step 1 (pad)', inputs: { a: U([3, 6], 56) }, build: (_, x) => ops.slice(x.a, 1, 1, -1) },
  {
    name: 'slice step 2 and step −2',
    inputs: { a: U([3, 7], 57) },
    build: (_, x) => ops.concat([ops.slice(x.a, 1, 1, Infinity, 2), ops.slice(x.a, 1, -1, -Infinity, -2)], 1),
  },
  {
    name: 'slice two axes, overlapping reuse',
    inputs: { a: U([4, 5], 58) },
    build: (_, x) => ops.mul(ops.slice(ops.slice(x.a, 0, 1, 3), 1, 0, 3), ops.slice(ops.slice(x.a, 0, 2, 4), 1, 2, 5)),
  },
  {
    name: 'gather axis 0 (embedding, repeats)',
    inputs: { e: U([5, 3], 59), i: i64([2, 3], [4, 0, 4, 1, -1, 0]) },
    build: (_, x) => ops.gather(x.e, x.i, 0),
  },
  {
    name: 'gather axis 1 (2-D indices)',
    inputs: { e: U([2, 5, 3], 60), i: i64([2, 2], [1, 1, 3, 0]) },
    build: (_, x) => ops.gather(x.e, x.i, 1),
  },
  {
    name: 'gatherElements axis 1',
    inputs: { e: U([3, 4], 61), i: i64([3, 2], [0, 3, 1, 1, 2, 0]) },
    build: (_, x) => ops.gatherElements(x.e, x.i, 1),
  },
  {
    name: 'gatherND + scatterND add',
    inputs: { e: U([4, 3], 62), u: U([3, 3], 63), i: i64([3, 1], [2, 0, 2]) },
    build: (_, x) => ops.add(ops.scatterND(x.e, x.i, x.u, 'add'), ops.mul(x.e, ops.reduceSum(ops.gatherND(x.e, x.i), [0, 1]))),
  },
  {
    name: 'unsqueeze / squeeze',
    inputs: { a: U([3, 4], 64) },
    build: (_, x) => ops.mul(ops.unsqueeze(x.a, [0, 2]), ops.unsqueeze(ops.squeeze(ops.unsqueeze(x.a, [1]), [1]), [0, 2])),
  },
  { name: 'expand [3,1]→[2,3,4]', inputs: { a: U([3, 1], 65) }, build: (_, x) => ops.expand(x.a, [2, 3, 4]) },
  {
    name: 'split (one output unused)',
    inputs: { a: U([2, 7], 66) },
    build: (_, x) => {
      const [p, , r] = ops.split(x.a, [2, 3, 2], 1);
      return ops.mul(p, r);
    },
  },
  { name: 'pad positive and negative', inputs: { a: U([3, 4], 67) }, build: (_, x) => ops.pad(x.a, [1, -1, 2, 1]) },
  // Reductions and normalisation
  {
    name: 'reduceSum axes 0,2 / keepdims',
    inputs: { a: U([2, 3, 4], 68) },
    build: (_, x) => ops.add(ops.reduceSum(x.a, [0, 2]), ops.squeeze(ops.reduceSum(x.a, [-1], true), [2])),
  },
  {
    name: 'reduceMean axis 1 / keepdims',
    inputs: { a: U([2, 3, 4], 69) },
    build: (_, x) => ops.mul(ops.reduceMean(x.a, [1], true), ops.reduceMean(x.a, [1, 2], true)),
  },
  { name: 'reduceMax axis -1', inputs: { a: U([3, 5], 70) }, build: (_, x) => ops.reduceMax(x.a, [-1]) },
  {
    name: 'softmax axis -1 and 0',
    inputs: { a: U([3, 5], 71, -2, 2) },
    build: (_, x) => ops.add(ops.softmax(x.a, -1), ops.softmax(x.a, 0)),
  },
  { name: 'logSoftmax axis 1 of [2,3,4]', inputs: { a: U([2, 3, 4], 72, -2, 2) }, build: (_, x) => ops.logSoftmax(x.a, 1) },
  {
    name: 'layerNorm [2,3,8] γ,β [8]',
    inputs: { a: U([2, 3, 8], 73, -2, 2), g: U([8], 74), b: U([8], 75) },
    build: (_, x) => ops.layerNorm(x.a, x.g, x.b),
  },
  {
    name: 'layerNorm over 2 axes γ,β [3,4]',
    inputs: { a: U([2, 3, 4], 76, -2, 2), g: U([3, 4], 77), b: U([3, 4], 78) },
    build: (_, x) => ops.layerNorm(x.a, x.g, x.b, 1e-3),
  },
  // Symbolic batch dim "B": one session, concrete B = 3.
  {
    name: 'symbolic batch B: linear+bias, mean over B',
    inputs: { x: U([3, 2, 4], 79), w: U([4, 5], 80), b: U([5], 81) },
    build: (_, v) => {
      const y = ops.tanh(ops.linear(v.x, v.w, v.b)); // [B, 2, 5]
      const flat = ops.reshape(y, [-1, 5]); // [2*B, 5]
      const centred = ops.sub(flat, ops.reduceMean(flat, [0], true));
      return ops.add(ops.reduceMean(ops.mul(centred, centred), [0]), ops.reduceMax(flat, [0]));
    },
    opts: { shapes: { x: ['B', 2, 4] } },
  },
  {
    name: 'symbolic batch B: expand/reshape/softmax over B',
    inputs: { x: U([3, 4], 82), w: U([4], 83) },
    build: (_, v) => {
      const s = ops.mul(v.x, v.w); // [B, 4]
      const t = ops.transpose(ops.softmax(ops.transpose(s, [1, 0]), -1), [1, 0]); // softmax over B
      const e = ops.expand(ops.unsqueeze(ops.reduceSum(s, [1]), [1]), [1, 4]); // [B, 4]
      return ops.reshape(ops.add(ops.mul(t, e), ops.layerNorm(s, v.w, v.w)), [-1]);
    },
    opts: { shapes: { x: ['B', 4] } },
  },
];

describe('vjp rules vs central finite differences (float64, h = 1e-6)', () => {
  for (const c of cases) test(c.name, () => run(c));
});

describe('conv gradients (float32: linear in each input, so large steps are exact up to rounding)', () => {
  const conv = (name: string, x: number[], w: number[], o: ops.Conv2dOptions, bias = true): Case => ({
    name,
    inputs: { x: F32(U(x, 90 + x[3])), w: F32(U(w, 91 + w[3])), ...(bias ? { b: F32(U([w[0]], 92)) } : {}) },
    build: (_, v) => ops.conv2d(v.x, v.w, v.b, o),
    opts: { h: 0.25, rtol: 2e-4, atol: 2e-5, samples: 30 },
  });
  const cs: Case[] = [
    conv('conv 3x3 stride 1 pad 1', [2, 3, 6, 5], [4, 3, 3, 3], { pads: [1, 1, 1, 1] }),
    conv('conv 2x3 stride (2,1) pads (0,1,0,1)', [1, 2, 5, 6], [3, 2, 2, 3], { stride: [2, 1], pads: [0, 1, 0, 1] }),
    conv('conv 3x3 stride 2 asymmetric pads, odd size', [2, 2, 7, 8], [3, 2, 3, 3], { stride: [2, 2], pads: [1, 0, 0, 2] }, false),
    conv('conv 3x2 stride 3 (rows dropped)', [1, 2, 8, 7], [2, 2, 3, 2], { stride: [3, 2] }),
    conv('conv dilation 2 stride 2', [2, 2, 9, 9], [3, 2, 3, 3], { stride: [2, 2], dilation: [2, 2], pads: [2, 1, 2, 1] }),
    conv('conv groups 2', [2, 4, 5, 5], [6, 2, 3, 3], { groups: 2, pads: [1, 1, 1, 1], stride: [2, 1] }),
    {
      name: 'conv symbolic batch B',
      inputs: { x: F32(U([3, 2, 5, 5], 93)), w: F32(U([3, 2, 3, 3], 94)) },
      build: (_, v) => ops.conv2d(v.x, v.w, undefined, { stride: [2, 2], pads: [1, 1, 1, 1] }),
      opts: { h: 0.25, rtol: 2e-4, atol: 2e-5, shapes: { x: ['B', 2, 5, 5] } },
    },
    {
      name: 'convTranspose stride 2 output padding 1',
      inputs: { x: F32(U([2, 3, 4, 3], 95)), w: F32(U([3, 2, 3, 3], 96)), b: F32(U([2], 97)) },
      build: (_, v) => ops.convTranspose2d(v.x, v.w, v.b, { stride: [2, 2], pads: [1, 0, 1, 1], outputPadding: [1, 0] }),
      opts: { h: 0.25, rtol: 2e-4, atol: 2e-5, samples: 30 },
    },
  ];
  for (const c of cs) test(c.name, () => run(c));
});

describe('grad() behaviour', () => {
  test('an op without a rule on a differentiable path is a clear error', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const y = g.addNode({ type: 'Softplus', infer: ([v]) => [{ dtype: v.dtype, shape: [...v.shape] }] }, [x])[0];
    assert.throws(() => grad(ops.reduceSum(y, [0]), [x]), /no gradient rule for Softplus/);
  });

  test('an op without a rule off the path is fine; unused wrt gets zeros', async () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    const z = g.input('z', 'float32', [2]);
    const frozen = g.addNode({ type: 'Softplus', infer: ([v]) => [{ dtype: v.dtype, shape: [...v.shape] }] }, [
      g.constant({ dtype: 'float32', shape: [3], data: Float32Array.of(1, 2, 3) }),
    ])[0];
    const loss = ops.reduceSum(ops.mul(x, frozen), [0]);
    const [gx, gz] = grad(loss, [x, z]);
    g.output('gx', gx);
    g.output('gz', gz);
    const s = await Session.compile(g, { threads: 1 });
    const out = await s.run({
      x: { dtype: 'float32', shape: [3], data: Float32Array.of(1, 1, 1) },
      z: { dtype: 'float32', shape: [2], data: Float32Array.of(5, 5) },
    });
    const sp = [1, 2, 3].map((v) => Math.log1p(Math.exp(v)));
    assert.deepEqual(
      Array.from(out.gx.data as Float32Array).map((v) => v.toFixed(5)),
      sp.map((v) => v.toFixed(5)),
    );
    assert.deepEqual(Array.from(out.gz.data as Float32Array), [0, 0]);
    await s.release();
  });

  test('integer paths carry no gradient (gather indices, shapes)', () => {
    const g = new Graph();
    const e = g.input('e', 'float32', [5, 2]);
    const idx = ops.cast(ops.reduceSum(ops.cast(e, 'int64'), [1]), 'int64');
    const y = ops.gather(e, idx, 0);
    const [ge] = grad(ops.reduceSum(y, [0, 1]), [e]);
    assert.deepEqual(ge.shape, [5, 2]);
  });

  test('non-scalar loss needs a seed', () => {
    const g = new Graph();
    const x = g.input('x', 'float32', [3]);
    assert.throws(() => grad(ops.exp(x), [x]), /one element/);
    const [gx] = grad(ops.exp(x), [x], { seed: g.input('u', 'float32', [3]) });
    assert.deepEqual(gx.shape, [3]);
  });
});
