/**
 * Compressed formats, from the small synthetic files in test/audio/data (see its README): a 0.3 s
 * stereo 16-bit tone+sweep at 44.1 kHz and a 0.2 s mono 24-bit tone at 48 kHz, with their encodings.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { decodeAudio, encodeWav, resample, type DecodedAudio } from '../../src/audio/index.js';
import { BufferReader } from '../../src/audio/bytes.js';
import { WavSource } from '../../src/audio/wav.js';
import { flacBomb } from './flac-bomb.js';
import { oggLinks } from '../../src/audio/ogg.js';
import { findFfmpeg } from '../../src/audio/ffmpeg.js';
import { sniffFormat } from '../../src/audio/sniff.js';

const DATA = join(dirname(fileURLToPath(import.meta.url)), 'data');
const data = (f: string): string => join(DATA, f);

/** Best normalised cross-correlation of a against b over small lags (codec delay tolerance). */
function similarity(a: Float32Array, b: Float32Array, maxLag = 2000): { corr: number; lag: number } {
  let best = { corr: -1, lag: 0 };
  const n = Math.min(a.length, b.length) - maxLag;
  for (let lag = -maxLag; lag <= maxLag; lag += 1) {
    let ab = 0,
      aa = 0,
      bb = 0;
    for (let i = maxLag; i < n; i += 3) {
      const x = a[i + lag];
      const y = b[i];
      ab += x * y;
      aa += x * x;
      bb += y * y;
    }
    const c = ab / Math.sqrt(aa * bb);
    if (c > best.corr) best = { corr: c, lag };
  }
  return best;
}

let reference: DecodedAudio;
async function ref(): Promise<DecodedAudio> {
  reference ??= await decodeAudio(data('tone_stereo_44k.wav'));
  return reference;
}

test('FLAC 16-bit stereo decodes sample-exact against the WAV', async () => {
  const wav = await ref();
  const flac = await decodeAudio(data('tone_stereo_44k.flac'));
  assert.equal(flac.sampleRate, 44100);
  assert.equal(flac.channels.length, 2);
  for (let c = 0; c < 2; c++) assert.deepEqual(flac.channels[c], wav.channels[c]);
});

test('FLAC 24-bit mono decodes sample-exact against the (extensible) 24-bit WAV', async () => {
  const wav = await decodeAudio(data('tone_24bit_48k.wav'));
  const flac = await decodeAudio(data('tone_24bit_48k.flac'));
  assert.equal(flac.sampleRate, 48000);
  assert.equal(wav.channels[0].length, 9600);
  assert.deepEqual(flac.channels, wav.channels);
});

test('Ogg Vorbis: right rate, channels, exact length, same signal', async () => {
  const wav = await ref();
  const d = await decodeAudio(data('tone_stereo_44k.ogg'));
  assert.equal(d.sampleRate, 44100);
  assert.equal(d.channels.length, 2);
  assert.equal(d.channels[0].length, 13230);
  for (let c = 0; c < 2; c++) {
    const s = similarity(d.channels[c], wav.channels[c], 50);
    assert.equal(s.lag, 0);
    assert.ok(s.corr > 0.98, `channel ${c} correlation ${s.corr}`);
  }
});

test('Ogg Vorbis ending on an empty page that completes the last packet: that packet is decoded (codec-parser dropped it)', async () => {
  const whole = await decodeAudio(data('tone_stereo_44k.ogg'));
  const d = await decodeAudio(data('vorbis_empty_last_page.ogg'));
  assert.equal(d.channels[0].length, 13230);
  assert.deepEqual(d.channels, whole.channels);
});

test('Ogg Opus: 48 kHz, pre-skip and end trimmed to the exact length, aligned', async () => {
  const wav = await ref();
  const d = await decodeAudio(data('tone_stereo_44k.opus'));
  assert.equal(d.sampleRate, 48000);
  assert.equal(d.channels.length, 2);
  assert.equal(d.channels[0].length, 14400); // 0.3 s at 48 kHz (granule − pre-skip)
  const left48 = resample(wav.channels[0], 44100, 48000);
  const s = similarity(d.channels[0], left48, 50);
  assert.ok(Math.abs(s.lag) <= 2, `lag ${s.lag}`);
  assert.ok(s.corr > 0.95, `correlation ${s.corr}`);
});

