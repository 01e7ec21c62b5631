/** DecodeOptions.maxSeconds: untrusted input is refused once it decodes past the bound, never held whole. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decodeAudio, encodeWav } from '../../src/audio/index.js';

const data = (name: string): Uint8Array => readFileSync(fileURLToPath(new URL(`data/${name}`, import.meta.url)));

function crc8(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/**
 * A valid FLAC "decompression bomb": `frames` frames of 65535 samples of digital silence (8 kHz mono,
 * CONSTANT subframes), about 13 bytes each, with no total length in STREAMINFO.
 */
function flacBomb(frames: number): Uint8Array {
  const out: number[] = [...Buffer.from('fLaC'), 0x80, 0, 0, 34];
  const info = Buffer.alloc(34);
  info.writeUInt16BE(65535, 0);
  info.writeUInt16BE(65535, 2);
  // sample rate 8000 (20 bits), channels-1 = 0 (3 bits), bps-1 = 15 (5 bits), total samples 0.
  const packed = (8000n << 44n) | (0n << 41n) | (15n << 36n);
  info.writeBigUInt64BE(packed, 10);
  out.push(...info);
  for (let n = 0; n < frames; n++) {
    const utf8 = n < 0x80 ? [n] : [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
    const header = [0xff, 0xf8, 0x74, 0x08, ...utf8, 0xff, 0xfe];
    const frame = [...header, crc8(header), 0x00, 0x00, 0x00];
    const crc = crc16(frame);
    out.push(...frame, crc >> 8, crc & 0xff);
  }
  return Uint8Array.from(out);
}

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
  // The generator writes valid FLAC (the parser confirms a frame by the next one's header: the last may be left out).
  const small = await decodeAudio(flacBomb(4));
  assert.ok(small.channels[0].length >= 3 * 65535);
  const before = process.memoryUsage().arrayBuffers;
  await assert.rejects(decodeAudio(bomb, { maxSeconds: 60, name: 'bomb.flac' }), {
    message: 'bomb.flac: FLAC audio is longer than the 60 s limit',
  });
  // Stopped near the bound: far less than the 1 GB a whole decode would have held.
  assert.ok(process.memoryUsage().arrayBuffers - before < 200e6);
});
