/**
 * WAV (RIFF/RF64) reading and writing in pure TypeScript.
 *
 * Samples are converted exactly like `torchaudio.load` (0.13, sox_io backend, normalize=True), which
 * goes through libsox's 32-bit integer samples (verified bit-exact on the fixtures):
 * - integer PCM is scaled by its container size: unsigned 8-bit (x-128)/128, int16 x/32768,
 *   int24 x/2^23 (a 20-bit sample left-justified in 3 bytes reads like a 24-bit one);
 * - int32 and float data pass through SOX_SAMPLE_TO_FLOAT_32BIT, which rounds to a multiple of 2^-24
 *   (`((s + 64) & ~127) / 2^31`, s > 2^31-65 → 1.0); float data is first converted by
 *   truncation to int32 (towards zero, **clipping to [-1, 1]**). So a float32 WAV is
 *   not read bit-exactly — quirk reproduced, it is what msclap's model sees. NaN/Inf are rejected.
 * `'soundfile'` reading (what the Hugging Face CLAP fixtures use) differs only for 32-bit and float data:
 * int32 is x/2^31 and float is taken as stored.
 */
import { ClapError } from '../errors.js';
import { ascii, type ByteReader } from './bytes.js';
import { checkFinite, checkSampleRate, type FrameSource } from './source.js';

export type WavSampleFormat = 'pcm' | 'float';

/** Whose WAV reader to match: torchaudio 0.13's sox backend (msclap) or soundfile/libsndfile (transformers' docs). */
export type WavReading = 'torchaudio' | 'soundfile';

export interface WavLayout {
  format: WavSampleFormat;
  /** Bytes per sample in the file (1, 2, 3, 4 or 8). */
  bytesPerSample: number;
  /** bitsPerSample from the header (may be less than 8 × bytesPerSample). */
  bitsPerSample: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  dataOffset: number;
  numFrames: number;
}

/**
 * Raised for a well-formed WAV whose codec we do not decode (e.g. A-law, ADPCM, MP3-in-WAV); `what`
 * names it for the caller's "not decoded natively" message (decode.ts hands such files to ffmpeg).
 */
export class UnsupportedWavCodecError extends ClapError {
  constructor(
    readonly what: string,
    readonly formatTag: number,
    subject: string,
  ) {
    super(`${what} is not decoded natively`, { subject });
  }
}

const WAVE_FORMAT_PCM = 0x0001;
const WAVE_FORMAT_IEEE_FLOAT = 0x0003;
const WAVE_FORMAT_EXTENSIBLE = 0xfffe;
/** KSDATAFORMAT_SUBTYPE_* GUIDs share this tail after their 2-byte format code. */
const KS_GUID_TAIL = [0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80, 0x00, 0x00, 0xaa, 0x00, 0x38, 0x9b, 0x71];

/** WAV format tags of the Ogg Vorbis ACM codec (modes 1, 2, 3, 1+, 2+, 3+): decode.ts decodes the inner stream. */
export const OGG_VORBIS_IN_WAV = new Set([0x674f, 0x6750, 0x6751, 0x676f, 0x6770, 0x6771]);

