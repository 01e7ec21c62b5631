/**
 * Gradients of the layers the training paths add, against central finite differences (test/engine/gradcheck.ts):
 * BatchNorm in training mode (batch statistics) and kept frozen (eval mode with trained weight and bias), Cnn14's
 * ConvBlock on its training path, Hugging Face's AFF fusion block and ClapProjectionLayer. float64 where ONNX
 * Runtime has the kernels; convolutions are float32 only.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { type BufferUpdate, type HostTensor, ops, type Value } from '../../src/engine/index.js';
import { applyFrozenBatchNorm, applyTrainingBatchNorm, type TrainingBatchNorm } from '../../src/models/layers.js';
import { convBlock } from '../../src/models/cnn14/conv-block.js';
import { affBlock, type AffBlockParams } from '../../src/models/hf-clap/aff-block.js';
import { clapProjection } from '../../src/models/hf-clap/index.js';
import { gradCheck, type GradCheckOptions, uniform } from '../engine/gradcheck.js';

const U = (shape: number[], seed: number, lo = -1, hi = 1): HostTensor => uniform(shape, seed, lo, hi);
const F32 = (t: HostTensor): HostTensor => ({ ...t, dtype: 'float32', data: Float32Array.from(t.data as Float64Array) });

const summary: string[] = [];
after(() => console.log(`training-path gradient checks (max |analytic − numeric|, max relative):\n${summary.join('\n')}`));

async function check(
  name: string,
  inputs: Record<string, HostTensor>,
  build: (xs: Record<string, Value>) => Value,
  o?: GradCheckOptions,
): Promise<void> {
  const r = await gradCheck(inputs, (_, xs) => build(xs), o);
  summary.push(`  ${name.padEnd(48)} abs ${r.maxAbs.toExponential(1)}  rel ${r.maxRel.toExponential(1)}  (${r.checked} elements)`);
}

/** A training BatchNorm over `c` channels whose weight and bias are the inputs `w`, `b` (statistics unused by the output). */
const trainingBn = (xs: Record<string, Value>, w: string, b: string): TrainingBatchNorm => ({
  weight: xs[w],
  bias: xs[b],
  runningMean: xs[w],
  runningVar: xs[w],
  eps: 1e-5,
  momentum: 0.1,
});

test('BatchNorm in training mode: x, weight, bias (channels along axis 1 and along the last axis)', async () => {
  const updates: BufferUpdate[] = [];
  await check('batchnorm train [3,4,5,6] axis 1', { x: U([3, 4, 5, 6], 1, -3, 2), w: U([4], 2, 0.5, 1.5), b: U([4], 3) }, (xs) =>
    applyTrainingBatchNorm(ops.mul(xs.x, xs.x), trainingBn(xs, 'w', 'b'), 1, updates),
  );
  await check('batchnorm train [2,7,5] last axis', { x: U([2, 7, 5], 4, -40, -10), w: U([5], 5, 0.5, 1.5), b: U([5], 6) }, (xs) =>
    ops.tanh(applyTrainingBatchNorm(xs.x, trainingBn(xs, 'w', 'b'), 2, updates)),
  );
  assert.equal(updates.length, 4, 'running mean and variance of each');
});

test('two Linear → BatchNorm (training mode) → ReLU layers: the composition, float64', () =>
  check(
    'linear-batchnorm-relu ×2',
    {
      x: U([2, 6, 4], 19),
      w1: U([4, 3], 20, -0.5, 0.5),
      g1: U([3], 21, 0.5, 1.5),
      b1: U([3], 22, -0.2, 0.2),
      w2: U([3, 3], 23, -0.5, 0.5),
      g2: U([3], 24, 0.5, 1.5),
      b2: U([3], 25, -0.2, 0.2),
    },
    (xs) => {
      const layer = (x: Value, k: string): Value =>
        ops.relu(applyTrainingBatchNorm(ops.matmul(x, xs[`w${k}`]), trainingBn(xs, `g${k}`, `b${k}`), 2, []));
      return layer(layer(xs.x, '1'), '2');
    },
    { samples: 40 },
  ));

