/** DecodeOptions.maxSeconds: untrusted input is refused once it decodes past the bound, never held whole. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeAudio, encodeWav } from '../../src/audio/index.js';
import { flacBomb } from './flac-bomb.js';

const data = (name: string): Uint8Array => readFileSync(fileURLToPath(new URL(`data/${name}`, import.meta.url)));

test('maxSeconds: compressed inputs within the bound decode exactly as without it', async () => {
  for (const name of [
    'tone_stereo_44k.flac',
    'tone_24bit_48k.flac',
    'tone_stereo_44k.ogg',
    'tone_stereo_44k.opus',
    'tone_stereo_44k.mp3',
  ]) {
    const whole = await decodeAudio(data(name));
    const bounded = await decodeAudio(data(name), { maxSeconds: 60 });
    assert.equal(bounded.sampleRate, whole.sampleRate, name);
    assert.equal(bounded.channels.length, whole.channels.length, name);
    for (let c = 0; c < whole.channels.length; c++) assert.deepEqual(bounded.channels[c], whole.channels[c], `${name} channel ${c}`);
  }
});

test('maxSeconds: longer inputs are refused with a one-line reason naming the input', async () => {
  for (const name of [
    'tone_stereo_44k.flac',
    'tone_stereo_44k.ogg',
    'tone_stereo_44k.opus',
    'tone_stereo_44k.mp3',
    'tone_stereo_44k.wav',
  ]) {
    await assert.rejects(decodeAudio(data(name), { maxSeconds: 0.01, name }), (e: Error) => {
      assert.match(e.message, new RegExp(`^${name.replace('.', '\\.')}: .*0\\.01 s limit`));
      assert.ok(!e.message.includes('\n'));
      return true;
    });
  }
  const wav = encodeWav([new Float32Array(16000)], 8000, 'pcm16');
  await assert.rejects(decodeAudio(wav, { maxSeconds: 1.5 }), /2\.0 s long, over the 1\.5 s limit/);
});

test('maxSeconds: a FLAC bomb (hours of audio in a few kB) is refused without decoding it whole', async () => {
  const bomb = flacBomb(2000); // 2000 × 65535 samples at 8 kHz ≈ 4.5 h, 1 GB as float32; 26 kB on disk
  assert.ok(bomb.length < 30_000);
  // The generator writes valid FLAC: every frame decodes, the last (13 bytes) too.
  const small = await decodeAudio(flacBomb(4));
  assert.equal(small.channels[0].length, 4 * 65535);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(decodeAudio(bomb, { maxSeconds: 60, name: 'bomb.flac' }), {
    message: 'bomb.flac: FLAC audio is longer than the 60 s limit',
  });
  // Stopped near the bound: far less than the 1 GB a whole decode would have held.
  assert.ok(process.memoryUsage().arrayBuffers - before < 200e6);
});
