/**
 * Hugging Face `ClapFeatureExtractor` (transformers 4.44, LAION CLAP's audio input): a 48 kHz mono
 * waveform → `input_features` [channels][1001][64] log-mel dB and `is_longer`.
 *
 * - Up to 10 s (480000 samples; exactly 10 s is neither cut nor padded): `repeatpad` tiles the clip
 *   `floor(480000 / len)` times and zero-pads the rest (`repeat` tiles and cuts, `pad` only pads).
 * - `rand_trunc` (unfused models), longer: a 10 s crop of the waveform, `is_longer` true. Mel filters:
 *   Slaney scale and area normalisation — on every `rand_trunc` path.
 * - `fusion` (fused models), longer: the log-mel of the whole clip with HTK-scale, unnormalised filters;
 *   four channels: the whole mel shrunk to 1001 frames (torch bilinear), then 1001-frame chunks from the
 *   front, middle and back third of the possible starts; `is_longer` true. A clip under 10 s + one hop
 *   has exactly 1001 frames: four copies, `is_longer` false. Shorter clips: the padded clip's (HTK) mel
 *   four times, `is_longer` false.
 *
 * Random choices: the reference draws crop offsets and chunk starts from numpy's global generator and,
 * in a fused call where no clip is long, marks one random clip `is_longer` (so a lone short clip always
 * goes through the fusion branch and its embedding depends on the batch). The default here is
 * deterministic — crop at the start, the middle start of each third, no marking (each clip on its own,
 * as laion_clap's inference does) — and `rng` (a seeded NumpyRandomState) replays the reference's draws.
 */
import { ClapError } from '../errors.js';
import { hfLogMel, hfMelFilterBank, type MelScale } from './hf-mel.js';
import { NumpyRandomState } from './numpy-random.js';
import type { CropMode, WindowOptions } from './window.js';

export type ClapTruncation = 'rand_trunc' | 'fusion';
export type ClapPadding = 'repeatpad' | 'repeat' | 'pad';

/** The extractor's settings (preprocessor_config.json, camelCase). */
export interface ClapFeatureExtractorConfig {
  samplingRate: number;
  hopLength: number;
  fftWindowSize: number;
  /** Mel bins. */
  featureSize: number;
  frequencyMin: number;
  frequencyMax: number;
  maxLengthS: number;
  truncation: ClapTruncation;
  padding: ClapPadding;
}

/** laion/clap-htsat-unfused's preprocessor_config.json. */
export const LAION_UNFUSED_EXTRACTOR: Readonly<ClapFeatureExtractorConfig> = Object.freeze({
  samplingRate: 48000,
  hopLength: 480,
  fftWindowSize: 1024,
  featureSize: 64,
  frequencyMin: 50,
  frequencyMax: 14000,
  maxLengthS: 10,
  truncation: 'rand_trunc',
  padding: 'repeatpad',
});

/** laion/clap-htsat-fused's. */
export const LAION_FUSED_EXTRACTOR: Readonly<ClapFeatureExtractorConfig> = Object.freeze({
  ...LAION_UNFUSED_EXTRACTOR,
  truncation: 'fusion',
});

/** A preprocessor_config.json that `clapFeatureExtractorConfigFromJson` (and transformers) reads back as `c`. */
export function clapFeatureExtractorConfigToJson(c: Readonly<ClapFeatureExtractorConfig>): Record<string, unknown> {
  return {
    feature_extractor_type: 'ClapFeatureExtractor',
    sampling_rate: c.samplingRate,
    hop_length: c.hopLength,
    fft_window_size: c.fftWindowSize,
    feature_size: c.featureSize,
    frequency_min: c.frequencyMin,
    frequency_max: c.frequencyMax,
    max_length_s: c.maxLengthS,
    truncation: c.truncation,
    padding: c.padding,
    top_db: null,
  };
}

