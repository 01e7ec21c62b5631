import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTrainStep, Graph, type HostTensor, ops, type OptimizerConfig } from '../../src/engine/index.js';
import { uniform } from './gradcheck.js';

const f = Math.fround;

/**
 * Plain-TS reference optimisers in float32 arithmetic (every operation rounded), in the same order
 * of operations as the graph, so results agree to the last bit or two.
 */
class Reference {
  private readonly state = new Map<string, Float32Array[]>();
  constructor(private readonly cfg: OptimizerConfig) {}

  step(name: string, p: Float32Array, g0: Float32Array, lr0: number, t: number): Float32Array {
    const c = this.cfg;
    const lr = f(lr0);
    const wd = f(c.weightDecay ?? (c.kind === 'adamw' ? 0.01 : 0));
    const decays = wd !== 0 && (!c.decay || c.decay(name));
    const out = new Float32Array(p.length);
    if (c.kind === 'sgd') {
      const mom = c.momentum ?? 0;
      const damp = c.dampening ?? 0;
      let buf = this.state.get(name)?.[0];
      if (!buf) this.state.set(name, [(buf = new Float32Array(p.length))]);
      for (let i = 0; i < p.length; i++) {
        const g = decays ? f(g0[i] + f(p[i] * wd)) : g0[i];
        if (mom <= 0) {
          out[i] = f(p[i] - f(g * lr));
          continue;
        }
        let b = f(f(buf[i] * f(mom)) + (damp === 0 ? g : f(g * f(1 - damp))));
        if (damp !== 0 && t === 1) b = g;
        buf[i] = b;
        const d = c.nesterov ? f(g + f(b * f(mom))) : b;
        out[i] = f(p[i] - f(d * lr));
      }
      return out;
    }
    const b1 = c.beta1 ?? 0.9;
    const b2 = c.beta2 ?? 0.999;
    const eps = f(c.eps ?? 1e-8);
    const bc1 = f(1 - f(f(b1) ** t));
    const bc2 = f(1 - f(f(b2) ** t));
    const stepSize = f(lr / bc1);
    const bc2Sqrt = f(Math.sqrt(bc2));
    const decay = f(1 - f(lr * wd));
    let st = this.state.get(name);
    if (!st) this.state.set(name, (st = [new Float32Array(p.length), new Float32Array(p.length)]));
    const [m, v] = st;
    for (let i = 0; i < p.length; i++) {
      let pi = p[i];
      let g = g0[i];
      if (decays) {
        if (c.kind === 'adamw') pi = f(pi * decay);
        else g = f(g + f(pi * wd));
      }
      m[i] = f(f(m[i] * f(b1)) + f(g * f(1 - b1)));
      v[i] = f(f(v[i] * f(b2)) + f(f(g * g) * f(1 - b2)));
      const denom = f(f(Math.sqrt(v[i]) / bc2Sqrt) + eps);
      out[i] = f(pi - f(f(m[i] / denom) * stepSize));
    }
    return out;
  }
}

/** Distance in units in the last place between two float32 values. */
function ulps(a: number, b: number): number {
  const ia = new Int32Array(Float32Array.of(a).buffer)[0];
  const ib = new Int32Array(Float32Array.of(b).buffer)[0];
  const oa = ia < 0 ? 0x80000000 - ia : ia;
  const ob = ib < 0 ? 0x80000000 - ib : ib;
  return Math.abs(oa - ob);
}

const lrs = [1e-2, 5e-3, 2e-3, 1e-3, 3e-2];

/**
 * loss = Σ w⊙c + Σ b⊙d: the gradients are exactly the batch (c, d), so the graph and the reference
 * optimiser see identical gradients and any difference is the update itself.
 */