const CODEC_NAMES: Record<number, string> = {
  2: 'Microsoft ADPCM',
  6: 'A-law',
  7: 'mu-law',
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
export function parseWavHeader(reader: ByteReader): WavLayout {
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
    if (!tailOk) throw new UnsupportedWavCodecError('WAV with a non-standard WAVE_FORMAT_EXTENSIBLE sub-format', formatTag, name);
    formatTag = sub;
  }
  if (formatTag !== WAVE_FORMAT_PCM && formatTag !== WAVE_FORMAT_IEEE_FLOAT) {
    const codec = CODEC_NAMES[formatTag] ?? `format tag 0x${formatTag.toString(16).padStart(4, '0')}`;
    throw new UnsupportedWavCodecError(`WAV codec ${codec}`, formatTag, name);
  }
  if (numChannels === 0) throw corrupt('0 channels');
  checkSampleRate(sampleRate, name);
  const format: WavSampleFormat = formatTag === WAVE_FORMAT_PCM ? 'pcm' : 'float';
  if (format === 'pcm' && (bitsPerSample === 0 || bitsPerSample > 32)) {
    throw new UnsupportedWavCodecError(`WAV PCM with ${bitsPerSample}-bit samples`, formatTag, name);
  }
  if (format === 'float' && bitsPerSample !== 32 && bitsPerSample !== 64) {
    throw new UnsupportedWavCodecError(`WAV float with ${bitsPerSample}-bit samples`, formatTag, name);
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

/**
 * Converts `frames` whole frames of interleaved sample bytes into one Float32Array per channel.
 * Float data is checked for NaN/Inf (`firstFrame` only shifts the index in the message).
 */
export function convertWavFrames(
  bytes: Uint8Array,
  layout: WavLayout,
  frames: number,
  name: string,
  firstFrame = 0,
  reading: WavReading = 'torchaudio',
): Float32Array[] {
  const { numChannels: nc, bytesPerSample: bps, format } = layout;
  const sox = reading === 'torchaudio';
  const out = Array.from({ length: nc }, () => new Float32Array(frames));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stride = layout.blockAlign;
  for (let c = 0; c < nc; c++) {
    const dst = out[c];
    let o = c * bps;
    if (format === 'float') {
      if (bps === 4) {
        for (let i = 0; i < frames; i++, o += stride) dst[i] = view.getFloat32(o, true);
        checkFinite(dst, name, c, firstFrame);
        if (sox) for (let i = 0; i < frames; i++) dst[i] = soxSampleToFloat(soxFloatToSample(dst[i]));
      } else {
        for (let i = 0; i < frames; i++, o += stride) {
          const v = view.getFloat64(o, true);
          if (v - v !== 0) checkFinite(Float32Array.of(v), name, c, firstFrame + i);
          dst[i] = sox ? soxSampleToFloat(soxFloatToSample(v)) : v;
        }
      }
    } else if (bps === 1) {
      for (let i = 0; i < frames; i++, o += stride) dst[i] = (bytes[o] - 128) / 128;
    } else if (bps === 2) {
      for (let i = 0; i < frames; i++, o += stride) dst[i] = view.getInt16(o, true) / 32768;
    } else if (bps === 3) {
      for (let i = 0; i < frames; i++, o += stride) {
        const v = bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16);
        dst[i] = ((v << 8) >> 8) / 8388608;
      }
    } else {
      for (let i = 0; i < frames; i++, o += stride)
        dst[i] = sox ? soxSampleToFloat(view.getInt32(o, true)) : view.getInt32(o, true) / 2147483648;
    }
  }
  return out;
}

/**
 * Float sample → libsox int32 sample as torchaudio 0.13's sox reads float WAVs: `trunc(d · 2^31)`
 * (towards zero — matches all 308700 samples of the float32 fixture, where rounding to nearest does
 * not), clipped to the int32 range.
 */
export function soxFloatToSample(d: number): number {
  const t = d * 2147483648;
  if (t >= 2147483647) return 2147483647;
  if (t <= -2147483648) return -2147483648;
  return Math.trunc(t);
}

/** libsox 14.4's SOX_SAMPLE_TO_FLOAT_32BIT: rounds to a multiple of 128 (2^-24 after scaling). */
export function soxSampleToFloat(s: number): number {
  return s > 2147483647 - 64 ? 1 : ((s + 64) & ~127) / 2147483648;
}

/** Streams frames of a WAV file (or buffer) on demand, so long files are never held whole. */
export class WavSource implements FrameSource {
  readonly name: string;
  readonly sampleRate: number;
  readonly numChannels: number;
  readonly numFrames: number;
  readonly layout: WavLayout;

  private readonly reading: WavReading;

  constructor(
    private readonly reader: ByteReader,
    options: { validateAllBelowBytes?: number; reading?: WavReading } = {},
  ) {
    this.reading = options.reading ?? 'torchaudio';
    this.name = reader.name;
    this.layout = parseWavHeader(reader);
    this.sampleRate = this.layout.sampleRate;
    this.numChannels = this.layout.numChannels;
    this.numFrames = this.layout.numFrames;
    // Float data can hold NaN/Inf: scan it up front when it is small enough, otherwise as it is read.
    const limit = options.validateAllBelowBytes ?? 64 * 1024 * 1024;
    if (this.layout.format === 'float' && this.numFrames * this.layout.blockAlign <= limit) this.read(0, this.numFrames);
  }

  read(start: number, count: number): Float32Array[] {
    const { blockAlign, dataOffset } = this.layout;
    if (start < 0 || count < 0 || start + count > this.numFrames) {
      throw new RangeError(`${this.name}: frames [${start}, ${start + count}) outside [0, ${this.numFrames})`);
    }
    const bytes = this.reader.read(dataOffset + start * blockAlign, count * blockAlign);
    return convertWavFrames(bytes, this.layout, count, this.name, start, this.reading);
  }

  close(): void {
    this.reader.close();
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
