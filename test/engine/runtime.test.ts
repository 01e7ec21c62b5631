import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, ops, Session } from '../../src/engine/index.js';

test('creating and running a session leaves JavaScript subnormal arithmetic intact (no flush-to-zero)', async () => {
  const g = new Graph();
  const x = g.input('x', 'float32', [2]);
  g.output('y', ops.mul(x, 2));
  const s = await Session.compile(g, { threads: 1 });
  await s.run({ x: { dtype: 'float32', shape: [2], data: Float32Array.of(1e-40, 1) } });
  await s.release();
  assert.notEqual(Math.fround(1e-40), 0);
  assert.notEqual(Number.MIN_VALUE * 2, 0);
});
