import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ops } from '../../src/engine/index.js';
import { countFlops } from '../../src/engine/flops.js';
import { f32 } from './helpers.js';

test('countFlops counts 2·M·N·K per MatMul and 2·out·Cin·kh·kw per Conv, binding symbolic sizes', () => {
  const g = new Graph();
  const x = g.input('x', 'float32', ['B', 8, 16]);
  const w = g.param('w', f32([16, 4], new Float32Array(64)));
  const y = ops.relu(ops.matmul(x, w)); // B·8·4 outputs × 16
  const img = g.input('img', 'float32', ['B', 3, 10, 10]);
  const k = g.param('k', f32([5, 3, 2, 2], new Float32Array(60)));
  const c = ops.conv2d(img, k, undefined, { stride: [2, 2] }); // B·5·5·5 outputs × 3·2·2
  g.output('y', y);
  g.output('c', c);
  assert.equal(countFlops(g, { B: 2 }), 2 * (2 * 8 * 4) * 16 + 2 * (2 * 5 * 5 * 5) * 12);
  assert.throws(() => countFlops(g, {}), /no size for 'B'/);
});
