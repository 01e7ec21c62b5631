/**
 * transformers' own numpy audio functions (`audio_utils.py`), as ClapFeatureExtractor calls them:
 * `mel_filter_bank` (HTK or Slaney scale, optional Slaney area normalisation, FFT bins at
 * `linspace(0, sr // 2, bins)`) and `spectrogram(..., power=2, log_mel="dB")`. Unlike torchlibrosa's
 * front end, everything after the FFT is float64 (filters, mel sums, log) and only the result is float32.
 */
import { linspace } from './mel.js';
import { powerSpectrogramFft } from './stft.js';

export type MelScale = 'htk' | 'slaney';

export interface HfMelFilterConfig {
  /** FFT bins (n_fft/2 + 1). */
  nBins: number;
  nMels: number;
  fmin: number;
  fmax: number;
  sampleRate: number;
  scale: MelScale;
  /** `'slaney'`: divide each triangle by its width in Hz (area normalisation); null: peak 1. */
  norm: 'slaney' | null;
}

const SLANEY_LOGSTEP = Math.log(6.4) / 27;

/** `hertz_to_mel` (same float64 operations). */
export function hertzToMel(f: number, scale: MelScale): number {
  if (scale === 'htk') return 2595.0 * Math.log10(1.0 + f / 700.0);
  const mels = (3.0 * f) / 200.0;
  return f >= 1000.0 ? 15.0 + Math.log(f / 1000.0) * (27.0 / Math.log(6.4)) : mels;
}

/** `mel_to_hertz`. */
export function melToHertz(m: number, scale: MelScale): number {
  if (scale === 'htk') return 700.0 * (10 ** (m / 2595.0) - 1.0);
  const f = (200.0 * m) / 3.0;
  return m >= 15.0 ? 1000.0 * Math.exp(SLANEY_LOGSTEP * (m - 15.0)) : f;
}

/** `mel_filter_bank(...)`: float64 [nBins][nMels] (transformers' layout: a spectrogram row times it gives mels). */
export function hfMelFilterBank(cfg: HfMelFilterConfig): Float64Array {
  const { nBins, nMels, scale } = cfg;
  if (cfg.fmin > cfg.fmax) throw new RangeError(`mel filters: fmin ${cfg.fmin} > fmax ${cfg.fmax}`);
  const melFreqs = linspace(hertzToMel(cfg.fmin, scale), hertzToMel(cfg.fmax, scale), nMels + 2);
  const ff = melFreqs.map((m) => melToHertz(m, scale));
  const fftFreqs = linspace(0, Math.floor(cfg.sampleRate / 2), nBins);
  const out = new Float64Array(nBins * nMels);
  for (let k = 0; k < nBins; k++) {
    for (let i = 0; i < nMels; i++) {
      const down = -(ff[i] - fftFreqs[k]) / (ff[i + 1] - ff[i]);
      const up = (ff[i + 2] - fftFreqs[k]) / (ff[i + 2] - ff[i + 1]);
      let w = Math.max(0, Math.min(down, up));
      if (cfg.norm === 'slaney') w *= 2.0 / (ff[i + 2] - ff[i]);
      out[k * nMels + i] = w;
    }
  }
  return out;
}

export interface HfLogMelConfig {
  nFft: number;
  hopLength: number;
}

/**
 * `spectrogram(x, window_function(n_fft, "hann"), frame_length=n_fft, hop_length, power=2.0,
 * mel_filters, log_mel="dB")`, transposed to time-major [frames][nMels] float32: reflect padding of
 * n_fft/2, periodic Hann, |rfft|², `max(1e-10, power · filters)`, `10·log10(max(x, 1e-10))`, no top_db.
 *
 * The reference stores the FFT in complex64 before squaring; the float64 spectrum used here differs
 * by ~1e-7 relative (~5e-7 dB), far below the fixtures' tolerance.
 */
export function hfLogMel(x: Float32Array, filters: Float64Array, cfg: HfLogMelConfig): Float32Array {
  const bins = (cfg.nFft >> 1) + 1;
  const nMels = filters.length / bins;
  if (!Number.isInteger(nMels)) throw new RangeError(`mel filters of ${filters.length} values do not fit ${bins} FFT bins`);
  const power = powerSpectrogramFft(x, { nFft: cfg.nFft, hopLength: cfg.hopLength, winLength: cfg.nFft, center: true });
  const frames = power.length / bins;
  // Each filter is zero outside one run of bins: visit only that run.
  const first = new Int32Array(nMels).fill(bins);
  const last = new Int32Array(nMels).fill(-1);
  for (let k = 0; k < bins; k++) {
    for (let m = 0; m < nMels; m++) {
      if (filters[k * nMels + m] !== 0) {
        first[m] = Math.min(first[m], k);
        last[m] = k;
      }
    }
  }
  const out = new Float32Array(frames * nMels);
  for (let f = 0; f < frames; f++) {
    const row = f * bins;
    for (let m = 0; m < nMels; m++) {
      let acc = 0;
      for (let k = first[m]; k <= last[m]; k++) acc += power[row + k] * filters[k * nMels + m];
      out[f * nMels + m] = 10.0 * Math.log10(Math.max(acc, 1e-10));
    }
  }
  return out;
}
