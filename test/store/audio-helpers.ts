/** Distinct small WAV files for index tests. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { encodeWav } from '../../src/audio/index.js';

/** A tone at `freq` Hz with a little deterministic noise (seeded by `seed`), mono float32 samples. */
export function tone(freq: number, seconds: number, sampleRate: number, seed = 1): Float32Array {
  const n = Math.round(seconds * sampleRate);
  const x = new Float32Array(n);
  let s = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    x[i] = 0.4 * Math.sin((2 * Math.PI * freq * i) / sampleRate) + ((s >>> 0) / 4294967296 - 0.5) * 0.1;
  }
  return x;
}

export function writeWav(path: string, samples: Float32Array | Float32Array[], sampleRate: number): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, encodeWav(Array.isArray(samples) ? samples : [samples], sampleRate, 'float32'));
}

/** `n` distinct 1 s clips at 16 kHz: `${dir}/clip000.wav` … */
export function writeClips(dir: string, n: number, prefix = 'clip'): string[] {
  return Array.from({ length: n }, (_, i) => {
    const p = `${dir}/${prefix}${String(i).padStart(3, '0')}.wav`;
    writeWav(p, tone(150 + 37 * i, 1, 16000, i + 1), 16000);
    return p;
  });
}
