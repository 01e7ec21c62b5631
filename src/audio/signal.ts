/**
 * Lazy mono signals: the chain source → channel handling → resampling that windows are cut from.
 * Nothing here reads more audio than the requested range needs, so sliding over a long WAV file keeps
 * only the current window (plus the resampling filter's few-sample margin) in memory.
 */
import { MODEL_SAMPLE_RATE } from './constants.js';
import { resampledLength, resampleRange, sincResampleKernel } from './resample.js';
import type { FrameSource } from './source.js';

/** A mono signal with random access. */
export interface Signal {
  readonly length: number;
  /** Samples [start, start+count), 0 ≤ start ≤ start+count ≤ length. May be a view: do not modify. */
  read(start: number, count: number): Float32Array;
}

export function arraySignal(x: Float32Array): Signal {
  return { length: x.length, read: (s, c) => x.subarray(s, s + c) };
}

/** One channel of a source. */
export function channelSignal(source: FrameSource, channel: number): Signal {
  return { length: source.numFrames, read: (s, c) => source.read(s, c)[channel] };
}

/** The average of all channels (float64 sum, then rounded to float32). */
export function meanSignal(source: FrameSource): Signal {
  if (source.numChannels === 1) return channelSignal(source, 0);
  const nc = source.numChannels;
  return {
    length: source.numFrames,
    read(s, c) {
      const chans = source.read(s, c);
      const out = new Float32Array(c);
      for (let i = 0; i < c; i++) {
        let sum = 0;
        for (let ch = 0; ch < nc; ch++) sum += chans[ch][i];
        out[i] = sum / nc;
      }
      return out;
    },
  };
}

/** Signals one after another (msclap's `reshape(-1)` of [channels, frames]). */
export function concatSignals(parts: Signal[]): Signal {
  if (parts.length === 1) return parts[0];
  const starts: number[] = [];
  let length = 0;
  for (const p of parts) {
    starts.push(length);
    length += p.length;
  }
  return {
    length,
    read(s, c) {
      const out = new Float32Array(c);
      for (let i = 0; i < parts.length; i++) {
        const lo = Math.max(s, starts[i]);
        const hi = Math.min(s + c, starts[i] + parts[i].length);
        if (hi > lo) out.set(parts[i].read(lo - starts[i], hi - lo), lo - s);
      }
      return out;
    },
  };
}

/** `signal` resampled from `origFreq` to `newFreq` exactly as torchaudio's Resample, computed on demand. */
export function resampleSignal(signal: Signal, origFreq: number, newFreq: number): Signal {
  if (origFreq === newFreq) return signal;
  const kernel = sincResampleKernel(origFreq, newFreq);
  return {
    length: resampledLength(signal.length, origFreq, newFreq),
    read: (s, c) => resampleRange(kernel, signal, s, c),
  };
}

export type ChannelMode = 'mean' | 'reference';
export const CHANNEL_MODES: readonly ChannelMode[] = ['mean', 'reference'];

/**
 * The mono signal at the model's rate (msclap's 44.1 kHz by default) that windows are cut from.
 * - `'reference'`: every channel resampled on its own, then concatenated (channel 0, then 1, ...), as
 *   msclap's `reshape(-1)` does;
 * - `'mean'`: channels averaged at the source rate, then resampled (resampling is linear, so this equals
 *   averaging after resampling up to float32 rounding, at a fraction of the cost).
 */
export function modelSignal(source: FrameSource, channels: ChannelMode, rate = MODEL_SAMPLE_RATE): Signal {
  const sr = source.sampleRate;
  if (channels === 'mean' || source.numChannels === 1) return resampleSignal(meanSignal(source), sr, rate);
  const parts: Signal[] = [];
  for (let c = 0; c < source.numChannels; c++) parts.push(resampleSignal(channelSignal(source, c), sr, rate));
  return concatSignals(parts);
}
