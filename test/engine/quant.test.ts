import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ops, Session } from '../../src/engine/index.js';
import { applyPrecision, exactInt8Weights, type Int8Weights, toFloat16 } from '../../src/engine/quant.js';
import { cosine } from '../helpers/compare.js';

function build(): Graph {
  const g = new Graph('quant_test');
  const x = g.input('x', 'float32', ['B', 'T', 96]);
  let s = 7;
  const rnd = (n: number): Float32Array =>
    Float32Array.from({ length: n }, () => {
      s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
      return s / 2 ** 32 - 0.5;
    });
  const w1 = g.param('w1', { dtype: 'float32', shape: [96, 128], data: rnd(96 * 128) });
  const b1 = g.param('b1', { dtype: 'float32', shape: [128], data: rnd(128) });
  const w2 = g.param('w2', { dtype: 'float32', shape: [128, 64], data: rnd(128 * 64) });
  g.output('y', ops.linear(ops.relu(ops.linear(x, w1, b1)), w2));
  return g;
}

const feed = { x: { dtype: 'float32' as const, shape: [2, 5, 96], data: Float32Array.from({ length: 960 }, (_, i) => Math.sin(i)) } };

async function run(
  precision: 'fp32' | 'fp16-weights' | 'int8',
  int8Weights?: Int8Weights,
): Promise<{ y: Float32Array; converted: number }> {
  const g = build();
  const converted = applyPrecision(g, precision, { int8Weights });
  const s = await Session.compile(g, { threads: 1 });
  const y = (await s.run(feed)).y.data as Float32Array;
  await s.release();
  return { y, converted };
}

test('int8 and fp16-weights rewrites stay close to fp32 and convert every MatMul weight', async () => {
  const ref = await run('fp32');
  assert.equal(ref.converted, 0);
  const h = await run('fp16-weights');
  assert.equal(h.converted, 2);
  assert.ok(cosine(h.y, ref.y) > 0.99999, `fp16 cosine ${cosine(h.y, ref.y)}`);
  const q = await run('int8');
  assert.equal(q.converted, 2);
  assert.ok(cosine(q.y, ref.y) > 0.999, `int8 cosine ${cosine(q.y, ref.y)}`);
  assert.notDeepEqual(q.y, ref.y);
});

test("a tied LM head (MatMul by a param's transpose) is rewritten too, its weight transposed once", async () => {
  const g = new Graph('tied_head');
  const x = g.input('x', 'float32', [3, 64]);
  const wte = g.param('wte', {
    dtype: 'float32',
    shape: [512, 64],
    data: Float32Array.from({ length: 512 * 64 }, (_, i) => Math.sin(i * 0.37)),
  });
  g.output('logits', ops.matmul(x, ops.transpose(wte, [1, 0])));
  const input = { x: { dtype: 'float32' as const, shape: [3, 64], data: Float32Array.from({ length: 192 }, (_, i) => Math.cos(i)) } };
  const logits = async (precision: 'fp32' | 'fp16-weights' | 'int8'): Promise<{ y: Float32Array; converted: number }> => {
    const h = new Graph('tied_head');
    const hx = h.input('x', 'float32', [3, 64]);
    h.output('logits', ops.matmul(hx, ops.transpose(h.param('wte', g.params.get('wte')!.tensor), [1, 0])));
    const converted = applyPrecision(h, precision);
    const s = await Session.compile(h, { threads: 1 });
    const y = (await s.run(input)).logits.data as Float32Array;
    await s.release();
    return { y, converted };
  };
  const ref = await logits('fp32');
  for (const p of ['int8', 'fp16-weights'] as const) {
    const q = await logits(p);
    assert.equal(q.converted, 1, p);
    assert.ok(cosine(q.y, ref.y) > 0.999, `${p} cosine ${cosine(q.y, ref.y)}`);
  }
  assert.equal(applyPrecision(g, 'int8'), 1);
  assert.ok(
    g.nodes.some((n) => n.op.type === 'DynamicQuantizeMatMul'),
    'the MatMul became a DynamicQuantizeMatMul',
  );
});

test('int8: the encoding chosen for this CPU computes exactly what the uint8 encoding (exact everywhere) does', async () => {
  // uint8 weights run ORT's u8×u8 kernels, exact on every CPU; int8 weights are chosen only where the u8×s8
  // kernels are exact too (VNNI, AMX, ARM), so the outputs are bit-identical. On an AVX2 CPU the int8
  // encoding saturates (cosine 0.968 here) and the probe must have said 'uint8'.
  const chosen = await exactInt8Weights();
  assert.ok(chosen === 'int8' || chosen === 'uint8');
  const portable = await run('int8', 'uint8');
  const here = await run('int8', chosen);
  assert.deepEqual(here.y, portable.y, `int8 weights '${chosen}' differ from uint8 weights on this CPU`);
});

test('toFloat16 rounds to nearest even and handles subnormals, infinities and NaN', () => {
  const x = Float32Array.of(0, -0, 1, -2, 0.1, 65504, 65520, 1e-7, 6.1e-5, Infinity, NaN, 1 + 2 ** -11, 1 + 3 * 2 ** -11);
  assert.deepEqual([...toFloat16(x)], [0, 0x8000, 0x3c00, 0xc000, 0x2e66, 0x7bff, 0x7c00, 0x0002, 0x03ff, 0x7c00, 0x7e00, 0x3c00, 0x3c02]);
});
