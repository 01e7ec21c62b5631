/**
 * Compressed formats through the @wasm-audio-decoders family (WASM embedded in the packages, so they
 * work offline): FLAC, Ogg Vorbis, Ogg Opus, MPEG Layer I/II/III. They decode whole buffers: a
 * compressed file is held in memory together with its decoded float32 samples.
 */
import { ClapError } from '../errors.js';
import type { DecodedAudio } from './source.js';
import { flacStream } from './flac.js';
import { gaplessRanges, mpegStream } from './mpeg.js';
import { checkOggComplete, lastOggGranule, oggLinks } from './ogg.js';
import { soxSampleToFloat } from './pcm.js';

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

/** A WASM decoder from the @wasm-audio-decoders family: ready, decode, free. */
interface WasmDecoder {
  ready: Promise<void>;
  free(): void;
}

/** The streaming half of a decoder: `decode` takes consecutive chunks, `flush` (when there is one) ends the stream. */
interface StreamingDecoder extends WasmDecoder {
  decode(chunk: Uint8Array): DecoderResult | Promise<DecoderResult>;
  flush?(): Promise<DecoderResult>;
}

/**
 * Input bytes fed per step when the output is bounded: small, because a hostile stream can expand a lot
 * (a FLAC frame of a few bytes may hold 65535 samples), so one step never overshoots the bound by much.
 */
const BOUNDED_CHUNK = 1024;

/**
 * Decodes `bytes` chunk by chunk and stops as soon as the output passes `maxSeconds`, so an input that
 * would expand beyond it is refused without ever being held decoded. Same result as a whole-file decode.
 */
async function decodeBounded(
  d: StreamingDecoder,
  bytes: Uint8Array,
  maxSeconds: number,
  what: string,
  name: string,
): Promise<DecoderResult> {
  const parts: DecoderResult[] = [];
  let samples = 0;
  const take = (r: DecoderResult): void => {
    if (r.samplesDecoded === 0 && r.errors.length === 0) return;
    parts.push(r);
    samples += r.samplesDecoded;
    if (r.sampleRate > 0 && samples > maxSeconds * r.sampleRate)
      throw new ClapError(`${what} audio is longer than the ${maxSeconds} s limit`, { subject: name });
  };
  for (let at = 0; at < bytes.length; at += BOUNDED_CHUNK) take(await d.decode(bytes.subarray(at, at + BOUNDED_CHUNK)));
  if (d.flush) take(await d.flush());
  const first = parts.find((p) => p.channelData.length > 0);
  const channels = first?.channelData.length ?? 0;
  const channelData = Array.from({ length: channels }, (_, c) => {
    const out = new Float32Array(samples);
    let o = 0;
    for (const p of parts) {
      if (p.channelData[c]) out.set(p.channelData[c].subarray(0, p.samplesDecoded), o);
      o += p.samplesDecoded;
    }
    return out;
  });
  return {
    channelData,
    samplesDecoded: samples,
    sampleRate: first?.sampleRate ?? 0,
    bitDepth: first?.bitDepth,
    errors: parts.flatMap((p) => p.errors),
  };
}

/** A whole-file decode, or a bounded one when `maxSeconds` is given (see decodeBounded). */
function decodeAll<D extends StreamingDecoder>(
  d: D,
  whole: (d: D) => DecoderResult | Promise<DecoderResult>,
  bytes: Uint8Array,
  maxSeconds: number | undefined,
  what: string,
  name: string,
): DecoderResult | Promise<DecoderResult> {
  return maxSeconds === undefined ? whole(d) : decodeBounded(d, bytes, maxSeconds, what, name);
}

/**
 * Runs one decode on a fresh decoder and always frees it; a throw becomes a one-line ClapError naming
 * the input.
 */
async function runDecoder<D extends WasmDecoder>(
  decoder: D,
  decode: (d: D) => DecoderResult | Promise<DecoderResult>,
  what: string,
  name: string,
): Promise<DecoderResult> {
  try {
    await decoder.ready;
    return await decode(decoder);
  } catch (err) {
    if (err instanceof ClapError) throw err;
    throw new ClapError(`corrupt ${what} data (${String((err as Error)?.message ?? err)})`, { subject: name, cause: err });
  } finally {
    decoder.free();
  }
}

/**
 * FLAC, decoded from the frames `flacStream` finds (see flac.ts for why not the decoder's own parser).
 * The length is known from the frame headers before decoding, so `maxSeconds` refuses a long stream
 * without decoding any of it. The decoder returns integer samples divided by 2^(bits−1) − 1; they are
 * mapped back to the integers (exact up to 24 bits) and scaled like torchaudio/libsox: x / 2^(bits−1).
 */
