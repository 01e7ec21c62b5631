/** Input → model windows (7 s at 44.1 kHz for msclap 2023) → log-mel, the whole audio path up to the model. */
import { MODEL_SAMPLE_RATE, WINDOW_SAMPLES } from './constants.js';
import { openAudio, type AudioInput, type DecodeOptions } from './decode.js';
import { logMel, REFERENCE_FRONTEND, type FrontendConfig } from './logmel.js';
import { modelSignal, type ChannelMode } from './signal.js';
import { WINDOW_DEFAULTS, windowsOf, type AudioWindow, type WindowOptions } from './window.js';
import { encodeWav } from './wav.js';

export interface LoadAudioOptions extends DecodeOptions, WindowOptions {
  /**
   * How several channels become the model's mono signal.
   * - `'mean'` (default): average them. msclap itself (`'reference'`) concatenates the channels, so a
   *   stereo 7 s window holds the first 3.5 s of the left channel followed by the first 3.5 s of the
   *   right: half the content, a jump in the middle, and window times that no longer match the file.
   *   Averaging keeps time aligned; mono files give identical results either way.
   * - `'reference'`: msclap's `reshape(-1)` — channel 0 resampled, then channel 1, ... — for parity.
   *   Offsets, times and `cropOffset` then index that concatenation.
   */
  channels?: ChannelMode;
}

/** What loading does when an option is left out (the CLI's help shows these). */
export const AUDIO_DEFAULTS = { ...WINDOW_DEFAULTS, channels: 'mean' } as const;

export interface AudioInfo {
  /** The file's own sample rate and channel count. */
  sourceSampleRate: number;
  channels: number;
  /** Duration of the source, seconds. */
  durationS: number;
  /** Length of the model-rate mono signal the windows are cut from (after channel handling). */
  signalLength: number;
}

export interface LoadedAudio extends AudioInfo {
  /** Windows at the model's rate (308700 samples at 44.1 kHz for msclap 2023). */
  windows: Float32Array[];
  /** Window start times, seconds (offset / 44100). */
  starts: number[];
  /** End of the real audio in each window, seconds. */
  ends: number[];
  /** Window start offsets in samples at the model's rate. */
  offsets: number[];
  /** Tiling factor of each window (1 = a plain crop). */
  repeats: number[];
}

export interface AudioStream extends AudioInfo {
  /**
   * The windows, computed one at a time: for WAV input only the current window's stretch of the file
   * is read and resampled, so a 2-hour file in sliding mode stays within a few MB. (Compressed inputs
   * are decoded into memory first — see codecs.ts.)
   */
  windows(): Generator<AudioWindow>;
  /** Releases the file. Idempotent; also called when `windows()` runs to completion. */
  close(): void;
}

/** Opens an input for windowing. */
export async function openAudioStream(input: AudioInput, options: LoadAudioOptions = {}): Promise<AudioStream> {
  const source = await openAudio(input, options);
  const signal = modelSignal(source, options.channels ?? AUDIO_DEFAULTS.channels, options.shape?.sampleRate);
  let closed = false;
  const close = (): void => {
    if (!closed) {
      closed = true;
      source.close();
    }
  };
  return {
    sourceSampleRate: source.sampleRate,
    channels: source.numChannels,
    durationS: source.numFrames / source.sampleRate,
    signalLength: signal.length,
    *windows() {
      try {
        yield* windowsOf(signal, options);
      } finally {
        close();
      }
    },
    close,
  };
}

/** Decodes, resamples and windows an input (msclap's `load_audio_into_tensor`, one window unless sliding). */
export async function loadAudio(input: AudioInput, options: LoadAudioOptions = {}): Promise<LoadedAudio> {
  const stream = await openAudioStream(input, options);
  const out: LoadedAudio = {
    sourceSampleRate: stream.sourceSampleRate,
    channels: stream.channels,
    durationS: stream.durationS,
    signalLength: stream.signalLength,
    windows: [],
    starts: [],
    ends: [],
    offsets: [],
    repeats: [],
  };
  try {
    for (const w of stream.windows()) {
      out.windows.push(w.samples);
      out.starts.push(w.startS);
      out.ends.push(w.endS);
      out.offsets.push(w.offset);
      out.repeats.push(w.repeats);
    }
  } finally {
    stream.close();
  }
  return out;
}

/**
 * A whole input as one mono signal at `sampleRate` (channels averaged, then resampled): what Hugging Face
 * CLAP's feature extractor is given, which cuts and pads by itself. WAV samples are read as soundfile
 * reads them unless `wavReading` says otherwise.
 */
export async function loadMonoWaveform(input: AudioInput, sampleRate: number, options: DecodeOptions = {}): Promise<LoadedWaveform> {
  const source = await openAudio(input, { wavReading: 'soundfile', ...options });
  try {
    const signal = modelSignal(source, 'mean', sampleRate);
    return {
      waveform: signal.read(0, signal.length).slice(),
      sourceSampleRate: source.sampleRate,
      channels: source.numChannels,
      durationS: source.numFrames / source.sampleRate,
      signalLength: signal.length,
    };
  } finally {
    source.close();
  }
}

export interface LoadedWaveform extends AudioInfo {
  /** The whole input, mono, at the requested rate. */
  waveform: Float32Array;
}

export interface AudioToLogMelOptions extends LoadAudioOptions {
  frontend?: Readonly<FrontendConfig>;
}

/** decode + resample + window + log-mel: what the benchmark times. Each log-mel is [965][64]. */
export async function audioToLogMel(
  input: AudioInput,
  options: AudioToLogMelOptions = {},
): Promise<{ logmels: Float32Array[]; audio: LoadedAudio }> {
  const audio = await loadAudio(input, options);
  const frontend = options.frontend ?? REFERENCE_FRONTEND;
  return { logmels: audio.windows.map((w) => logMel(w, frontend)), audio };
}

/**
 * A deterministic synthetic WAV for benchmarks and tests: a chirp plus a tone plus pseudo-random
 * noise, `channels` channels of 16-bit PCM.
 */
export function synthWav(sampleRate: number, seconds = WINDOW_SAMPLES / MODEL_SAMPLE_RATE, channels = 1): Uint8Array {
  const n = Math.round(sampleRate * seconds);
  let state = 0x12345678;
  const noise = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return ((state >>> 0) / 4294967296 - 0.5) * 0.05;
  };
  const chans = Array.from({ length: channels }, (_, c) => {
    const x = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const t = i / sampleRate;
      x[i] = 0.3 * Math.sin(2 * Math.PI * (200 * t + 400 * t * t)) + 0.2 * Math.sin(2 * Math.PI * (440 + 110 * c) * t) + noise();
    }
    return x;
  });
  return encodeWav(chans, sampleRate, 'pcm16');
}