test('MP3 (LAME, gapless): exact length, aligned; an ID3v2 tag in front is skipped', async () => {
  const wav = await ref();
  for (const f of ['tone_stereo_44k.mp3', 'tone_id3_44k.mp3']) {
    const d = await decodeAudio(data(f));
    assert.equal(d.sampleRate, 44100, f);
    assert.equal(d.channels.length, 2, f);
    assert.equal(d.channels[0].length, 13230, f);
    const s = similarity(d.channels[1], wav.channels[1], 50);
    assert.equal(s.lag, 0, f);
    assert.ok(s.corr > 0.95, `${f}: correlation ${s.corr}`);
  }
});

test('the format comes from the bytes, not the name', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'clap-audio-test-'));
  try {
    const fake = join(dir, 'really-flac.wav');
    writeFileSync(fake, readFileSync(data('tone_stereo_44k.flac')));
    assert.deepEqual((await decodeAudio(fake)).channels, (await ref()).channels);
    const fromBuffer = await decodeAudio(readFileSync(data('tone_stereo_44k.ogg')));
    assert.equal(fromBuffer.channels[0].length, 13230);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  // an ID3v2 tag in front of FLAC (some taggers do that) is skipped too
  const tag = new Uint8Array(110);
  tag.set([0x49, 0x44, 0x33, 3, 0, 0, 0, 0, 0, 100]);
  const tagged = new Uint8Array([...tag, ...readFileSync(data('tone_stereo_44k.flac'))]);
  assert.deepEqual((await decodeAudio(tagged)).channels, (await ref()).channels);
  assert.equal(sniffFormat(readFileSync(data('tone_stereo_44k.m4a')).subarray(0, 64)), 'mp4');
  assert.equal(sniffFormat(readFileSync(data('tone_stereo_44k.opus')).subarray(0, 64)), 'ogg-opus');
  assert.equal(sniffFormat(readFileSync(data('tone_stereo_44k.ogg')).subarray(0, 64)), 'ogg-vorbis');
});

test('M4A/AAC goes through ffmpeg when it is installed', { skip: findFfmpeg(undefined) ? false : 'no ffmpeg on PATH' }, async () => {
  const d = await decodeAudio(data('tone_stereo_44k.m4a'));
  assert.equal(d.sampleRate, 44100);
  assert.equal(d.channels.length, 2);
  assert.ok(Math.abs(d.channels[0].length - 13230) <= 2048, `length ${d.channels[0].length}`);
  const fromBuffer = await decodeAudio(readFileSync(data('tone_stereo_44k.m4a')), { name: 'clip.m4a' });
  assert.equal(fromBuffer.channels[0].length, d.channels[0].length);
});

test('Ogg Vorbis wrapped in a RIFF/WAVE file (format tag 0x674f, as LMMS ships samples) decodes like the bare stream', async () => {
  const ogg = readFileSync(data('tone_stereo_44k.ogg'));
  const fmt = Buffer.alloc(16);
  fmt.writeUInt16LE(0x674f, 0); // Ogg Vorbis mode 1
  fmt.writeUInt16LE(2, 2);
  fmt.writeUInt32LE(44100, 4);
  fmt.writeUInt32LE(16000, 8);
  fmt.writeUInt16LE(1, 12);
  fmt.writeUInt16LE(16, 14);
  const chunk = (id: string, body: Buffer): Buffer => {
    const h = Buffer.alloc(8);
    h.write(id, 0, 'ascii');
    h.writeUInt32LE(body.length, 4);
    return Buffer.concat([h, body, Buffer.alloc(body.length & 1)]);
  };
  const body = Buffer.concat([Buffer.from('WAVE'), chunk('fmt ', fmt), chunk('data', ogg)]);
  const riff = Buffer.concat([Buffer.from('RIFF'), Buffer.alloc(4), body]);
  riff.writeUInt32LE(body.length, 4);
  const wrapped = await decodeAudio(riff, { name: 'wrapped.ogg', ffmpeg: false });
  const bare = await decodeAudio(ogg, { ffmpeg: false });
  assert.equal(wrapped.sampleRate, bare.sampleRate);
  assert.equal(wrapped.channels.length, 2);
  assert.deepEqual(wrapped.channels[0], bare.channels[0]);
});