test('BatchNorm kept frozen (eval mode): x, weight, bias', () =>
  check(
    'batchnorm frozen [2,3,4,5] axis 3',
    { x: U([2, 3, 4, 5], 7, -40, -10), w: U([5], 8, 0.5, 1.5), b: U([5], 9), mean: U([5], 10, -30, -20), inv: U([5], 11, 0.05, 0.2) },
    (xs) => applyFrozenBatchNorm(xs.x, { weight: xs.w, bias: xs.b, mean: xs.mean, invStd: xs.inv }, 3),
    { wrt: ['x', 'w', 'b'] },
  ));

// float32 finite differences of a step ≥ 1e-3 straddle ReLU's kink somewhere among the batch-normalised values
// (every input moves every value of its channel through the batch statistics): the BatchNorms' bias keeps
// the ReLU inputs positive here, so the check sees convs, batch statistics and pooling (ReLU's rule is checked
// on its own in test/engine/autodiff.test.ts, the composition in float64 above).
test("Cnn14's ConvBlock on the training path (conv → BatchNorm in training mode → ReLU, twice, 2×2 pooling; float32)", () =>
  check(
    'cnn14 conv block, training',
    {
      x: F32(U([2, 2, 6, 5], 12)),
      w1: F32(U([3, 2, 3, 3], 13, -0.5, 0.5)),
      g1: F32(U([3], 14, 0.3, 0.5)),
      b1: F32(U([3], 15, 2.5, 3)),
      w2: F32(U([3, 3, 3, 3], 16, -0.5, 0.5)),
      g2: F32(U([3], 17, 0.3, 0.5)),
      b2: F32(U([3], 18, 2.5, 3)),
    },
    (xs) =>
      convBlock(
        xs.x,
        { conv1: { weight: xs.w1, bn: trainingBn(xs, 'g1', 'b1') }, conv2: { weight: xs.w2, bn: trainingBn(xs, 'g2', 'b2') } },
        true,
      ),
    { h: 2e-3, rtol: 3e-2, atol: 2e-3, samples: 16 },
  ));

test("Hugging Face's AFF block on the training path (1×1 convs and frozen BatchNorms apart) and ClapProjectionLayer", async () => {
  const C = 8;
  const I = 2;
  const lin = (xs: Record<string, Value>, k: string, i: number, o: number) => ({
    w: xs[`${k}w`],
    b: xs[`${k}b`],
    inFeatures: i,
    outFeatures: o,
  });
  const bn = (xs: Record<string, Value>, k: string) => ({ weight: xs[`${k}g`], bias: xs[`${k}c`], mean: xs[`${k}m`], invStd: xs[`${k}s`] });
  const stages = ['la', 'lb', 'ga', 'gb'];
  const inputs: Record<string, HostTensor> = { g: U([2, 6, C], 20), l: U([2, 6, C], 21) };
  stages.forEach((k, i) => {
    const [a, b] = i % 2 === 0 ? [C, I] : [I, C];
    Object.assign(inputs, {
      [`${k}w`]: U([a, b], 30 + i, -0.7, 0.7),
      [`${k}b`]: U([b], 40 + i, -0.2, 0.2),
      [`${k}g`]: U([b], 50 + i, 0.5, 1.5),
      [`${k}c`]: U([b], 60 + i, -0.2, 0.2),
      [`${k}m`]: U([b], 70 + i, -0.3, 0.3),
      [`${k}s`]: U([b], 80 + i, 0.5, 2),
    });
  });
  const params = (xs: Record<string, Value>): AffBlockParams => {
    const s = (k: string, i: number, o: number) => ({ conv: lin(xs, k, i, o), bn: bn(xs, k) });
    return { local: [s('la', C, I), s('lb', I, C)], global: [s('ga', C, I), s('gb', I, C)] };
  };
  const notStats = Object.keys(inputs).filter((k) => !/[ms]$/.test(k) || k.length === 1);
  await check('aff block, training', inputs, (xs) => affBlock(params(xs), xs.g, xs.l), { wrt: notStats });
  await check('ClapProjectionLayer', { x: U([3, 5], 90), w1: U([5, 4], 91), b1: U([4], 92), w2: U([4, 4], 93), b2: U([4], 94) }, (xs) =>
    clapProjection(
      { linear1: { w: xs.w1, b: xs.b1, inFeatures: 5, outFeatures: 4 }, linear2: { w: xs.w2, b: xs.b2, inFeatures: 4, outFeatures: 4 } },
      xs.x,
    ),
  );
});
