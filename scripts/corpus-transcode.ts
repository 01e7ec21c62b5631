/**
 * Transcodes for the corpus check (scripts/corpus.ts --transcode N): N files per recipe, each from a
 * different source file, in the formats and encoder settings people's files come in — MP3 as ffmpeg
 * writes it (CBR, VBR, ABR, MPEG-1/2/2.5 at 8–48 kHz, mono, with and without the Xing/LAME frame or the
 * bit reservoir, ID3v1), MPEG Layer II, AAC in M4A and ADTS, Opus (low delay, 60 ms frames, 5.1, in
 * WebM), FLAC 16/24-bit (fastest and strongest settings, 96 kHz, 5.1, in Ogg), Ogg Vorbis, WAV in every
 * sample format and in codecs only ffmpeg decodes (IMA ADPCM), Sun .au in each of its encodings, AIFF.
 * Existing outputs are kept, so a second run costs nothing.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, renameSync, rmSync } from 'node:fs';
import { basename, extname, join, resolve } from 'node:path';
import { Rng } from '../src/tasks/rng.js';

interface Recipe {
  name: string;
  ext: string;
  args: string[];
}

const MP3 = ['-c:a', 'libmp3lame'];
export const RECIPES: readonly Recipe[] = [
  { name: 'mp3-cbr128', ext: 'mp3', args: [...MP3, '-b:a', '128k'] },
  { name: 'mp3-vbr-q4', ext: 'mp3', args: [...MP3, '-q:a', '4'] },
  { name: 'mp3-mono-22k', ext: 'mp3', args: [...MP3, '-ac', '1', '-ar', '22050', '-b:a', '48k'] },
  { name: 'mp3-mono-8k', ext: 'mp3', args: [...MP3, '-ac', '1', '-ar', '8000', '-b:a', '16k'] },
  { name: 'mp3-16k-vbr', ext: 'mp3', args: [...MP3, '-ar', '16000', '-q:a', '6'] },
  { name: 'mp3-48k-stereo', ext: 'mp3', args: [...MP3, '-ac', '2', '-ar', '48000', '-b:a', '192k'] },
  {
    name: 'mp3-noxing-id3v1',
    ext: 'mp3',
    args: [...MP3, '-b:a', '96k', '-write_xing', '0', '-id3v2_version', '0', '-write_id3v1', '1', '-metadata', 'title=clap-ts corpus'],
  },
  { name: 'mp3-mono-11k-cbr32', ext: 'mp3', args: [...MP3, '-ac', '1', '-ar', '11025', '-b:a', '32k'] },
  { name: 'mp3-12k-vbr-q9', ext: 'mp3', args: [...MP3, '-ar', '12000', '-q:a', '9'] },
  { name: 'mp3-24k-abr', ext: 'mp3', args: [...MP3, '-ar', '24000', '-abr', '1', '-b:a', '64k'] },
  { name: 'mp3-32k-vbr-q0', ext: 'mp3', args: [...MP3, '-ar', '32000', '-q:a', '0'] },
  { name: 'mp3-no-reservoir-lr', ext: 'mp3', args: [...MP3, '-b:a', '160k', '-reservoir', '0', '-joint_stereo', '0'] },
  { name: 'mp2-layer2', ext: 'mp2', args: ['-c:a', 'mp2', '-ar', '44100', '-b:a', '192k'] },
  { name: 'm4a-aac', ext: 'm4a', args: ['-c:a', 'aac', '-b:a', '128k'] },
  { name: 'aac-adts-8k', ext: 'aac', args: ['-c:a', 'aac', '-ac', '1', '-ar', '8000', '-b:a', '16k'] },
  { name: 'm4a-aac-mono-24k', ext: 'm4a', args: ['-c:a', 'aac', '-ac', '1', '-ar', '24000', '-b:a', '48k'] },
  { name: 'opus', ext: 'opus', args: ['-c:a', 'libopus', '-b:a', '64k'] },
  { name: 'opus-mono-voip', ext: 'opus', args: ['-c:a', 'libopus', '-ac', '1', '-b:a', '24k', '-application', 'voip'] },
  {
    name: 'opus-16k-lowdelay-cbr',
    ext: 'opus',
    args: ['-c:a', 'libopus', '-ar', '16000', '-b:a', '20k', '-vbr', 'off', '-application', 'lowdelay'],
  },
  { name: 'opus-5.1', ext: 'opus', args: ['-c:a', 'libopus', '-af', 'aformat=channel_layouts=5.1', '-b:a', '192k'] },
  { name: 'opus-60ms-frames', ext: 'opus', args: ['-c:a', 'libopus', '-b:a', '48k', '-frame_duration', '60'] },
  { name: 'webm-opus', ext: 'webm', args: ['-c:a', 'libopus', '-b:a', '64k'] },
  { name: 'flac-16', ext: 'flac', args: ['-c:a', 'flac', '-sample_fmt', 's16'] },
  { name: 'flac-fast-c0', ext: 'flac', args: ['-c:a', 'flac', '-sample_fmt', 's16', '-compression_level', '0'] },
  {
    name: 'flac-96k-24-c12',
    ext: 'flac',
    args: ['-c:a', 'flac', '-ar', '96000', '-sample_fmt', 's32', '-bits_per_raw_sample', '24', '-compression_level', '12'],
  },
  { name: 'flac-5.1', ext: 'flac', args: ['-c:a', 'flac', '-af', 'aformat=channel_layouts=5.1'] },
  { name: 'ogg-flac', ext: 'oga', args: ['-c:a', 'flac'] },
  { name: 'flac-24', ext: 'flac', args: ['-c:a', 'flac', '-sample_fmt', 's32', '-bits_per_raw_sample', '24'] },
  { name: 'ogg-vorbis', ext: 'ogg', args: ['-c:a', 'libvorbis', '-q:a', '4'] },
  { name: 'ogg-vorbis-mono-8k-q0', ext: 'ogg', args: ['-c:a', 'libvorbis', '-ac', '1', '-ar', '8000', '-q:a', '0'] },
  { name: 'wav-alaw', ext: 'wav', args: ['-c:a', 'pcm_alaw', '-ar', '8000', '-ac', '1'] },
  { name: 'wav-mulaw', ext: 'wav', args: ['-c:a', 'pcm_mulaw', '-ar', '8000', '-ac', '1'] },
  { name: 'wav-u8-11k', ext: 'wav', args: ['-c:a', 'pcm_u8', '-ar', '11025'] },
  { name: 'wav-s24', ext: 'wav', args: ['-c:a', 'pcm_s24le'] },
  { name: 'wav-s32', ext: 'wav', args: ['-c:a', 'pcm_s32le'] },
  { name: 'wav-f64', ext: 'wav', args: ['-c:a', 'pcm_f64le'] },
  { name: 'au-mulaw', ext: 'au', args: ['-c:a', 'pcm_mulaw', '-ar', '8000'] },
  { name: 'au-alaw', ext: 'au', args: ['-c:a', 'pcm_alaw', '-ar', '8000'] },
  { name: 'au-s8', ext: 'au', args: ['-c:a', 'pcm_s8'] },
  { name: 'au-s16', ext: 'au', args: ['-c:a', 'pcm_s16be', '-ar', '22050'] },
  { name: 'au-s24', ext: 'au', args: ['-c:a', 'pcm_s24be'] },
  { name: 'au-s32', ext: 'au', args: ['-c:a', 'pcm_s32be'] },
  { name: 'au-f32', ext: 'au', args: ['-c:a', 'pcm_f32be'] },
  { name: 'au-f64', ext: 'au', args: ['-c:a', 'pcm_f64be'] },
  { name: 'aiff-s16', ext: 'aiff', args: ['-c:a', 'pcm_s16be'] },
  { name: 'wav-ima-adpcm', ext: 'wav', args: ['-c:a', 'adpcm_ima_wav'] },
];

/** Sources worth transcoding: formats decoded natively, so a failure is the transcode's. */
const SOURCE_EXTENSIONS = new Set(['.wav', '.flac', '.ogg', '.oga', '.opus']);