test('the ffmpeg fallback hands over its float samples unclipped, as torchaudio 0.13 does (an AAC overshoot stays > 1)', async () => {
  // Without ffmpeg: the reading the fallback uses, next to the sox reading of a float WAV file.
  const wav = encodeWav([Float32Array.of(1.5, -0.25, 1e-9)], 8000, 'float32');
  const exact = new WavSource(new BufferReader('f.wav', wav), { reading: 'soundfile' }).read(0, 3)[0];
  assert.deepEqual([...exact], [1.5, -0.25, Math.fround(1e-9)]);
  assert.deepEqual([...(await decodeAudio(wav)).channels[0]], [1, -0.25, 0]);
  if (!findFfmpeg(undefined)) return;
  const hot = await decodeAudio(data('hot_square_44k.m4a'));
  const peak = hot.channels[0].reduce((m, v) => Math.max(m, Math.abs(v)), 0);
  assert.ok(peak > 1.5, `peak ${peak}`);
});

test('FLAC: a last frame of a few bytes (a block of digital silence) is decoded, as sox and ffmpeg decode it', async () => {
  // Debian's hydrogen-drumkits has such files (66729 samples, the last 2217 in a 13-byte frame); the
  // decoder's own frame parser used to leave that frame out and the file was refused as truncated.
  for (const frames of [1, 2, 5]) {
    const d = await decodeAudio(flacBomb(frames), { ffmpeg: false });
    assert.equal(d.channels[0].length, frames * 65535);
    assert.ok(d.channels[0].every((v) => v === 0));
  }
});

test('chained Ogg streams (one file, several links): each link decoded on its own and joined, as libvorbisfile/opusfile do', async () => {
  // A mono Vorbis link (8000 samples) then a stereo one (6400, channels 660 and 990 Hz): the stereo
  // link is averaged into the first link's mono, as ffmpeg does (Debian's klettres chains such links).
  // The WASM decoder run over both at once blended them at the boundary (Vorbis) or lost the first
  // link (Opus).
  for (const [file, lengths, rate] of [
    ['chained_mono_stereo.ogg', [8000, 6400], 16000],
    ['chained_opus.opus', [24000, 19200], 48000],
  ] as const) {
    const bytes = readFileSync(data(file));
    const links = oggLinks(bytes);
    assert.equal(links.length, 2, file);
    const whole = await decodeAudio(bytes, { ffmpeg: false });
    const alone = await Promise.all(links.map((l) => decodeAudio(l, { ffmpeg: false })));
    assert.deepEqual(
      alone.map((a) => a.channels[0].length),
      lengths,
      file,
    );
    assert.equal(whole.sampleRate, rate);
    assert.equal(whole.channels.length, alone[0].channels.length);
    const [a, b] = alone;
    const mix = (d: DecodedAudio, i: number): number => d.channels.reduce((s, c) => s + c[i], 0) / d.channels.length;
    for (let c = 0; c < whole.channels.length; c++) {
      const w = whole.channels[c];
      assert.equal(w.length, lengths[0] + lengths[1]);
      for (let i = 0; i < lengths[0]; i++) assert.equal(w[i], a.channels[c][i], `${file} ${i}`);
      for (let i = 0; i < lengths[1]; i++) {
        const want = a.channels.length === b.channels.length ? b.channels[c][i] : mix(b, i);
        assert.ok(Math.abs(w[lengths[0] + i] - want) < 1e-6, `${file} link 2 sample ${i}`);
      }
    }
  }
});
