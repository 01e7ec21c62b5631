/**
 * Uncompressed sample data as WAV and Sun .au store it: integer PCM, IEEE float and G.711 (μ-law,
 * A-law), little- or big-endian, read from disk on demand. Samples become floats exactly like
 * `torchaudio.load` (0.13, sox_io backend, normalize=True), which goes through libsox's 32-bit
 * integer samples (verified bit-exact on the fixtures):
 * - integer PCM is scaled by its container size: 8-bit x/128 (WAV's unsigned bytes are x−128 first),
 *   int16 x/32768, int24 x/2^23 (a 20-bit sample left-justified in 3 bytes reads like a 24-bit one);
 * - G.711 bytes expand to 16-bit samples (the ITU tables sox and ffmpeg use), then x/32768;
 * - int32 and float data pass through SOX_SAMPLE_TO_FLOAT_32BIT, which rounds to a multiple of 2^-24
 *   (`((s + 64) & ~127) / 2^31`, s > 2^31-65 → 1.0); float data is first converted by
 *   truncation to int32 (towards zero, **clipping to [-1, 1]**). So float data is
 *   not read bit-exactly — quirk reproduced, it is what msclap's model sees. NaN/Inf are rejected.
 * `'soundfile'` reading (what the Hugging Face CLAP fixtures use) differs only for 32-bit and float data:
 * int32 is x/2^31 and float is taken as stored.
 */
import { ClapError } from '../errors.js';
import type { ByteReader } from './bytes.js';
import { checkFinite, type FrameSource } from './source.js';

export type PcmEncoding = 'pcm' | 'float' | 'mulaw' | 'alaw';

/** Whose reader to match: torchaudio 0.13's sox backend (msclap) or soundfile/libsndfile (transformers' docs). */
export type WavReading = 'torchaudio' | 'soundfile';

/** Where the samples are in a file and how they are stored. */
export interface PcmLayout {
  format: PcmEncoding;
  /** Bytes per sample in the file (1, 2, 3, 4 or 8). */
  bytesPerSample: number;
  /** Significant bits per sample from the header (may be less than 8 × bytesPerSample). */
  bitsPerSample: number;
  numChannels: number;
  sampleRate: number;
  blockAlign: number;
  dataOffset: number;
  numFrames: number;
  /** Big-endian samples (Sun .au); WAV's are little-endian. */
  bigEndian?: boolean;
  /** 8-bit PCM is signed (Sun .au); WAV's is unsigned. */
  signed8?: boolean;
}

/**
 * Raised for a well-formed file whose codec we do not decode (WAV A-law with 16-bit samples, ADPCM,
 * MP3-in-WAV, .au G.721, …); `what` names it for the caller's "not decoded natively" message (decode.ts
 * hands such files to ffmpeg). `tag` is the file's own number for the codec.
 */
export class UnsupportedCodecError extends ClapError {
  constructor(
    readonly what: string,
    readonly tag: number,
    subject: string,
  ) {
    super(`${what} is not decoded natively`, { subject });
  }
}

/** ITU-T G.711 μ-law byte → 16-bit sample (as sox's and ffmpeg's tables). */
function ulawToLinear(u: number): number {
  const v = ~u & 0xff;
  const t = (((v & 0x0f) << 3) + 0x84) << ((v & 0x70) >> 4);
  return v & 0x80 ? 0x84 - t : t - 0x84;
}

/** ITU-T G.711 A-law byte → 16-bit sample (as sox's and ffmpeg's tables). */
function alawToLinear(a: number): number {
  const v = a ^ 0x55;
  const seg = (v & 0x70) >> 4;
  let t = (v & 0x0f) << 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return v & 0x80 ? t : -t;
}

const G711: Record<'mulaw' | 'alaw', Float32Array> = {
  mulaw: Float32Array.from({ length: 256 }, (_, b) => ulawToLinear(b) / 32768),
  alaw: Float32Array.from({ length: 256 }, (_, b) => alawToLinear(b) / 32768),
};

/**
 * Float sample → libsox int32 sample as torchaudio 0.13's sox reads float data: `trunc(d · 2^31)`
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

/**
 * Converts `frames` whole frames of interleaved sample bytes into one Float32Array per channel.
 * Float data is checked for NaN/Inf (`firstFrame` only shifts the index in the message).
 */
