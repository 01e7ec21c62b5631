import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  convertToSafetensors,
  detectFormat,
  loadCheckpoint,
  loadPth,
  loadSafetensorsCheckpoint,
  loadWeights,
  savePth,
  saveSafetensors,
  timeLoad,
} from '../../src/weights/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { assertSameTensor, rejectsClap, sampleTensors, tempDir, throwsClap } from './helpers.js';

const dir = tempDir();

test('loadWeights dispatches on content, not extension', async () => {
  const sd = sampleTensors();
  const pth = join(dir, 'weights.bin');
  const st = join(dir, 'weights.pth'); // misleading extension on purpose
  await savePth(pth, sd);
  await saveSafetensors(st, sd);
  assert.equal((await loadCheckpoint(pth)).format, 'pth');
  assert.equal((await loadCheckpoint(st)).format, 'safetensors');
  for (const file of [pth, st]) {
    const got = await loadWeights(file);
    for (const [k, t] of sd) assertSameTensor(got.get(k), t, `${file}:${k}`);
  }
});

test('loadWeights: clear errors for a directory, empty, missing and unknown files', async () => {
  await rejectsClap(() => loadWeights(dir), dir, /is a directory/);
  const empty = join(dir, 'empty.safetensors');
  writeFileSync(empty, '');
  await rejectsClap(() => loadWeights(empty), 'empty.safetensors', /empty/);
  await rejectsClap(() => loadWeights(join(dir, 'absent.pth')), 'absent.pth', /no such file/);
  const junk = join(dir, 'junk.ckpt');
  writeFileSync(junk, 'GIF89a............');
  await rejectsClap(() => loadWeights(junk), 'junk.ckpt', /unrecognised weight file format/);
  throwsClap(() => detectFormat(new Uint8Array(0), 'x.pth'), 'x.pth', /empty/);
  assert.equal(detectFormat(new Uint8Array([0x50, 0x4b, 3, 4])), 'pth');
  assert.equal(detectFormat(new Uint8Array(4), 'a.safetensors'), 'safetensors');
});

test('convertToSafetensors: clap.pth → safetensors keeps every tensor bit-exact', async () => {
  const src = fixturePath('clap.pth');
  const out = join(dir, 'clap.safetensors');
  const result = await convertToSafetensors(src, out);
  assert.equal(result.tensors, 165);
  assert.deepEqual(result.metadata, { format: 'pt' });
  const a = await loadPth(src);
  const b = await loadSafetensorsCheckpoint(out);
  assert.deepEqual([...b.tensors.keys()].sort(), [...a.keys()].sort());
  for (const [k, t] of a) assertSameTensor(b.tensors.get(k), t, k);
  assert.deepEqual(b.metadata, { format: 'pt' });
  // Scalar metadata survives, as strings.
  const withMeta = join(dir, 'meta.pth');
  await savePth(withMeta, sampleTensors(), { extra: { epoch: 4, tag: 'x' } });
  const r2 = await convertToSafetensors(withMeta, join(dir, 'meta.safetensors'));
  assert.deepEqual(r2.metadata, { format: 'pt', epoch: '4', tag: 'x' });
  // Converting onto its own input is safe (the input was read before the atomic rename).
  const inPlace = join(dir, 'inplace.bin');
  await savePth(inPlace, sampleTensors());
  await convertToSafetensors(inPlace, inPlace);
  assert.equal((await loadCheckpoint(inPlace)).format, 'safetensors');
});

test('timeLoad reports a view-based load of the fixture', async () => {
  const t = await timeLoad(fixturePath('clapcap.pth'));
  assert.equal(t.tensors, 188);
  assert.equal(t.format, 'pth');
  // Only the transposed DSP constants (STFT kernels, mel matrix) are copies.
  assert.ok(t.copiedBytes < t.bytes * 0.3, `copied ${t.copiedBytes} of ${t.bytes}`);
});
