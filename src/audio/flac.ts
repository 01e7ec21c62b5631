/**
 * Native FLAC stream structure, read from the bytes: STREAMINFO, and the frames themselves — each
 * found by its header (sync code, CRC-8) and confirmed by the CRC-16 that ends it. The WASM decoder
 * is handed these frames: its own frame parser drops a final frame that is only a few bytes long (a
 * block of digital silence), which sox and ffmpeg decode. Knowing every frame's block size also
 * gives the stream's length before anything is decoded.
 */
import { ascii, indexOfAscii } from './bytes.js';

export interface FlacStream {
  /** STREAMINFO's total samples per channel (0 = not stated). */
  declaredSamples: number;
  /** [start, end) byte ranges of the frames, in order. */
  frames: [number, number][];
  /** Samples per channel the frames hold (the sum of their block sizes). */
  samples: number;
  /** STREAMINFO's sample rate. */
  sampleRate: number;
  /** The bytes end inside a frame (its CRC-16 never matches): the file is cut short. */
  lastFrameIncomplete: boolean;
}

const BLOCK_SIZES = [0, 192, 576, 1152, 2304, 4608, -8, -16, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768];

const CRC8 = new Uint8Array(256);
const CRC16 = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let c8 = i;
  let c16 = i << 8;
  for (let b = 0; b < 8; b++) {
    c8 = c8 & 0x80 ? ((c8 << 1) ^ 0x07) & 0xff : (c8 << 1) & 0xff;
    c16 = c16 & 0x8000 ? ((c16 << 1) ^ 0x8005) & 0xffff : (c16 << 1) & 0xffff;
  }
  CRC8[i] = c8;
  CRC16[i] = c16;
}

/** The frame header at `o`: its length and block size, or null when the bytes there are not one. */
function frameHeader(b: Uint8Array, o: number): { length: number; blockSize: number } | null {
  if (o + 6 > b.length || b[o] !== 0xff || (b[o + 1] & 0xfe) !== 0xf8) return null;
  const sizeCode = b[o + 2] >> 4;
  const rateCode = b[o + 2] & 0x0f;
  const channels = b[o + 3] >> 4;
  const bitsCode = (b[o + 3] >> 1) & 7;
  if (sizeCode === 0 || rateCode === 15 || channels > 10 || bitsCode === 3 || b[o + 3] & 1) return null;
  let p = o + 4;
  // The frame or sample number, UTF-8 style: the count of leading ones in the first byte is the length.
  let extra = 0;
  while (extra < 7 && b[p] & (0x80 >> extra)) extra++;
  if (extra === 1 || extra === 7) return null;
  const numberLength = extra === 0 ? 1 : extra;
  for (let i = 1; i < numberLength; i++) if ((b[p + i] & 0xc0) !== 0x80) return null;
  p += numberLength;
  let blockSize = BLOCK_SIZES[sizeCode];
  if (blockSize === -8) blockSize = b[p++] + 1;
  else if (blockSize === -16) {
    blockSize = ((b[p] << 8) | b[p + 1]) + 1;
    p += 2;
  }
  p += rateCode === 12 ? 1 : rateCode === 13 || rateCode === 14 ? 2 : 0;
  if (p >= b.length) return null;
  let crc = 0;
  for (let i = o; i < p; i++) crc = CRC8[crc ^ b[i]];
  return crc === b[p] ? { length: p + 1 - o, blockSize } : null;
}

/** Bytes other formats leave after the audio (tags): not a frame, not a cut. */
function trailingTag(b: Uint8Array, o: number): boolean {
  const tag = ascii(b, o, 3);
  return tag === 'TAG' || tag === 'ID3' || ascii(b, o, 8) === 'APETAGEX';
}

/** The FLAC stream in `bytes` (which may start with an ID3v2 tag), or null when there is no 'fLaC'. */
export function flacStream(bytes: Uint8Array): FlacStream | null {
  const start = indexOfAscii(bytes.subarray(0, 1 << 20), 'fLaC');
  if (start < 0) return null;
  let p = start + 4;
  let declaredSamples = 0;
  let sampleRate = 0;
  for (let last = false; !last && p + 4 <= bytes.length; ) {
    last = (bytes[p] & 0x80) !== 0;
    const type = bytes[p] & 0x7f;
    const length = (bytes[p + 1] << 16) | (bytes[p + 2] << 8) | bytes[p + 3];
    const s = p + 4;
    if (type === 0 && s + 18 <= bytes.length) {
      sampleRate = (bytes[s + 10] << 12) | (bytes[s + 11] << 4) | (bytes[s + 12] >> 4);
      declaredSamples =
        (bytes[s + 13] & 0x0f) * 2 ** 32 + ((bytes[s + 14] << 24) >>> 0) + (bytes[s + 15] << 16) + (bytes[s + 16] << 8) + bytes[s + 17];
    }
    p = s + length;
  }
  const frames: [number, number][] = [];
  let samples = 0;
  let lastFrameIncomplete = false;
  for (let h = frameHeader(bytes, p); h; h = frameHeader(bytes, p)) {
    // The frame ends where the CRC-16 over it (its own last two bytes included) comes to zero and the
    // next frame, the end of the file or a tag follows; a zero followed by anything else is kept as a
    // fallback (junk after the last frame).
    let crc = 0;
    for (let i = p; i < p + h.length; i++) crc = ((crc << 8) & 0xffff) ^ CRC16[(crc >> 8) ^ bytes[i]];
    let end = -1;
    let fallback = -1;
    for (let i = p + h.length; i < bytes.length; i++) {
      crc = ((crc << 8) & 0xffff) ^ CRC16[(crc >> 8) ^ bytes[i]];
      if (crc !== 0) continue;
      const next = i + 1;
      if (next === bytes.length || frameHeader(bytes, next) || trailingTag(bytes, next)) {
        end = next;
        break;
      }
      if (fallback < 0) fallback = next;
    }
    if (end < 0) end = fallback;
    if (end < 0) {
      lastFrameIncomplete = true;
      break;
    }
    frames.push([p, end]);
    samples += h.blockSize;
    p = end;
  }
  return { declaredSamples, frames, samples, sampleRate, lastFrameIncomplete };
}
