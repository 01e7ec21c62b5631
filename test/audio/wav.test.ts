import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAudio, encodeWav, openAudio } from '../../src/audio/index.js';
import { soxFloatToSample, soxSampleToFloat } from '../../src/audio/pcm.js';

/** Deterministic integers spanning the full range of a `bits`-bit sample, extremes included. */
function ints(bits: number, n: number, seed = 1): number[] {
  const max = 2 ** (bits - 1);
  let s = seed;
  const out = [-max, max - 1, -1, 0, 1];
  while (out.length < n) {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    out.push(Math.floor((s / 2 ** 32) * 2 * max) - max);
  }
  return out;
}

test('16-bit PCM decodes as x / 32768', async () => {
  const n = ints(16, 1000);
  const wav = encodeWav([Float32Array.from(n, (v) => v / 32768)], 44100, 'pcm16');
  const d = await decodeAudio(wav);
  assert.equal(d.sampleRate, 44100);
  assert.deepEqual(
    Array.from(d.channels[0]),
    n.map((v) => Math.fround(v / 32768)),
  );
});

test('8-bit PCM is unsigned: (x - 128) / 128', async () => {
  const n = ints(8, 300);
  const wav = encodeWav([Float32Array.from(n, (v) => v / 128)], 8000, 'pcm8');
  // the file stores n + 128
  assert.equal(wav[44], n[0] + 128);
  const d = await decodeAudio(wav);
  assert.deepEqual(
    Array.from(d.channels[0]),
    n.map((v) => v / 128),
  );
});

test('24-bit PCM decodes as x / 2^23 (sign-extended)', async () => {
  const n = ints(24, 1000);
  const wav = encodeWav([Float32Array.from(n, (v) => v / 2 ** 23)], 96000, 'pcm24');
  const d = await decodeAudio(wav);
  assert.deepEqual(
    Array.from(d.channels[0]),
    n.map((v) => Math.fround(v / 2 ** 23)),
  );
});

test('32-bit PCM goes through libsox rounding to a multiple of 2^-24, like torchaudio', async () => {
  const n = ints(32, 1000);
  const wav = encodeWav([Float32Array.from(n, (v) => v / 2 ** 31)], 48000, 'pcm32');
  // encodeWav quantises from float32, so read back the integers it wrote
  const view = new DataView(wav.buffer, wav.byteOffset);
  const written = Array.from({ length: n.length }, (_, i) => view.getInt32(44 + 4 * i, true));
  const d = await decodeAudio(wav);
  const expected = written.map((v) => (v > 2 ** 31 - 65 ? 1 : ((v + 64) & ~127) / 2 ** 31));
  assert.deepEqual(Array.from(d.channels[0]), expected);
  assert.equal(soxSampleToFloat(2 ** 31 - 1), 1);
  assert.equal(soxSampleToFloat(-(2 ** 31)), -1);
  assert.equal(soxSampleToFloat(191), 128 / 2 ** 31);
  assert.equal(soxSampleToFloat(192), 256 / 2 ** 31); // half-way rounds up
  for (const v of d.channels[0]) assert.equal(Math.round(v * 2 ** 24), v * 2 ** 24);
});

test('float32 / float64 WAV: truncated to libsox int32, rounded to 2^-24, clipped to [-1, 1]', async () => {
  const x = Float32Array.from([0, 0.5, -0.25, 0.1, -0.1, 1e-9, 0.003645986085757613, 1.5, -2, 1, -1]);
  const expected = Array.from(x, (v) => soxSampleToFloat(soxFloatToSample(v)));
  assert.equal(expected[7], 1);
  assert.equal(expected[8], -1);
  assert.equal(soxFloatToSample(0.003645986085757613) % 128, 63); // truncation, not rounding (fixture quirk)
  for (const enc of ['float32', 'float64'] as const) {
    const d = await decodeAudio(encodeWav([x], 44100, enc));
    assert.deepEqual(Array.from(d.channels[0]), expected, enc);
  }
  // values already on the 2^-24 grid survive exactly
  const grid = Float32Array.from({ length: 100 }, (_, i) => ((i - 50) * 12345) / 2 ** 24);
  assert.deepEqual(Array.from((await decodeAudio(encodeWav([grid], 44100, 'float32'))).channels[0]), Array.from(grid));
});

