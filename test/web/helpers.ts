/**
 * What the browser-build tests compare against: a fixture model exported by the real `clap export onnx`,
 * and the Node library's answers for the same inputs through the real CLI (`clap classify --json`,
 * `clap embed text --json`) — for msclap 2023 (most tests) and each other family's fixture set.
 */
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { clapCli } from '../helpers/cli.js';
import { fixturePath, hfclapPath, msclap2022Path } from '../helpers/fixtures.js';

/** A fixture set as the tests use it: the weights' flags, the audio files, the texts. */
export interface FamilyFixture {
  /** clap-export.json's family. */
  family: string;
  weights: string[];
  audio: string[];
  texts: string[];
}

const inputsOf = (root: (...p: string[]) => string, names: string[]): Pick<FamilyFixture, 'audio' | 'texts'> => ({
  audio: names.map((n) => root('inputs', 'audio', `${n}.wav`)),
  texts: (JSON.parse(readFileSync(root('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts,
});

export const MSCLAP_2023: FamilyFixture = {
  family: 'msclap-2023',
  weights: ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')],
  ...inputsOf(fixturePath, ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'bursts_long_44k', 'vowel_16k', 'stereo_48k', 'speech_22k']),
};

/**
 * Hugging Face CLAP: bursts_long_48k takes the fused model's fusion path (the unfused one's crop), short_48k
 * the extractor's repeatpad, just_over_10s_48k (208 samples over 10 s) exactly 1001 frames when fused (four
 * copies), chirp_exact10s_48k_f32 float samples read as soundfile reads them.
 */
const hfFixture = (variant: 'unfused' | 'fused'): FamilyFixture => ({
  family: 'hf-clap',
  weights: ['--weights', hfclapPath(`model-${variant}`)],
  ...inputsOf(hfclapPath, ['bursts_long_48k', 'short_48k', 'just_over_10s_48k', 'chirp_exact10s_48k_f32', 'stereo_48k', 'speech_22k']),
});

/** msclap 2022 (Cnn14 + BERT; bert-base-uncased/ beside the weights) and Hugging Face CLAP, unfused and fused. */
export const OTHER_FAMILIES: Record<'msclap-2022' | 'hf-unfused' | 'hf-fused', FamilyFixture> = {
  'msclap-2022': {
    family: 'msclap-2022',
    weights: ['--weights', msclap2022Path('clap.pth')],
    ...inputsOf(msclap2022Path, [
      'tone_noise_short_44k',
      'chirp_exact5s_44k_f32',
      'bursts_long_44k',
      'vowel_16k',
      'stereo_48k',
      'speech_22k',
    ]),
  },
  'hf-unfused': hfFixture('unfused'),
  'hf-fused': hfFixture('fused'),
};

export const WEIGHTS = MSCLAP_2023.weights;
export const AUDIO = MSCLAP_2023.audio;
export const LABELS = ['dog barking', 'rain', 'speech', 'siren', 'music'];
export const TEXTS = MSCLAP_2023.texts;
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
export async function reference(set: FamilyFixture = MSCLAP_2023): Promise<Reference> {
  const dir = join(mkdtempSync(join(tmpdir(), 'clap-web-')), 'model');
  const [, classified, embedded] = await Promise.all([
    cliJson('export', 'onnx', ...set.weights, '--out', dir),
    cliJson<{ input: string; scores: Record<string, number> }[]>('classify', ...set.audio, '--labels', LABELS.join(','), ...set.weights),
    cliJson<{ embedding: number[] }[]>('embed', 'text', ...set.texts, QUERY, ...set.weights),
  ]);
  const manifest = JSON.parse(readFileSync(join(dir, 'clap-export.json'), 'utf8')) as { logit_scale: number };
  return {
    dir,
    files: readdirSync(dir),
    scores: new Map(classified.map((c) => [basename(c.input), c.scores])),
    text: embedded.slice(0, set.texts.length).map((e) => e.embedding),
    query: embedded[set.texts.length].embedding,
    logitScale: manifest.logit_scale,
  };
}

/** The largest difference between two score tables (same labels). */
export function scoreDiff(got: Record<string, number>, want: Record<string, number>): number {
  return Math.max(...Object.keys(want).map((l) => Math.abs(got[l] - want[l])));
}
