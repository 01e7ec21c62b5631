/**
 * What the browser-build tests compare against: the fixture model exported by the real `clap export onnx`,
 * and the Node library's answers for the same inputs through the real CLI (`clap classify --json`,
 * `clap embed text --json`).
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { clapCli } from '../helpers/cli.js';
import { fixturePath } from '../helpers/fixtures.js';

export const WEIGHTS = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];
export const AUDIO = ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'bursts_long_44k', 'vowel_16k', 'stereo_48k', 'speech_22k'].map(
  (n) => fixturePath('inputs', 'audio', `${n}.wav`),
);
export const LABELS = ['dog barking', 'rain', 'speech', 'siren', 'music'];
export const TEXTS: string[] = (JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts;
/** What the demo's search is tested with. */
export const QUERY = 'a person speaking in a small room';

/** Zero-shot probabilities and text embeddings: the page's must be within this of the Node library's. */
export const TOL = 1e-4;

export interface Reference {
  /** The export folder and its files' names. */
  dir: string;
  files: string[];
  /** file name → label → probability, from `clap classify --json`. */
  scores: Map<string, Record<string, number>>;
  /** `clap embed text --json` of TEXTS. */
  text: number[][];
  /** `clap embed text --json` of QUERY. */
  query: number[];
  /** The export's similarity scale. */
  logitScale: number;
}

const clap = clapCli({ ...process.env, CLAP_THREADS: '1' });

async function cliJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await clap.ok(...args, '--json')) as T;
}

/** Exports the fixture model into a new temporary folder and asks the CLI for the reference answers. */
export async function reference(): Promise<Reference> {
  const dir = join(mkdtempSync(join(tmpdir(), 'clap-web-')), 'model');
  const [, classified, embedded] = await Promise.all([
    cliJson('export', 'onnx', ...WEIGHTS, '--out', dir),
    cliJson<{ input: string; scores: Record<string, number> }[]>('classify', ...AUDIO, '--labels', LABELS.join(','), ...WEIGHTS),
    cliJson<{ embedding: number[] }[]>('embed', 'text', ...TEXTS, QUERY, ...WEIGHTS),
  ]);
  const manifest = JSON.parse(readFileSync(join(dir, 'clap-export.json'), 'utf8')) as { logit_scale: number };
  return {
    dir,
    files: readdirSync(dir),
    scores: new Map(classified.map((c) => [basename(c.input), c.scores])),
    text: embedded.slice(0, TEXTS.length).map((e) => e.embedding),
    query: embedded[TEXTS.length].embedding,
    logitScale: manifest.logit_scale,
  };
}

/** The largest difference between two score tables (same labels). */
export function scoreDiff(got: Record<string, number>, want: Record<string, number>): number {
  return Math.max(...Object.keys(want).map((l) => Math.abs(got[l] - want[l])));
}
