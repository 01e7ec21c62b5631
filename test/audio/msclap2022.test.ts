/**
 * msclap 2022's audio input vs its fixtures (msclap2022-tiny-seed1): 5 s windows at 44.1 kHz and Cnn14's
 * torchlibrosa log-mel with the filterbank designed at 44.1 kHz (the checkpoint's own melW).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { loadWeights } from '../../src/weights/index.js';
import {
  loadAudio,
  logMel,
  melFilterbank,
  MSCLAP_2022_FRONTEND,
  MSCLAP_2022_WINDOW,
  powerSpectrogram,
  PyRandom,
} from '../../src/audio/index.js';
import { maxAbs, maxAbsError } from '../helpers/compare.js';
import { msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

interface ManifestAudio {
  name: string;
  file: string;
  sample_rate: number;
  channels: number;
  samples_after_resample_and_flatten: number;
  path: 'pad' | 'crop';
  repeat_factor?: number;
  crop_offset?: number;
  crop_random_seed?: number;
}
const manifest = JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as {
  audio: ManifestAudio[];
  audio_batch: { order: string[]; random_seed: number; crop_offsets: Record<string, number> };
};
const f32 = (name: string, stage: string): Float32Array =>
  readNpy(msclap2022Path('expected', 'audio', name, `${stage}.npy`)).data as Float32Array;
const load = (a: ManifestAudio) =>
  loadAudio(msclap2022Path(a.file), { channels: 'reference', cropOffset: a.crop_offset, shape: MSCLAP_2022_WINDOW });

test('waveforms: decode + resample + reshape(-1) + 5 s tile/crop are bit-exact (all six)', async () => {
  assert.equal(MSCLAP_2022_WINDOW.samples, 220500);
  for (const a of manifest.audio) {
    const loaded = await load(a);
    assert.equal(loaded.signalLength, a.samples_after_resample_and_flatten, a.name);
    assert.equal(loaded.windows.length, 1);
    assert.equal(loaded.windows[0].length, 220500);
    if (a.path === 'pad') assert.equal(loaded.repeats[0], a.repeat_factor, a.name);
    assert.equal(maxAbsError(loaded.windows[0], f32(a.name, 'waveform')), 0, a.name);
  }
});

test('random crops: random.seed(s) then randrange(len − 220500), one generator across a batch in file order', async () => {
  const crops = manifest.audio.filter((a) => a.path === 'crop');
  assert.equal(crops.length, 2);
  for (const a of crops) {
    const span = a.samples_after_resample_and_flatten - 220500;
    assert.equal(new PyRandom(a.crop_random_seed!).randrange(span), a.crop_offset, a.name);
    const viaSeed = await loadAudio(msclap2022Path(a.file), {
      channels: 'reference',
      crop: 'random',
      seed: a.crop_random_seed,
      shape: MSCLAP_2022_WINDOW,
    });
    assert.equal(viaSeed.offsets[0], a.crop_offset, a.name);
  }
  const batch = new PyRandom(manifest.audio_batch.random_seed);
  for (const a of crops)
    assert.equal(batch.randrange(a.samples_after_resample_and_flatten - 220500), manifest.audio_batch.crop_offsets[a.name], a.name);
  await assert.rejects(
    loadAudio(msclap2022Path(crops[0].file), { cropOffset: 10 ** 6, shape: MSCLAP_2022_WINDOW }),
    /cropOffset 1000000 is outside \[0, 176741\] for 397241 samples at 44\.1 kHz/,
  );
});

test('the checkpoint’s melW is librosa’s Slaney filterbank at 44.1 kHz, 50–14000 Hz', async () => {
  const sd = await loadWeights(msclap2022Path('clap.pth'));
  const melW = sd.get('audio_encoder.base.logmel_extractor.melW')!;
  assert.deepEqual(melW.shape, [513, 64]);
  const fb = melFilterbank(MSCLAP_2022_FRONTEND);
  const ours = new Float32Array(513 * 64);
  for (let m = 0; m < 64; m++) for (let k = 0; k < 513; k++) ours[k * 64 + m] = fb.dense[m * 513 + k];
  assert.equal(maxAbsError(ours, melW.data as Float32Array), 0);
});

test('spectrogram (vowel_16k) and log-mel: reference STFT ≤ 1e-6 × max, FFT ≤ 1e-4 × max above −60 dB', async () => {
  const vowel = manifest.audio.find((a) => a.name === 'vowel_16k')!;
  const w = (await load(vowel)).windows[0];
  const spec = f32(vowel.name, 'spectrogram');
  const exact = powerSpectrogram(w, { ...MSCLAP_2022_FRONTEND, stft: 'reference' });
  assert.equal(exact.length, 690 * 513);
  assert.equal(maxAbsError(exact, spec), 0);
  for (const a of manifest.audio) {
    const wave = (await load(a)).windows[0];
    const expected = f32(a.name, 'logmel');
    const ref = logMel(wave, { ...MSCLAP_2022_FRONTEND, stft: 'reference' });
    assert.equal(ref.length, 690 * 64);
    assert.ok(maxAbsError(ref, expected) <= 1e-6 * maxAbs(expected), `${a.name}: reference STFT`);
    const fast = logMel(wave, MSCLAP_2022_FRONTEND);
    const loud = maxAbsError(fast, expected, (i) => expected[i] > -60);
    assert.ok(loud <= 1e-4 * maxAbs(expected), `${a.name}: FFT log-mel error above −60 dB ${loud}`);
    assert.ok(maxAbsError(fast, expected) <= 0.15, `${a.name}: FFT log-mel error ${maxAbsError(fast, expected)} dB`);
  }
});
