import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTrainStep, emitOnnx, Graph, grad, type HostTensor, ops, Session, type Value } from '../../src/engine/index.js';
import { gradCheck, rng, uniform } from './gradcheck.js';

// ---------------------------------------------------------------------------------------------
// Composed check: two towers (MLP + GELU + LayerNorm), L2-normalised embeddings, CLIP's symmetric
// cross-entropy with a learnable temperature exp(logit_scale).

const B = 4;

function tower(x: Value, w1: Value, b1: Value, gamma: Value, beta: Value, w2: Value, approx: 'none' | 'tanh'): Value {
  const h = ops.layerNorm(ops.gelu(ops.linear(x, w1, b1), approx), gamma, beta);
  const e = ops.matmul(h, w2);
  return ops.div(e, ops.sqrt(ops.reduceSum(ops.mul(e, e), [-1], true)));
}

function clipLoss(g: Graph, v: Record<string, Value>): Value {
  const ea = tower(v.audio, v.wa1, v.ba1, v.ga, v.bea, v.wa2, 'none');
  const et = tower(v.text, v.wt1, v.bt1, v.gt, v.bet, v.wt2, 'tanh');
  const logits = ops.mul(ops.matmul(ea, ops.transpose(et, [1, 0])), ops.exp(v.logit_scale));
  const eye = new Float64Array(B * B);
  for (let i = 0; i < B; i++) eye[i * B + i] = 1;
  const eyeV = g.constant({ dtype: v.audio.dtype, shape: [B, B], data: v.audio.dtype === 'float64' ? eye : Float32Array.from(eye) });
  // Audio→text: diagonal by masking; text→audio: by gathering the label column.
  const ceA = ops.neg(ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(logits, -1), eyeV), [-1]), [0]));
  const labels = g.constant({ dtype: 'int64', shape: [B, 1], data: BigInt64Array.from({ length: B }, (_, i) => BigInt(i)) });
  const ceT = ops.neg(ops.reduceMean(ops.gatherElements(ops.logSoftmax(ops.transpose(logits, [1, 0]), -1), labels, 1), [0, 1]));
  return ops.mul(ops.add(ceA, ceT), 0.5);
}

function clipInputs(dtype: 'float32' | 'float64'): Record<string, HostTensor> {
  const u = (shape: number[], seed: number, lo = -1, hi = 1) => uniform(shape, seed, lo, hi, dtype);
  return {
    audio: u([B, 6], 1),
    text: u([B, 5], 2),
    wa1: u([6, 8], 3),
    ba1: u([8], 4, -0.2, 0.2),
    ga: u([8], 5, 0.5, 1.5),
    bea: u([8], 6, -0.2, 0.2),
    wa2: u([8, 4], 7),
    wt1: u([5, 8], 8),
    bt1: u([8], 9, -0.2, 0.2),
    gt: u([8], 10, 0.5, 1.5),
    bet: u([8], 11, -0.2, 0.2),
    wt2: u([8, 4], 12),
    logit_scale: {
      dtype,
      shape: [],
      data: dtype === 'float64' ? Float64Array.of(Math.log(1 / 0.07)) : Float32Array.of(Math.log(1 / 0.07)),
    },
  };
}

test('CLIP two-tower loss: every parameter gradient vs finite differences (float64)', async (t) => {
  const wrt = Object.keys(clipInputs('float64')).filter((k) => k !== 'audio' && k !== 'text');
  const r = await gradCheck(clipInputs('float64'), clipLoss, { wrt, samples: 12, rtol: 1e-6, atol: 1e-9 });
  t.diagnostic(`float64: max abs error ${r.maxAbs.toExponential(2)}, max rel ${r.maxRel.toExponential(2)} over ${r.checked} elements`);
});

test('CLIP two-tower loss with the float32 kernels (LayerNormalization, Gelu, Erf)', async (t) => {
  const wrt = Object.keys(clipInputs('float32')).filter((k) => k !== 'audio' && k !== 'text');
  const r = await gradCheck(clipInputs('float32'), clipLoss, { wrt, samples: 12, h: 1e-2, rtol: 3e-2, atol: 2e-3 });
  t.diagnostic(`float32: max abs error ${r.maxAbs.toExponential(2)}, max rel ${r.maxRel.toExponential(2)} over ${r.checked} elements`);
});

// ---------------------------------------------------------------------------------------------
// GPT-2-sized MLP stack: 4 pre-LN residual blocks of 768→3072→768 with GELU, batch 8×16 tokens.

const D = 768;
const H = 3072;
const LAYERS = 4;

function randn(shape: number[], seed: number, std: number): HostTensor {
  const r = rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = std * Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
  return { dtype: 'float32', shape, data };
}
const fill = (shape: number[], v: number): HostTensor => ({
  dtype: 'float32',
  shape,
  data: new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(v),
});

function mlpStack(): { g: Graph; loss: Value } {
  const g = new Graph('mlp_stack');
  let x = g.input('x', 'float32', ['B', 16, D]);
  const target = g.input('target', 'float32', ['B', 16, D]);
  for (let l = 0; l < LAYERS; l++) {
    const h = ops.layerNorm(x, g.param(`h${l}.ln.g`, fill([D], 1)), g.param(`h${l}.ln.b`, fill([D], 0)));
    const up = ops.gelu(ops.linear(h, g.param(`h${l}.fc.w`, randn([D, H], 100 + l, 0.02)), g.param(`h${l}.fc.b`, fill([H], 0))));
    x = ops.add(x, ops.linear(up, g.param(`h${l}.proj.w`, randn([H, D], 200 + l, 0.02)), g.param(`h${l}.proj.b`, fill([D], 0))));
  }
  const y = ops.layerNorm(x, g.param('lnf.g', fill([D], 1)), g.param('lnf.b', fill([D], 0)));
  const diff = ops.sub(y, target);
  return { g, loss: ops.reduceMean(ops.mul(diff, diff), [0, 1, 2]) };
}

