/** Synthetic training data for the train tests: tones of four kinds, captions naming them. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeWav } from '../../src/audio/index.js';

export const TONE_CLASSES: Record<string, number> = { low: 220, middle: 660, high: 1980, buzz: 0 };

/** Writes `perClass` WAVs per class (2–6 s, 22.05 kHz) and manifest.csv (path,caption,label); returns the manifest path. */
export function writeToneDataset(dir: string, perClass = 16): string {
  mkdirSync(dir, { recursive: true });
  const rows = ['path,caption,label'];
  let s = 1;
  for (const [name, f] of Object.entries(TONE_CLASSES)) {
    for (let i = 0; i < perClass; i++) {
      const sr = 22050;
      const n = Math.round(sr * (2 + (i % 5)));
      const x = new Float32Array(n);
      for (let k = 0; k < n; k++) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const noise = (s / 2 ** 32 - 0.5) * 0.02;
        x[k] = (f ? 0.3 * Math.sin((2 * Math.PI * f * (1 + 0.01 * i) * k) / sr) : 0.3 * (k % 50 < 25 ? 1 : -1)) + noise;
      }
      const file = `${name}_${i}.wav`;
      writeFileSync(join(dir, file), encodeWav([x], sr, 'pcm16'));
      rows.push(`${file},"a ${name} tone",${name}`);
    }
  }
  const manifest = join(dir, 'manifest.csv');
  writeFileSync(manifest, `${rows.join('\n')}\n`);
  return manifest;
}
