import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  encodeSafetensors,
  loadSafetensors,
  loadSafetensorsCheckpoint,
  readSafetensors,
  saveSafetensors,
} from '../../src/weights/safetensors.js';
import { assertSameTensor, rejectsClap, sampleTensors, tempDir, throwsClap } from './helpers.js';

const dir = tempDir();
const F = 'model.safetensors';

/** A safetensors file from a header object and data bytes. */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), lengthOverride?: bigint): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(lengthOverride ?? BigInt(json.length));
  return Buffer.concat([len, json, data]);
}

test('saveSafetensors → loadSafetensors is bit-exact for every dtype, with metadata', async () => {
  const sd = sampleTensors();
  const file = join(dir, 'rt.safetensors');
  await saveSafetensors(file, sd, { format: 'pt', note: 'ünïcode' });
  const got = await loadSafetensorsCheckpoint(file);
  assert.equal(got.format, 'safetensors');
  assert.deepEqual(got.metadata, { format: 'pt', note: 'ünïcode' });
  assert.equal(got.tensors.size, sd.size);
  for (const [k, t] of sd) assertSameTensor(got.tensors.get(k), t, k);
  // Header padded to 8 bytes; every tensor is aligned, so all are views into the file buffer.
  const raw = readFileSync(file);
  assert.equal(Number(raw.readBigUInt64LE(0)) % 8, 0);
  const header = JSON.parse(raw.subarray(8, 8 + Number(raw.readBigUInt64LE(0))).toString());
  assert.deepEqual(header.idx, { dtype: 'I64', shape: [2, 3], data_offsets: header.idx.data_offsets });
  assert.equal(header.mask.dtype, 'BOOL');
  assert.equal(header.bf.dtype, 'BF16');
  const buf = got.tensors.get('enc.weight')!.data.buffer;
  for (const [k, t] of got.tensors) if (t.data.length) assert.equal(t.data.buffer, buf, `${k} is a view`);
  assert.equal((await loadSafetensors(file)).size, sd.size);
});

test('reads files laid out by others: misaligned data is copied, holes are tolerated', () => {
  const data = Buffer.alloc(3 + 8 + 4);
  data.writeFloatLE(1.5, 3);
  data.writeFloatLE(-2, 7);
  data.writeInt32LE(-9, 11);
  const buf = craft(
    { a: { dtype: 'F32', shape: [2], data_offsets: [3, 11] }, b: { dtype: 'I32', shape: [], data_offsets: [11, 15] } },
    data,
  );
  const sd = readSafetensors(buf, F).tensors;
  assert.deepEqual([...(sd.get('a')!.data as Float32Array)], [1.5, -2]);
  assert.deepEqual([...(sd.get('b')!.data as Int32Array)], [-9]);
  assert.deepEqual(sd.get('b')!.shape, []);
});

test('hostile safetensors fail with one-line ClapErrors naming the file', async () => {
  const ok = { dtype: 'F32', shape: [2], data_offsets: [0, 8] };
  const d8 = new Uint8Array(8);
  throwsClap(() => readSafetensors(new Uint8Array(3), F), F, /too short/);
  throwsClap(
    () => readSafetensors(craft({ a: ok }, d8, 2n ** 40n), F),
    F,
    /header claims 1099511627776 bytes, more than the 100000000-byte limit/,
  );
  throwsClap(() => readSafetensors(craft({ a: ok }, d8, 99_000_000n), F), F, /header claims 99000000 bytes but the file has only/);
  throwsClap(() => readSafetensors(Buffer.concat([craft({ a: ok }, d8).subarray(0, 20)]), F), F, /header/);
  throwsClap(
    () => readSafetensors(Buffer.concat([Buffer.from([5, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{"a":')]), F),
    F,
    /not valid UTF-8 JSON/,
  );
  throwsClap(() => readSafetensors(craft([1, 2]), F), F, /not a JSON object/);
  throwsClap(() => readSafetensors(craft({ a: ok }, new Uint8Array(4)), F), F, /"a".*fall outside the 4 bytes/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, data_offsets: [0, 2 ** 40] } }, d8), F), F, /outside/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, shape: [3] } }, d8), F), F, /needs 12 bytes but data_offsets span 8/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, shape: [-1] } }, d8), F), F, /invalid shape/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, shape: [2 ** 40, 2 ** 40] } }, d8), F), F, /invalid shape/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, dtype: 'F8_E4M3' } }, d8), F), F, /unsupported dtype "F8_E4M3"/);
  throwsClap(() => readSafetensors(craft({ a: { ...ok, data_offsets: [4, 0] } }, d8), F), F, /outside/);
  throwsClap(
    () => readSafetensors(craft({ a: ok, b: { dtype: 'I32', shape: [1], data_offsets: [4, 8] } }, d8), F),
    F,
    /"a" and "b" overlap/,
  );
  throwsClap(() => readSafetensors(craft({ __metadata__: { n: 1 }, a: ok }, d8), F), F, /__metadata__/);
  const file = join(dir, 'huge-header.safetensors');
  writeFileSync(file, craft({ a: ok }, d8, 2n ** 40n));
  await rejectsClap(() => loadSafetensors(file), 'huge-header.safetensors', /limit/);
  await rejectsClap(() => loadSafetensors(dir), dir, /is a directory/);
});

test('encodeSafetensors refuses reserved names and bad metadata', () => {
  const t = sampleTensors().get('scale')!;
  throwsClap(() => encodeSafetensors({ __metadata__: t }), undefined, /reserved/);
  throwsClap(() => encodeSafetensors({ a: t }, { n: 1 as unknown as string }), undefined, /must be a string/);
  assert.equal(readSafetensors(encodeSafetensors({})).tensors.size, 0);
});
