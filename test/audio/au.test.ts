/**
 * Sun .au and G.711 (μ-law, A-law), decoded natively by the audio layer: every .au encoding sox and
 * ffmpeg read, scaled as torchaudio 0.13 (sox) reads them; and the same G.711 tables in WAV.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeAudio, encodeWav, sniffAudio } from '../../src/audio/index.js';
import { soxFloatToSample, soxSampleToFloat } from '../../src/audio/pcm.js';

/** A .au file: header (24 bytes, then `annotation` bytes), big-endian samples written by `put`. */
function au(
  encoding: number,
  width: number,
  frames: number[][],
  put: (dv: DataView, o: number, v: number) => void,
  opts: { rate?: number; annotation?: number; size?: number } = {},
): Uint8Array {
  const nc = frames[0].length;
  const offset = 24 + (opts.annotation ?? 0);
  const out = new Uint8Array(offset + frames.length * nc * width);
  const dv = new DataView(out.buffer);
  out.set([0x2e, 0x73, 0x6e, 0x64]);
  dv.setUint32(4, offset);
  dv.setUint32(8, opts.size ?? frames.length * nc * width);
  dv.setUint32(12, encoding);
  dv.setUint32(16, opts.rate ?? 8000);
  dv.setUint32(20, nc);
  frames.flat().forEach((v, i) => put(dv, offset + i * width, v));
  return out;
}

const ramp = (n: number, max: number): number[][] => Array.from({ length: n }, (_, i) => [Math.round(((i / (n - 1)) * 2 - 1) * max)]);

/** ITU-T G.711 reference points (the values ffmpeg's pcm_mulaw/pcm_alaw decoders give, checked on all 256 codes). */
const G711: Record<'mulaw' | 'alaw', [number, number][]> = {
  mulaw: [
    [0x00, -32124],
    [0x7f, 0],
    [0x80, 32124],
    [0xff, 0],
    [0x55, -716],
    [0xd5, 716],
  ],
  alaw: [
    [0x00, -5504],
    [0x80, 5504],
    [0x55, -8],
    [0xd5, 8],
    [0x2a, -32256],
    [0xaa, 32256],
  ],
};

test('.au is sniffed from its magic and decoded natively: 8/16/24/32-bit PCM (signed), float32/64, as sox scales them', async () => {
  const cases: [string, number, number, number[][], (dv: DataView, o: number, v: number) => void, (v: number) => number][] = [
    ['s8', 2, 1, ramp(9, 127), (dv, o, v) => dv.setInt8(o, v), (v) => v / 128],
    ['s16', 3, 2, ramp(99, 32767), (dv, o, v) => dv.setInt16(o, v), (v) => v / 32768],
    ['s24', 4, 3, ramp(99, 8388607), (dv, o, v) => [16, 8, 0].forEach((s, k) => dv.setUint8(o + k, (v >> s) & 0xff)), (v) => v / 8388608],
    ['s32', 5, 4, ramp(99, 2147483647), (dv, o, v) => dv.setInt32(o, v), soxSampleToFloat],
    ['f32', 6, 4, [[0.5], [-0.25], [1.5], [-2], [1e-9]], (dv, o, v) => dv.setFloat32(o, v), (v) => soxSampleToFloat(soxFloatToSample(v))],
    ['f64', 7, 8, [[0.5], [-0.25], [1.5], [-2], [1e-9]], (dv, o, v) => dv.setFloat64(o, v), (v) => soxSampleToFloat(soxFloatToSample(v))],
  ];
  for (const [name, encoding, width, frames, put, expected] of cases) {
    const bytes = au(encoding, width, frames, put, { rate: 22050 });
    assert.equal(sniffAudio(bytes), 'au', name);
    const d = await decodeAudio(bytes, { name, ffmpeg: false });
    assert.equal(d.sampleRate, 22050, name);
    assert.deepEqual(
      Array.from(d.channels[0]),
      frames.map(([v]) => Math.fround(expected(v))),
      name,
    );
  }
  // soundfile reading takes floats as stored, as it does for WAV
  const floats = au(6, 4, [[1.5], [-0.25]], (dv, o, v) => dv.setFloat32(o, v));
  assert.deepEqual(Array.from((await decodeAudio(floats, { ffmpeg: false, wavReading: 'soundfile' })).channels[0]), [1.5, -0.25]);
});

test('G.711 μ-law and A-law, in .au and in WAV, expand with the ITU tables (as sox and ffmpeg)', async () => {
  for (const [format, auEncoding, wavTag] of [
    ['mulaw', 1, 7],
    ['alaw', 27, 6],
  ] as const) {
    const codes = G711[format].map(([c]) => c);
    const want = G711[format].map(([, v]) => v / 32768);
    const fromAu = await decodeAudio(
      au(
        auEncoding,
        1,
        codes.map((c) => [c]),
        (dv, o, v) => dv.setUint8(o, v),
      ),
      { ffmpeg: false },
    );
    assert.deepEqual(Array.from(fromAu.channels[0]), want, format);
    const wav = encodeWav([new Float32Array(codes.length)], 8000, 'pcm8');
    new DataView(wav.buffer).setUint16(20, wavTag, true);
    wav.set(codes, 44);
    const fromWav = await decodeAudio(wav, { ffmpeg: false });
    assert.deepEqual(Array.from(fromWav.channels[0]), want, format);
  }
});

test('.au header: channels interleaved, annotation skipped, an unknown or overlong size reads to the end', async () => {
  const frames = [
    [100, -100],
    [200, -200],
    [300, -300],
  ];
  const put = (dv: DataView, o: number, v: number): void => dv.setInt16(o, v);
  for (const opts of [{ annotation: 8 }, { size: 0xffffffff }, { size: 1000 }]) {
    const d = await decodeAudio(au(3, 2, frames, put, opts), { ffmpeg: false });
    assert.deepEqual(
      d.channels.map((c) => Array.from(c, (v) => v * 32768)),
      [
        [100, 200, 300],
        [-100, -200, -300],
      ],
      JSON.stringify(opts),
    );
  }
});

test('.au that cannot be decoded: one line naming the file and the problem; ADPCM encodings go to ffmpeg', async () => {
  const put = (dv: DataView, o: number, v: number): void => dv.setInt16(o, v);
  const good = au(3, 2, ramp(4, 1000), put);
  const rejects = async (bytes: Uint8Array, re: RegExp): Promise<void> =>
    assert.rejects(decodeAudio(bytes, { name: 'x.au', ffmpeg: false }), (e: Error) => re.test(e.message) && !e.message.includes('\n'));
  await rejects(
    au(23, 1, [[0]], (dv, o, v) => dv.setUint8(o, v)),
    /^x\.au: Sun \.au G\.721 ADPCM is not decoded natively; .*ffmpeg/,
  );
  await rejects(good.subarray(0, 20), /^x\.au: corrupt \.au file: 20 bytes, too short for its header$/);
  await rejects(good.subarray(0, 24), /^x\.au: audio has zero samples/);
  const offset = good.slice();
  new DataView(offset.buffer).setUint32(4, 4096);
  await rejects(offset, /^x\.au: corrupt \.au file: data offset 4096 is outside the file/);
  const channels = good.slice();
  new DataView(channels.buffer).setUint32(20, 0);
  await rejects(channels, /^x\.au: corrupt \.au file: 0 channels$/);
  const rate = good.slice();
  new DataView(rate.buffer).setUint32(16, 0);
  await rejects(rate, /^x\.au: invalid sample rate 0 Hz/);
});