export async function decodeFlac(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  const stream = flacStream(bytes);
  if (!stream || (stream.frames.length === 0 && stream.declaredSamples === 0 && !stream.lastFrameIncomplete)) {
    throw new ClapError('corrupt FLAC data: no audio frame found', { subject: name });
  }
  if (maxSeconds !== undefined && stream.sampleRate > 0 && stream.samples > maxSeconds * stream.sampleRate) {
    throw new ClapError(`FLAC audio is longer than the ${maxSeconds} s limit`, { subject: name });
  }
  const { declaredSamples: declared, samples } = stream;
  if (stream.lastFrameIncomplete || samples < declared) {
    const held =
      declared > 0 ? `the file holds ${samples} of the ${declared} samples its header declares` : `the file holds ${samples} samples`;
    const at = stream.frames.length > 0 ? stream.frames[stream.frames.length - 1][1] : 0;
    const why = stream.lastFrameIncomplete ? `; the frame after them (at byte ${at}) is cut off or damaged` : '';
    throw new ClapError(`truncated or corrupt FLAC data: ${held}${why}`, { subject: name });
  }
  const { FLACDecoder } = await import('@wasm-audio-decoders/flac');
  const frames = stream.frames.map(([a, b]) => bytes.subarray(a, b));
  const result = await runDecoder(new FLACDecoder(), (d) => d.decodeFrames(frames), 'FLAC', name);
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

/**
 * A later link of a chained stream in the first link's layout. Debian's klettres samples chain a mono
 * link and a stereo one (with equal channels); ffmpeg mixes the stereo link down, and so does this:
 * to mono by averaging, from mono by copying. Other changes (rate, 2 to 6 channels) are refused.
 */
function matchChannels(part: DecodedAudio, first: DecodedAudio | null, what: string, link: number, name: string): DecodedAudio {
  if (!first) return part;
  const from = part.channels.length;
  if (part.sampleRate === first.sampleRate) {
    if (from === first.channels.length) return part;
    if (from === 1) return { sampleRate: part.sampleRate, channels: first.channels.map(() => part.channels[0]) };
    if (first.channels.length === 1) {
      const mono = new Float32Array(part.channels[0].length);
      for (const c of part.channels) for (let i = 0; i < mono.length; i++) mono[i] += c[i] / from;
      return { sampleRate: part.sampleRate, channels: [mono] };
    }
  }
  throw new ClapError(
    `chained ${what} stream changes from ${first.sampleRate} Hz × ${first.channels.length} ` +
      `to ${part.sampleRate} Hz × ${part.channels.length} channels at link ${link} (not supported)`,
    { subject: name },
  );
}

/**
 * Decodes each link of a chained Ogg stream on its own (see ogg.ts) and joins them, as libvorbisfile
 * and opusfile (sox, torchaudio 0.13) return them.
 */
async function decodeLinks(
  bytes: Uint8Array,
  name: string,
  maxSeconds: number | undefined,
  what: string,
  decodeLink: (link: Uint8Array, maxSeconds: number | undefined) => Promise<DecodedAudio>,
): Promise<DecodedAudio> {
  const links = oggLinks(bytes);
  if (links.length === 1) return decodeLink(bytes, maxSeconds);
  const parts: DecodedAudio[] = [];
  let seconds = 0;
  for (const link of links) {
    const left = maxSeconds === undefined ? undefined : maxSeconds - seconds;
    if (left !== undefined && left <= 0) throw new ClapError(`${what} audio is longer than the ${maxSeconds} s limit`, { subject: name });
    const part = matchChannels(await decodeLink(link, left), parts[0] ?? null, what, parts.length + 1, name);
    parts.push(part);
    seconds += part.channels[0].length / part.sampleRate;
  }
  const length = parts.reduce((n, p) => n + p.channels[0].length, 0);
  const channels = parts[0].channels.map((_, c) => {
    const out = new Float32Array(length);
    let at = 0;
    for (const p of parts) {
      out.set(p.channels[c], at);
      at += p.channels[c].length;
    }
    return out;
  });
  return { sampleRate: parts[0].sampleRate, channels };
}

/**
 * The Ogg bytes with 64 zero bytes after them for the WASM decoders' Ogg parser (codec-parser 2.5), which drops a
 * last page of exactly 28 bytes (no body: it only completes the packet the page before continues, as some encoders
 * end a stream) when nothing follows it, and with it the stream's last packet. Bytes after the last page are skipped.
 */
function withTrailingBytes(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes.length + 64);
  out.set(bytes);
  return out;
}

export function decodeOggVorbis(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  return decodeLinks(bytes, name, maxSeconds, 'Ogg Vorbis', (link, left) => decodeVorbisLink(link, name, left));
}

async function decodeVorbisLink(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  const { OggVorbisDecoder } = await import('@wasm-audio-decoders/ogg-vorbis');
  const result = await runDecoder(
    new OggVorbisDecoder(),
    (d) => decodeAll(d, (w) => w.decodeFile(withTrailingBytes(bytes)), bytes, maxSeconds, 'Ogg Vorbis', name),
    'Ogg Vorbis',
    name,
  );
  const endGranule = result.errors.length === 0 ? checkOggComplete(bytes, 'Ogg Vorbis', name) : null;
  check(result, 'Ogg Vorbis', name);
  const length = endGranule === null ? result.samplesDecoded : Math.min(result.samplesDecoded, endGranule);
  return { sampleRate: result.sampleRate, channels: trimmed(result.channelData, length) };
}

