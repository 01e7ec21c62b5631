import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';
import { type AudioEmbedOptions, Clap, type ClapLoadOptions } from '../../tasks/clap.js';
import { type CommandContext, num, type OptionSpec, type ParsedValues, required, str, UsageError } from '../command.js';
import { Progress } from '../progress.js';

/** --weights / --config / --threads: how a model is loaded. */
export const MODEL_OPTIONS: OptionSpec = {
  weights: { type: 'string' },
  config: { type: 'string' },
  threads: { type: 'string' },
  'text-pooling': { type: 'string' },
  precision: { type: 'string' },
};

export const MODEL_HELP = [
  '  --weights W        CLAP weights (.pth as released, or .safetensors)',
  '  --config C         config.json, or a preset name (2023); default: read sizes off the weights',
  '  --threads N        compute threads (default: all cores)',
  "  --text-pooling P   'reference' (msclap: '!' shifts the pooled token, default) or 'fixed'",
  "  --precision P      'fp32' (default), 'fp16-weights' or 'int8' (dynamic int8 MatMuls: faster, approximate)",
].join('\n');

/** --NAME as an integer ≥ `min` (1: positive, 0: non-negative), or undefined when not given. */
export function intOption(values: ParsedValues, name: string, min: 0 | 1 = 1): number | undefined {
  const n = num(values, name);
  if (n !== undefined && (!Number.isInteger(n) || n < min))
    throw new UsageError(`--${name} must be a ${min === 1 ? 'positive' : 'non-negative'} integer`);
  return n;
}

/** The 7 s window options: how a file becomes the model's windows. */
export const WINDOW_OPTIONS: OptionSpec = {
  channels: { type: 'string' },
  crop: { type: 'string' },
  'crop-offset': { type: 'string' },
  seed: { type: 'string' },
  sliding: { type: 'boolean' },
  hop: { type: 'string' },
};

/** Options of the audio path (decode, channels, 7 s window, encoder batch). */
export const AUDIO_OPTIONS: OptionSpec = { ...WINDOW_OPTIONS, batch: { type: 'string' } };

/** Help of WINDOW_OPTIONS; `sliding` is the --sliding line (what the command does with the windows). */
export function windowHelp(sliding: string): string {
  return [
    "  --channels M       'mean' (down-mix, default) or 'reference' (msclap: channels concatenated)",
    "  --crop M           clips over 7 s: 'start' (default), 'center' or 'random' (with --seed)",
    '  --crop-offset N    crop at sample N (44.1 kHz, after channel handling): reproduces msclap runs',
    '  --seed S           seed for --crop random (Python random.seed semantics)',
    `  --sliding          ${sliding}`,
    '  --hop S            hop between sliding windows, seconds (default 7)',
  ].join('\n');
}

export const AUDIO_HELP = [
  windowHelp('embed every 7 s window of long files (mean-pooled; windows listed with --json)'),
  '  --batch N          windows per encoder run (default 4)',
].join('\n');

/** --threads, --text-pooling and --precision, validated. */
export function modelSettings(values: ParsedValues): Pick<ClapLoadOptions, 'threads' | 'textPooling' | 'precision'> {
  const pooling = str(values, 'text-pooling');
  if (pooling !== undefined && pooling !== 'reference' && pooling !== 'fixed')
    throw new UsageError(`--text-pooling must be 'reference' or 'fixed', got '${pooling}'`);
  const threads = intOption(values, 'threads');
  const precision = str(values, 'precision');
  if (precision !== undefined && precision !== 'fp32' && precision !== 'fp16-weights' && precision !== 'int8') {
    throw new UsageError(`--precision must be fp32, fp16-weights or int8, got '${precision}'`);
  }
  return { threads, textPooling: pooling, precision };
}

export async function loadModel(values: ParsedValues): Promise<Clap> {
  return Clap.load({ weights: required(values, 'weights'), config: str(values, 'config'), ...modelSettings(values) });
}

type WindowSettings = Pick<AudioEmbedOptions, 'channels' | 'crop' | 'cropOffset'> & { seed?: number };

/** --channels, --crop, --crop-offset and --seed, validated; those not given are left out. */
export function windowOptions(v: ParsedValues): WindowSettings {
  const out: WindowSettings = {};
  const channels = str(v, 'channels');
  if (channels !== undefined) {
    if (channels !== 'mean' && channels !== 'reference')
      throw new UsageError(`--channels must be 'mean' or 'reference', got '${channels}'`);
    out.channels = channels;
  }
  const crop = str(v, 'crop');
  if (crop !== undefined) {
    if (crop !== 'start' && crop !== 'center' && crop !== 'random')
      throw new UsageError(`--crop must be start, center or random, got '${crop}'`);
    out.crop = crop;
  }
  const cropOffset = intOption(v, 'crop-offset', 0);
  if (cropOffset !== undefined) out.cropOffset = cropOffset;
  const seed = num(v, 'seed');
  if (seed !== undefined) out.seed = seed;
  return out;
}

export function audioOptions(ctx: CommandContext, total: number): AudioEmbedOptions {
  const v = ctx.values;
  const window = windowOptions(v);
  const batchSize = intOption(v, 'batch');
  const hop = num(v, 'hop');
  const progress = new Progress(total, 'embedding', ctx.stderr, total > 1 && ctx.stderr.isTTY === true);
  let done = 0;
  return {
    ...window,
    batchSize,
    sliding: v.sliding === true ? (hop !== undefined ? { hopS: hop } : true) : false,
    onProgress: (n) => {
      progress.tick(n - done);
      done = n;
    },
  };
}

export function needFiles(ctx: CommandContext): string[] {
  if (ctx.positionals.length === 0) throw new UsageError('give at least one audio file');
  return ctx.positionals;
}

/** Labels from --labels "a,b,c" or --labels-file (one per line). */
export function readLabels(values: ParsedValues): string[] {
  const inline = str(values, 'labels');
  const file = str(values, 'labels-file');
  if ((inline === undefined) === (file === undefined)) throw new UsageError('give exactly one of --labels or --labels-file');
  let raw: string[];
  if (file !== undefined) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ClapError(`cannot read labels (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: file });
    }
    raw = text.split(/\r?\n/);
  } else {
    raw = inline!.split(',');
  }
  const labels = raw.map((l) => l.trim()).filter((l) => l.length > 0);
  if (labels.length === 0) throw new UsageError(`no labels in ${file ?? '--labels'}`);
  return labels;
}

export function roundVector(v: Float32Array): number[] {
  return Array.from(v);
}
