/**
 * WAV (RIFF/RF64) reading and writing in pure TypeScript: the header is parsed here, the samples are
 * read as pcm.ts reads them (torchaudio 0.13's conversions): integer PCM, float, and G.711 μ-law/A-law.
 */
import { ClapError } from '../errors.js';
import { ascii, type ByteReader } from './bytes.js';
import { type PcmEncoding, type PcmLayout, PcmSource, UnsupportedCodecError, type WavReading } from './pcm.js';
import { checkSampleRate } from './source.js';

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_ALAW = 0x0006;
const WAVE_FORMAT_MULAW = 0x0007;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs share this tail after their 2-byte format code. */
const KS_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** WAV format tags of the Ogg Vorbis ACM codec (modes 1, 2, 3, 1+, 2+, 3+): decode.ts decodes the inner stream. */
export const OGG_VORBIS_IN_WAV = new Set([0x674f, 0x6750, 0x6751, 0x676f, 0x6770, 0x6771]);

/** The format tags whose samples pcm.ts reads. */
const ENCODINGS: Record<number, PcmEncoding> = {
  [WAVE_FORMAT_PCM]: 'pcm',
  [WAVE_FORMAT_IEEE_FLOAT]: 'float',
  [WAVE_FORMAT_ALAW]: 'alaw',
  [WAVE_FORMAT_MULAW]: 'mulaw',
};

const CODEC_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  17: 'IMA ADPCM',
  49: 'GSM 6.10',
  80: 'MPEG',
  85: 'MP3',
  255: 'AAC',
  5648: 'HE-AAC',
  ...Object.fromEntries([...OGG_VORBIS_IN_WAV].map((tag) => [tag, 'Ogg Vorbis'])),
};

/** True when the bytes start like a RIFF/RF64 WAVE file. */
export function isWav(head: Uint8Array): boolean {
  const id = ascii(head, 0, 4);
  return (id === 'RIFF' || id === 'RF64' || id === 'BW64') && ascii(head, 8, 4) === 'WAVE';
}

function u16(b: Uint8Array, o: number): number {
  return b[o] | (b[o + 1] << 8);
}
function u32(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16)) + b[o + 3] * 0x1000000;
}
function u64(b: Uint8Array, o: number): number {
  return u32(b, o) + u32(b, o + 4) * 0x100000000;
}

/** Parses the RIFF chunks up to the sample data. Throws ClapError for anything malformed. */
export function parseWavHeader(reader: ByteReader): PcmLayout {
  const name = reader.name;
  const size = reader.size;
  const corrupt = (why: string): ClapError => new ClapError(`corrupt WAV file: ${why}`, { subject: name });
  if (size === 0) throw new ClapError('empty file (0 bytes)', { subject: name });
  const head = reader.read(0, 12);
  if (head.length < 12) throw corrupt(`only ${size} bytes, too short for a RIFF header`);
  if (ascii(head, 0, 4) === 'RIFX') throw new ClapError('big-endian WAV (RIFX) is not supported', { subject: name });
  if (!isWav(head)) throw corrupt('no RIFF/WAVE signature');
  const rf64 = ascii(head, 0, 4) !== 'RIFF';

  let fmt: Uint8Array | null = null;
  let dataOffset = -1;
  let dataSize = -1;
  let ds64DataSize = -1;
  let pos = 12;
  while (pos + 8 <= size) {
    const hdr = reader.read(pos, 8);
    const id = ascii(hdr, 0, 4);
    const chunkSize = u32(hdr, 4);
    if (id === 'ds64') {
      const body = reader.read(pos + 8, Math.min(chunkSize, 28));
      if (body.length < 16) throw corrupt('truncated ds64 chunk');
      ds64DataSize = u64(body, 8);
    } else if (id === 'fmt ') {
      if (chunkSize < 16) throw corrupt(`fmt chunk of ${chunkSize} bytes (at least 16 needed)`);
      fmt = reader.read(pos + 8, Math.min(chunkSize, 40));
      if (fmt.length < 16) throw corrupt('truncated fmt chunk');
    } else if (id === 'data') {
      dataOffset = pos + 8;
      dataSize = chunkSize;
      if (rf64 && chunkSize === 0xffffffff && ds64DataSize >= 0) dataSize = ds64DataSize;
      // Streamed WAVs (ffmpeg writing to a pipe) leave the size at 0xFFFFFFFF: read to the end.
      else if (chunkSize === 0xffffffff) dataSize = size - dataOffset;
      if (fmt) break;
      // fmt after data is legal but rare: keep scanning for it.
      if (dataOffset + dataSize >= size) break;
    }
    pos += 8 + chunkSize + (chunkSize & 1);
  }
  if (!fmt) throw corrupt('no fmt chunk');
  if (dataOffset < 0) throw corrupt('no data chunk');

  let formatTag = u16(fmt, 0);
  const numChannels = u16(fmt, 2);
  const sampleRate = u32(fmt, 4);
  const bitsPerSample = u16(fmt, 14);
  if (formatTag === WAVE_FORMAT_EXTENSIBLE) {
    if (fmt.length < 40) throw corrupt('WAVE_FORMAT_EXTENSIBLE without its 22-byte extension');
    const sub = u16(fmt, 24);
    const tailOk = KS_GUID_TAIL.every((v, i) => fmt![26 + i] === v);
    if (!tailOk) throw new UnsupportedCodecError('WAV with a non-standard WAVE_FORMAT_EXTENSIBLE sub-format', formatTag, name);
    formatTag = sub;
  }
  const format = ENCODINGS[formatTag];
  if (!format) {
    const codec = CODEC_NAMES[formatTag] ?? `format tag 0x${formatTag.toString(16).padStart(4, '0')}`;
    throw new UnsupportedCodecError(`WAV codec ${codec}`, formatTag, name);
  }
  if (numChannels === 0) throw corrupt('0 channels');
  checkSampleRate(sampleRate, name);
  if ((format === 'alaw' || format === 'mulaw') && bitsPerSample !== 8) {
    throw new UnsupportedCodecError(`WAV ${format === 'alaw' ? 'A-law' : 'mu-law'} with ${bitsPerSample}-bit samples`, formatTag, name);
  }
  if (format === 'pcm' && (bitsPerSample === 0 || bitsPerSample > 32)) {
    throw new UnsupportedCodecError(`WAV PCM with ${bitsPerSample}-bit samples`, formatTag, name);
  }
  if (format === 'float' && bitsPerSample !== 32 && bitsPerSample !== 64) {
    throw new UnsupportedCodecError(`WAV float with ${bitsPerSample}-bit samples`, formatTag, name);
  }
  // The sample size comes from bitsPerSample, as sox and ffmpeg take it: they ignore a block align
  // that disagrees (Debian's tuxtype buzz.wav states 0).
  const bytesPerSample = Math.ceil(bitsPerSample / 8);
  const blockAlign = bytesPerSample * numChannels;
  if (dataOffset + dataSize > size) {
    throw new ClapError(`truncated WAV file: the data chunk declares ${dataSize} bytes but only ${size - dataOffset} are present`, {
      subject: name,
    });
  }
  const numFrames = Math.floor(dataSize / blockAlign);
  if (numFrames === 0) throw new ClapError('audio has zero samples (empty data chunk)', { subject: name });
  return { format, bytesPerSample, bitsPerSample, numChannels, sampleRate, blockAlign, dataOffset, numFrames };
}

