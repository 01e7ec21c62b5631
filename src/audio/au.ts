/**
 * Sun/NeXT .au headers (GTZAN genres ships .au; so do old sound archives and Java): where the samples
 * are and how they are stored, for pcm.ts to read (big-endian, 8-bit PCM signed). Encodings other than
 * PCM, float and G.711 (G.721/G.723 ADPCM, …) are left to ffmpeg.
 */
import { ClapError } from '../errors.js';
import type { ByteReader } from './bytes.js';
import { type PcmEncoding, type PcmLayout, UnsupportedCodecError } from './pcm.js';
import { checkSampleRate } from './source.js';

/** True when the bytes start with the .au magic ".snd". */
export function isAu(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x2e && head[1] === 0x73 && head[2] === 0x6e && head[3] === 0x64;
}

/** .au encoding number → how its samples are stored. */
const ENCODINGS: Record<number, [PcmEncoding, number]> = {
  1: ['mulaw', 1],
  2: ['pcm', 1],
  3: ['pcm', 2],
  4: ['pcm', 3],
  5: ['pcm', 4],
  6: ['float', 4],
  7: ['float', 8],
  27: ['alaw', 1],
};

const CODEC_NAMES: Record<number, string> = { 23: 'G.721 ADPCM', 24: 'G.722 ADPCM', 25: 'G.723 3-bit ADPCM', 26: 'G.723 5-bit ADPCM' };

/** Parses the 24-byte header (and skips the annotation after it). Throws ClapError for anything malformed. */
export function parseAuHeader(reader: ByteReader): PcmLayout {
  const name = reader.name;
  const head = reader.read(0, 24);
  if (head.length < 24 || !isAu(head))
    throw new ClapError(`corrupt .au file: ${reader.size} bytes, too short for its header`, { subject: name });
  const dv = new DataView(head.buffer, head.byteOffset, head.byteLength);
  const dataOffset = dv.getUint32(4);
  const size = dv.getUint32(8);
  const encoding = dv.getUint32(12);
  const sampleRate = dv.getUint32(16);
  const numChannels = dv.getUint32(20);
  const stored = ENCODINGS[encoding];
  if (!stored) throw new UnsupportedCodecError(`Sun .au ${CODEC_NAMES[encoding] ?? `encoding ${encoding}`}`, encoding, name);
  if (dataOffset < 24 || dataOffset > reader.size) {
    throw new ClapError(`corrupt .au file: data offset ${dataOffset} is outside the file (${reader.size} bytes)`, { subject: name });
  }
  if (numChannels < 1 || numChannels > 1024) throw new ClapError(`corrupt .au file: ${numChannels} channels`, { subject: name });
  checkSampleRate(sampleRate, name);
  const [format, bytesPerSample] = stored;
  const blockAlign = bytesPerSample * numChannels;
  // An unknown size (0xFFFFFFFF, a stream written to a pipe) or one past the end reads to the end, as sox and ffmpeg do.
  const available = reader.size - dataOffset;
  const numFrames = Math.floor((size === 0xffffffff ? available : Math.min(size, available)) / blockAlign);
  if (numFrames === 0) throw new ClapError('audio has zero samples (empty .au data)', { subject: name });
  return {
    format,
    bytesPerSample,
    bitsPerSample: bytesPerSample * 8,
    numChannels,
    sampleRate,
    blockAlign,
    dataOffset,
    numFrames,
    bigEndian: true,
    signed8: true,
  };
}
