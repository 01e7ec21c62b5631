/**
 * Hugging Face ClapFeatureExtractor (transformers 4.44) vs the hfclap-tiny-seed1 fixtures: mel filter
 * banks, 48 kHz waveforms, input_features and is_longer of every clip for both truncation modes, with
 * the reference's random draws replayed from the recorded numpy seeds.
 *
 * Measured: input_features within one float32 ulp of the reference everywhere (≤ 7.6e-6 dB, floor bins
 * included) for all 16 clip × mode pairs; filter banks ≤ 4e-15; waveforms bit-exact.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ClapFeatureExtractor,
  clapFeatureExtractorConfigFromJson,
  hfMelFilterBank,
  LAION_FUSED_EXTRACTOR,
  LAION_UNFUSED_EXTRACTOR,
  loadMonoWaveform,
  NumpyRandomState,
} from '../../src/audio/index.js';
import { ClapError } from '../../src/errors.js';
import { maxAbs, maxAbsError } from '../helpers/compare.js';
import { hfclapPath } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

interface Draw {
  fn: string;
  args?: number[];
  result: number;
}
interface VariantAudio {
  name: string;
  np_random_seed: number;
  np_random_calls: Draw[];
  is_longer: boolean;
  channels: number;
}
interface Variant {
  audio: VariantAudio[];
  audio_batch: { order: string[]; np_random_seed: number; np_random_calls: Draw[]; is_longer: boolean[] };
}
const manifest = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')) as {
  audio: { name: string; file: string; samples_48k: number }[];
  variants: Record<'unfused' | 'fused', Variant>;
};
const npy = (...parts: string[]) => readNpy(hfclapPath(...parts));
const VARIANTS = [
  ['unfused', LAION_UNFUSED_EXTRACTOR],
  ['fused', LAION_FUSED_EXTRACTOR],
] as const;

const waveforms = new Map<string, Float32Array>();
async function waveform(name: string): Promise<Float32Array> {
  let w = waveforms.get(name);
  if (!w) {
    const a = manifest.audio.find((x) => x.name === name)!;
    w = (await loadMonoWaveform(hfclapPath(a.file), 48000)).waveform;
    waveforms.set(name, w);
  }
  return w;
}

/** Log-mel error: the README asks for ≤ 1e-4 × max and ~2e-3 dB at the −100 dB floor; measured ≤ 7.6e-6 dB everywhere. */
function assertMelClose(what: string, got: Float32Array, want: Float32Array): void {
  assert.equal(got.length, want.length, `${what}: length`);
  const err = maxAbsError(got, want);
  assert.ok(err <= 2e-5 && err <= 1e-4 * maxAbs(want), `${what}: error ${err} dB`);
}

test('both mel filter banks equal the extractor’s (Slaney for rand_trunc, HTK unnormalised for fusion)', () => {
  const base = { nBins: 513, nMels: 64, fmin: 50, fmax: 14000, sampleRate: 48000 };
  const slaney = npy('expected', 'mel_filters_slaney.npy').data as Float64Array;
  const htk = npy('expected', 'mel_filters_htk.npy').data as Float64Array;
  assert.ok(maxAbsError(hfMelFilterBank({ ...base, scale: 'slaney', norm: 'slaney' }), slaney) <= 1e-15);
  assert.ok(maxAbsError(hfMelFilterBank({ ...base, scale: 'htk', norm: null }), htk) <= 1e-13);
});

test('48 kHz waveforms: soundfile reading, torchaudio resampling, mean of channels — bit-exact', async () => {
  for (const name of ['tone_noise_short_44k', 'vowel_16k', 'stereo_48k', 'speech_22k']) {
    const want = npy('expected', 'waveform48k', `${name}.npy`).data as Float32Array;
    assert.equal(maxAbsError(await waveform(name), want), 0, name);
  }
  for (const a of manifest.audio) assert.equal((await waveform(a.name)).length, a.samples_48k, a.name);
});

test('preprocessor_config.json of both folders gives the LAION settings', () => {
  for (const [v, want] of VARIANTS) {
    const json = JSON.parse(readFileSync(hfclapPath(`model-${v}`, 'preprocessor_config.json'), 'utf8')) as Record<string, unknown>;
    assert.deepEqual(clapFeatureExtractorConfigFromJson(json), want);
  }
  assert.throws(
    () => clapFeatureExtractorConfigFromJson({ truncation: 'chop' }),
    (e: Error) => e instanceof ClapError && /truncation "chop"/.test(e.message),
  );
});

