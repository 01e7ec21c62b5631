/**
 * msclap's fixed input (`CLAPWrapper.load_audio_into_tensor`, l.233–248) and a sliding variant. The
 * window is 7 s at 44.1 kHz for msclap 2023 (the default {@link MSCLAP_2023_WINDOW}), 5 s for 2022.
 *
 * - signal ≤ window (308700 samples for 2023): tiled `ceil(window / len)` times and cut to the window
 *   (exactly one window → factor 1) — msclap repeats, it does not zero-pad;
 * - longer: one crop. msclap takes `random.randrange(len − window)` (so the last possible offset is
 *   never chosen); here the default is the deterministic `'start'`, with `'center'`, `'random'`
 *   (Python-identical generator, seedable) or an explicit `cropOffset`;
 * - `sliding`: every window on a hop grid, for long recordings.
 */
import { ClapError } from '../errors.js';
import { MODEL_SAMPLE_RATE, WINDOW_SAMPLES } from './constants.js';
import { PyRandom } from './pyrandom.js';
import type { Signal } from './signal.js';

export type CropMode = 'start' | 'center' | 'random';
export const CROP_MODES: readonly CropMode[] = ['start', 'center', 'random'];

/** A model's input window: its sample rate and length in samples. */
export interface WindowShape {
  sampleRate: number;
  samples: number;
}

/** msclap 2023: 7 s at 44.1 kHz. */
export const MSCLAP_2023_WINDOW: Readonly<WindowShape> = Object.freeze({ sampleRate: MODEL_SAMPLE_RATE, samples: WINDOW_SAMPLES });

/** What to do with audio after the last full window in sliding mode. */
export type SlidingTail = 'tile' | 'end' | 'drop';

export interface SlidingOptions {
  /** Hop between window starts, seconds (default: the window's length, windows touch without overlap). */
  hopS?: number;
  /**
   * The part after the last full window, when at least `minTailS` long:
   * - `'tile'` (default): one more window at the next hop position holding the rest, tiled like msclap
   *   tiles a short clip (so it looks like what the model was trained on, not like zero padding);
   * - `'end'`: one more full window aligned to the end of the signal (overlaps the previous one);
   * - `'drop'`: ignored.
   */
  tail?: SlidingTail;
  /** Tails shorter than this are dropped (default 1 s). */
  minTailS?: number;
}

/** What windowing does when an option is left out (the CLI's help shows these). */
export const WINDOW_DEFAULTS = {
  crop: 'start',
  /** Windows touch, no overlap. */
  hopS: WINDOW_SAMPLES / MODEL_SAMPLE_RATE,
  tail: 'tile',
  minTailS: 1,
} as const;

export interface WindowOptions {
  /**
   * Which 7 s a longer signal is cut to when not sliding. Default `'start'` (deterministic; msclap
   * itself picks a random offset — use `'random'` with `seed` to reproduce it).
   */
  crop?: CropMode;
  /** Explicit crop offset in samples at the model's rate after channel handling (overrides `crop`). */
  cropOffset?: number;
  /** Seed for `'random'` (Python `random.seed` semantics: msclap's offset for `random.seed(s)`). */
  seed?: number | bigint;
  /** Emit every window instead of one crop (`true` = defaults of SlidingOptions). */
  sliding?: boolean | SlidingOptions;
  /** The model's window (default msclap 2023's 7 s at 44.1 kHz). */
  shape?: Readonly<WindowShape>;
}

export interface AudioWindow {
  /** One window of samples at the model's rate (308700 at 44.1 kHz for msclap 2023). */
  samples: Float32Array;
  /** Position in the window sequence (0-based). */
  index: number;
  /** First sample of the window in the model-rate signal (see `channels` for what that signal is). */
  offset: number;
  /** offset / sample rate. */
  startS: number;
  /** End of the real audio the window holds, seconds (< startS + window length for a tiled window). */
  endS: number;
  /** How many times the content was repeated to fill the window (1 = a plain crop). */
  repeats: number;
}

/** `ceil(length / len)` repeats of x, cut to `length` (msclap's pad branch). */
export function tileToLength(x: Float32Array, length = WINDOW_SAMPLES): Float32Array {
  if (x.length === 0) throw new RangeError('cannot tile an empty signal');
  if (x.length === length) return x.slice();
  const out = new Float32Array(length);
  for (let o = 0; o < length; o += x.length) out.set(x.subarray(0, Math.min(x.length, length - o)), o);
  return out;
}

