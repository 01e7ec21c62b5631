/**
 * Encoded bytes → FrameSource with our own decoders only: WAV and Sun .au in TypeScript; FLAC, Ogg Vorbis, Ogg Opus and
 * MP3 through the bundled WASM decoders. What they do not decode goes to the caller's `fallback` (ffmpeg in
 * Node, the page's decodeAudioData in the browser build). Browser-safe: no Node APIs here.
 */
import { ClapError } from '../errors.js';
import { type ByteReader, indexOfAscii } from './bytes.js';
import { decodeFlac, decodeMpeg, decodeOggOpus, decodeOggVorbis } from './codecs.js';
import { id3v2Length } from './mpeg.js';
import { FORMAT_NAMES, SNIFF_BYTES, sniffFormat, type SniffedFormat } from './sniff.js';
import { MemorySource, type FrameSource } from './source.js';
import { parseAuHeader } from './au.js';
import { PcmSource, UnsupportedCodecError, type WavReading } from './pcm.js';
import { OGG_VORBIS_IN_WAV, WavSource } from './wav.js';

export interface NativeDecodeOptions {
  /** See DecodeOptions.wavReading. */
  wavReading?: WavReading;
  /** Compressed input is given up as soon as it decodes past this many seconds. */
  maxSeconds?: number;
}

/**
 * Decodes what our decoders do not: `what` names the format when it was recognised (null when unknown).
 * It owns the reader from then on.
 */
export type DecodeFallback = (reader: ByteReader, what: string | null) => Promise<FrameSource>;

/** The format of the bytes `reader` holds (after any ID3v2 tag), or null when unknown. */
export function sniffReader(reader: ByteReader): SniffedFormat | null {
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

/** A WAV file, or Ogg Vorbis wrapped in RIFF (format tags 0x674f…0x6771, e.g. LMMS samples) decoded from the inner stream. */
async function openWav(reader: ByteReader, options: NativeDecodeOptions, fallback: DecodeFallback): Promise<FrameSource> {
  try {
    return new WavSource(reader, { reading: options.wavReading });
  } catch (err) {
    if (!(err instanceof UnsupportedCodecError)) throw err;
    if (OGG_VORBIS_IN_WAV.has(err.tag)) {
      const bytes = reader.read(0, reader.size);
      const at = indexOfAscii(bytes, 'OggS');
      if (at >= 0) {
        reader.close();
        const decoded = await decodeOggVorbis(bytes.subarray(at), reader.name, options.maxSeconds);
        return new MemorySource(reader.name, decoded.sampleRate, decoded.channels);
      }
    }
    return fallback(reader, err.what);
  }
}

/** A Sun .au file (PCM, μ-law, A-law); other encodings go to the fallback. */
function openAu(reader: ByteReader, options: NativeDecodeOptions, fallback: DecodeFallback): Promise<FrameSource> | FrameSource {
  try {
    return new PcmSource(reader, parseAuHeader(reader), { reading: options.wavReading });
  } catch (err) {
    if (!(err instanceof UnsupportedCodecError)) throw err;
    return fallback(reader, err.what);
  }
}

const WASM_DECODERS = { flac: decodeFlac, 'ogg-vorbis': decodeOggVorbis, 'ogg-opus': decodeOggOpus, mp3: decodeMpeg } as const;

/** Opens the encoded bytes `reader` holds; `empty` is the message for zero bytes. */
export async function openEncoded(
  reader: ByteReader,
  options: NativeDecodeOptions,
  fallback: DecodeFallback,
  empty = 'empty input (0 bytes)',
): Promise<FrameSource> {
  const name = reader.name;
  if (reader.size === 0) throw new ClapError(empty, { subject: name });
  const format = sniffReader(reader);
  if (format === 'wav') return openWav(reader, options, fallback);
  if (format === 'au') return openAu(reader, options, fallback);
  if (format === 'flac' || format === 'ogg-vorbis' || format === 'ogg-opus' || format === 'mp3') {
    const bytes = reader.read(0, reader.size);
    reader.close();
    const decoded = await WASM_DECODERS[format](bytes, name, options.maxSeconds);
    return new MemorySource(name, decoded.sampleRate, decoded.channels);
  }
  return fallback(reader, format ? FORMAT_NAMES[format] : null);
}