/** Reads preprocessor_config.json's keys (missing ones: transformers' ClapFeatureExtractor defaults). */
export function clapFeatureExtractorConfigFromJson(
  j: Record<string, unknown>,
  subject = 'preprocessor_config.json',
): ClapFeatureExtractorConfig {
  const num = (key: string, d: number): number => {
    const v = j[key] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0)
      throw new ClapError(`${key} must be a non-negative number, got ${JSON.stringify(v)}`, { subject });
    return v;
  };
  const oneOf = <T extends string>(key: string, d: T, allowed: readonly T[]): T => {
    const v = j[key] ?? d;
    if (!allowed.includes(v as T)) throw new ClapError(`${key} ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`, { subject });
    return v as T;
  };
  if (j.top_db !== undefined && j.top_db !== null) throw new ClapError('top_db is not supported (CLAP uses none)', { subject });
  const cfg: ClapFeatureExtractorConfig = {
    samplingRate: num('sampling_rate', 48000),
    hopLength: num('hop_length', 480),
    fftWindowSize: num('fft_window_size', 1024),
    featureSize: num('feature_size', 64),
    // transformers' default frequency_min is 0; the hub's files say 50.
    frequencyMin: num('frequency_min', 0),
    frequencyMax: num('frequency_max', 14000),
    maxLengthS: num('max_length_s', 10),
    truncation: oneOf('truncation', 'fusion', ['rand_trunc', 'fusion'] as const),
    padding: oneOf('padding', 'repeatpad', ['repeatpad', 'repeat', 'pad'] as const),
  };
  if (!Number.isInteger(cfg.samplingRate) || !Number.isInteger(cfg.hopLength) || cfg.hopLength < 1) {
    throw new ClapError('sampling_rate and hop_length must be positive integers', { subject });
  }
  if (cfg.fftWindowSize < 8 || (cfg.fftWindowSize & (cfg.fftWindowSize - 1)) !== 0) {
    throw new ClapError(`fft_window_size ${cfg.fftWindowSize} is not a power of two`, { subject });
  }
  return cfg;
}

export interface ClapFeatures {
  /** [channels][frames][mels] log-mel dB, frames = 10 s / hop + 1 (1001). */
  features: Float32Array;
  /** 1 (`rand_trunc`) or 4 (`fusion`). */
  channels: number;
  isLonger: boolean;
  /** Where the 10 s crop starts (`rand_trunc` on a longer clip), in samples at 48 kHz. */
  cropOffset?: number;
  /** Start frames of the front / middle / back chunks (`fusion` on a longer clip). */
  fusionStarts?: [number, number, number];
}

export interface ClapExtractOptions {
  /**
   * `rand_trunc` crop of a longer clip: `'start'` (default), `'center'`, or `'random'` (needs `rng`).
   * An explicit `cropOffset` (samples, in [0, len − 480000]) wins.
   */
  crop?: CropMode;
  cropOffset?: number;
  /** `fusion` chunk starts (frames, each in its third's range); default: each third's middle start. */
  fusionStarts?: [number, number, number];
  /** Replays the reference: crops, chunk starts (and, in a batch, the marked clip) drawn as it draws them. */
  rng?: NumpyRandomState;
}

export class ClapFeatureExtractor {
  readonly config: Readonly<ClapFeatureExtractorConfig>;
  /** 480000 for 10 s at 48 kHz. */
  readonly maxSamples: number;
  /** 1001: frames of a 10 s window. */
  readonly chunkFrames: number;
  private readonly filters: Float64Array;

  constructor(config: Readonly<ClapFeatureExtractorConfig> = LAION_UNFUSED_EXTRACTOR) {
    this.config = config;
    this.maxSamples = Math.round(config.maxLengthS * config.samplingRate);
    this.chunkFrames = Math.floor(this.maxSamples / config.hopLength) + 1;
    const scale: MelScale = config.truncation === 'fusion' ? 'htk' : 'slaney';
    this.filters = hfMelFilterBank({
      nBins: (config.fftWindowSize >> 1) + 1,
      nMels: config.featureSize,
      fmin: config.frequencyMin,
      fmax: config.frequencyMax,
      sampleRate: config.samplingRate,
      scale,
      norm: scale === 'slaney' ? 'slaney' : null,
    });
  }

  get channels(): number {
    return this.config.truncation === 'fusion' ? 4 : 1;
  }

  /** The log-mel of a waveform with this extractor's filters, time-major [frames][mels]. */
  logMel(waveform: Float32Array): Float32Array {
    return hfLogMel(waveform, this.filters, { nFft: this.config.fftWindowSize, hopLength: this.config.hopLength });
  }

