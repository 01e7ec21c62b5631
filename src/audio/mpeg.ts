/**
 * MPEG audio (Layer I/II/III) stream structure, read from the bytes: frame headers, the Xing/Info
 * frame count, the LAME tag's encoder delay and padding, and whether the last frame is complete. The
 * samples themselves come from mpg123 (codecs.ts); this module decides which of them a file holds.
 */
import { ascii } from './bytes.js';

export interface MpegFrameHeader {
  /** 1, 2 or 2.5 (MPEG-2.5: 8–12 kHz). */
  version: 1 | 2 | 2.5;
  layer: 1 | 2 | 3;
  sampleRate: number;
  channels: 1 | 2;
  /** 384 (Layer I), 1152 (Layer II, MPEG-1 Layer III) or 576 (MPEG-2/2.5 Layer III). */
  samplesPerFrame: number;
  /** Bytes in the frame including its header; 0 for free-format streams (bitrate index 0). */
  frameLength: number;
}

// kbit/s by bitrate index, for MPEG-1 Layer I, II, III and MPEG-2/2.5 Layer I, II/III.
const BITRATES: Record<string, readonly number[]> = {
  '1-1': [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
  '1-2': [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
  '1-3': [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  '2-1': [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
  '2-2': [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
};
const SAMPLE_RATES = { 1: [44100, 48000, 32000], 2: [22050, 24000, 16000], 2.5: [11025, 12000, 8000] } as const;

/** The frame header at `o`, or null when the four bytes there are not a valid one. */
export function parseMpegHeader(b: Uint8Array, o = 0): MpegFrameHeader | null {
  if (o < 0 || o + 4 > b.length || b[o] !== 0xff || (b[o + 1] & 0xe0) !== 0xe0) return null;
  const v = (b[o + 1] >> 3) & 3;
  const l = (b[o + 1] >> 1) & 3;
  const bitrateIndex = b[o + 2] >> 4;
  const rateIndex = (b[o + 2] >> 2) & 3;
  if (v === 1 || l === 0 || bitrateIndex === 15 || rateIndex === 3) return null;
  const version = v === 3 ? 1 : v === 2 ? 2 : 2.5;
  const layer = (4 - l) as 1 | 2 | 3;
  const sampleRate = SAMPLE_RATES[version][rateIndex];
  const samplesPerFrame = layer === 1 ? 384 : layer === 3 && version !== 1 ? 576 : 1152;
  const kbps = BITRATES[`${version === 1 ? 1 : 2}-${version !== 1 && layer === 3 ? 2 : layer}`][bitrateIndex];
  const padding = (b[o + 2] >> 1) & 1;
  const frameLength =
    kbps === 0
      ? 0
      : layer === 1
        ? (Math.floor((12000 * kbps) / sampleRate) + padding) * 4
        : Math.floor(((samplesPerFrame / 8) * 1000 * kbps) / sampleRate) + padding;
  return { version, layer, sampleRate, channels: b[o + 3] >> 6 === 3 ? 1 : 2, samplesPerFrame, frameLength };
}

/** Length of a leading ID3v2 tag (0 if none). */
export function id3v2Length(head: Uint8Array, o = 0): number {
  if (head.length < o + 10 || ascii(head, o, 3) !== 'ID3') return 0;
  const size = ((head[o + 6] & 0x7f) << 21) | ((head[o + 7] & 0x7f) << 14) | ((head[o + 8] & 0x7f) << 7) | (head[o + 9] & 0x7f);
  const footer = head[o + 5] & 0x10 ? 10 : 0;
  return 10 + size + footer;
}

/** Same stream: what never changes between the frames of one MPEG audio stream. */
function sameStream(a: MpegFrameHeader, b: MpegFrameHeader): boolean {
  return a.version === b.version && a.layer === b.layer && a.sampleRate === b.sampleRate && a.channels === b.channels;
}

export interface MpegStream {
  /** The first audio frame's header (the Xing/Info frame, if any, is not audio). */
  header: MpegFrameHeader;
  /** Offset of the first frame (the Xing/Info frame when there is one). */
  offset: number;
  /** Audio frames the Xing/Info header declares (it does not count itself); null without one. */
  declaredFrames: number | null;
  /**
   * Gapless trimming from a LAME tag (written by LAME and by ffmpeg's libmp3lame muxer): samples of
   * encoder delay at the start and of padding at the end. Null without one.
   */
  gapless: { delay: number; padding: number } | null;
  /** Bytes missing from the last frame when the file ends inside it (0 when it is complete). */
  lastFrameMissing: number;
}

/** How far after the ID3v2 tag(s) to look for the first frame (encoders and taggers leave junk). */
const SYNC_SEARCH_BYTES = 64 * 1024;

/** Offset of the first frame: a valid header followed by another of the same stream (or the end). */
function firstFrame(bytes: Uint8Array): number {
  let o = 0;
  for (let skip = id3v2Length(bytes, o); skip > 0; skip = id3v2Length(bytes, o)) o += skip;
  const limit = Math.min(bytes.length - 4, o + SYNC_SEARCH_BYTES);
  for (; o < limit; o++) {
    const h = parseMpegHeader(bytes, o);
    if (!h) continue;
    const next = o + h.frameLength;
    if (h.frameLength === 0 || next + 4 > bytes.length) return o;
    const n = parseMpegHeader(bytes, next);
    if (n && sameStream(h, n)) return o;
  }
  return -1;
}

/**
 * The Xing/Info tag of the frame at `o` (Layer III only): its frame count and, when a LAME tag
 * follows from an encoder ffmpeg trusts (LAME, or ffmpeg's own Lavf/Lavc), the delay and padding.
 */
function xingTag(bytes: Uint8Array, o: number, h: MpegFrameHeader): Pick<MpegStream, 'declaredFrames' | 'gapless'> | null {
  if (h.layer !== 3) return null;
  const sideInfo = h.version === 1 ? (h.channels === 1 ? 17 : 32) : h.channels === 1 ? 9 : 17;
  const x = o + 4 + sideInfo;
  const tag = ascii(bytes, x, 4);
  if ((tag !== 'Xing' && tag !== 'Info') || x + 8 > bytes.length) return null;
  const be32 = (p: number): number => ((bytes[p] << 24) >>> 0) + (bytes[p + 1] << 16) + (bytes[p + 2] << 8) + bytes[p + 3];
  const flags = be32(x + 4);
  let p = x + 8;
  const declaredFrames = flags & 1 && p + 4 <= bytes.length ? be32(p) : null;
  if (flags & 1) p += 4;
  if (flags & 2) p += 4; // byte count
  if (flags & 4) p += 100; // seek table
  if (flags & 8) p += 4; // quality
  const encoder = ascii(bytes, p, 4);
  let gapless: MpegStream['gapless'] = null;
  if ((encoder === 'LAME' || encoder === 'Lavf' || encoder === 'Lavc') && p + 24 <= bytes.length) {
    const d = p + 21;
    gapless = { delay: (bytes[d] << 4) | (bytes[d + 1] >> 4), padding: ((bytes[d + 1] & 0x0f) << 8) | bytes[d + 2] };
  }
  return { declaredFrames: declaredFrames || null, gapless };
}

/** The stream's structure, or null when no MPEG audio frame is found. */
export function mpegStream(bytes: Uint8Array): MpegStream | null {
  const offset = firstFrame(bytes);
  if (offset < 0) return null;
  const header = parseMpegHeader(bytes, offset) as MpegFrameHeader;
  const xing = xingTag(bytes, offset, header);
  // Walk the frames to the end: a file that stops inside a frame is reported, the bytes after the
  // last frame (ID3v1/APE tags, junk) are not ours to judge.
  let lastFrameMissing = 0;
  if (header.frameLength > 0) {
    for (let o = offset; ; ) {
      const h = parseMpegHeader(bytes, o);
      if (!h || !sameStream(h, header) || h.frameLength === 0) break;
      if (o + h.frameLength > bytes.length) {
        lastFrameMissing = o + h.frameLength - bytes.length;
        break;
      }
      o += h.frameLength;
    }
  }
  return { header, offset, declaredFrames: xing?.declaredFrames ?? null, gapless: xing?.gapless ?? null, lastFrameMissing };
}

/** The MP3 decoder's delay in samples (mpg123 and ffmpeg alike), which a LAME tag's delay excludes. */
const DECODER_DELAY = 529;

/**
 * Which of `decoded` samples (every frame's output, decoder delay included) the file holds, as
 * ffmpeg's gapless rule keeps them: with a LAME tag, drop delay + 529 samples at the start and the
 * padding − 529 samples that end the declared frames; frames beyond the declared count are kept.
 * Returns [start, end) ranges.
 */
export function gaplessRanges(stream: MpegStream, decoded: number): [number, number][] {
  const { gapless, declaredFrames } = stream;
  if (!gapless) return [[0, decoded]];
  const start = Math.min(decoded, gapless.delay + DECODER_DELAY);
  if (declaredFrames === null) return [[start, decoded]];
  const declared = declaredFrames * stream.header.samplesPerFrame;
  const discardFrom = Math.max(start, declared - gapless.padding + DECODER_DELAY);
  if (discardFrom >= declared || discardFrom >= decoded) return [[start, decoded]];
  const kept: [number, number][] = [[start, discardFrom]];
  if (declared < decoded) kept.push([declared, decoded]);
  return kept;
}
