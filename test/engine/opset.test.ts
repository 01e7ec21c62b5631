/** Emitting for an older opset: the declared IR version, ops rewritten in that opset's form, the same numbers. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { emitOnnx, Graph, ops, Session } from '../../src/engine/index.js';
import { readOnnx, structuralProblems } from '../helpers/onnx-structure.js';
import { rand } from './helpers.js';

/** GELU, a mean over an axis, positions along a run-time axis, reflect padding: each opset-sensitive op we write. */
function graph(): Graph {
  const g = new Graph('opset_probe');
  const x = g.input('x', 'float32', ['B', 6]);
  const pos = ops.cast(ops.positions(x, 1), 'float32');
  const y = ops.add(ops.reduceMean(ops.gelu(ops.pad(x, [0, 2, 0, 2], 'reflect')), [1], true), pos);
  g.output('y', ops.add(y, ops.reduceMax(x, [1], true)));
  return g;
}

test('opset 17 and 21 models compute the same; each is structurally sound for its opset', async () => {
  const x = { dtype: 'float32' as const, shape: [3, 6], data: rand(18, 5) };
  const outs: Float32Array[] = [];
  for (const [opset, ir] of [
    [17, 8],
    [18, 8],
    [20, 9],
    [21, 10],
  ]) {
    const bytes = emitOnnx(graph(), { opset });
    const model = readOnnx(bytes);
    assert.equal(model.irVersion, ir);
    assert.equal(model.opsets.get(''), opset);
    assert.deepEqual(structuralProblems(model), [], `opset ${opset}`);
    assert.equal(
      model.graph.nodes.some((n) => n.opType === 'Gelu'),
      opset >= 20,
      `Gelu as one op only from opset 20 (${opset})`,
    );
    const s = await Session.fromBytes(bytes, { threads: 1 });
    outs.push((await s.run({ x })).y.data as Float32Array);
    await s.release();
  }
  for (const o of outs.slice(1))
    for (let i = 0; i < o.length; i++) assert.ok(Math.abs(o[i] - outs[0][i]) <= 1e-6 * Math.abs(outs[0][i]) + 1e-7);
});

test('an opset outside 17…21 is refused; so is an op newer than the target that has no older form', () => {
  assert.throws(() => emitOnnx(graph(), { opset: 16 }), /opset must be an integer from 17 to 21, got 16/);
  assert.throws(() => emitOnnx(graph(), { opset: 22 }), /from 17 to 21/);
  const g = new Graph('too_new');
  const x = g.input('x', 'float32', [2]);
  g.output('y', g.addNode({ type: 'Future', opset: 19, infer: ([v]) => [{ dtype: v.dtype, shape: v.shape }] }, [x])[0]);
  assert.throws(() => emitOnnx(g, { opset: 18 }), /Future needs opset 19 or later; this model is written for opset 18/);
});