const mlpBatch = (b = 8): Record<string, HostTensor> => ({ x: randn([b, 16, D], 1, 1), target: randn([b, 16, D], 2, 1) });

test('GPT-2-sized MLP stack: gradient of every parameter along a direction vs finite differences (float32)', async (t) => {
  const { g, loss } = mlpStack();
  const params = [...g.params.values()].map((p) => p.value);
  const grads = grad(loss, params);
  const outputs = [{ name: 'loss', value: loss }, ...grads.map((v, i) => ({ name: `g${i}`, value: v }))];
  const withGrads = await Session.fromBytes(emitOnnx(g, { outputs, paramsAsInputs: true }));
  const lossOnly = await Session.fromBytes(emitOnnx(g, { outputs: [outputs[0]], paramsAsInputs: true }));
  const feeds: Record<string, HostTensor> = { ...mlpBatch(2) }; // the same stack; a smaller batch keeps 52 forward runs quick
  for (const [name, p] of g.params) feeds[name] = p.tensor;
  const res = await withGrads.run(feeds);
  const l0 = Number(res.loss.data[0]);
  const lossAt = async (name: string, data: Float32Array): Promise<number> =>
    Number((await lossOnly.run({ ...feeds, [name]: { dtype: 'float32', shape: g.params.get(name)!.tensor.shape, data } })).loss.data[0]);
  let worst = 0;
  const lines: string[] = [];
  for (let i = 0; i < params.length; i++) {
    const name = params[i].name;
    const p = g.params.get(name)!.tensor.data as Float32Array;
    const gi = res[`g${i}`].data as Float32Array;
    // Direction: half along the claimed gradient, half random (a wrong gradient fails either way).
    const r = randn([p.length], 300 + i, 1).data as Float32Array;
    const gn = Math.sqrt(gi.reduce((s, v) => s + v * v, 0));
    const rn = Math.sqrt(r.reduce((s, v) => s + v * v, 0));
    const d = new Float64Array(p.length);
    for (let k = 0; k < p.length; k++) d[k] = gi[k] / gn + r[k] / rn;
    const dn = Math.sqrt(d.reduce((s, v) => s + v * v, 0));
    let dir = 0;
    for (let k = 0; k < p.length; k++) {
      d[k] /= dn;
      dir += gi[k] * d[k];
    }
    const eps = (1e-3 * l0) / Math.abs(dir); // moves the loss by ~0.1%: well above float32 noise, small curvature error
    const plus = Float32Array.from(p, (v, k) => v + eps * d[k]);
    const minus = Float32Array.from(p, (v, k) => v - eps * d[k]);
    const fd = ((await lossAt(name, plus)) - (await lossAt(name, minus))) / (2 * eps);
    const rel = Math.abs(fd - dir) / Math.abs(dir);
    worst = Math.max(worst, rel);
    lines.push(`${name}: analytic ${dir.toExponential(4)} numeric ${fd.toExponential(4)} rel ${rel.toExponential(1)}`);
  }
  await withGrads.release();
  await lossOnly.release();
  t.diagnostic(`directional derivatives, worst relative error ${worst.toExponential(2)}`);
  for (const l of lines) t.diagnostic(l);
  assert.ok(worst < 1e-2, `worst relative error ${worst}`);
});

test('GPT-2-sized MLP stack: Adam steps on a fixed batch decrease the loss', async (t) => {
  const { g, loss } = mlpStack();
  const forward = await Session.compile(g, { outputs: [{ name: 'loss', value: loss }] });
  const batch = mlpBatch();
  const l0 = Number((await forward.run(batch)).loss.data[0]);
  await forward.release();

  const t0 = performance.now();
  const ts = await buildTrainStep(loss, { optimizer: { kind: 'adam' }, lr: 1e-3 });
  const compileMs = performance.now() - t0;
  assert.equal(ts.paramNames.length, LAYERS * 6 + 2);
  const losses: number[] = [];
  const times: number[] = [];
  const cpu: number[] = [];
  for (let k = 0; k < 8; k++) {
    const c0 = process.cpuUsage();
    const s = performance.now();
    losses.push((await ts.run(batch)).loss);
    times.push(performance.now() - s);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
  }
  await ts.release();
  // The first step reports the loss at the initial parameters.
  assert.ok(Math.abs(losses[0] - l0) < 1e-5 * l0, `${losses[0]} vs forward ${l0}`);
  for (let k = 1; k < losses.length; k++) assert.ok(losses[k] < losses[k - 1], `step ${k}: ${losses[k]} >= ${losses[k - 1]}`);
  assert.ok(losses[losses.length - 1] < 0.9 * losses[0], `loss ${losses[0]} → ${losses[losses.length - 1]}`);
  // Wall time on a shared machine swings with its load; CPU time (all ORT threads) is the steadier measure.
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const wall = med(times.slice(1));
  t.diagnostic(`losses ${losses.map((l) => l.toFixed(4)).join(' → ')}`);
  t.diagnostic(
    `compile ${compileMs.toFixed(0)} ms; first step ${times[0].toFixed(0)} ms; ` +
      `then median ${wall.toFixed(0)} ms/step wall (${(1000 / wall).toFixed(2)} steps/s), ${med(cpu.slice(1)).toFixed(0)} ms CPU`,
  );
});