/** Pre-skip (OpusHead) and the last page's granule position, to trim the decoder's output. */
function opusLength(bytes: Uint8Array): number | null {
  const head = findAscii(bytes, 'OpusHead', 0, Math.min(bytes.length, 512));
  if (head < 0 || head + 12 > bytes.length) return null;
  const preSkip = bytes[head + 10] | (bytes[head + 11] << 8);
  const end = lastOggGranule(bytes);
  return end === null ? null : Math.max(0, end - preSkip);
}

function findAscii(bytes: Uint8Array, s: string, from: number, to: number): number {
  outer: for (let i = from; i + s.length <= to; i++) {
    for (let j = 0; j < s.length; j++) if (bytes[i + j] !== s.charCodeAt(j)) continue outer;
    return i;
  }
  return -1;
}

/** Ogg Opus at 48 kHz. */
export function decodeOggOpus(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  return decodeLinks(bytes, name, maxSeconds, 'Ogg Opus', (link, left) => decodeOpusLink(link, name, left));
}

/**
 * One link of Ogg Opus. ogg-opus-decoder 1.7 drops the pre-skip at the start but trims the end to the
 * granule position without subtracting the pre-skip, leaving `preSkip` extra samples: cut them.
 */
async function decodeOpusLink(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  const { OggOpusDecoder } = await import('ogg-opus-decoder');
  const result = await runDecoder(
    new OggOpusDecoder(),
    (d) => decodeAll(d, (w) => w.decodeFile(withTrailingBytes(bytes)), bytes, maxSeconds, 'Ogg Opus', name),
    'Ogg Opus',
    name,
  );
  if (result.errors.length === 0) checkOggComplete(bytes, 'Ogg Opus', name);
  check(result, 'Ogg Opus', name);
  let length = result.samplesDecoded;
  const expected = opusLength(bytes);
  if (expected !== null && expected > 0 && expected < length) length = expected;
  return { sampleRate: result.sampleRate, channels: trimmed(result.channelData, length) };
}

/**
 * MPEG Layer I/II/III (MP3), trimmed the way ffmpeg (and so torchaudio 0.13, which msclap reads MP3
 * with) trims it: mpg123's own gapless mode is off (it trusts LAME tags ffmpeg ignores) and
 * `gaplessRanges` applies ffmpeg's rule. A mono stream is one channel (mpg123 always outputs two).
 * A file that ends inside its last frame is completed with zero bytes, as ffmpeg decodes it; one that
 * holds fewer frames than its Xing/Info header declares (beyond that last one) is refused.
 */
export async function decodeMpeg(bytes: Uint8Array, name: string, maxSeconds?: number): Promise<DecodedAudio> {
  const { MPEGDecoder } = await import('mpg123-decoder');
  const stream = mpegStream(bytes);
  if (!stream) throw new ClapError('corrupt MP3 data: no MPEG audio frame found', { subject: name });
  let input = bytes;
  if (stream.lastFrameMissing > 0) {
    input = new Uint8Array(bytes.length + stream.lastFrameMissing);
    input.set(bytes);
  }
  const mpeg = new MPEGDecoder({ enableGapless: false });
  const quiet: StreamingDecoder = {
    ready: mpeg.ready,
    free: () => mpeg.free(),
    decode: (chunk) => {
      // decode() is synchronous: silence the library's own console.error for bad frames (they are
      // reported through result.errors) without affecting anything else.
      const consoleError = console.error;
      console.error = () => {};
      try {
        return mpeg.decode(chunk);
      } finally {
        console.error = consoleError;
      }
    },
  };
  const result = await runDecoder(quiet, (d) => decodeAll(d, (w) => w.decode(input), input, maxSeconds, 'MP3', name), 'MP3', name);
  check(result, 'MP3', name);
  const decoded = result.samplesDecoded;
  const spf = stream.header.samplesPerFrame;
  if (stream.declaredFrames !== null && decoded < (stream.declaredFrames - 1) * spf) {
    throw new ClapError(
      `truncated MP3 data: the file holds ${Math.floor(decoded / spf)} of the ${stream.declaredFrames} frames its Xing/Info header declares`,
      { subject: name },
    );
  }
  const channels = result.channelData.slice(0, stream.header.channels);
  const ranges = gaplessRanges(stream, decoded);
  const length = ranges.reduce((n, [a, b]) => n + b - a, 0);
  if (length === 0) throw new ClapError('MP3 stream decodes to zero samples (after removing encoder delay and padding)', { subject: name });
  return {
    sampleRate: result.sampleRate,
    channels: channels.map((c) => {
      if (ranges.length === 1) return c.subarray(ranges[0][0], ranges[0][1]);
      const out = new Float32Array(length);
      let at = 0;
      for (const [a, b] of ranges) {
        out.set(c.subarray(a, b), at);
        at += b - a;
      }
      return out;
    }),
  };
}
