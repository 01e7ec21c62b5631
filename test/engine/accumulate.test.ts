import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  buildTrainStep,
  Graph,
  type HostTensor,
  ops,
  type OptimizerConfig,
  type TrainStep,
  type TrainStepResult,
} from '../../src/engine/index.js';
import { uniform } from './gradcheck.js';

// A small MLP regression whose loss is a mean over examples: k micro-batches of b examples with
// accumulate = k must give the same update as one step on the k·b examples concatenated.

const IN = 5;
const HID = 7;
const OUT = 3;

async function mlp(dtype: 'float32' | 'float64', cfg: OptimizerConfig, accumulate: number, clipGradNorm?: number): Promise<TrainStep> {
  const g = new Graph('mlp');
  const x = g.input('x', dtype, ['B', IN]);
  const y = g.input('y', dtype, ['B', OUT]);
  const h = ops.tanh(
    ops.linear(x, g.param('w1', uniform([IN, HID], 1, -0.5, 0.5, dtype)), g.param('b1', uniform([HID], 2, -0.1, 0.1, dtype))),
  );
  const out = ops.linear(h, g.param('w2', uniform([HID, OUT], 3, -0.5, 0.5, dtype)), g.param('b2', uniform([OUT], 4, -0.1, 0.1, dtype)));
  const d = ops.sub(out, y);
  const loss = ops.reduceMean(ops.mul(d, d), [0, 1]);
  return buildTrainStep(loss, { optimizer: cfg, lr: 0.05, accumulate, clipGradNorm, runtime: { threads: 1 } });
}

function concat(ts: HostTensor[]): HostTensor {
  const n = ts.reduce((a, t) => a + t.data.length, 0);
  const data = ts[0].dtype === 'float64' ? new Float64Array(n) : new Float32Array(n);
  let off = 0;
  for (const t of ts) {
    data.set(t.data as Float64Array, off);
    off += t.data.length;
  }
  return { dtype: ts[0].dtype, shape: [ts.reduce((a, t) => a + t.shape[0], 0), ...ts[0].shape.slice(1)], data };
}

function maxRel(a: Record<string, HostTensor>, b: Record<string, HostTensor>): number {
  let worst = 0;
  for (const [name, t] of Object.entries(a)) {
    const u = b[name].data;
    t.data.forEach((x, i) => {
      worst = Math.max(worst, Math.abs(Number(x) - Number(u[i])) / Math.max(Math.abs(Number(x)), 1e-3));
    });
  }
  return worst;
}

const configs: [string, OptimizerConfig, number | undefined][] = [
  ['sgd', { kind: 'sgd' }, undefined],
  ['sgd momentum + clip', { kind: 'sgd', momentum: 0.9 }, 0.05],
  ['adam', { kind: 'adam' }, undefined],
  ['adamw + clip', { kind: 'adamw' }, 0.05],
];

for (const [label, cfg, clip] of configs) {
  for (const dtype of ['float64', 'float32'] as const) {
    test(`accumulate 3 × 4 examples = one step on 12 (${label}, ${dtype})`, async (t) => {
      const K = 3;
      const b = 4;
      const acc = await mlp(dtype, cfg, K, clip);
      const ref = await mlp(dtype, cfg, 1, clip);
      assert.equal(acc.accumulate, K);
      // float64: equal to rounding. float32: ≤ 1e-6 after one update as required; the second update's
      // Adam normalisation (m / √v) amplifies the different summation order of the float32 gradients.
      const tol = (update: number) => (dtype === 'float64' ? 1e-9 : update === 0 ? 1e-6 : 1e-5);
      let worst = 0;
      for (let update = 0; update < 2; update++) {
        const micro = Array.from({ length: K }, (_, m) => ({
          x: uniform([b, IN], 100 + 10 * update + m, -1, 1, dtype),
          y: uniform([b, OUT], 200 + 10 * update + m, -1, 1, dtype),
        }));
        const before = acc.params();
        let last: TrainStepResult | undefined;
        for (let m = 0; m < K; m++) {
          last = await acc.run(micro[m]);
          assert.equal(last.updated, m === K - 1);
          assert.equal(acc.pending, (m + 1) % K);
          if (m < K - 1) {
            assert.deepEqual(acc.params(), before, 'no update before the k-th micro-batch');
            assert.throws(() => acc.optimizerState(), /update boundaries/);
          }
        }
        const whole = await ref.run({ x: concat(micro.map((m) => m.x)), y: concat(micro.map((m) => m.y)) });
        assert.equal(acc.step, update + 1);
        assert.equal(ref.step, update + 1);
        if (clip !== undefined)
          assert.ok(Math.abs(last!.gradNorm! - whole.gradNorm!) <= 1e-5 * whole.gradNorm!, `norm ${last!.gradNorm} vs ${whole.gradNorm}`);
        worst = Math.max(worst, maxRel(ref.params(), acc.params()));
        assert.ok(worst <= tol(update), `update ${update + 1}: max relative difference ${worst}`);
      }
      t.diagnostic(`max relative parameter difference ${worst.toExponential(2)}`);
      await acc.release();
      await ref.release();
    });
  }
}

test('accumulate: state saved at a boundary resumes exactly; loading state drops pending gradients', async () => {
  const ts = await mlp('float32', { kind: 'adamw' }, 2);
  const batch = (i: number) => ({ x: uniform([3, IN], 300 + i, -1, 1, 'float32'), y: uniform([3, OUT], 400 + i, -1, 1, 'float32') });
  await ts.run(batch(0));
  await ts.run(batch(1));
  const params = ts.params();
  const state = ts.optimizerState();
  assert.equal(state.step, 1);
  await ts.run(batch(2));
  const r = await ts.run(batch(3));
  assert.ok(r.updated);
  const after = ts.params();
  await ts.run(batch(9)); // half an accumulation, discarded by the load below
  ts.loadParams(params);
  ts.loadOptimizerState(state);
  assert.equal(ts.pending, 0);
  await ts.run(batch(2));
  await ts.run(batch(3));
  assert.deepEqual(ts.params(), after);
  assert.equal(ts.step, 2);
  await ts.release();
});

test('accumulate must be a positive integer', async () => {
  await assert.rejects(mlp('float32', { kind: 'sgd' }, 0), /accumulate/);
  await assert.rejects(mlp('float32', { kind: 'sgd' }, 1.5), /accumulate/);
});
