/** Hostile-but-valid audio for tests of bounded decoding. */

function crc8(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b;
    for (let i = 0; i < 8; i++) c = c & 0x80 ? ((c << 1) ^ 0x07) & 0xff : (c << 1) & 0xff;
  }
  return c;
}

function crc16(bytes: number[]): number {
  let c = 0;
  for (const b of bytes) {
    c ^= b << 8;
    for (let i = 0; i < 8; i++) c = c & 0x8000 ? ((c << 1) ^ 0x8005) & 0xffff : (c << 1) & 0xffff;
  }
  return c;
}

/**
 * A valid FLAC "decompression bomb": `frames` frames of 65535 samples of digital silence (8 kHz mono,
 * CONSTANT subframes), about 13 bytes each, with no total length in STREAMINFO.
 */
export function flacBomb(frames: number): Uint8Array {
  const out: number[] = [...Buffer.from('fLaC'), 0x80, 0, 0, 34];
  const info = Buffer.alloc(34);
  info.writeUInt16BE(65535, 0);
  info.writeUInt16BE(65535, 2);
  // sample rate 8000 (20 bits), channels-1 = 0 (3 bits), bps-1 = 15 (5 bits), total samples 0.
  const packed = (8000n << 44n) | (0n << 41n) | (15n << 36n);
  info.writeBigUInt64BE(packed, 10);
  out.push(...info);
  for (let n = 0; n < frames; n++) {
    const utf8 = n < 0x80 ? [n] : [0xc0 | (n >> 6), 0x80 | (n & 0x3f)];
    const header = [0xff, 0xf8, 0x74, 0x08, ...utf8, 0xff, 0xfe];
    const frame = [...header, crc8(header), 0x00, 0x00, 0x00];
    const crc = crc16(frame);
    out.push(...frame, crc >> 8, crc & 0xff);
  }
  return Uint8Array.from(out);
}