async function compare(cfg: OptimizerConfig, clip?: number): Promise<number> {
  const g = new Graph();
  const w0 = uniform([3, 4], 1, -1, 1, 'float32');
  const b0 = uniform([4], 2, -1, 1, 'float32');
  const w = g.param('w', w0);
  const b = g.param('b', b0);
  const c = g.input('c', 'float32', [3, 4]);
  const d = g.input('d', 'float32', [4]);
  const loss = ops.add(ops.reduceSum(ops.mul(w, c), [0, 1]), ops.reduceSum(ops.mul(b, d), [0]));
  const ts = await buildTrainStep(loss, { optimizer: cfg, clipGradNorm: clip, runtime: { threads: 1 } });
  const ref = new Reference(cfg);
  let p: Record<string, Float32Array> = { w: Float32Array.from(w0.data as Float32Array), b: Float32Array.from(b0.data as Float32Array) };
  let worst = 0;
  for (let k = 0; k < lrs.length; k++) {
    const batch = { c: uniform([3, 4], 10 + k, -2, 2, 'float32'), d: uniform([4], 20 + k, -2, 2, 'float32') };
    ts.lr = lrs[k];
    const r = await ts.run(batch);
    let gw = batch.c.data as Float32Array;
    let gb = batch.d.data as Float32Array;
    if (clip !== undefined) {
      let sq = 0;
      for (const x of [...gw, ...gb]) sq += x * x;
      assert.ok(Math.abs(r.gradNorm! - Math.sqrt(sq)) < 1e-5 * Math.sqrt(sq), `grad norm ${r.gradNorm} vs ${Math.sqrt(sq)}`);
      const coef = Math.min(f(clip / f(r.gradNorm! + f(1e-6))), 1);
      gw = gw.map((x) => f(x * coef));
      gb = gb.map((x) => f(x * coef));
    }
    p = { w: ref.step('w', p.w, gw, lrs[k], k + 1), b: ref.step('b', p.b, gb, lrs[k], k + 1) };
    const got = ts.params();
    for (const [name, want] of Object.entries(p)) {
      const have = got[name].data as Float32Array;
      want.forEach((x, i) => {
        worst = Math.max(worst, ulps(x, have[i]));
      });
    }
  }
  await ts.release();
  return worst;
}

describe('optimisers vs a plain-TS float32 reference (5 steps, changing lr)', () => {
  const cases: [string, OptimizerConfig, number?][] = [
    ['sgd', { kind: 'sgd' }],
    ['sgd + weight decay', { kind: 'sgd', weightDecay: 0.1 }],
    ['sgd momentum 0.9', { kind: 'sgd', momentum: 0.9 }],
    ['sgd momentum + dampening 0.3 + wd', { kind: 'sgd', momentum: 0.8, dampening: 0.3, weightDecay: 0.05 }],
    ['sgd nesterov', { kind: 'sgd', momentum: 0.9, nesterov: true }],
    ['adam', { kind: 'adam' }],
    ['adam + L2 weight decay', { kind: 'adam', weightDecay: 0.1, beta1: 0.8, beta2: 0.99, eps: 1e-6 }],
    ['adamw (decay on w only)', { kind: 'adamw', weightDecay: 0.1, decay: (n) => n !== 'b' }],
    ['adamw + global-norm clipping 0.5', { kind: 'adamw' }, 0.5],
  ];
  for (const [name, cfg, clip] of cases) {
    test(name, async (t) => {
      const worst = await compare(cfg, clip);
      t.diagnostic(`max ulp difference ${worst}`);
      assert.ok(worst <= 2, `${worst} ulps`);
    });
  }
});

test('optimiser state round-trips: save after 2 steps, replay step 3 bit-exactly', async () => {
  const g = new Graph();
  const w = g.param('w', uniform([5, 3], 3, -1, 1, 'float32'));
  const x = g.input('x', 'float32', ['B', 5]);
  const y = ops.tanh(ops.matmul(x, w));
  const loss = ops.reduceMean(ops.mul(y, y), [0, 1]);
  const ts = await buildTrainStep(loss, { optimizer: { kind: 'adamw' }, lr: 0.05, runtime: { threads: 1 } });
  const batch = (k: number) => ({ x: uniform([4, 5], 40 + k, -1, 1, 'float32') });
  await ts.run(batch(0));
  await ts.run(batch(1));
  const params = ts.params();
  const state = ts.optimizerState();
  assert.equal(state.step, 2);
  const third = await ts.run(batch(2));
  const after3 = ts.param('w');
  await ts.run(batch(3));
  ts.loadParams(params);
  ts.loadOptimizerState(state);
  const again = await ts.run(batch(2));
  assert.equal(again.loss, third.loss);
  assert.deepEqual(ts.param('w').data, after3.data);
  assert.equal(ts.step, 3);
  // Symbolic batch: a different batch size runs through the same session.
  const r = await ts.run({ x: uniform([7, 5], 50, -1, 1, 'float32') });
  assert.ok(Number.isFinite(r.loss));
  await ts.release();
});

