import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readNpy } from './npy.js';
import { fixturePath } from './fixtures.js';

test('readNpy reads fixture arrays with their shape and dtype', () => {
  const w = readNpy(fixturePath('expected', 'audio', 'chirp_exact7s_44k_f32', 'waveform.npy'));
  assert.equal(w.dtype, '<f4');
  assert.deepEqual(w.shape, [308700]);
  assert.equal(w.data.length, 308700);
  const ids = readNpy(fixturePath('expected', 'text', 'input_ids.npy'));
  assert.equal(ids.dtype, '<i8');
  assert.equal(ids.shape[1], 77);
  assert.equal(Number(ids.data[0]), 5661);
});
