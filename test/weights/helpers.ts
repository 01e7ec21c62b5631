import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { ClapError } from '../../src/errors.js';
import type { HostTensor } from '../../src/engine/tensor.js';

/** A fresh temporary folder, removed when the test file ends. */
export function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'clap-weights-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** Asserts `err` is a one-line ClapError that names `file` and matches every pattern. */
export function assertClapError(err: unknown, file: string | undefined, ...patterns: RegExp[]): true {
  assert.ok(err instanceof ClapError, `expected a ClapError, got ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`);
  assert.ok(!err.message.includes('\n'), `message is not one line: ${err.message}`);
  if (file !== undefined) assert.ok(err.message.includes(file), `message does not name ${file}: ${err.message}`);
  for (const p of patterns) assert.match(err.message, p);
  return true;
}

export function throwsClap(fn: () => unknown, file: string | undefined, ...patterns: RegExp[]): void {
  assert.throws(fn, (err) => assertClapError(err, file, ...patterns));
}

export async function rejectsClap(fn: () => Promise<unknown>, file: string | undefined, ...patterns: RegExp[]): Promise<void> {
  await assert.rejects(fn, (err) => assertClapError(err, file, ...patterns));
}

export const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

/** Bytes of a tensor's data. */
export const rawBytes = (t: HostTensor): Buffer => Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength);

/** Asserts two tensors have the same dtype, shape and bytes. */
export function assertSameTensor(actual: HostTensor | undefined, expected: HostTensor, name: string): void {
  assert.ok(actual, `missing ${name}`);
  assert.equal(actual.dtype, expected.dtype, `${name} dtype`);
  assert.deepEqual(actual.shape, expected.shape, `${name} shape`);
  assert.ok(rawBytes(actual).equals(rawBytes(expected)), `${name} bytes differ`);
}

/** Deterministic pseudo-random bytes. */
export function noise(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    out[i] = s & 0xff;
  }
  return out;
}

/** A set of tensors covering every dtype, a scalar, an empty tensor and NaN bit patterns. */
export function sampleTensors(): Map<string, HostTensor> {
  const f32 = new Float32Array(noise(4 * 24, 3).buffer);
  f32[0] = NaN;
  f32[1] = -0;
  f32[2] = Infinity;
  const sd = new Map<string, HostTensor>();
  sd.set('enc.weight', { dtype: 'float32', shape: [4, 6], data: f32 });
  sd.set('enc.bias', { dtype: 'float32', shape: [6], data: new Float32Array([1, 2, 3, 4, 5, 6]) });
  sd.set('scale', { dtype: 'float32', shape: [], data: new Float32Array([2.5]) });
  sd.set('empty', { dtype: 'float32', shape: [0, 3], data: new Float32Array(0) });
  sd.set('half', { dtype: 'float16', shape: [3, 5], data: new Uint16Array(noise(30, 4).buffer) });
  sd.set('bf', { dtype: 'bfloat16', shape: [2, 2, 3], data: new Uint16Array(noise(24, 5).buffer) });
  sd.set('f64', { dtype: 'float64', shape: [3], data: new Float64Array([Math.PI, -1e300, 5e-324]) });
  sd.set('idx', { dtype: 'int64', shape: [2, 3], data: new BigInt64Array([0n, -1n, 2n ** 62n, -(2n ** 63n), 5n, 224n]) });
  sd.set('i32', { dtype: 'int32', shape: [2], data: new Int32Array([-7, 2 ** 31 - 1]) });
  sd.set('i8', { dtype: 'int8', shape: [3], data: new Int8Array([-128, 0, 127]) });
  sd.set('u8', { dtype: 'uint8', shape: [2], data: new Uint8Array([0, 255]) });
  sd.set('mask', { dtype: 'bool', shape: [2, 2], data: new Uint8Array([1, 0, 0, 1]) });
  return sd;
}