for (const [v, config] of VARIANTS) {
  test(`${v}: every clip’s input_features and is_longer, the reference’s draws replayed from its numpy seed`, async () => {
    const fx = new ClapFeatureExtractor(config);
    for (const a of manifest.variants[v].audio) {
      const rng = new NumpyRandomState(a.np_random_seed);
      const [got] = fx.extractBatch([await waveform(a.name)], { rng });
      const want = npy('expected', v, 'audio', a.name, 'input_features.npy');
      assert.deepEqual(want.shape, [a.channels, 1001, 64]);
      assert.equal(got.channels, a.channels, a.name);
      assert.equal(got.isLonger, a.is_longer, a.name);
      assert.equal(got.isLonger, (npy('expected', v, 'audio', a.name, 'is_longer.npy').data as Uint8Array)[0] === 1, a.name);
      assertMelClose(`${v} ${a.name}`, got.features, want.data as Float32Array);
      const draws = a.np_random_calls.filter((d) => d.fn === 'np.random.choice').map((d) => d.result);
      if (draws.length > 0) assert.deepEqual(got.fusionStarts, draws, a.name);
      const crop = v === 'unfused' ? a.np_random_calls.find((d) => d.fn === 'np.random.randint') : undefined;
      if (crop) assert.equal(got.cropOffset, crop.result, a.name);
    }
  });

  test(`${v}: one batched call marks is_longer as the reference did`, async () => {
    const fx = new ClapFeatureExtractor(config);
    const b = manifest.variants[v].audio_batch;
    const got = fx.extractBatch(await Promise.all(b.order.map(waveform)), { rng: new NumpyRandomState(b.np_random_seed) });
    assert.deepEqual(
      got.map((f) => f.isLonger),
      b.is_longer,
    );
    const drawn = got.flatMap((f) => (f.cropOffset !== undefined ? [f.cropOffset] : (f.fusionStarts ?? [])));
    assert.deepEqual(
      drawn,
      b.np_random_calls.map((d) => d.result),
    );
  });
}

test('fusion: the whole clip’s HTK log-mel, its bilinear shrink and the three chunks', async () => {
  const fx = new ClapFeatureExtractor(LAION_FUSED_EXTRACTOR);
  const w = await waveform('bursts_long_48k');
  const full = fx.logMel(w);
  assertMelClose('full mel', full, npy('expected', 'fused', 'audio', 'bursts_long_48k', 'full_mel.npy').data as Float32Array);
  const got = fx.extract(w, { fusionStarts: [65, 148, 243] });
  assertMelClose(
    'fused channels',
    got.features,
    npy('expected', 'fused', 'audio', 'bursts_long_48k', 'input_features.npy').data as Float32Array,
  );
  assert.throws(() => fx.extract(w, { fusionStarts: [65, 0, 243] }), /fusion start 0 of chunk 1 is outside \[102, 202\]/);
});

test('deterministic default: crop at the start, middle start of each third, no clip marked is_longer', async () => {
  const unfused = new ClapFeatureExtractor(LAION_UNFUSED_EXTRACTOR);
  const long = await waveform('bursts_long_48k');
  assert.equal(unfused.extract(long).cropOffset, 0);
  assert.equal(unfused.extract(long, { crop: 'center' }).cropOffset, Math.floor((long.length - 480000) / 2));
  assert.equal(unfused.extract(long, { cropOffset: 90215 }).cropOffset, 90215);
  assert.throws(
    () => unfused.extract(long, { cropOffset: 145841 }),
    /cropOffset 145841 is outside \[0, 145840\] for 625840 samples at 48 kHz/,
  );
  assert.throws(() => unfused.extract(long, { crop: 'random' }), /needs a seeded generator/);
  const fused = new ClapFeatureExtractor(LAION_FUSED_EXTRACTOR);
  assert.deepEqual(fused.extract(long).fusionStarts, [50, 152, 253]);
  const short = fused.extractBatch([await waveform('short_48k')]);
  assert.equal(short[0].isLonger, false);
  // exactly 10 s: neither cut nor padded; 10 s + a few samples: one frame more is not possible, 4 copies, not longer
  const exact = fused.extract(await waveform('chirp_exact10s_48k_f32'));
  assert.equal(exact.isLonger, false);
  const over = fused.extract(await waveform('just_over_10s_48k'));
  assert.equal(over.isLonger, false);
  assert.equal(over.fusionStarts, undefined);
});

test('repeatpad tiles floor(480000 / n) times and zero-pads; repeat tiles and cuts; pad only pads', () => {
  const clip = Float32Array.from({ length: 130000 }, (_, i) => Math.sin(i / 7) * 0.5);
  const tail = (cfg: typeof LAION_UNFUSED_EXTRACTOR): Float32Array => {
    const f = new ClapFeatureExtractor(cfg).extract(clip).features;
    return f.subarray(f.length - 64 * 20); // the last 20 frames (after sample 470880)
  };
  assert.ok(
    tail(LAION_UNFUSED_EXTRACTOR).every((x) => x === -100),
    'repeatpad: 3 copies end at 390000, silence after',
  );
  assert.ok(
    tail({ ...LAION_UNFUSED_EXTRACTOR, padding: 'repeat' }).some((x) => x > -50),
    'repeat: the 4th copy fills the end',
  );
  assert.ok(tail({ ...LAION_UNFUSED_EXTRACTOR, padding: 'pad' }).every((x) => x === -100));
});
