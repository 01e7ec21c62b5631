/**
 * Train-step buffers (TrainStepOptions.buffers): state the step updates without a gradient — BatchNorm's
 * running statistics — fed and replaced after every forward pass (every micro-batch with accumulation), kept
 * by params() / loadParams() like the trainable parameters, and left out of the optimiser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildTrainStep, Graph, type HostTensor, ops } from '../../src/engine/index.js';

const f32 = (shape: number[], values: number[]): HostTensor => ({ dtype: 'float32', shape, data: Float32Array.from(values) });

/** loss = mean((x·w)²); buffer m ← 0.5·m + 0.5·mean(x) over the batch (per column); count ← count + 1 (int64). */
async function model(accumulate: number) {
  const g = new Graph('buffers');
  const x = g.input('x', 'float32', [2, 3]);
  const w = g.param('w', f32([3], [1, -1, 0.5]));
  const m = g.param('m', f32([3], [0, 0, 0]));
  const count = g.param('count', { dtype: 'int64', shape: [], data: BigInt64Array.of(5n) });
  const y = ops.mul(x, w);
  const loss = ops.reduceMean(ops.mul(y, y), [0, 1]);
  const next = ops.add(ops.mul(m, 0.5), ops.mul(ops.reduceMean(x, [0]), 0.5));
  return buildTrainStep(loss, {
    optimizer: { kind: 'sgd' },
    lr: 0.1,
    accumulate,
    params: [w],
    buffers: [
      { param: m, next },
      { param: count, next: ops.add(count, 1) },
    ],
    runtime: { threads: 1 },
  });
}

const batch = (a: number): Record<string, HostTensor> => ({ x: f32([2, 3], [a, 2 * a, 3 * a, a, 2 * a, 3 * a]) });

test('buffers move after every forward pass, stay out of the optimiser, and round-trip through params()', async () => {
  const step = await model(1);
  await step.run(batch(2));
  await step.run(batch(4));
  const p = step.params();
  // m: 0 → 0.5·[2, 4, 6] = [1, 2, 3] → 0.5·[1, 2, 3] + 0.5·[4, 8, 12] = [2.5, 5, 7.5]
  assert.deepEqual([...(p.m.data as Float32Array)], [2.5, 5, 7.5]);
  assert.equal(p.count.data[0], 7n);
  assert.deepEqual(step.paramNames, ['w']);
  assert.deepEqual(Object.keys(step.optimizerState().slots), ['w']);
  step.loadParams({ m: f32([3], [1, 1, 1]), count: { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) } });
  await step.run(batch(2));
  assert.deepEqual([...(step.param('m').data as Float32Array)], [1.5, 2.5, 3.5]);
  assert.equal(step.param('count').data[0], 1n);
  await step.release();
});

test('with accumulation buffers move on every micro-batch, parameters on every k-th', async () => {
  const step = await model(2);
  const w0 = [...(step.param('w').data as Float32Array)];
  const r = await step.run(batch(2));
  assert.equal(r.updated, false);
  assert.deepEqual([...(step.param('m').data as Float32Array)], [1, 2, 3]);
  assert.deepEqual([...(step.param('w').data as Float32Array)], w0);
  assert.equal((await step.run(batch(4))).updated, true);
  assert.deepEqual([...(step.param('m').data as Float32Array)], [2.5, 5, 7.5]);
  assert.equal(step.param('count').data[0], 7n);
  assert.notDeepEqual([...(step.param('w').data as Float32Array)], w0);
  await step.release();
});

test('a buffer that is also trained, or whose next value is not like it, is refused', async () => {
  const g = new Graph('bad');
  const x = g.input('x', 'float32', [2]);
  const w = g.param('w', f32([2], [1, 2]));
  const loss = ops.reduceSum(ops.mul(x, w), [0]);
  await assert.rejects(
    buildTrainStep(loss, { optimizer: { kind: 'sgd' }, params: [w], buffers: [{ param: w, next: ops.mul(w, 2) }] }),
    /w is both trainable and a buffer/,
  );
  const v = g.param('v', f32([2], [0, 0]));
  await assert.rejects(
    buildTrainStep(loss, { optimizer: { kind: 'sgd' }, params: [w], buffers: [{ param: v, next: ops.reduceSum(v, [0]) }] }),
    /next value of buffer v/,
  );
});