  /** One clip, as `_get_input_mel` (no batch-level marking: see {@link extractBatch}). */
  extract(waveform: Float32Array, options: ClapExtractOptions = {}): ClapFeatures {
    const n = waveform.length;
    if (n === 0) throw new ClapError('audio has zero samples', { subject: 'audio' });
    const max = this.maxSamples;
    if (n > max && this.config.truncation === 'rand_trunc') {
      const cropOffset = this.cropOffset(n, options);
      const features = this.logMel(waveform.subarray(cropOffset, cropOffset + max));
      return { features, channels: 1, isLonger: true, cropOffset };
    }
    const mel = this.wholeClipLogMel(waveform);
    const total = mel.length / this.config.featureSize;
    if (this.config.truncation !== 'fusion') return { features: mel, channels: 1, isLonger: false };
    if (total === this.chunkFrames) return { features: this.repeat4(mel), channels: 4, isLonger: false };
    const fusionStarts = this.fusionStarts(total, options);
    return { features: this.fuse(mel, total, fusionStarts), channels: 4, isLonger: true, fusionStarts };
  }

  /**
   * The log-mel a clip's input is cut from: the padded clip's (`chunkFrames` frames) when it is at most
   * max_length_s, else the whole clip's — what `fusion` shrinks and chunks (`rand_trunc` crops the waveform
   * instead; training crops this one's frames).
   */
  wholeClipLogMel(waveform: Float32Array): Float32Array {
    if (waveform.length === 0) throw new ClapError('audio has zero samples', { subject: 'audio' });
    return this.logMel(waveform.length > this.maxSamples ? waveform : this.pad(waveform));
  }