test('WAVE_FORMAT_EXTENSIBLE and 3 channels keep channel order', async () => {
  const chans = [0, 1, 2].map((c) =>
    Float32Array.from({ length: 500 }, (_, i) => Math.round(Math.sin(i * (c + 1) * 0.01) * 30000) / 32768),
  );
  for (const enc of ['pcm16', 'pcm24', 'float32'] as const) {
    const wav = encodeWav(chans, 22050, enc, true);
    assert.equal(wav[20] | (wav[21] << 8), 0xfffe);
    const d = await decodeAudio(wav);
    assert.equal(d.channels.length, 3);
    assert.equal(d.sampleRate, 22050);
    for (let c = 0; c < 3; c++) assert.deepEqual(Array.from(d.channels[c]), Array.from(chans[c]), `${enc} channel ${c}`);
  }
});

test('unknown chunks (odd-sized, padded) before the data chunk are skipped', async () => {
  const x = Float32Array.from({ length: 64 }, (_, i) => (i - 32) / 64);
  const wav = encodeWav([x], 16000, 'pcm16');
  const extra = new Uint8Array([0x4c, 0x49, 0x53, 0x54, 3, 0, 0, 0, 1, 2, 3, 0]); // 'LIST', size 3 + pad byte
  const out = new Uint8Array(wav.length + extra.length);
  out.set(wav.subarray(0, 36));
  out.set(extra, 36);
  out.set(wav.subarray(36), 36 + extra.length);
  new DataView(out.buffer).setUint32(4, out.length - 8, true);
  assert.deepEqual(Array.from((await decodeAudio(out)).channels[0]), Array.from(x));
});

test('streamed WAV header (data size 0xFFFFFFFF, as ffmpeg writes to a pipe) reads to the end', async () => {
  const x = Float32Array.from({ length: 100 }, (_, i) => i / 128);
  const wav = encodeWav([x], 8000, 'pcm16');
  new DataView(wav.buffer).setUint32(40, 0xffffffff, true);
  assert.equal((await decodeAudio(wav)).channels[0].length, 100);
});

test('a WAV source reads any frame range on demand', async () => {
  const chans = [0, 1].map((c) => Float32Array.from({ length: 10000 }, (_, i) => (((i * (c + 3)) % 2000) - 1000) / 32768));
  const src = await openAudio(encodeWav(chans, 44100, 'pcm16'));
  try {
    assert.equal(src.numFrames, 10000);
    const part = src.read(1234, 777);
    assert.deepEqual(Array.from(part[1]), Array.from(chans[1].subarray(1234, 2011)));
    assert.throws(() => src.read(9990, 20), RangeError);
  } finally {
    src.close();
  }
});

test('RF64 (WAV > 4 GB layout): sizes come from the ds64 chunk', async () => {
  const x = Float32Array.from({ length: 300 }, (_, i) => ((i % 50) - 25) / 64);
  const wav = encodeWav([x], 32000, 'pcm16');
  const ds64 = new Uint8Array(36);
  const dv = new DataView(ds64.buffer);
  ds64.set([0x64, 0x73, 0x36, 0x34]); // 'ds64'
  dv.setUint32(4, 28, true);
  dv.setUint32(8, wav.length + 36 - 8, true); // RIFF size (low 32 bits)
  dv.setUint32(16, 600, true); // data size
  dv.setUint32(24, 300, true); // sample count
  const out = new Uint8Array(wav.length + 36);
  out.set(wav.subarray(0, 12));
  out.set(ds64, 12);
  out.set(wav.subarray(12), 48);
  out.set([0x52, 0x46, 0x36, 0x34]); // 'RF64'
  const v = new DataView(out.buffer);
  v.setUint32(4, 0xffffffff, true);
  v.setUint32(48 + 28, 0xffffffff, true); // data chunk size → ds64
  assert.deepEqual(Array.from((await decodeAudio(out)).channels[0]), Array.from(x));
});

test('the sample size comes from bitsPerSample, as sox and ffmpeg read it: a block align of 0 or a wrong one is ignored', async () => {
  // Debian's tuxtype buzz.wav (8-bit mono) states block align 0 and byte rate 0; sox and ffmpeg play it.
  const n = ints(16, 600);
  const good = encodeWav([Float32Array.from(n, (v) => v / 32768), Float32Array.from(n, (v) => -v / 32768)], 8000, 'pcm16');
  const expected = await decodeAudio(good);
  for (const blockAlign of [0, 3, 8]) {
    const odd = good.slice();
    new DataView(odd.buffer).setUint16(32, blockAlign, true);
    const d = await decodeAudio(odd, { name: `align-${blockAlign}.wav` });
    assert.deepEqual(d.channels, expected.channels, `block align ${blockAlign}`);
  }
});
