/**
 * HTSAT's front end: torchlibrosa Spectrogram → LogmelFilterBank, as msclap runs it.
 * All parameters live in one FrontendConfig; `REFERENCE_FRONTEND` is what msclap 2023 really uses.
 */
import { Dsp } from './dsp.js';
import { melFilterbank, type MelFilterbank } from './mel.js';
import { numFrames, powerSpectrogramFft, powerSpectrogramReference, runFrameKernel, type DftWeights, type StftAlgorithm } from './stft.js';

export interface FrontendConfig {
  /**
   * Sample rate the mel filterbank is designed for — NOT the audio's rate. msclap's HTSAT builds it from
   * `models/config.py` (sample_rate 32000, quirk 6 in the fixtures README) and applies it to 44.1 kHz
   * STFT bins, so its bands really span ≈ 69 Hz … 19.3 kHz.
   */
  sampleRate: number;
  nFft: number;
  winLength: number;
  hopLength: number;
  nMels: number;
  /** Filterbank edges in Hz at `sampleRate` (see above). */
  fmin: number;
  fmax: number;
  /** Reflect-pad nFft/2 on both sides (torchlibrosa center=True, pad_mode='reflect'). */
  center: boolean;
  /** Power floor before the log: 10·log10(max(x, amin)). */
  amin: number;
  /** Reference power: subtracts 10·log10(max(amin, ref)) (0 dB for ref = 1). */
  ref: number;
  /** Clip to max − topDb when set; msclap uses none. */
  topDb: number | null;
  /**
   * 'fft' (default): float64 FFT, ~3 ms per 7 s clip, matches the reference to float32 rounding except
   * in near-silent bins (≲ −90 dB) where the reference's own float32 noise shows (≤ ~0.1 dB).
   * 'reference': bit-exact emulation of torchlibrosa's float32 conv STFT; seconds per clip, for parity.
   */
  stft: StftAlgorithm;
}

/** msclap 2023 as shipped (HTSAT ignores the yaml's fmax 8000 and uses config.py's 32 kHz / 14 kHz). */
export const REFERENCE_FRONTEND: Readonly<FrontendConfig> = Object.freeze({
  sampleRate: 32000,
  nFft: 1024,
  winLength: 1024,
  hopLength: 320,
  nMels: 64,
  fmin: 50,
  fmax: 14000,
  center: true,
  amin: 1e-10,
  ref: 1.0,
  topDb: null,
  stft: 'fft',
});

/**
 * What the paper / msclap yaml describe: the filterbank designed at the audio's true 44.1 kHz with
 * fmax 8 kHz — the one-line change `{ ...config, sampleRate: 44100, fmax: 8000 }`. The released
 * weights were trained with REFERENCE_FRONTEND, so this is only for experiments.
 */
export function paperVariant(config: Readonly<FrontendConfig> = REFERENCE_FRONTEND): FrontendConfig {
  return { ...config, sampleRate: 44100, fmax: 8000 };
}

/** `paperVariant(REFERENCE_FRONTEND)`. */
export const PAPER_FRONTEND: Readonly<FrontendConfig> = Object.freeze(paperVariant());

/** Number of spectrogram frames for `length` samples (965 for msclap's 308700). */
export function frameCount(length: number, config: Readonly<FrontendConfig> = REFERENCE_FRONTEND): number {
  return numFrames(length, config);
}

/**
 * Power spectrogram |STFT|² [frames][nFft/2+1], time-major, float32.
 * `dftWeights` (reference algorithm only) lets a caller use the checkpoint's conv weights.
 */
export function powerSpectrogram(
  x: Float32Array,
  config: Readonly<FrontendConfig> = REFERENCE_FRONTEND,
  dftWeights?: DftWeights,
): Float32Array {
  if (config.stft === 'reference') return powerSpectrogramReference(x, config, dftWeights);
  return Float32Array.from(powerSpectrogramFft(x, config));
}

/**
 * Log-mel spectrogram in dB, [frames][nMels] time-major float32 (965 × 64 for a 7 s window), exactly
 * torchlibrosa's `LogmelFilterBank(power_to_db)` on the `Spectrogram` output.
 */