  /**
   * One clip as the library embeds it (Node and the browser build): cropped at `cropOffset` or by `crop`;
   * `crop: 'random'` replays the reference's `np.random.seed(seed); feature_extractor([clip])` (a fused
   * extractor's is_longer marking included), with a seed drawn here when none is given.
   */
  extractClip(waveform: Float32Array, options: Pick<WindowOptions, 'crop' | 'cropOffset' | 'seed'> = {}): ClapFeatures {
    if (options.crop !== 'random') return this.extract(waveform, { crop: options.crop, cropOffset: options.cropOffset });
    const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32);
    if (typeof seed !== 'number' || !Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
      throw new ClapError(`seed must be an integer in [0, 2^32) for a Hugging Face model (numpy's), got ${String(seed)}`, {
        subject: 'seed',
      });
    }
    return this.extractBatch([waveform], { rng: new NumpyRandomState(seed) })[0];
  }

  /**
   * Several clips in one call, as `feature_extractor([clip, ...])`: with `rng`, a fused extractor whose
   * clips are all short marks one of them (`randint(0, n)`) `is_longer`, as the reference does.
   */
  extractBatch(waveforms: readonly Float32Array[], options: Omit<ClapExtractOptions, 'cropOffset' | 'fusionStarts'> = {}): ClapFeatures[] {
    const out = waveforms.map((w) => this.extract(w, options));
    if (options.rng && this.config.truncation === 'fusion' && out.length > 0 && out.every((f) => !f.isLonger)) {
      out[options.rng.randint(0, out.length)].isLonger = true;
    }
    return out;
  }

  private pad(waveform: Float32Array): Float32Array {
    const max = this.maxSamples;
    const n = waveform.length;
    if (n === max) return waveform;
    const out = new Float32Array(max);
    const { padding } = this.config;
    // repeatpad: floor(max / n) copies then zeros; repeat: floor(max / n) + 1 copies cut to max; pad: zeros.
    const copies = padding === 'pad' ? 1 : padding === 'repeatpad' ? Math.floor(max / n) : Math.floor(max / n) + 1;
    for (let c = 0; c < copies; c++) out.set(waveform.subarray(0, Math.min(n, max - c * n)), c * n);
    return out;
  }

  private cropOffset(n: number, options: ClapExtractOptions): number {
    const overflow = n - this.maxSamples;
    if (options.cropOffset !== undefined) {
      const o = options.cropOffset;
      if (!Number.isInteger(o) || o < 0 || o > overflow) {
        throw new ClapError(`cropOffset ${o} is outside [0, ${overflow}] for ${n} samples at ${this.config.samplingRate / 1000} kHz`, {
          subject: 'cropOffset',
        });
      }
      return o;
    }
    if (options.rng) return options.rng.randint(0, overflow + 1);
    switch (options.crop ?? 'start') {
      case 'start':
        return 0;
      case 'center':
        return Math.floor(overflow / 2);
      case 'random':
        throw new ClapError("crop 'random' needs a seeded generator (rng)", { subject: 'crop' });
      default:
        throw new ClapError(`unknown crop mode ${String(options.crop)} (expected start, center or random)`, { subject: 'crop' });
    }
  }

  /** The fusion chunks' possible starts: `np.array_split(range(0, total − 1001 + 1), 3)`, empty middle/back thirds → [0]. */
  fusionThirds(total: number): number[][] {
    const count = total - this.chunkFrames + 1;
    const base = Math.floor(count / 3);
    const extra = count % 3;
    const thirds: number[][] = [];
    let start = 0;
    for (let k = 0; k < 3; k++) {
      const len = base + (k < extra ? 1 : 0);
      thirds.push(len === 0 ? [0] : Array.from({ length: len }, (_, i) => start + i));
      start += len;
    }
    return thirds;
  }

  /** One start per third (fusionThirds). */
  private fusionStarts(total: number, options: ClapExtractOptions): [number, number, number] {
    const thirds = this.fusionThirds(total);
    if (options.fusionStarts) {
      options.fusionStarts.forEach((s, k) => {
        if (!thirds[k].includes(s)) {
          throw new ClapError(`fusion start ${s} of chunk ${k} is outside [${thirds[k][0]}, ${thirds[k].at(-1)}]`, {
            subject: 'fusionStarts',
          });
        }
      });
      return [...options.fusionStarts];
    }
    const rng = options.rng;
    return thirds.map((t) => (rng ? rng.choice(t) : t[Math.floor((t.length - 1) / 2)])) as [number, number, number];
  }

  /** The four fused channels of a [total][mels] mel: [shrunk whole mel, front, middle, back chunk at `starts`]. */
  fuse(mel: Float32Array, total: number, starts: readonly number[]): Float32Array {
    const M = this.config.featureSize;
    const F = this.chunkFrames;
    const out = new Float32Array(4 * F * M);
    out.set(bilinearShrink(mel, total, F, M), 0);
    starts.forEach((s, k) => {
      out.set(mel.subarray(s * M, (s + F) * M), (k + 1) * F * M);
    });
    return out;
  }

  /** Four copies of a [1001][mels] mel (a fused model's input for a clip of at most 10 s + one hop). */
  repeat4(mel: Float32Array): Float32Array {
    const out = new Float32Array(4 * mel.length);
    for (let c = 0; c < 4; c++) out.set(mel, c * mel.length);
    return out;
  }
}

/**
 * `F.interpolate(mel[None, None], size=[outFrames, mels], mode="bilinear", align_corners=False)` of a
 * time-major [inFrames][mels] array: the mel axis keeps its size (weights 1, 0), the time axis takes
 * two taps at source position `(t + 0.5)·scale − 0.5` (clamped at 0). As PyTorch's CPU kernel: the scale
 * `in/out` in float32, the position and weights in double (its accumulate type), float32 weights; the
 * fixtures agree to one float32 ulp (a plain float32 position is up to 6e-5 off in the weight).
 */
export function bilinearShrink(mel: Float32Array, inFrames: number, outFrames: number, mels: number): Float32Array {
  const f = Math.fround;
  const scale = f(inFrames / outFrames);
  const out = new Float32Array(outFrames * mels);
  for (let t = 0; t < outFrames; t++) {
    const src = Math.max(scale * (t + 0.5) - 0.5, 0);
    const i0 = Math.min(Math.floor(src), inFrames - 1);
    const i1 = i0 < inFrames - 1 ? i0 + 1 : i0;
    const l1 = f(src - i0);
    const l0 = f(1 - (src - i0));
    for (let m = 0; m < mels; m++) out[t * mels + m] = l0 * mel[i0 * mels + m] + l1 * mel[i1 * mels + m];
  }
  return out;
}
