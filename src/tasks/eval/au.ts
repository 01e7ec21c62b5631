/**
 * Sun/NeXT .au reading (GTZAN genres ships .au files; the audio layer decodes them only through
 * ffmpeg). Samples are scaled the way sox (torchaudio 0.13) reads them: signed n-bit PCM / 2^(n−1),
 * 8-bit μ-law/A-law expanded to 16-bit first, floats as they are.
 */
import { ClapError } from '../../errors.js';
import type { PcmInput } from '../../audio/index.js';

export function isAu(bytes: Uint8Array): boolean {
  return bytes.length >= 24 && bytes[0] === 0x2e && bytes[1] === 0x73 && bytes[2] === 0x6e && bytes[3] === 0x64;
}

function ulaw(u: number): number {
  u = ~u & 0xff;
  const t = (((u & 0x0f) << 3) + 0x84) << ((u & 0x70) >> 4);
  return (u & 0x80 ? 0x84 - t : t - 0x84) / 32768;
}

function alaw(a: number): number {
  a ^= 0x55;
  let t = (a & 0x0f) << 4;
  const seg = (a & 0x70) >> 4;
  if (seg === 0) t += 8;
  else if (seg === 1) t += 0x108;
  else t = (t + 0x108) << (seg - 1);
  return (a & 0x80 ? t : -t) / 32768;
}

/** Decodes a .au file into per-channel samples. */
export function decodeAu(bytes: Uint8Array, name = '<au>'): PcmInput {
  if (!isAu(bytes)) throw new ClapError('not a Sun .au file', { subject: name });
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const offset = dv.getUint32(4);
  let size = dv.getUint32(8);
  const encoding = dv.getUint32(12);
  const sampleRate = dv.getUint32(16);
  const channels = dv.getUint32(20);
  if (offset < 24 || offset > bytes.length) throw new ClapError(`.au data offset ${offset} is outside the file`, { subject: name });
  if (channels < 1 || channels > 64 || sampleRate < 1)
    throw new ClapError(`.au header has ${channels} channels at ${sampleRate} Hz`, { subject: name });
  const bps: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 3, 5: 4, 6: 4, 7: 8, 27: 1 };
  const width = bps[encoding];
  if (!width) throw new ClapError(`.au encoding ${encoding} is not supported (μ-law, A-law, 8/16/24/32-bit PCM, float)`, { subject: name });
  if (size === 0xffffffff || offset + size > bytes.length) size = bytes.length - offset;
  const frames = Math.floor(size / (width * channels));
  if (frames === 0) throw new ClapError('.au file has no samples', { subject: name });
  const out = Array.from({ length: channels }, () => new Float32Array(frames));
  for (let f = 0; f < frames; f++) {
    for (let c = 0; c < channels; c++) {
      const o = offset + (f * channels + c) * width;
      let v: number;
      switch (encoding) {
        case 1:
          v = ulaw(bytes[o]);
          break;
        case 27:
          v = alaw(bytes[o]);
          break;
        case 2:
          v = dv.getInt8(o) / 128;
          break;
        case 3:
          v = dv.getInt16(o) / 32768;
          break;
        case 4:
          v = ((dv.getInt8(o) << 16) | (bytes[o + 1] << 8) | bytes[o + 2]) / 8388608;
          break;
        case 5:
          v = dv.getInt32(o) / 2147483648;
          break;
        case 6:
          v = dv.getFloat32(o);
          break;
        default:
          v = dv.getFloat64(o);
      }
      out[c][f] = v;
    }
  }
  return { samples: channels === 1 ? out[0] : out, sampleRate };
}
