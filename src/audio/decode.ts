/**
 * Audio input → FrameSource / DecodedAudio. The format is sniffed from the bytes, never from the
 * extension. WAV and Sun .au are parsed in TypeScript and streamed from disk; FLAC, Ogg Vorbis, Ogg Opus and MP3 go
 * through bundled WASM decoders (whole file in memory); anything else goes to ffmpeg when available.
 */
import { ClapError } from '../errors.js';
import { BufferReader, FileReader, type ByteReader } from './bytes.js';
import { decodeFlac, decodeMpeg, decodeOggOpus, decodeOggVorbis } from './codecs.js';
import { findFfmpeg, openWithFfmpeg } from './ffmpeg.js';
import { id3v2Length } from './mpeg.js';
import { FORMAT_NAMES, NATIVE_FORMATS_TEXT, SNIFF_BYTES, sniffFormat, type SniffedFormat } from './sniff.js';
import { MemorySource, readAll, type DecodedAudio, type FrameSource } from './source.js';
import { parseAuHeader } from './au.js';
import { PcmSource, UnsupportedCodecError, type WavReading } from './pcm.js';
import { OGG_VORBIS_IN_WAV, WavSource } from './wav.js';

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

/** The format of the bytes `reader` holds (after any ID3v2 tag), or null when unknown. */
function sniffReader(reader: ByteReader): SniffedFormat | null {
  const format = sniffFormat(reader.read(0, SNIFF_BYTES));
  if (format !== null) return format;
  const skip = id3v2Length(reader.read(0, 10));
  if (skip === 0) return null;
  const head = reader.read(skip, SNIFF_BYTES);
  if (head.length === 0) throw new ClapError('file holds only an ID3 tag, no audio', { subject: reader.name });
  const after = sniffFormat(head);
  if (after !== null) return after;
  // MP3 encoders sometimes pad after the tag: look a little further for a frame header.
  const more = reader.read(skip, 4096);
  for (let i = 0; i + 4 <= more.length; i++) if (more[i] === 0xff && sniffFormat(more.subarray(i, i + SNIFF_BYTES)) === 'mp3') return 'mp3';
  return null;
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

async function openBytes(reader: ByteReader, file: { path: string } | null, options: DecodeOptions): Promise<FrameSource> {
  const name = reader.name;
  if (reader.size === 0) throw new ClapError(file ? 'empty file (0 bytes)' : 'empty input (0 bytes)', { subject: name });
  const format = sniffReader(reader);

  const fallback = async (what: string | null): Promise<FrameSource> => {
    const bin = findFfmpeg(options.ffmpeg);
    if (!bin) throw notNative(name, what, options.ffmpeg);
    const source = await openWithFfmpeg(bin, file ?? { bytes: reader.read(0, reader.size) }, name);
    reader.close();
    return source;
  };

  if (format === 'wav') {
    try {
      return new WavSource(reader, { reading: options.wavReading });
    } catch (err) {
      if (!(err instanceof UnsupportedCodecError)) throw err;
      // Ogg Vorbis wrapped in RIFF (format tags 0x674f…0x6771, e.g. LMMS samples): decode the inner stream.
      if (OGG_VORBIS_IN_WAV.has(err.tag)) {
        const bytes = reader.read(0, reader.size);
        const at = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).indexOf('OggS');
        if (at >= 0) {
          reader.close();
          const decoded = await decodeOggVorbis(bytes.subarray(at), name, options.maxSeconds);
          return new MemorySource(name, decoded.sampleRate, decoded.channels);
        }
      }
      return fallback(err.what);
    }
  }
  if (format === 'au') {
    try {
      return new PcmSource(reader, parseAuHeader(reader), { reading: options.wavReading });
    } catch (err) {
      if (!(err instanceof UnsupportedCodecError)) throw err;
      return fallback(err.what);
    }
  }
  if (format === 'flac' || format === 'ogg-vorbis' || format === 'ogg-opus' || format === 'mp3') {
    const bytes = reader.read(0, reader.size);
    reader.close();
    const limit = options.maxSeconds;
    const decoded =
      format === 'flac'
        ? await decodeFlac(bytes, name, limit)
        : format === 'ogg-vorbis'
          ? await decodeOggVorbis(bytes, name, limit)
          : format === 'ogg-opus'
            ? await decodeOggOpus(bytes, name, limit)
            : await decodeMpeg(bytes, name, limit);
    return new MemorySource(name, decoded.sampleRate, decoded.channels);
  }
  return fallback(format ? FORMAT_NAMES[format] : null);
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
