import { ClapError } from '../errors.js';
import { MAX_SAMPLE_RATE } from './constants.js';

/** Fully decoded audio: one Float32Array per channel, samples in [-1, 1] (float formats may exceed it). */
export interface DecodedAudio {
  sampleRate: number;
  channels: Float32Array[];
}

/**
 * Random-access multichannel PCM. WAV files are read from disk on demand (a 2-hour file is never held
 * in memory); compressed formats are decoded once into memory and served from there.
 */
export interface FrameSource {
  /** What error messages name: the file path, or the caller's label for in-memory input. */
  readonly name: string;
  readonly sampleRate: number;
  readonly numChannels: number;
  readonly numFrames: number;
  /**
   * Frames [start, start+count) of every channel (0 ≤ start, start+count ≤ numFrames). The arrays may be
   * views into the source's own memory: callers must not modify them.
   */
  read(start: number, count: number): Float32Array[];
  /** Releases a file handle, if any. Idempotent. */
  close(): void;
}

/** Validates a sample rate the way every decoder needs: a positive integer up to 1 MHz. */
export function checkSampleRate(sampleRate: number, name: string): void {
  if (!Number.isFinite(sampleRate) || sampleRate <= 0 || sampleRate > MAX_SAMPLE_RATE) {
    throw new ClapError(`invalid sample rate ${sampleRate} Hz (expected 1 Hz to ${MAX_SAMPLE_RATE / 1e6} MHz)`, { subject: name });
  }
  if (!Number.isInteger(sampleRate)) {
    throw new ClapError(`sample rate ${sampleRate} Hz is not an integer (resampling needs an integer rate)`, { subject: name });
  }
}

/** Throws a ClapError naming `name` if any sample is NaN or ±Infinity. `offset` shifts the reported index. */
export function checkFinite(data: Float32Array, name: string, channel: number, offset = 0): void {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v - v is NaN exactly for NaN and ±Infinity; this is faster than Number.isFinite in a hot loop.
    if (v - v !== 0) {
      throw new ClapError(`sample ${offset + i} of channel ${channel} is ${v} (audio must be finite)`, { subject: name });
    }
  }
}

/** A FrameSource over channels already in memory. */
export class MemorySource implements FrameSource {
  readonly numChannels: number;
  readonly numFrames: number;

  constructor(
    readonly name: string,
    readonly sampleRate: number,
    readonly channels: Float32Array[],
  ) {
    checkSampleRate(sampleRate, name);
    if (channels.length === 0) throw new ClapError('audio has no channels', { subject: name });
    const n = channels[0].length;
    for (let c = 0; c < channels.length; c++) {
      if (channels[c].length !== n) {
        throw new ClapError(`channel ${c} has ${channels[c].length} samples but channel 0 has ${n}`, { subject: name });
      }
      checkFinite(channels[c], name, c);
    }
    if (n === 0) throw new ClapError('audio has zero samples', { subject: name });
    this.numChannels = channels.length;
    this.numFrames = n;
  }

  read(start: number, count: number): Float32Array[] {
    return this.channels.map((ch) => ch.subarray(start, start + count));
  }

  close(): void {}
}

/** Reads a whole FrameSource into memory. */
export function readAll(source: FrameSource): DecodedAudio {
  if (source instanceof MemorySource) return { sampleRate: source.sampleRate, channels: source.channels };
  const channels = Array.from({ length: source.numChannels }, () => new Float32Array(source.numFrames));
  const block = 1 << 16;
  for (let start = 0; start < source.numFrames; start += block) {
    const count = Math.min(block, source.numFrames - start);
    const part = source.read(start, count);
    for (let c = 0; c < channels.length; c++) channels[c].set(part[c], start);
  }
  return { sampleRate: source.sampleRate, channels };
}