function makeWindow(signal: Signal, offset: number, index: number, shape: Readonly<WindowShape>): AudioWindow {
  const available = signal.length - offset;
  const n = Math.min(available, shape.samples);
  const content = signal.read(offset, n);
  const samples = n === shape.samples ? content.slice() : tileToLength(content, shape.samples);
  return {
    samples,
    index,
    offset,
    startS: offset / shape.sampleRate,
    endS: (offset + n) / shape.sampleRate,
    repeats: Math.ceil(shape.samples / n),
  };
}

/** `48 kHz`, `44.1 kHz`: a sample rate as people write it. */
export function khz(rate: number): string {
  return `${Number((rate / 1000).toFixed(3))} kHz`;
}

/** The crop offset msclap-style windowing takes for a signal of `length` samples (longer than the window). */
export function cropOffsetFor(length: number, options: WindowOptions, name = 'cropOffset'): number {
  const shape = options.shape ?? MSCLAP_2023_WINDOW;
  const span = length - shape.samples;
  if (options.cropOffset !== undefined) {
    const o = options.cropOffset;
    if (!Number.isInteger(o) || o < 0 || o > span) {
      throw new ClapError(`cropOffset ${o} is outside [0, ${span}] for ${length} samples at ${khz(shape.sampleRate)}`, { subject: name });
    }
    return o;
  }
  switch (options.crop ?? WINDOW_DEFAULTS.crop) {
    case 'start':
      return 0;
    case 'center':
      return Math.floor(span / 2);
    case 'random': {
      if (options.seed !== undefined && typeof options.seed === 'number' && !Number.isInteger(options.seed)) {
        throw new ClapError(`seed must be an integer (got ${options.seed})`, { subject: 'seed' });
      }
      const seed = options.seed ?? BigInt(Math.floor(Math.random() * 2 ** 52));
      return new PyRandom(seed).randrange(span);
    }
    default:
      throw new ClapError(`unknown crop mode ${String(options.crop)} (expected start, center or random)`, { subject: 'crop' });
  }
}

function slidingOptions(s: WindowOptions['sliding'], shape: Readonly<WindowShape>): Required<SlidingOptions> | null {
  if (!s) return null;
  const o = s === true ? {} : s;
  // The window's own length (WINDOW_DEFAULTS.hopS for msclap 2023's 7 s).
  const hopS = o.hopS ?? shape.samples / shape.sampleRate;
  if (!(hopS > 0) || !Number.isFinite(hopS))
    throw new ClapError(`hop must be a positive number of seconds (got ${hopS})`, { subject: 'hopS' });
  const tail = o.tail ?? WINDOW_DEFAULTS.tail;
  if (tail !== 'tile' && tail !== 'end' && tail !== 'drop') throw new ClapError(`unknown tail mode ${String(tail)}`, { subject: 'tail' });
  return { hopS, tail, minTailS: o.minTailS ?? WINDOW_DEFAULTS.minTailS };
}

/**
 * The windows of a model-rate signal, produced lazily (each reads only its own range of the signal).
 * Without `sliding` this yields exactly one window, msclap's.
 */
export function* windowsOf(signal: Signal, options: WindowOptions = {}): Generator<AudioWindow> {
  const shape = options.shape ?? MSCLAP_2023_WINDOW;
  const W = shape.samples;
  const n = signal.length;
  if (n === 0) throw new ClapError('audio has zero samples', { subject: 'audio' });
  const sliding = slidingOptions(options.sliding, shape);
  if (n <= W) {
    yield makeWindow(signal, 0, 0, shape);
    return;
  }
  if (!sliding) {
    yield makeWindow(signal, cropOffsetFor(n, options), 0, shape);
    return;
  }
  const hop = Math.max(1, Math.round(sliding.hopS * shape.sampleRate));
  let index = 0;
  let offset = 0;
  for (; offset + W <= n; offset += hop) yield makeWindow(signal, offset, index++, shape);
  const lastEnd = offset - hop + W;
  const rest = n - lastEnd;
  // `rest` is the audio no window covers yet; with a hop longer than the window the next start may be past it.
  if (rest <= 0 || rest < sliding.minTailS * shape.sampleRate) return;
  if (sliding.tail === 'tile' && offset < n) yield makeWindow(signal, offset, index, shape);
  else if (sliding.tail === 'end') yield makeWindow(signal, n - W, index, shape);
}
