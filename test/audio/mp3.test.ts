/**
 * MP3 against ffmpeg's decode (what torchaudio 0.13, and so msclap, reads MP3 with): sample counts
 * after gapless trimming, channel counts and samples, from the small files in test/audio/data and
 * ffmpeg's output for them stored in mp3_ffmpeg_reference.json (see the README there). No ffmpeg is
 * needed at test time.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio } from '../../src/audio/index.js';
import { gaplessRanges, mpegStream, parseMpegHeader } from '../../src/audio/mpeg.js';
import { ClapError } from '../../src/errors.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const bytes = (f: string): Buffer => readFileSync(join(DATA, f));

interface Reference {
  sampleRate: number;
  length: number;
  indices: number[];
  channels: number[][];
}
const REFERENCE: Record<string, Reference> = JSON.parse(readFileSync(join(DATA, 'mp3_ffmpeg_reference.json'), 'utf8'));
/** mpg123 and ffmpeg's mp3float differ by float rounding only (≤ 4e-6 on these files). */
const TOLERANCE = 1e-5;

test('the reference covers MPEG-1/2/2.5, mono and stereo, CBR and VBR, with and without Xing/LAME tags', () => {
  assert.deepEqual(Object.keys(REFERENCE).sort(), [
    'ff_mono_22k_vbr.mp3',
    'ff_mono_8k.mp3',
    'ff_noxing_id3v1_32k.mp3',
    'ff_stereo_44k.mp3',
    'tone_id3_44k.mp3',
    'tone_stereo_44k.mp3',
  ]);
  const versions = Object.keys(REFERENCE).map((f) => mpegStream(bytes(f))?.header.version);
  assert.deepEqual(new Set(versions), new Set([1, 2, 2.5]));
});

for (const [file, ref] of Object.entries(REFERENCE)) {
  test(`${file}: ffmpeg's sample count, channels and samples`, async () => {
    const d = await decodeAudio(join(DATA, file), { ffmpeg: false });
    assert.equal(d.sampleRate, ref.sampleRate);
    assert.equal(d.channels.length, ref.channels.length);
    assert.equal(d.channels[0].length, ref.length);
    for (let c = 0; c < ref.channels.length; c++) {
      ref.indices.forEach((i, k) => {
        const diff = Math.abs(d.channels[c][i] - ref.channels[c][k]);
        assert.ok(diff <= TOLERANCE, `channel ${c} sample ${i}: ${d.channels[c][i]} vs ffmpeg ${ref.channels[c][k]}`);
      });
    }
  });
}

test('stream structure: frame sizes, Xing frame count, LAME delay/padding, MPEG-2.5 576-sample frames', () => {
  // MPEG-2.5 Layer III, 16 kbit/s, 8 kHz, mono: 72 × 16000 / 8000 = 144 bytes
  assert.deepEqual(parseMpegHeader(Uint8Array.of(0xff, 0xe3, 0x28, 0xc4)), {
    version: 2.5,
    layer: 3,
    sampleRate: 8000,
    channels: 1,
    samplesPerFrame: 576,
    frameLength: 144,
  });
  assert.equal(parseMpegHeader(Uint8Array.of(0xff, 0xfb, 0xf0, 0x00)), null); // bitrate index 15
  const s = mpegStream(bytes('ff_mono_8k.mp3'));
  assert.ok(s);
  assert.equal(s.header.samplesPerFrame, 576);
  assert.deepEqual(s.gapless, { delay: 576, padding: 1056 }); // 7 × 576 − 576 − 1056 = 2400 samples = 0.3 s
  assert.equal(s.declaredFrames, 7);
  assert.equal(s.lastFrameMissing, 0);
  const noXing = mpegStream(bytes('ff_noxing_id3v1_32k.mp3'));
  assert.equal(noXing?.declaredFrames, null);
  assert.equal(noXing?.gapless, null);
  // ffmpeg's rule: padding below the decoder delay (529) leaves the end alone; frames beyond the
  // declared count are kept.
  const stream = { ...s, declaredFrames: 10, gapless: { delay: 576, padding: 100 } };
  assert.deepEqual(gaplessRanges(stream, 5760), [[1105, 5760]]);
  assert.deepEqual(gaplessRanges({ ...stream, gapless: { delay: 576, padding: 1000 } }, 5760 + 576), [
    [1105, 5760 - 1000 + 529],
    [5760, 6336],
  ]);
});

test('a LAME tag from an encoder ffmpeg does not trust is not applied (as ffmpeg, unlike mpg123)', async () => {
  const lame = bytes('tone_stereo_44k.mp3');
  const foreign = Buffer.from(lame);
  const at = foreign.indexOf('LAME');
  foreign.write('GOGO', at, 'latin1');
  const trimmed = await decodeAudio(lame, { ffmpeg: false });
  const full = await decodeAudio(foreign, { ffmpeg: false });
  assert.equal(full.channels[0].length, 13 * 1152); // every frame the Xing header declares
  const start = 576 + 529; // LAME's delay + the decoder's
  assert.deepEqual(full.channels[1].subarray(start, start + trimmed.channels[1].length), trimmed.channels[1]);
});

test('a file cut inside its last frame decodes as ffmpeg decodes it; one cut in half is refused', async () => {
  const whole = bytes('ff_stereo_44k.mp3');
  const full = await decodeAudio(whole, { ffmpeg: false });
  const cut = await decodeAudio(whole.subarray(0, whole.length - 50), { ffmpeg: false });
  assert.equal(cut.channels[0].length, REFERENCE['ff_stereo_44k.mp3'].length);
  assert.deepEqual(cut.channels[0].subarray(0, 12000), full.channels[0].subarray(0, 12000));
  await assert.rejects(
    decodeAudio(whole.subarray(0, whole.length >> 1), { name: 'half.mp3', ffmpeg: false }),
    (e: unknown) =>
      e instanceof ClapError &&
      /^half\.mp3: truncated MP3 data: the file holds \d of the 13 frames its Xing\/Info header declares$/.test(e.message),
  );
});
