/** Audio container/codec detection from the first bytes (never from the file extension). */
import { ascii } from './bytes.js';
import { isAu } from './au.js';
import { parseMpegHeader } from './mpeg.js';
import { isWav } from './wav.js';

/** Formats decoded natively (pure TS or bundled WASM). */
export const NATIVE_FORMATS = ['wav', 'au', 'flac', 'ogg-vorbis', 'ogg-opus', 'mp3'] as const;
export type NativeFormat = (typeof NATIVE_FORMATS)[number];
/** Formats recognised only to name them; they need ffmpeg. */
export type ForeignFormat =
  | 'mp4'
  | 'matroska'
  | 'aac-adts'
  | 'aiff'
  | 'caf'
  | 'amr'
  | 'asf'
  | 'ogg-flac'
  | 'ogg-speex'
  | 'ogg'
  | 'wavpack'
  | 'ape'
  | 'rifx';
export type SniffedFormat = NativeFormat | ForeignFormat;

export const NATIVE_FORMATS_TEXT = 'WAV and Sun .au (PCM 8/16/24/32-bit, float32/64, μ-law, A-law), FLAC, Ogg Vorbis, Ogg Opus, MP3';

export const FORMAT_NAMES: Record<SniffedFormat, string> = {
  wav: 'WAV',
  au: 'Sun .au',
  flac: 'FLAC',
  'ogg-vorbis': 'Ogg Vorbis',
  'ogg-opus': 'Ogg Opus',
  mp3: 'MP3',
  mp4: 'MP4/M4A',
  matroska: 'Matroska/WebM',
  'aac-adts': 'AAC (ADTS)',
  aiff: 'AIFF',
  caf: 'Core Audio (CAF)',
  amr: 'AMR',
  asf: 'ASF/WMA',
  'ogg-flac': 'Ogg FLAC',
  'ogg-speex': 'Ogg Speex',
  ogg: 'Ogg (unknown codec)',
  wavpack: 'WavPack',
  ape: "Monkey's Audio",
  rifx: 'big-endian WAV (RIFX)',
};

/** Bytes to read for sniffing (an ID3v2 tag is skipped separately). */
export const SNIFF_BYTES = 64;

function sniffOgg(head: Uint8Array): SniffedFormat {
  const nsegs = head[26] ?? 0;
  const p = 27 + nsegs;
  if (ascii(head, p + 1, 6) === 'vorbis' && head[p] === 0x01) return 'ogg-vorbis';
  if (ascii(head, p, 8) === 'OpusHead') return 'ogg-opus';
  if (head[p] === 0x7f && ascii(head, p + 1, 4) === 'FLAC') return 'ogg-flac';
  if (ascii(head, p, 8) === 'Speex   ') return 'ogg-speex';
  return 'ogg';
}

/**
 * Identifies the format from the first bytes (`head` must start at the first byte after any ID3v2
 * tag — see `id3v2Length`; at least SNIFF_BYTES long when the input is). Null when unknown.
 */
export function sniffFormat(head: Uint8Array): SniffedFormat | null {
  if (isWav(head)) return 'wav';
  if (isAu(head)) return 'au';
  const id4 = ascii(head, 0, 4);
  if (id4 === 'fLaC') return 'flac';
  if (id4 === 'RIFX' && ascii(head, 8, 4) === 'WAVE') return 'rifx';
  if (id4 === 'OggS') return sniffOgg(head);
  if (ascii(head, 4, 4) === 'ftyp') return 'mp4';
  if (head[0] === 0x1a && head[1] === 0x45 && head[2] === 0xdf && head[3] === 0xa3) return 'matroska';
  if (id4 === 'FORM' && (ascii(head, 8, 4) === 'AIFF' || ascii(head, 8, 4) === 'AIFC')) return 'aiff';
  if (id4 === 'caff') return 'caf';
  if (ascii(head, 0, 5) === '#!AMR') return 'amr';
  if (head[0] === 0x30 && head[1] === 0x26 && head[2] === 0xb2 && head[3] === 0x75) return 'asf';
  if (id4 === 'wvpk') return 'wavpack';
  if (id4 === 'MAC ') return 'ape';
  if (head[0] === 0xff && (head[1] & 0xf6) === 0xf0) return 'aac-adts';
  if (parseMpegHeader(head, 0)) return 'mp3';
  return null;
}

/**
 * True when `head` reads as text (UTF-8 without control characters other than tab, newlines and form
 * feed): a playlist, a note or a log saved with an audio extension, which no decoder should be asked about.
 */
export function looksLikeText(head: Uint8Array): boolean {
  if (head.length === 0) return false;
  // a multi-byte character cut by the end of `head` is not a reason to call it binary
  let end = head.length;
  while (end > 0 && head.length - end < 3 && (head[end - 1]! & 0xc0) === 0x80) end--;
  if (end > 0 && head[end - 1]! >= 0xc0) end--;
  for (let i = 0; i < end; i++) {
    const b = head[i]!;
    if (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0c && b !== 0x0d) return false;
    if (b === 0x7f) return false;
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(head.subarray(0, end));
    return true;
  } catch {
    return false;
  }
}
