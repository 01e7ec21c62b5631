/**
 * Optional fallback for containers we do not decode natively (M4A/AAC, WebM, AIFF, WMA, ...): when an
 * `ffmpeg` binary is available, it converts the input to a float32 WAV in a private temporary file,
 * which is then streamed like any WAV (the file is unlinked as soon as it is open). Its float samples
 * are taken as they are, not through the sox reading of float WAV files: torchaudio 0.13 hands what
 * ffmpeg decodes over unclipped.
 */
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { ClapError } from '../errors.js';
import { FileReader } from './file-reader.js';
import { WavSource } from './wav.js';

const available = new Map<string, boolean>();

/**
 * The ffmpeg binary to use, or null. `setting`: false disables the fallback, a string names the
 * binary, true/undefined looks for `ffmpeg` on PATH (or $CLAP_FFMPEG).
 */
export function findFfmpeg(setting: boolean | string | undefined): string | null {
  if (setting === false) return null;
  const bin = typeof setting === 'string' ? setting : process.env.CLAP_FFMPEG || 'ffmpeg';
  let ok = available.get(bin);
  if (ok === undefined) {
    const r = spawnSync(bin, ['-hide_banner', '-version'], { stdio: 'ignore', timeout: 10_000 });
    ok = r.status === 0;
    available.set(bin, ok);
  }
  return ok ? bin : null;
}

/** Converts `input` (a file path or bytes) with ffmpeg and opens the result as a streaming WavSource. */
export async function openWithFfmpeg(bin: string, input: { path: string } | { bytes: Uint8Array }, name: string): Promise<WavSource> {
  const dir = mkdtempSync(join(tmpdir(), 'clap-audio-'));
  try {
    let src: string;
    if ('path' in input) {
      src = `file:${resolve(input.path)}`;
    } else {
      src = join(dir, 'input');
      writeFileSync(src, input.bytes);
    }
    const out = join(dir, 'decoded.wav');
    const args = [
      '-hide_banner',
      '-nostdin',
      '-v',
      'error',
      '-i',
      src,
      '-map',
      '0:a:0',
      '-vn',
      '-acodec',
      'pcm_f32le',
      '-rf64',
      'auto',
      '-f',
      'wav',
      '-y',
      out,
    ];
    const stderr = await new Promise<string>((resolvePromise, reject) => {
      const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      const chunks: Buffer[] = [];
      child.stderr.on('data', (c: Buffer) => chunks.push(c));
      child.on('error', (err) => reject(new ClapError(`could not run ${bin}: ${err.message}`, { subject: name, cause: err })));
      child.on('close', (code) => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (code === 0) resolvePromise(text);
        else {
          const first =
            text
              .split('\n')
              .map((l) => l.trim())
              .filter((l) => l.length > 0)
              .pop() ?? `exit code ${code}`;
          reject(new ClapError(`ffmpeg could not decode it: ${first.replaceAll(dir, '').slice(0, 200)}`, { subject: name }));
        }
      });
    });
    void stderr;
    const reader = new FileReader(out, name);
    try {
      return new WavSource(reader, { reading: 'soundfile' }); // floats as stored (see above)
    } catch (err) {
      reader.close();
      throw err;
    }
  } finally {
    // The open file descriptor keeps the decoded data readable after the directory is removed.
    rmSync(dir, { recursive: true, force: true });
  }
}