function run(bin: string, args: string[]): Promise<string | null> {
  return new Promise((done) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (c: Buffer) => {
      err += c.toString();
    });
    child.on('error', (e) => done(e.message));
    child.on('close', (code) => done(code === 0 ? null : err.trim().split('\n').pop() || `exit code ${code}`));
  });
}

/**
 * Makes (or finds) `perRecipe` transcodes per recipe under `dir`/RECIPE/, from sources picked at
 * random (seeded) among `files`; returns the paths made or found. `log` hears about each failure.
 */
export async function makeTranscodes(
  files: readonly string[],
  perRecipe: number,
  dir: string,
  ffmpeg: string,
  log: (line: string) => void,
  stop: () => boolean = () => false,
): Promise<string[]> {
  const sources = new Rng(12).shuffle(files.filter((f) => SOURCE_EXTENSIONS.has(extname(f).toLowerCase())).sort());
  const out: string[] = [];
  let next = 0;
  for (const recipe of RECIPES) {
    mkdirSync(join(dir, recipe.name), { recursive: true });
    for (let k = 0; k < perRecipe && next < sources.length && !stop(); k++) {
      const src = sources[next++];
      const target = join(dir, recipe.name, `${k}-${basename(src, extname(src))}.${recipe.ext}`);
      if (!existsSync(target)) {
        const part = `${target}.part.${recipe.ext}`;
        const args = [
          '-hide_banner',
          '-nostdin',
          '-v',
          'error',
          '-y',
          '-i',
          `file:${resolve(src)}`,
          '-map',
          '0:a:0',
          '-map_metadata',
          '-1',
        ];
        const failure = await run(ffmpeg, [...args, ...recipe.args, `file:${part}`]);
        if (failure) {
          rmSync(part, { force: true });
          log(`transcode ${recipe.name} of ${src} failed: ${failure}`);
          k--; // take the next source instead
          continue;
        }
        renameSync(part, target);
      }
      out.push(target);
    }
  }
  return out;
}
