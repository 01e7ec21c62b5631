/**
 * Library audio for the page: what a file is (sniffed from its bytes), a small waveform summary
 * (peaks), and a window of it as WAV for formats a browser cannot play. Files a browser plays are
 * streamed as they are (see routes), so only the others are decoded, by our decoders.
 */
import { stat } from 'node:fs/promises';
import { encodeWav, openAudio, sniffAudio, type FrameSource, type SniffedFormat } from '../audio/index.js';
import { FileReader } from '../audio/file-reader.js';
import { parseWavHeader } from '../audio/wav.js';
import { HttpError } from './http-error.js';
import type { PeaksView } from './schemas.js';

/** Content types of the formats browsers play as they are. */
const PLAYABLE: Partial<Record<SniffedFormat, string>> = {
  wav: 'audio/wav',
  flac: 'audio/flac',
  'ogg-vorbis': 'audio/ogg',
  'ogg-opus': 'audio/ogg',
  mp3: 'audio/mpeg',
};

/** Longest stretch served as WAV in one response, seconds. */
export const MAX_WAV_SECONDS = 600;

export interface MediaInfo {
  format: SniffedFormat | null;
  /** The content type to stream the file as, when browsers play it as it is; null when it must be decoded. */
  contentType: string | null;
}

/** Reads a library file's format. WAV plays as is when its samples are integers up to 32 bits or float32 (not G.711). */
export function mediaInfo(real: string): MediaInfo {
  const format = sniffAudio(real);
  let contentType = format ? (PLAYABLE[format] ?? null) : null;
  if (format === 'wav') {
    const reader = new FileReader(real);
    try {
      const layout = parseWavHeader(reader);
      const playable = layout.format === 'pcm' || (layout.format === 'float' && layout.bytesPerSample === 4);
      if (!playable) contentType = null;
    } catch {
      contentType = null; // a codec we (or ffmpeg) decode; playing it as is would fail
    } finally {
      reader.close();
    }
  }
  return { format, contentType };
}

/** Frames read per stretch at most: long files are summarised from a sample of each stretch. */
const FRAMES_PER_STRETCH = 8192;

function peaksOf(source: FrameSource, n: number): number[] {
  const out: number[] = [];
  const stretch = source.numFrames / n;
  for (let i = 0; i < n; i++) {
    const from = Math.floor(i * stretch);
    const to = Math.min(source.numFrames, Math.max(from + 1, Math.floor((i + 1) * stretch)));
    let peak = 0;
    for (let at = from; at < Math.min(to, from + FRAMES_PER_STRETCH); at += 65536) {
      const count = Math.min(65536, to - at, from + FRAMES_PER_STRETCH - at);
      for (const ch of source.read(at, count)) for (let j = 0; j < ch.length; j++) peak = Math.max(peak, Math.abs(ch[j]));
    }
    out.push(Math.round(Math.min(1, peak) * 1000) / 1000);
  }
  return out;
}

/** A few decodes at a time: a results page asks for many thumbnails at once. */
class Gate {
  private running = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.running >= this.size) await new Promise<void>((r) => this.waiting.push(r));
    this.running++;
    try {
      return await task();
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

async function withSource<T>(real: string, use: (s: FrameSource) => T): Promise<T> {
  let source: FrameSource;
  try {
    source = await openAudio(real);
  } catch (e) {
    throw new HttpError(422, (e as Error).message);
  }
  try {
    return use(source);
  } finally {
    source.close();
  }
}

export class Media {
  private readonly gate = new Gate(2);
  private readonly cache = new Map<string, PeaksView>();

  constructor(private readonly cacheSize = 2000) {}

  async peaks(real: string, n: number): Promise<PeaksView> {
    const st = await stat(real);
    const key = `${real}\0${st.size}\0${st.mtimeMs}\0${n}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.cache.delete(key); // most recently used last
      this.cache.set(key, hit);
      return hit;
    }
    const view = await this.gate.run(() =>
      withSource(real, (s) => {
        const info = mediaInfo(real);
        return {
          duration: s.numFrames / s.sampleRate,
          sampleRate: s.sampleRate,
          channels: s.numChannels,
          format: info.format,
          streamable: info.contentType !== null,
          peaks: peaksOf(s, n),
        };
      }),
    );
    this.cache.set(key, view);
    if (this.cache.size > this.cacheSize) this.cache.delete(this.cache.keys().next().value!);
    return view;
  }

  /** Seconds [start, end) of the file as 16-bit WAV (the whole file, up to MAX_WAV_SECONDS, by default). */
  wav(real: string, start = 0, end?: number): Promise<Uint8Array> {
    return this.gate.run(() =>
      withSource(real, (s) => {
        const duration = s.numFrames / s.sampleRate;
        if (start >= duration) throw new HttpError(416, `start ${start} s is past the end of the file (${duration.toFixed(2)} s)`);
        const stop = Math.min(end ?? duration, duration, start + MAX_WAV_SECONDS);
        if (stop <= start) throw new HttpError(400, `end must be after start`);
        const from = Math.floor(start * s.sampleRate);
        const to = Math.min(s.numFrames, Math.ceil(stop * s.sampleRate));
        return encodeWav(s.read(from, to - from), s.sampleRate, 'pcm16');
      }),
    );
  }
}