export function logMel(x: Float32Array, config: Readonly<FrontendConfig> = REFERENCE_FRONTEND, dftWeights?: DftWeights): Float32Array {
  const fb = melFilterbank(config);
  const mel = config.stft === 'reference' ? melPowerReference(x, config, fb, dftWeights) : melPowerFft(x, config, fb);
  const out = decibels(mel, config);
  if (config.topDb !== null) {
    if (config.topDb < 0) throw new RangeError('topDb must be non-negative');
    let max = -Infinity;
    for (let i = 0; i < out.length; i++) if (out[i] > max) max = out[i];
    const floor = max - config.topDb;
    for (let i = 0; i < out.length; i++) if (out[i] < floor) out[i] = floor;
  }
  return out;
}

/**
 * torch's power_to_db on float32 mel powers: clamp to amin, log10, ×10, − 10·log10(max(amin, ref)), each
 * step in float32. dsp.as.ts does it with its own log10 and lists the few values whose float32 result its
 * error bound cannot vouch for; those are redone here with Math.log10, so every value is this formula's.
 */
export function decibels(mel: Float32Array, config: Readonly<FrontendConfig>): Float32Array {
  const amin = Math.fround(config.amin);
  const refDb = 10 * Math.log10(Math.max(config.amin, config.ref));
  const dsp = Dsp.get();
  const layout = dsp.layout();
  const input = layout.reserve(Float32Array, mel.length);
  const output = layout.reserve(Float32Array, mel.length);
  const uncertain = layout.reserve(Int32Array, mel.length);
  layout.view(input).set(mel);
  const n = dsp.kernels.decibels(input.offset, mel.length, amin, refDb, output.offset, uncertain.offset);
  const out = layout.view(output).slice();
  const redo = layout.view(uncertain);
  const fround = Math.fround;
  for (let j = 0; j < n; j++) {
    const i = redo[j];
    const db = fround(10 * fround(Math.log10(Math.max(mel[i], amin))));
    out[i] = refDb !== 0 ? fround(db - refDb) : db;
  }
  return out;
}

/** One past the highest STFT bin any mel band reads. */
function binLimit(fb: MelFilterbank): number {
  let limit = 0;
  for (let m = 0; m < fb.nMels; m++) limit = Math.max(limit, fb.start[m] + fb.weights[m].length);
  return limit;
}

/**
 * Mel band powers [frames][nMels] (float32), each Σ power·weight over the band's bins in float64.
 * The FFT and the filterbank run fused in dsp.as.ts (the spectrum never leaves the kernel).
 */
function melPowerFft(x: Float32Array, config: Readonly<FrontendConfig>, fb: MelFilterbank): Float32Array {
  const { kernels } = Dsp.get();
  const bins = binLimit(fb);
  const count = Int32Array.from(fb.weights, (w) => w.length);
  const offset = new Int32Array(fb.nMels);
  for (let m = 1; m < fb.nMels; m++) offset[m] = offset[m - 1] + count[m - 1];
  const weights = new Float64Array(offset[fb.nMels - 1] + count[fb.nMels - 1]);
  fb.weights.forEach((w, m) => weights.set(w, offset[m]));
  const out = new Float32Array(numFrames(x.length, config) * fb.nMels);
  return runFrameKernel(x, config, bins, out, fb.nMels, (c, outOffset, layout) => {
    const regions = [fb.start, count, offset].map((a) => layout.reserve(Int32Array, a.length));
    const w = layout.reserve(Float64Array, weights.length);
    [fb.start, count, offset].forEach((a, i) => layout.view(regions[i]).set(a));
    layout.view(w).set(weights);
    const [start, cnt, off] = regions.map((r) => r.offset);
    kernels.melPower(c.x, c.hop, c.frames, c.n, c.win, c.plan, c.re, c.im, c.pair, bins, fb.nMels, start, cnt, off, w.offset, outOffset);
  });
}

/** melPowerFft with the bit-exact float32 conv STFT (seconds per clip; for parity checks). */
function melPowerReference(x: Float32Array, config: Readonly<FrontendConfig>, fb: MelFilterbank, dftWeights?: DftWeights): Float32Array {
  const bins = (config.nFft >> 1) + 1;
  const frames = numFrames(x.length, config);
  const power = powerSpectrogramReference(x, config, dftWeights, binLimit(fb));
  const out = new Float32Array(frames * fb.nMels);
  for (let f = 0; f < frames; f++) {
    for (let m = 0; m < fb.nMels; m++) {
      const w = fb.weights[m];
      const s = f * bins + fb.start[m];
      let acc = 0;
      for (let k = 0; k < w.length; k++) acc += power[s + k] * w[k];
      out[f * fb.nMels + m] = acc;
    }
  }
  return out;
}
