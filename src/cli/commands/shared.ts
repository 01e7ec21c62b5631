/** Option tables and their readers shared by several commands: model loading, audio windows, labels. */
import { readFileSync } from 'node:fs';
import { AUDIO_DEFAULTS, CHANNEL_MODES, CROP_MODES } from '../../audio/index.js';
import { PRECISIONS } from '../../engine/quant.js';
import { ClapError, plural } from '../../errors.js';
import { type AudioEmbedOptions, CLAP_DEFAULTS, Clap, type ClapLoadOptions, isInputError } from '../../tasks/clap.js';
import { CLAP_POOLINGS } from '../../text/index.js';
import { CLAP_FAMILIES, CLAP_PRESET_NAMES } from '../../models/clap/index.js';
import { type CommandContext, UsageError } from '../command.js';
import { optionTable, type Values } from '../options.js';
import { Progress } from '../progress.js';

/** --config, --family, --tokenizer, --threads, --text-pooling, --precision: how a model is loaded (beside --weights). */
export const MODEL_SETTINGS = optionTable({
  config: {
    kind: 'string',
    arg: 'C',
    section: 'Model',
    help: `config.json, or a preset: ${CLAP_PRESET_NAMES}`,
    defaultText: "a Hugging Face folder's config.json, a config.json beside the weights, else sizes read off the weights",
  },
  family: {
    kind: 'enum',
    choices: CLAP_FAMILIES,
    section: 'Model',
    help: 'the family the weights must be; its preset fills in what the weights do not store',
    defaultText: 'detected from the weights',
  },
  tokenizer: {
    kind: 'path',
    arg: 'PATH',
    section: 'Model',
    help: 'BERT/RoBERTa tokenizer: a folder holding vocab.txt (or vocab.json + merges.txt, tokenizer.json), or the file',
    defaultText: 'the Hugging Face folder, or tokenizer files / bert-base-uncased/ beside the weights',
  },
  threads: { kind: 'integer', min: 1, section: 'Model', help: 'compute threads', defaultText: 'all cores' },
  'text-pooling': {
    kind: 'enum',
    choices: CLAP_POOLINGS,
    default: CLAP_DEFAULTS.textPooling,
    section: 'Model',
    help: "the token that represents a text: msclap's 'reference' (each '!' shifts it) or 'fixed' (the final token)",
  },
  precision: {
    kind: 'enum',
    choices: PRECISIONS,
    default: CLAP_DEFAULTS.precision,
    section: 'Model',
    help: "weights: 'int8' = dynamic int8 MatMuls (faster, approximate), 'fp16-weights' = smaller cached models",
  },
});

/** --weights (required) and MODEL_SETTINGS. */
export const MODEL_OPTIONS = optionTable({
  weights: {
    kind: 'path',
    arg: 'W',
    required: true,
    section: 'Model',
    help: 'CLAP weights: msclap 2023/2022 .pth as released (or .safetensors), or a Hugging Face CLAP model folder',
  },
  ...MODEL_SETTINGS,
});

/** The 7 s window options: how a file becomes the model's windows. `sliding` says what the command does with all windows. */
export function windowOptions<const S extends string>(sliding: S) {
  return optionTable({
    channels: {
      kind: 'enum',
      choices: CHANNEL_MODES,
      default: AUDIO_DEFAULTS.channels,
      section: 'Audio',
      help: "several channels: 'mean' down-mixes, 'reference' concatenates them (msclap)",
    },
    crop: {
      kind: 'enum',
      choices: CROP_MODES,
      default: AUDIO_DEFAULTS.crop,
      section: 'Audio',
      help: "which window of a longer clip ('random' with --seed)",
    },
    'crop-offset': {
      kind: 'integer',
      min: 0,
      field: 'cropOffset',
      section: 'Audio',
      help: "crop at sample N at the model's rate (44.1 kHz msclap, 48 kHz Hugging Face; after channel handling): reproduces reference runs",
    },
    seed: {
      kind: 'integer',
      arg: 'S',
      min: 0,
      field: 'seed',
      section: 'Audio',
      help: "seed for --crop random (msclap: Python's random.seed; Hugging Face: numpy's, replaying the feature extractor's draws)",
    },
    sliding: { kind: 'boolean', section: 'Audio', help: sliding },
    hop: {
      kind: 'number',
      arg: 'S',
      above: 0,
      default: AUDIO_DEFAULTS.hopS,
      field: 'hopS',
      needs: 'sliding',
      section: 'Audio',
      help: 'seconds between sliding windows (with --sliding)',
    },
  });
}

/** Window options plus --batch: the audio path of embed, classify, caption and eval. */
export function audioOptions<const S extends string>(sliding: S) {
  return optionTable({
    ...windowOptions(sliding),
    batch: {
      kind: 'integer',
      min: 1,
      field: 'batchSize',
      section: 'Audio',
      help: 'windows per encoder run',
      defaultText: 'CLAP_BATCH, else calibrated for this CPU',
    },
  });
}

