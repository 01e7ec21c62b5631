/**
 * Audio in the page → the exported audio model's input, by the library's own code: our decoders (WAV, Sun
 * .au, FLAC, Ogg Vorbis/Opus, MP3, Layer II) for files, the page's decodeAudioData only for other formats; our
 * torchaudio-exact resampler, then msclap's tiling/cropping (msclap 2023, 2022: a waveform window) or Hugging
 * Face's ClapFeatureExtractor (log-mel features and is_longer), as clap-export.json's audio section states them.
 */
import { ClapError } from '../errors.js';
import { BufferReader, type ByteReader } from '../audio/bytes.js';
import { openEncoded } from '../audio/decode-bytes.js';
import { type FrameSource, MemorySource } from '../audio/source.js';
import { modelSignal } from '../audio/signal.js';
import { ClapFeatureExtractor } from '../audio/clap-feature-extractor.js';
import type { WavReading } from '../audio/pcm.js';
import { type WindowOptions, windowsOf } from '../audio/window.js';
import { type AudioSpec, type ClapFeatureExtractorSpec, extractorConfigOf } from '../tasks/clap-export.js';

/** Raw samples: one Float32Array (mono) or one per channel, at `sampleRate`. */
export interface SamplesInput {
  samples: Float32Array | Float32Array[];
  sampleRate: number;
  /** What results and errors call it (default `audio[i]`). */
  name?: string;
}

/**
 * A File or Blob (an encoded file), its bytes, an AudioBuffer (already decoded — by the browser, which has
 * resampled it to its context's rate) or raw samples.
 */
export type WebAudioInput = Blob | ArrayBuffer | Uint8Array | AudioBuffer | SamplesInput;

/** Where a longer clip is cropped (default its start; 'random' with `seed` replays the reference's draw). */
export type WebWindowOptions = Pick<WindowOptions, 'crop' | 'cropOffset' | 'seed'>;

/** What results and errors call input `i`. */
export function inputName(input: WebAudioInput, i: number): string {
  if (typeof File !== 'undefined' && input instanceof File) return input.name;
  if (!(input instanceof ArrayBuffer) && 'name' in input && typeof input.name === 'string') return input.name;
  return `audio[${i}]`;
}

const isAudioBuffer = (x: unknown): x is AudioBuffer => typeof AudioBuffer !== 'undefined' && x instanceof AudioBuffer;

/** Formats our decoders do not read: the page's decodeAudioData, straight to the model's rate. */
function browserFallback(rate: number) {
  return async (reader: ByteReader, what: string | null): Promise<FrameSource> => {
    const name = reader.name;
    const bytes = reader.read(0, reader.size).slice();
    reader.close();
    if (typeof OfflineAudioContext === 'undefined') {
      throw new ClapError(`${what ?? 'unrecognised audio format'}: not decoded natively, and there is no Web Audio here to decode it`, {
        subject: name,
      });
    }
    let buffer: AudioBuffer;
    try {
      buffer = await new OfflineAudioContext(1, 1, rate).decodeAudioData(bytes.buffer);
    } catch (e) {
      throw new ClapError(`${what ?? 'unrecognised audio format'} that this browser cannot decode either (${(e as Error).message})`, {
        subject: name,
      });
    }
    return sourceOfBuffer(buffer, name);
  };
}

function sourceOfBuffer(buffer: AudioBuffer, name: string): MemorySource {
  const channels = Array.from({ length: buffer.numberOfChannels }, (_, c) => buffer.getChannelData(c));
  return new MemorySource(name, buffer.sampleRate, channels);
}

/** The input's decoded audio. */
export async function openWebAudio(input: WebAudioInput, name: string, spec: AudioSpec): Promise<FrameSource> {
  if (isAudioBuffer(input)) return sourceOfBuffer(input, name);
  if (input instanceof Blob || input instanceof ArrayBuffer || input instanceof Uint8Array) {
    const bytes = input instanceof Blob ? await input.arrayBuffer() : input;
    const reader = new BufferReader(name, bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
    return openEncoded(reader, { wavReading: wavReadingOf(spec) }, browserFallback(spec.sample_rate));
  }
  if (input && typeof input === 'object' && 'samples' in input) {
    const channels = Array.isArray(input.samples) ? input.samples : [input.samples];
    if (!channels.every((c) => c instanceof Float32Array)) throw new ClapError('samples must be Float32Array(s)', { subject: name });
    return new MemorySource(name, input.sampleRate, channels);
  }
  throw new ClapError('audio input must be a File/Blob, an ArrayBuffer/Uint8Array, an AudioBuffer or { samples, sampleRate }', {
    subject: name,
  });
}

/**
 * How 32-bit and float WAV samples become floats: as the family's reference reads its files — Hugging Face's
 * with soundfile (as stored), msclap's with torchaudio 0.13 (as the Node library does for each).
 */
function wavReadingOf(spec: AudioSpec): WavReading {
  return spec.frontend.type === 'clap-feature-extractor' ? 'soundfile' : 'torchaudio';
}

/** One clip's input to the exported audio model: a waveform window, or the extractor's features and is_longer. */
export interface ClipInput {
  data: Float32Array;
  isLonger?: boolean;
}

const extractors = new WeakMap<ClapFeatureExtractorSpec, ClapFeatureExtractor>();

/** The model's input for `source`: channels averaged, resampled to the model's rate, then windowed or featurised. */
export function clipInput(source: FrameSource, spec: AudioSpec, options: WebWindowOptions): ClipInput {
  if (spec.channels !== 'mean')
    throw new ClapError(`channels '${String(spec.channels)}' is not supported`, { subject: 'clap-export.json' });
  const signal = modelSignal(source, 'mean', spec.sample_rate);
  const fe = spec.frontend;
  if (fe.type === 'clap-feature-extractor') {
    const fx = extractors.get(fe) ?? new ClapFeatureExtractor(extractorConfigOf(fe));
    extractors.set(fe, fx);
    const features = fx.extractClip(signal.read(0, signal.length).slice(), options);
    return { data: features.features, isLonger: features.isLonger };
  }
  const shape = { sampleRate: spec.sample_rate, samples: spec.window_samples };
  const [window] = windowsOf(signal, { ...options, shape });
  return { data: window.samples };
}