/** Streams the frames of a WAV file (or buffer) on demand. */
export class WavSource extends PcmSource {
  constructor(reader: ByteReader, options: { validateAllBelowBytes?: number; reading?: WavReading } = {}) {
    super(reader, parseWavHeader(reader), options);
  }
}

export type WavEncoding = 'pcm8' | 'pcm16' | 'pcm24' | 'pcm32' | 'float32' | 'float64';

/**
 * Encodes channels as a WAV file. Integer encodings quantise with round-half-away and clip to range.
 * `extensible` writes WAVE_FORMAT_EXTENSIBLE (as tools do for > 2 channels or > 16 bits).
 */
export function encodeWav(
  channels: ArrayLike<number>[],
  sampleRate: number,
  encoding: WavEncoding = 'pcm16',
  extensible = false,
): Uint8Array {
  const nc = channels.length;
  const frames = nc ? channels[0].length : 0;
  const bps = { pcm8: 1, pcm16: 2, pcm24: 3, pcm32: 4, float32: 4, float64: 8 }[encoding];
  const isFloat = encoding === 'float32' || encoding === 'float64';
  const fmtSize = extensible ? 40 : isFloat ? 18 : 16;
  const dataSize = frames * nc * bps;
  const headerSize = 12 + 8 + fmtSize + (isFloat && !extensible ? 12 : 0) + 8;
  const buf = new Uint8Array(headerSize + dataSize + (dataSize & 1));
  const v = new DataView(buf.buffer);
  const str = (o: number, s: string): void => {
    for (let i = 0; i < s.length; i++) buf[o + i] = s.charCodeAt(i);
  };
  str(0, 'RIFF');
  v.setUint32(4, buf.length - 8, true);
  str(8, 'WAVE');
  str(12, 'fmt ');
  v.setUint32(16, fmtSize, true);
  const tag = isFloat ? WAVE_FORMAT_IEEE_FLOAT : WAVE_FORMAT_PCM;
  v.setUint16(20, extensible ? WAVE_FORMAT_EXTENSIBLE : tag, true);
  v.setUint16(22, nc, true);
  v.setUint32(24, sampleRate, true);
  v.setUint32(28, sampleRate * nc * bps, true);
  v.setUint16(32, nc * bps, true);
  v.setUint16(34, bps * 8, true);
  let o = 36;
  if (fmtSize > 16) {
    v.setUint16(o, fmtSize - 18, true);
    o += 2;
  }
  if (extensible) {
    v.setUint16(o, bps * 8, true); // valid bits
    v.setUint32(o + 2, nc <= 2 ? (1 << nc) - 1 : 0, true); // channel mask
    v.setUint16(o + 6, tag, true);
    buf.set(KS_GUID_TAIL, o + 8);
    o += 22;
  }
  if (isFloat && !extensible) {
    str(o, 'fact');
    v.setUint32(o + 4, 4, true);
    v.setUint32(o + 8, frames, true);
    o += 12;
  }
  str(o, 'data');
  v.setUint32(o + 4, dataSize, true);
  o += 8;
  const q = (x: number, bits: number): number => {
    const m = 2 ** (bits - 1);
    const r = Math.round(Math.abs(x) * m) * Math.sign(x);
    return Math.max(-m, Math.min(m - 1, r));
  };
  for (let i = 0; i < frames; i++) {
    for (let c = 0; c < nc; c++, o += bps) {
      const x = channels[c][i];
      switch (encoding) {
        case 'pcm8':
          buf[o] = q(x, 8) + 128;
          break;
        case 'pcm16':
          v.setInt16(o, q(x, 16), true);
          break;
        case 'pcm24': {
          const s = q(x, 24);
          buf[o] = s & 0xff;
          buf[o + 1] = (s >> 8) & 0xff;
          buf[o + 2] = (s >> 16) & 0xff;
          break;
        }
        case 'pcm32':
          v.setInt32(o, q(x, 32), true);
          break;
        case 'float32':
          v.setFloat32(o, x, true);
          break;
        case 'float64':
          v.setFloat64(o, x, true);
          break;
      }
    }
  }
  return buf;
}