export function convertPcmFrames(
  bytes: Uint8Array,
  layout: PcmLayout,
  frames: number,
  name: string,
  firstFrame = 0,
  reading: WavReading = 'torchaudio',
): Float32Array[] {
  const { numChannels: nc, bytesPerSample: bps, format } = layout;
  const sox = reading === 'torchaudio';
  const le = !layout.bigEndian;
  const out = Array.from({ length: nc }, () => new Float32Array(frames));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stride = layout.blockAlign;
  for (let c = 0; c < nc; c++) {
    const dst = out[c];
    let o = c * bps;
    if (format === 'mulaw' || format === 'alaw') {
      const table = G711[format];
      for (let i = 0; i < frames; i++, o += stride) dst[i] = table[bytes[o]];
    } else if (format === 'float') {
      if (bps === 4) {
        for (let i = 0; i < frames; i++, o += stride) dst[i] = view.getFloat32(o, le);
        checkFinite(dst, name, c, firstFrame);
        if (sox) for (let i = 0; i < frames; i++) dst[i] = soxSampleToFloat(soxFloatToSample(dst[i]));
      } else {
        for (let i = 0; i < frames; i++, o += stride) {
          const v = view.getFloat64(o, le);
          if (v - v !== 0) checkFinite(Float32Array.of(v), name, c, firstFrame + i);
          dst[i] = sox ? soxSampleToFloat(soxFloatToSample(v)) : v;
        }
      }
    } else if (bps === 1) {
      if (layout.signed8) for (let i = 0; i < frames; i++, o += stride) dst[i] = view.getInt8(o) / 128;
      else for (let i = 0; i < frames; i++, o += stride) dst[i] = (bytes[o] - 128) / 128;
    } else if (bps === 2) {
      for (let i = 0; i < frames; i++, o += stride) dst[i] = view.getInt16(o, le) / 32768;
    } else if (bps === 3) {
      for (let i = 0; i < frames; i++, o += stride) {
        const v = le ? bytes[o] | (bytes[o + 1] << 8) | (bytes[o + 2] << 16) : (bytes[o] << 16) | (bytes[o + 1] << 8) | bytes[o + 2];
        dst[i] = ((v << 8) >> 8) / 8388608;
      }
    } else {
      for (let i = 0; i < frames; i++, o += stride)
        dst[i] = sox ? soxSampleToFloat(view.getInt32(o, le)) : view.getInt32(o, le) / 2147483648;
    }
  }
  return out;
}

/** Streams frames of uncompressed audio (a file or a buffer) on demand, so long files are never held whole. */
export class PcmSource implements FrameSource {
  readonly name: string;
  readonly sampleRate: number;
  readonly numChannels: number;
  readonly numFrames: number;

  private readonly reading: WavReading;

  constructor(
    private readonly reader: ByteReader,
    readonly layout: PcmLayout,
    options: { validateAllBelowBytes?: number; reading?: WavReading } = {},
  ) {
    this.reading = options.reading ?? 'torchaudio';
    this.name = reader.name;
    this.sampleRate = layout.sampleRate;
    this.numChannels = layout.numChannels;
    this.numFrames = layout.numFrames;
    // Float data can hold NaN/Inf: scan it up front when it is small enough, otherwise as it is read.
    const limit = options.validateAllBelowBytes ?? 64 * 1024 * 1024;
    if (layout.format === 'float' && this.numFrames * layout.blockAlign <= limit) this.read(0, this.numFrames);
  }

  read(start: number, count: number): Float32Array[] {
    const { blockAlign, dataOffset } = this.layout;
    if (start < 0 || count < 0 || start + count > this.numFrames) {
      throw new RangeError(`${this.name}: frames [${start}, ${start + count}) outside [0, ${this.numFrames})`);
    }
    const bytes = this.reader.read(dataOffset + start * blockAlign, count * blockAlign);
    return convertPcmFrames(bytes, this.layout, count, this.name, start, this.reading);
  }

  close(): void {
    this.reader.close();
  }
}