test('trainable subset: frozen parameters stay initializers and do not change', async () => {
  const g = new Graph();
  const w = g.param('w', uniform([4, 4], 5, -1, 1, 'float32'));
  g.param('frozen', uniform([4], 6, -1, 1, 'float32'));
  const frozen = g.params.get('frozen')!.value;
  const x = g.input('x', 'float32', [2, 4]);
  const loss = ops.reduceSum(ops.mul(ops.add(ops.matmul(x, w), frozen), 0.5), [0, 1]);
  const ts = await buildTrainStep(loss, {
    optimizer: { kind: 'sgd', momentum: 0.9 },
    params: ['w'],
    runtime: { threads: 1 },
    outputs: { twice: ops.mul(loss, 2) },
  });
  assert.deepEqual(ts.paramNames, ['w']);
  const r = await ts.run({ x: uniform([2, 4], 7, -1, 1, 'float32') });
  assert.equal(Number(r.outputs.twice.data[0]), r.loss * 2);
  assert.throws(() => ts.param('frozen'), /not a trainable/);
  await ts.release();
  await assert.rejects(buildTrainStep(loss, { optimizer: { kind: 'sgd' }, params: ['w', 'nope'] }), /not a parameter/);
});

test('chunked (Scan) updates are bit-identical to whole-tensor updates', async (t) => {
  const cfgs: [OptimizerConfig, number?][] = [
    [{ kind: 'adamw', weightDecay: 0.05 }, 0.3],
    [{ kind: 'sgd', momentum: 0.9, dampening: 0.1, weightDecay: 0.01 }],
    [{ kind: 'adam' }],
  ];
  for (const [cfg, clip] of cfgs) {
    const results: Record<string, HostTensor>[] = [];
    for (const chunk of [false, 64] as const) {
      const g = new Graph();
      const w = g.param('w', uniform([48, 32], 8, -1, 1, 'float32')); // 1536 = 24 chunks of 64
      const b = g.param('b', uniform([32], 9, -1, 1, 'float32')); // too small to chunk
      const x = g.input('x', 'float32', ['B', 48]);
      const y = ops.tanh(ops.linear(x, w, b));
      const loss = ops.reduceMean(ops.mul(y, y), [0, 1]);
      const ts = await buildTrainStep(loss, { optimizer: cfg, clipGradNorm: clip, chunk, lr: 0.05, runtime: { threads: 1 } });
      for (let k = 0; k < 3; k++) await ts.run({ x: uniform([5, 48], 60 + k, -1, 1, 'float32') });
      results.push({ ...ts.params(), ...Object.fromEntries(Object.entries(ts.optimizerState().slots.w).map(([k, v]) => [`w.${k}`, v])) });
      await ts.release();
    }
    for (const name of Object.keys(results[0])) assert.deepEqual(results[1][name].data, results[0][name].data, `${cfg.kind} ${name}`);
  }
  t.diagnostic('adamw+clip, sgd momentum+dampening, adam: identical');
});

test('float64 parameters: one SGD step equals w − lr·∇L computed by hand', async () => {
  const g = new Graph();
  const w0 = uniform([3], 11);
  const w = g.param('w', w0);
  const x = g.input('x', 'float64', ['N', 3]);
  const y = g.input('y', 'float64', ['N']);
  const r = ops.sub(ops.matmul(x, w), y);
  const ts = await buildTrainStep(ops.reduceMean(ops.mul(r, r), [0]), { optimizer: { kind: 'sgd' }, lr: 0.1, runtime: { threads: 1 } });
  const X = uniform([5, 3], 12);
  const Y = uniform([5], 13);
  await ts.run({ x: X, y: Y });
  const xd = X.data as Float64Array;
  const wd = w0.data as Float64Array;
  const want = Array.from(wd);
  for (let n = 0; n < 5; n++) {
    const res = xd[n * 3] * wd[0] + xd[n * 3 + 1] * wd[1] + xd[n * 3 + 2] * wd[2] - (Y.data as Float64Array)[n];
    for (let j = 0; j < 3; j++) want[j] -= 0.1 * (2 / 5) * res * xd[n * 3 + j];
  }
  const got = ts.param('w');
  assert.equal(got.dtype, 'float64');
  (got.data as Float64Array).forEach((v, j) => assert.ok(Math.abs(v - want[j]) < 1e-14, `${v} vs ${want[j]}`));
  await ts.release();
});
