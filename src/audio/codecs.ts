/**
 * Compressed formats through the @wasm-audio-decoders family (WASM embedded in the packages, so they
 * work offline): FLAC, Ogg Vorbis, Ogg Opus, MPEG Layer I/II/III. They decode whole buffers: a
 * compressed file is held in memory together with its decoded float32 samples.
 */
import { ClapError } from '../errors.js';
import type { DecodedAudio } from './source.js';
import { soxSampleToFloat } from './wav.js';

interface DecoderResult {
  channelData: Float32Array[];
  samplesDecoded: number;
  sampleRate: number;
  bitDepth?: number;
  errors: { message: string; frameNumber?: number }[];
}

function check(result: DecoderResult, what: string, name: string): void {
  if (result.errors.length > 0) {
    const e = result.errors[0];
    const more = result.errors.length > 1 ? ` (and ${result.errors.length - 1} more)` : '';
    const where = e.frameNumber !== undefined ? ` at frame ${e.frameNumber}` : '';
    throw new ClapError(`corrupt or truncated ${what} data: ${e.message.replace(/\s+/g, ' ').trim()}${where}${more}`, { subject: name });
  }
  if (result.samplesDecoded === 0 || result.channelData.length === 0) {
    throw new ClapError(`${what} stream decodes to zero samples`, { subject: name });
  }
}

function trimmed(channels: Float32Array[], length: number): Float32Array[] {
  return channels.map((c) => (c.length > length ? c.subarray(0, length) : c));
}

/**
 * FLAC. The decoder returns integer samples divided by 2^(bits−1) − 1; they are mapped back to the
 * integers (exact up to 24 bits) and scaled like torchaudio/libsox: x / 2^(bits−1).
 */
export async function decodeFlac(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const decoder = new FLACDecoder();
  let result: DecoderResult;
  try {
    await decoder.ready;
    result = await decoder.decodeFile(bytes);
  } catch (err) {
    throw new ClapError(`corrupt FLAC data (${String((err as Error)?.message ?? err)})`, { subject: name, cause: err });
  } finally {
    decoder.free();
  }
  check(result, 'FLAC', name);
  const bits = result.bitDepth ?? 16;
  const channels = trimmed(result.channelData, result.samplesDecoded);
  const maxInt = 2 ** (bits - 1) - 1;
  const scale = 2 ** (bits - 1);
  for (const ch of channels) {
    if (bits <= 24) {
      for (let i = 0; i < ch.length; i++) ch[i] = Math.round(ch[i] * maxInt) / scale;
    } else {
      // 25–32-bit FLAC: float32 cannot carry the integer exactly; go through libsox's int32 rounding.
      for (let i = 0; i < ch.length; i++) ch[i] = soxSampleToFloat(Math.round(ch[i] * maxInt) * 2 ** (32 - bits));
    }
  }
  return { sampleRate: result.sampleRate, channels };
}

export async function decodeOggVorbis(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
  const decoder = new OggVorbisDecoder();
  let result: DecoderResult;
  try {
    await decoder.ready;
    result = await decoder.decodeFile(bytes);
  } catch (err) {
    throw new ClapError(`corrupt Ogg Vorbis data (${String((err as Error)?.message ?? err)})`, { subject: name, cause: err });
  } finally {
    decoder.free();
  }
  check(result, 'Ogg Vorbis', name);
  return { sampleRate: result.sampleRate, channels: trimmed(result.channelData, result.samplesDecoded) };
}

/** Pre-skip (OpusHead) and the last page's granule position, to trim the decoder's output. */
function opusLength(bytes: Uint8Array): number | null {
  const head = findAscii(bytes, 'OpusHead', 0, Math.min(bytes.length, 512));
  if (head < 0 || head + 12 > bytes.length) return null;
  const preSkip = bytes[head + 10] | (bytes[head + 11] << 8);
  for (let p = bytes.length - 27; p >= 0; p--) {
    if (bytes[p] === 0x4f && bytes[p + 1] === 0x67 && bytes[p + 2] === 0x67 && bytes[p + 3] === 0x53 && bytes[p + 4] === 0) {
      const view = new DataView(bytes.buffer, bytes.byteOffset + p + 6, 8);
      const granule = view.getBigInt64(0, true);
      if (granule >= 0n) return Math.max(0, Number(granule) - preSkip);
    }
  }
  return null;
}

function findAscii(bytes: Uint8Array, s: string, from: number, to: number): number {
  outer: for (let i = from; i + s.length <= to; i++) {
    for (let j = 0; j < s.length; j++) if (bytes[i + j] !== s.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/**
 * Ogg Opus at 48 kHz. ogg-opus-decoder 1.7 drops the pre-skip at the start but trims the end to the
 * granule position without subtracting the pre-skip, leaving `preSkip` extra samples: cut them.
 */
export async function decodeOggOpus(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const { OggOpusDecoder } = await import('ogg-opus-decoder');
  const decoder = new OggOpusDecoder();
  let result: DecoderResult;
  try {
    await decoder.ready;
    result = await decoder.decodeFile(bytes);
  } catch (err) {
    throw new ClapError(`corrupt Ogg Opus data (${String((err as Error)?.message ?? err)})`, { subject: name, cause: err });
  } finally {
    decoder.free();
  }
  check(result, 'Ogg Opus', name);
  let length = result.samplesDecoded;
  const expected = opusLength(bytes);
  if (expected !== null && expected > 0 && expected < length) length = expected;
  return { sampleRate: result.sampleRate, channels: trimmed(result.channelData, length) };
}

/** MPEG Layer I/II/III (MP3) with gapless trimming from the LAME/Xing header. */
export async function decodeMpeg(bytes: Uint8Array, name: string): Promise<DecodedAudio> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const decoder = new MPEGDecoder();
  let result: DecoderResult;
  try {
    await decoder.ready;
    result = decoder.decode(bytes);
  } catch (err) {
    throw new ClapError(`corrupt MP3 data (${String((err as Error)?.message ?? err)})`, { subject: name, cause: err });
  } finally {
    decoder.free();
  }
  check(result, 'MP3', name);
  return { sampleRate: result.sampleRate, channels: trimmed(result.channelData, result.samplesDecoded) };
}