export const AUDIO_OPTIONS = audioOptions('embed every 7 s window of long files (mean-pooled; windows listed with --json)');

/** --labels / --labels-file. */
export const LABEL_OPTIONS = optionTable({
  labels: { kind: 'list', arg: '"a,b,c"', help: 'the classes (comma-separated)' },
  'labels-file': { kind: 'path', arg: 'F', help: 'the classes, one per line' },
});

/** --threads, --text-pooling and --precision as Clap.load options. */
export function modelSettings(
  v: Values<typeof MODEL_SETTINGS>,
): Pick<ClapLoadOptions, 'threads' | 'textPooling' | 'precision' | 'family' | 'tokenizer'> {
  return { threads: v.threads, textPooling: v['text-pooling'], precision: v.precision, family: v.family, tokenizer: v.tokenizer };
}

export async function loadModel(v: Values<typeof MODEL_OPTIONS>): Promise<Clap> {
  return Clap.load({ weights: v.weights, config: v.config, ...modelSettings(v) });
}

type WindowSettings = Pick<AudioEmbedOptions, 'channels' | 'crop' | 'cropOffset' | 'sliding'> & { seed?: number };
type WindowValues = Values<ReturnType<typeof windowOptions>>;

/** The window options given on the command line (those left out are absent, so defaults or recorded settings apply). */
export function windowSettings(v: WindowValues): WindowSettings {
  const out: WindowSettings = {};
  if (v.channels !== undefined) out.channels = v.channels;
  if (v.crop !== undefined) out.crop = v.crop;
  if (v['crop-offset'] !== undefined) out.cropOffset = v['crop-offset'];
  if (v.seed !== undefined) out.seed = v.seed;
  if (v.sliding) out.sliding = v.hop !== undefined ? { hopS: v.hop } : true;
  return out;
}

/**
 * Progress for `total` inputs on stderr: a bar on a TTY, plain lines otherwise (left out with --json
 * when stderr is not a terminal, so machine runs stay quiet), nothing for a single input.
 */
export function progressFor(ctx: CommandContext, total: number, label: string): Progress {
  return new Progress(total, label, ctx.stderr, total > 1 && (ctx.stderr.isTTY === true || !ctx.json));
}

/** AudioEmbedOptions from the audio options, with progress on stderr. */
export function embedOptions(
  ctx: CommandContext<ReturnType<typeof audioOptions>>,
  total: number,
): AudioEmbedOptions & { errors?: 'throw' } {
  const progress = progressFor(ctx, total, 'embedding');
  let done = 0;
  return {
    ...windowSettings(ctx.values),
    batchSize: ctx.values.batch,
    onProgress: (n) => {
      progress.tick(n - done);
      done = n;
    },
  };
}

/** --strict, for the commands that go on past files they cannot read. */
export const STRICT_OPTION = optionTable({
  strict: { kind: 'boolean', help: 'exit with status 1 when any file is skipped (default: only when no file could be read)' },
});

/**
 * The files a command could not read (`errors: 'return'` results): one `skipped PATH: reason` line each on
 * stderr. Fails the command when none could be read (a single file's error as before: one line naming it).
 * Returns the number skipped, for `failIfStrict` after the output.
 */
export function reportSkipped(ctx: CommandContext, results: readonly object[]): number {
  const skipped = results.filter(isInputError);
  for (const s of skipped) s.error = ctx.inFlags(s.error); // printed and in --json: "--crop-offset", not "cropOffset"
  if (skipped.length === 1 && results.length === 1) throw new ClapError(skipped[0].error, { subject: skipped[0].input });
  for (const s of skipped) ctx.stderr.write(`skipped ${s.input}: ${s.error}\n`);
  if (skipped.length === results.length) throw new ClapError(`none of the ${plural(results.length, 'file')} could be read`);
  return skipped.length;
}

/** With --strict, fails the command (exit status 1, after its output) when any file was skipped. */
export function failIfStrict(ctx: CommandContext<typeof STRICT_OPTION>, skipped: number, total: number): void {
  if (ctx.values.strict && skipped > 0) throw new ClapError(`${skipped} of ${plural(total, 'file')} skipped (--strict)`);
}

export function needFiles(ctx: CommandContext): string[] {
  if (ctx.positionals.length === 0) throw new UsageError('give at least one audio file');
  return ctx.positionals;
}

/** Labels from --labels "a,b,c" or --labels-file (one per line). */
export function readLabels(v: Values<typeof LABEL_OPTIONS>): string[] {
  const file = v['labels-file'];
  if ((v.labels === undefined) === (file === undefined)) throw new UsageError('give exactly one of --labels or --labels-file');
  let raw = v.labels ?? [];
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ClapError(`cannot read labels (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: file });
    }
    raw = text.split(/\r?\n/);
  }
  const labels = raw.map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length === 0) throw new UsageError(`no labels in ${file ?? '--labels'}`);
  return labels;
}
