import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';
import type { AudioEmbedOptions } from '../../tasks/clap.js';
import { Clap } from '../../tasks/clap.js';
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

/** Options of the audio path (decode, channels, 7 s window). */
export const AUDIO_OPTIONS: OptionSpec = {
  channels: { type: 'string' },
  crop: { type: 'string' },
  'crop-offset': { type: 'string' },
  seed: { type: 'string' },
  sliding: { type: 'boolean' },
  hop: { type: 'string' },
  batch: { type: 'string' },
};

export const AUDIO_HELP = [
  "  --channels M       'mean' (down-mix, default) or 'reference' (msclap: channels concatenated)",
  "  --crop M           clips over 7 s: 'start' (default), 'center' or 'random' (with --seed)",
  '  --crop-offset N    crop at sample N (44.1 kHz, after channel handling): reproduces msclap runs',
  '  --seed S           seed for --crop random (Python random.seed semantics)',
  '  --sliding          embed every 7 s window of long files (mean-pooled; windows listed with --json)',
  '  --hop S            hop between sliding windows, seconds (default 7)',
  '  --batch N          windows per encoder run (default 4)',
].join('\n');

export async function loadModel(values: ParsedValues): Promise<Clap> {
  const pooling = str(values, 'text-pooling');
  if (pooling !== undefined && pooling !== 'reference' && pooling !== 'fixed') throw new UsageError(`--text-pooling must be 'reference' or 'fixed', got '${pooling}'`);
  const threads = num(values, 'threads');
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new UsageError('--threads must be a positive integer');
  const precision = str(values, 'precision');
  if (precision !== undefined && precision !== 'fp32' && precision !== 'fp16-weights' && precision !== 'int8') {
    throw new UsageError(`--precision must be fp32, fp16-weights or int8, got '${precision}'`);
  }
  return Clap.load({ weights: required(values, 'weights'), config: str(values, 'config'), threads, textPooling: pooling, precision });
}

export function audioOptions(ctx: CommandContext, total: number): AudioEmbedOptions {
  const v = ctx.values;
  const channels = str(v, 'channels');
  if (channels !== undefined && channels !== 'mean' && channels !== 'reference') throw new UsageError(`--channels must be 'mean' or 'reference', got '${channels}'`);
  const crop = str(v, 'crop');
  if (crop !== undefined && crop !== 'start' && crop !== 'center' && crop !== 'random') throw new UsageError(`--crop must be start, center or random, got '${crop}'`);
  const cropOffset = num(v, 'crop-offset');
  if (cropOffset !== undefined && (!Number.isInteger(cropOffset) || cropOffset < 0)) throw new UsageError('--crop-offset must be a non-negative integer');
  const batchSize = num(v, 'batch');
  if (batchSize !== undefined && (!Number.isInteger(batchSize) || batchSize < 1)) throw new UsageError('--batch must be a positive integer');
  const hop = num(v, 'hop');
  const seed = num(v, 'seed');
  const progress = new Progress(total, 'embedding', ctx.stderr, total > 1 && ctx.stderr.isTTY === true);
  let done = 0;
  return {
    channels,
    crop,
    cropOffset,
    seed,
    batchSize,
    sliding: v.sliding === true ? (hop !== undefined ? { hopS: hop } : true) : false,
    onProgress: (n) => { progress.tick(n - done); done = n; },
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
