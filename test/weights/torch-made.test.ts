/**
 * Checkpoints written by real PyTorch (1.13.1; generator: data/make-torch-fixtures.py): every dtype,
 * transposed/sliced/expanded views, shared storages, a Parameter, a scalar, an empty tensor, and the
 * protocol-4 pickle (FRAME, STACK_GLOBAL, MEMOIZE, SHORT_BINUNICODE) torch writes with pickle_protocol=4.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPthCheckpoint } from '../../src/weights/pth.js';
import type { StateDict } from '../../src/weights/state-dict.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');

function checkTensors(sd: StateDict): void {
  const f32 = Array.from({ length: 24 }, (_, i) => i / 8);
  const val = (k: string): number[] => Array.from(sd.get(k)!.data as ArrayLike<number>);
  const shape = (k: string): number[] => sd.get(k)!.shape;
  assert.deepEqual(shape('f32'), [4, 6]);
  assert.deepEqual(val('f32'), f32);
  assert.deepEqual(shape('f32_t'), [6, 4]);
  assert.deepEqual(
    val('f32_t'),
    Array.from({ length: 24 }, (_, n) => f32[(n % 4) * 6 + Math.floor(n / 4)]),
  );
  assert.deepEqual(shape('f32_slice'), [2, 3]);
  assert.deepEqual(
    val('f32_slice'),
    [8, 9, 10, 14, 15, 16].map((i) => i / 8),
  );
  assert.deepEqual(val('expand'), [0, 1, 2, 0, 1, 2]);
  assert.deepEqual(sd.get('f16')!.dtype, 'float16');
  assert.deepEqual(val('f16'), [0x3c00, 0xc100, 0x7bff, 0x0001]); // 1, -2.5, 65504, 6e-8 → smallest subnormal
  assert.deepEqual(sd.get('bf16')!.dtype, 'bfloat16');
  assert.equal(val('bf16')[0], 0x3f80);
  assert.equal(val('bf16')[1], 0xc020);
  assert.deepEqual(val('f64'), [Math.PI, -1e300]);
  assert.deepEqual([...(sd.get('i64')!.data as BigInt64Array)], [0n, -1n, 2n ** 62n, -(2n ** 63n)]);
  assert.deepEqual([...(sd.get('i64_t')!.data as BigInt64Array)], [0n, 2n ** 62n, -1n, -(2n ** 63n)]);
  assert.deepEqual(val('i32'), [-7, 2 ** 31 - 1]);
  assert.deepEqual(val('i8'), [-128, 0, 127]);
  assert.deepEqual(val('u8'), [0, 255]);
  assert.deepEqual([sd.get('bool')!.dtype, val('bool')], ['bool', [1, 0, 0, 1]]);
  assert.deepEqual([shape('scalar'), val('scalar')], [[], [2.5]]);
  assert.deepEqual([shape('empty'), val('empty')], [[0, 3], []]);
  assert.deepEqual(val('param'), [0.25, 0.25, 0.25, 0.25]);
  assert.equal(sd.get('tied')!.data.byteOffset, sd.get('f32')!.data.byteOffset);
  assert.equal(sd.size, 17);
}

test('PyTorch-written checkpoint (protocol 2, {model, epoch, name, lr})', async () => {
  const ckpt = await loadPthCheckpoint(join(DATA, 'torch-dtypes.pth'));
  checkTensors(ckpt.tensors);
  assert.deepEqual(ckpt.metadata, { epoch: 7, name: 'tiny', lr: 0.001 });
});

test('PyTorch-written checkpoint (pickle protocol 4, {state_dict})', async () => {
  const ckpt = await loadPthCheckpoint(join(DATA, 'torch-dtypes-p4.pth'), { verifyCrc: true });
  checkTensors(ckpt.tensors);
});
