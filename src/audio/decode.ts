/**
 * Audio input → FrameSource / DecodedAudio. The format is sniffed from the bytes, never from the
 * extension. WAV and Sun .au are parsed in TypeScript and streamed from disk; FLAC, Ogg Vorbis, Ogg Opus and MP3 go
 * through bundled WASM decoders (whole file in memory); anything else goes to ffmpeg when available.
 */
import { ClapError } from '../errors.js';
import { BufferReader, type ByteReader } from './bytes.js';
import { type DecodeFallback, openEncoded, sniffReader } from './decode-bytes.js';
import { findFfmpeg, openWithFfmpeg } from './ffmpeg.js';
import { FileReader } from './file-reader.js';
import { looksLikeText, NATIVE_FORMATS_TEXT, SNIFF_BYTES, type SniffedFormat } from './sniff.js';
import { MemorySource, readAll, type DecodedAudio, type FrameSource } from './source.js';
import type { WavReading } from './pcm.js';

/** Raw samples: one Float32Array (mono) or one per channel. */
export interface PcmInput {
  samples: Float32Array | Float32Array[];
  sampleRate: number;
}

/** A file path, the bytes of an encoded file, or raw samples. */
export type AudioInput = string | Uint8Array | ArrayBuffer | PcmInput;

export interface DecodeOptions {
  /** What error messages call a Buffer / sample input (a path input is named by its path). */
  name?: string;
  /**
   * ffmpeg fallback for formats not decoded natively: true/undefined = use `ffmpeg` from PATH (or
   * $CLAP_FFMPEG) if present, a string = that binary, false = never.
   */
  ffmpeg?: boolean | string;
  /**
   * How 32-bit and float WAV samples become floats: `'torchaudio'` (default) as msclap's torchaudio 0.13
   * reads them (through libsox's int32, ≤ 3e-8 off), `'soundfile'` as stored (Hugging Face CLAP's convention).
   */
  wavReading?: WavReading;
  /**
   * Refuse audio longer than this many seconds. Compressed input is then decoded in small steps and
   * given up as soon as it passes the bound, so untrusted input (an upload) cannot expand into more
   * memory than the bound allows; WAV is refused from its header.
   */
  maxSeconds?: number;
}

/** Throws when `source` is longer than `maxSeconds` (closing it). */
function checkDuration(source: FrameSource, maxSeconds: number | undefined): FrameSource {
  if (maxSeconds !== undefined && source.numFrames > maxSeconds * source.sampleRate) {
    source.close();
    throw new ClapError(`audio is ${(source.numFrames / source.sampleRate).toFixed(1)} s long, over the ${maxSeconds} s limit`, {
      subject: source.name,
    });
  }
  return source;
}

function inputName(input: AudioInput, options: DecodeOptions): string {
  if (typeof input === 'string') return input;
  if (options.name) return options.name;
  return input instanceof Uint8Array || input instanceof ArrayBuffer ? '<buffer>' : '<samples>';
}

/** An input only ffmpeg could decode, and ffmpeg is not there (or turned off). */
export class NeedsFfmpegError extends ClapError {}

/**
 * The error for an input only ffmpeg could decode, when ffmpeg is not there: names the format (or
 * says it is unknown), what is decoded natively, and how to get the fallback.
 */
function notNative(name: string, what: string | null, setting: DecodeOptions['ffmpeg']): NeedsFfmpegError {
  const hint =
    setting === false
      ? 'the ffmpeg fallback is turned off'
      : typeof setting === 'string'
        ? `the ffmpeg given (${setting}) does not run`
        : process.env.CLAP_FFMPEG
          ? `$CLAP_FFMPEG (${process.env.CLAP_FFMPEG}) does not run`
          : `install ffmpeg (or set CLAP_FFMPEG) to decode ${what ? 'it' : 'other formats'}`;
  const problem = what ? `${what} is not decoded natively` : 'unrecognised audio format';
  return new NeedsFfmpegError(`${problem}; supported without ffmpeg: ${NATIVE_FORMATS_TEXT}; ${hint}`, { subject: name });
}

/**
 * Opens any supported input as a FrameSource. Call `close()` when done (WAV files keep a descriptor
 * open so long files can be streamed).
 */
export async function openAudio(input: AudioInput, options: DecodeOptions = {}): Promise<FrameSource> {
  const name = inputName(input, options);
  if (typeof input !== 'string' && !(input instanceof Uint8Array) && !(input instanceof ArrayBuffer)) {
    if (!input || typeof input !== 'object' || !('samples' in input)) {
      throw new ClapError('audio input must be a file path, a Buffer/Uint8Array, or { samples, sampleRate }', { subject: name });
    }
    const channels = Array.isArray(input.samples) ? input.samples : [input.samples];
    for (const c of channels) {
      if (!(c instanceof Float32Array)) throw new ClapError('samples must be Float32Array(s)', { subject: name });
    }
    return checkDuration(new MemorySource(name, input.sampleRate, channels), options.maxSeconds);
  }
  const reader: ByteReader =
    typeof input === 'string'
      ? new FileReader(input)
      : new BufferReader(name, input instanceof ArrayBuffer ? new Uint8Array(input) : input);
  try {
    return checkDuration(await openBytes(reader, typeof input === 'string' ? { path: input } : null, options), options.maxSeconds);
  } catch (err) {
    reader.close();
    throw err;
  }
}

/**
 * The container/codec of a file or of encoded bytes, from its content (never its name); null when
 * unrecognised. Throws a one-line ClapError when the file cannot be read or is empty.
 */
export function sniffAudio(input: string | Uint8Array, name?: string): SniffedFormat | null {
  const reader: ByteReader = typeof input === 'string' ? new FileReader(input) : new BufferReader(name ?? '<buffer>', input);
  try {
    if (reader.size === 0) throw new ClapError('empty input (0 bytes)', { subject: reader.name });
    return sniffReader(reader);
  } finally {
    reader.close();
  }
}

/** Our decoders, then ffmpeg (when there) for the rest. */
function openBytes(reader: ByteReader, file: { path: string } | null, options: DecodeOptions): Promise<FrameSource> {
  const fallback: DecodeFallback = async (r, what) => {
    // Text saved under an audio name (a playlist, a note) is said to be text rather than in ffmpeg's words;
    // only once ffmpeg has refused it too, as some formats (NIST SPHERE) open with a text header.
    const text = what === null && looksLikeText(r.read(0, Math.min(r.size, SNIFF_BYTES)));
    const notAudio = () => new ClapError('not an audio file: it holds text', { subject: r.name });
    const bin = findFfmpeg(options.ffmpeg);
    if (!bin) throw text ? notAudio() : notNative(r.name, what, options.ffmpeg);
    try {
      const source = await openWithFfmpeg(bin, file ?? { bytes: r.read(0, r.size) }, r.name);
      r.close();
      return source;
    } catch (err) {
      throw text && err instanceof ClapError ? notAudio() : err;
    }
  };
  return openEncoded(reader, options, fallback, file ? 'empty file (0 bytes)' : 'empty input (0 bytes)');
}

/** Decodes the whole input into memory. */
export async function decodeAudio(input: AudioInput, options: DecodeOptions = {}): Promise<DecodedAudio> {
  const source = await openAudio(input, options);
  try {
    return readAll(source);
  } finally {
    source.close();
  }
}
