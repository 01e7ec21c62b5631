import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError, plural } from '../../errors.js';
import type { ClapCapSettings } from '../../models/clapcap/index.js';
import { DEFAULT_TEMPLATE, HF_TEMPLATE } from '../../tasks/clap.js';
import { DEFAULT_WORKERS_TEXT } from '../../tasks/pipeline.js';
import {
  CAPTION_TRAIN_DEFAULTS,
  CONTRASTIVE_DEFAULTS,
  type FreezeGroup,
  FEATURE_DEFAULTS,
  FINETUNE_DEFAULTS,
  finetune,
  type LoopOptions,
  PROBE_DEFAULTS,
  type ProbeOptions,
  readLog,
  type RunStatus,
  renderSvg,
  trainCaption,
  trainContrastive,
  trainProbe,
} from '../../tasks/train/index.js';
import { type CommandContext, defineCommand, UsageError } from '../command.js';
import { Interrupted, onInterrupt } from '../interrupt.js';
import { TrainProgress } from '../progress.js';
import { optionTable, type Values } from '../options.js';

const FREEZE: readonly FreezeGroup[] = ['audio', 'text', 'projection', 'temperature'];

/** Options every trainer shares: data loading, compute, reproducibility. */
const DATA_OPTIONS = optionTable({
  seed: { kind: 'integer', arg: 'S', min: 0, default: FEATURE_DEFAULTS.seed, help: 'data order, crops, split and initialisation' },
  cache: { kind: 'path', arg: 'DIR', help: 'on-disk cache of decoded log-mel features (shared by every trainer)' },
  workers: { kind: 'integer', min: 0, help: 'feature worker threads (0 = decode on the main thread)', defaultText: DEFAULT_WORKERS_TEXT },
  threads: { kind: 'integer', min: 1, help: 'compute threads of the training step' },
  'max-seconds': {
    kind: 'number',
    arg: 'S',
    above: 0,
    default: FEATURE_DEFAULTS.maxClipSeconds,
    help: 'longer clips are cut to S seconds before random 7 s crops',
  },
});

const CTRL_C =
  'Ctrl-C stops the run after the step in flight (exit status 130): the checkpoint and the weights so far are written, ' +
  'and the same command with --resume continues it exactly.';

/** The training loop's options, the same for every trainer: resume, checkpoints, limits, early stop. */
const LOOP_OPTIONS = optionTable({
  resume: { kind: 'boolean', help: 'continue the run in the output folder from its checkpoint (the same command, plus --resume)' },
  'checkpoint-every': { kind: 'integer', min: 1, help: 'also checkpoint every N steps (always at each epoch end and on stopping early)' },
  'max-minutes': { kind: 'number', arg: 'M', above: 0, help: 'stop cleanly after M minutes (checkpoint + final weights)' },
  'max-steps': { kind: 'integer', min: 1, help: 'stop after N steps in total (checkpoint + final weights)' },
  'early-stop': { kind: 'integer', min: 1, help: 'stop after N epochs without a better held-out score (training loss without one)' },
});

/** Run length and optimiser options, with the trainer's own defaults (`minBatch`: the loss needs that many clips). */
function runOptions(defaults: { epochs: number; batch: number; lr: number }, minBatch: number) {
  return optionTable({
    epochs: { kind: 'integer', min: 1, default: defaults.epochs, help: 'passes over the training data' },
    batch: { kind: 'integer', arg: 'B', min: minBatch, default: defaults.batch, help: 'clips per step' },
    lr: { kind: 'number', above: 0, default: defaults.lr, help: 'learning rate (Adam)' },
    'clip-grad': { kind: 'number', above: 0, help: 'clip gradients to global L2 norm X' },
    ...LOOP_OPTIONS,
    ...DATA_OPTIONS,
  });
}

/** The loop's settings as the trainers take them. */
function loopSettings(v: Values<typeof LOOP_OPTIONS>) {
  return {
    resume: v.resume,
    checkpointEvery: v['checkpoint-every'],
    maxMinutes: v['max-minutes'],
    maxSteps: v['max-steps'],
    earlyStop: v['early-stop'],
  };
}

/**
 * Runs a trainer with progress on stderr and Ctrl-C handling: the first SIGINT stops the run at the next
 * step boundary (checkpoint + weights written), `report` prints the summary, and the command then says
 * what was kept and how to resume (exit status 130).
 */
async function train<S extends { status: RunStatus; steps: number }>(
  ctx: CommandContext,
  out: string | undefined,
  run: (events: Pick<LoopOptions, 'signal' | 'onEvent'>) => Promise<S>,
  report: (s: S) => void,
): Promise<void> {
  const progress = new TrainProgress(ctx.stderr);
  let s: S;
  try {
    s = await onInterrupt(ctx.stderr, 'stopping after the step in flight (checkpoint and weights are written)', (signal) =>
      run({ signal, onEvent: progress.event }),
    );
  } finally {
    progress.stop();
  }
  report(s);
  if (s.status === 'interrupted')
    throw new Interrupted(
      out === undefined
        ? 'interrupted: nothing kept (no --out)'
        : `interrupted at step ${s.steps}: ${out} keeps its checkpoint and the weights so far; to continue, run the same command with --resume`,
    );
}

/** --val / --val-fraction: held-out clips. */
function validationOptions(fraction: number, what: string) {
  return optionTable({
    val: { kind: 'path', arg: 'MANIFEST', help: `held-out clips; else ${what} --val-fraction of --data` },
    'val-fraction': { kind: 'number', min: 0, below: 1, default: fraction, help: 'share of --data held out when there is no --val' },
  });
}

const RUN_DIR = { kind: 'path', arg: 'DIR', required: true, output: 'dir' } as const;
const MANIFEST = { kind: 'path', arg: 'MANIFEST', required: true } as const;

/** The settings of runOptions as the trainers take them. */
function runSettings(ctx: CommandContext<ReturnType<typeof runOptions>>) {
  const v = ctx.values;
  return {
    epochs: v.epochs,
    batch: v.batch,
    lr: v.lr,
    seed: v.seed,
    cacheDir: v.cache,
    workers: v.workers,
    threads: v.threads,
    maxClipSeconds: v['max-seconds'],
    clipGrad: v['clip-grad'],
    ...loopSettings(v),
  };
}

/** msclap clapcap settings from a JSON file ({"clapcap": {...}} or the settings themselves). */
function readClapCapSettings(file: string): ClapCapSettings {
  let j: { clapcap?: ClapCapSettings } & ClapCapSettings;
  try {
    j = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new ClapError(code ? `cannot read clapcap settings (${code})` : `not valid JSON (${(e as Error).message})`, { subject: file });
  }
  if (j === null || typeof j !== 'object' || Array.isArray(j))
    throw new ClapError('clapcap settings must be a JSON object', { subject: file });
  return j.clapcap ?? j;
}

const D = CONTRASTIVE_DEFAULTS;

export const trainContrastiveCommand = defineCommand({
  path: ['train', 'contrastive'],
  usage: 'train contrastive --data MANIFEST --out RUN_DIR',
  summary: 'Contrastive training of CLAP on audio with captions',
  details: `Trains the audio and text encoders (from scratch or from --init) on audio files with captions or labels.\n\n${CTRL_C}`,
  options: {
    data: { ...MANIFEST, help: 'CSV or JSONL: path (relative to the manifest), caption and/or label[, split]' },
    out: {
      ...RUN_DIR,
      arg: 'RUN_DIR',
      help:
        'the best validation epoch in the model family’s format — final.pth + final.safetensors beside config.json (msclap ' +
        'layout), or the model folder final/ (Hugging Face) — log.jsonl, checkpoint.safetensors',
    },
    init: {
      kind: 'path',
      arg: 'W',
      help: 'start from these weights: any family (msclap .pth/.safetensors, official layout, or a Hugging Face CLAP folder)',
      defaultText: 'from scratch',
    },
    config: {
      kind: 'string',
      arg: 'C',
      help: 'preset (small, tiny, 2023, 2022, the encoder grid: [tiny-|small-]{cnn14,htsat}-{bert,roberta,gpt2}) or config.json',
      defaultText: `'${D.config}' from scratch; with --init its config.json (a Hugging Face folder's own), else read off it`,
    },
    tokenizer: {
      kind: 'path',
      arg: 'PATH',
      help: 'BERT/RoBERTa tokenizer (a folder holding vocab.txt, or vocab.json + merges.txt, tokenizer.json; or the file); copied into RUN_DIR',
      defaultText: 'the Hugging Face folder’s, or beside --init; required from scratch',
    },
    ...runOptions(D, 2),
    batch: {
      kind: 'integer',
      arg: 'B',
      min: 2,
      default: D.batch,
      help: 'clips per step, or per micro-batch with --accumulate (the contrastive loss needs at least 2)',
    },
    accumulate: {
      kind: 'integer',
      arg: 'K',
      min: 1,
      default: D.accumulate,
      help:
        'gradient accumulation: K micro-batches of B clips per optimiser step, for a larger effective batch in the memory of B; ' +
        'each micro-batch has its own negatives in the contrastive loss, so this is not identical to --batch K×B (the usual ' +
        'trade-off). Steps, --max-steps, --warmup and checkpoints count optimiser steps',
    },
    lr: { kind: 'number', above: 0, default: D.lr, help: "learning rate (the paper's)" },
    optimizer: { kind: 'enum', choices: ['adam', 'adamw'], default: D.optimizer, help: "Adam is the paper's" },
    'weight-decay': { kind: 'number', min: 0, help: 'on weight matrices only', defaultText: '0 for adam, 0.01 for adamw' },
    schedule: {
      kind: 'enum',
      choices: ['plateau', 'cosine', 'constant'],
      default: D.schedule,
      help: 'plateau: ×0.1 after --patience epochs without improvement',
    },
    warmup: { kind: 'integer', min: 0, default: D.warmupSteps, help: 'linear warm-up steps' },
    patience: { kind: 'integer', min: 1, default: D.patience, help: 'plateau epochs' },
    'min-lr': { kind: 'number', min: 0, default: D.minLr, help: 'cosine floor' },
    freeze: { kind: 'list', choices: FREEZE, help: 'parts left untrained' },
    ...validationOptions(D.valFraction, 'a'),
    'split-by': {
      kind: 'enum',
      choices: ['clip', 'label'],
      default: D.splitBy,
      help: 'label: hold out whole classes (zero-shot on unseen classes)',
    },
    template: {
      kind: 'string',
      arg: 'T',
      help: 'caption for label-only rows and zero-shot prompts',
      defaultText: `the family's: '${DEFAULT_TEMPLATE}' (msclap), '${HF_TEMPLATE}' (Hugging Face)`,
    },
    'text-len': {
      kind: 'integer',
      arg: 'L',
      min: 2,
      default: D.textLen,
      help: "tokens per caption (at most the text model's n_positions)",
    },
    positives: {
      kind: 'enum',
      choices: ['caption', 'label'],
      default: D.positives,
      help: 'pairs that count as matches: identical captions, or the same label',
    },
    test: { kind: 'path', arg: 'MANIFEST', help: 'also evaluated each epoch (logged as test), never used to pick the epoch' },
    'spec-augment': { kind: 'boolean', help: 'SpecAugment on training crops (2 frequency masks ≤ 8 bins, 2 time masks ≤ 60 frames)' },
    mixup: { kind: 'number', arg: 'A', above: 0, help: 'mixup of training audio, λ ~ Beta(A, A) per batch (targets mixed alike)' },
  },
  json: 'the summary as JSON',
  async run(ctx) {
    const v = ctx.values;
    await train(
      ctx,
      v.out,
      (events) =>
        trainContrastive({
          ...runSettings(ctx),
          ...events,
          data: v.data,
          out: v.out,
          init: v.init,
          config: v.config,
          tokenizer: v.tokenizer,
          accumulate: v.accumulate,
          optimizer: v.optimizer,
          weightDecay: v['weight-decay'],
          schedule: v.schedule,
          warmupSteps: v.warmup,
          patience: v.patience,
          minLr: v['min-lr'],
          freeze: v.freeze ?? [],
          val: v.val,
          valFraction: v['val-fraction'],
          splitBy: v['split-by'],
          template: v.template,
          textLen: v['text-len'],
          positives: v.positives,
          test: v.test,
          specAugment: v['spec-augment'],
          mixup: v.mixup,
        }),
      (s) => {
        if (ctx.json) return ctx.stdout.write(`${JSON.stringify(s)}\n`);
        ctx.stdout.write(`${runLine(s)}\n`);
        if (s.val) ctx.stdout.write(`validation: ${JSON.stringify(s.val)}\n`);
        ctx.stdout.write(`weights: ${s.final_weights} (config ${s.config})\n`);
      },
    );
  },
});

export const trainPlotCommand = defineCommand({
  path: ['train', 'plot'],
  usage: 'train plot RUN_DIR [--out FILE.svg]',
  summary: 'Loss, learning-rate and validation curves (SVG)',
  options: {
    out: { kind: 'path', arg: 'FILE', output: 'file', help: 'where to write the SVG', defaultText: 'RUN_DIR/curves.svg' },
  },
  json: '{"svg": path, "steps", "epochs"}',
  async run(ctx) {
    const dir = ctx.positionals[0];
    if (!dir || ctx.positionals.length > 1) throw new UsageError('give one RUN_DIR');
    const out = ctx.values.out ?? join(dir, 'curves.svg');
    if (!out.endsWith('.svg')) throw new UsageError('--out must end in .svg (PNG is not supported: convert the SVG)');
    const entries = readLog(join(dir, 'log.jsonl'));
    writeFileSync(out, renderSvg(entries, `clap train — ${dir}`));
    const steps = new Set(entries.filter((e) => e.type === 'step').map((e) => e.step)).size;
    const epochs = new Set(entries.filter((e) => e.type === 'epoch').map((e) => e.epoch)).size;
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ svg: out, steps, epochs })}\n`);
    else ctx.stdout.write(`${out} (${plural(steps, 'step')}, ${plural(epochs, 'epoch')})\n`);
  },
});

export const trainProbeCommand = defineCommand({
  path: ['train', 'probe'],
  usage: 'train probe --data LABELLED_MANIFEST --weights W [--out DIR]',
  summary: 'Linear probe on frozen CLAP audio embeddings',
  details: `A softmax classifier on frozen audio embeddings; accuracy on a held-out split.\n\n${CTRL_C}`,
  options: {
    data: { ...MANIFEST, help: 'CSV or JSONL with path and label[, split]' },
    weights: { kind: 'path', arg: 'W', required: true, help: 'CLAP weights (.pth/.safetensors)' },
    config: { kind: 'string', arg: 'C', help: 'preset or config.json', defaultText: 'beside W, else read off W' },
    out: {
      kind: 'path',
      arg: 'DIR',
      output: 'dir',
      help: 'write probe.safetensors (probe.weight [classes, dim], probe.bias) and probe.json',
    },
    ...validationOptions(PROBE_DEFAULTS.valFraction, 'the split column, else per class'),
    epochs: { kind: 'integer', min: 1, default: PROBE_DEFAULTS.epochs, help: 'full-batch Adam steps' },
    lr: { kind: 'number', above: 0, default: PROBE_DEFAULTS.lr, help: 'learning rate' },
    'weight-decay': { kind: 'number', min: 0, default: PROBE_DEFAULTS.weightDecay, help: 'L2 penalty on the weights' },
    ...LOOP_OPTIONS,
    ...DATA_OPTIONS,
    seed: { ...DATA_OPTIONS.seed, help: 'the held-out split' },
  },
  json: 'the summary as JSON',
  async run(ctx) {
    const v = ctx.values;
    await train(
      ctx,
      v.out,
      (events) =>
        trainProbe({
          ...events,
          ...loopSettings(v),
          ...labelledData(v),
          epochs: v.epochs,
          lr: v.lr,
          weightDecay: v['weight-decay'],
          seed: v.seed,
          cacheDir: v.cache,
          workers: v.workers,
          threads: v.threads,
          maxClipSeconds: v['max-seconds'],
        }),
      (s) => {
        if (ctx.json) return ctx.stdout.write(`${JSON.stringify(s)}\n`);
        const pc = (x: number): string => `${(100 * x).toFixed(1)}%`;
        ctx.stdout.write(
          `held-out accuracy ${pc(s.val_accuracy)} on ${plural(s.val_clips, 'clip')} of ${plural(s.classes.length, 'class', 'classes')} ` +
            `(chance ${pc(s.chance)}, majority ${pc(s.majority)}); training accuracy ${pc(s.train_accuracy)} on ${s.train_clips}\n`,
        );
        if (s.weights) ctx.stdout.write(`head: ${s.weights}\n`);
      },
    );
  },
});

export const trainCaptionCommand = defineCommand({
  path: ['train', 'caption'],
  usage: 'train caption --data MANIFEST --init CLAPCAP.pth --out DIR',
  summary: 'Train the clapcap mapper (and GPT-2) for captioning',
  details: `The captioning loss on CLAP audio embeddings computed once.\n\n${CTRL_C}`,
  options: {
    data: { ...MANIFEST, help: 'CSV or JSONL: path and caption(s) (one training example per clip and caption)' },
    clap: {
      kind: 'path',
      arg: 'W',
      help: 'CLAP weights whose audio embeddings feed the mapper (computed once); written into the output as its audio encoder',
      defaultText: "--init's own audio encoder",
    },
    'clap-config': { kind: 'string', arg: 'C', help: 'config of --clap (preset or config.json)', defaultText: 'beside W, else read off W' },
    init: {
      kind: 'path',
      arg: 'CLAPCAP.pth',
      required: true,
      help: 'clapcap checkpoint to start from (GPT-2 + mapper, official key layout)',
    },
    'clapcap-config': {
      kind: 'path',
      arg: 'F',
      help: 'JSON with msclap clapcap settings ({"clapcap": {...}} or the settings themselves)',
      defaultText: 'the clapcap section of the config.json beside --init',
    },
    out: { ...RUN_DIR, help: 'clapcap.pth (+ .safetensors) and config.json: clap caption --weights DIR/clapcap.pth needs nothing else' },
    'train-gpt2': { kind: 'boolean', help: 'also train GPT-2 (default: only the mapper)' },
    'max-tokens': {
      kind: 'integer',
      arg: 'L',
      min: 2,
      default: CAPTION_TRAIN_DEFAULTS.maxTokens,
      help: 'caption tokens incl. the stop token',
    },
    ...runOptions(CAPTION_TRAIN_DEFAULTS, 1),
  },
  json: 'the summary as JSON',
  async run(ctx) {
    const v = ctx.values;
    const file = v['clapcap-config'];
    await train(
      ctx,
      v.out,
      (events) =>
        trainCaption({
          ...events,
          data: v.data,
          clap: v.clap,
          clapConfig: v['clap-config'],
          init: v.init,
          settings: file === undefined ? undefined : readClapCapSettings(file),
          out: v.out,
          trainGpt2: v['train-gpt2'],
          maxTokens: v['max-tokens'],
          ...runSettings(ctx),
        }),
      (s) => {
        if (ctx.json) return ctx.stdout.write(`${JSON.stringify(s)}\n`);
        ctx.stdout.write(`${runLine(s)}\nweights: ${s.weights}\n`);
      },
    );
  },
});

export const trainFinetuneCommand = defineCommand({
  path: ['train', 'finetune'],
  usage: 'train finetune --data LABELLED_MANIFEST --weights W --out DIR',
  summary: 'Fine-tune the audio encoder with a classifier',
  details: `The whole CLAP audio encoder with a linear classifier; accuracy on a held-out split.\n\n${CTRL_C}`,
  options: {
    data: { ...MANIFEST, help: 'CSV or JSONL with path and label[, split]' },
    weights: {
      kind: 'path',
      arg: 'W',
      required: true,
      help: 'CLAP weights to start from: any family (msclap .pth/.safetensors or a Hugging Face CLAP folder)',
    },
    config: { kind: 'string', arg: 'C', help: 'preset or config.json', defaultText: 'beside W, else read off W' },
    tokenizer: {
      kind: 'path',
      arg: 'PATH',
      help: 'BERT/RoBERTa tokenizer (a folder or the file), copied beside the output',
      defaultText: 'the Hugging Face folder’s, or beside W',
    },
    out: {
      ...RUN_DIR,
      help:
        'the whole CLAP in its family’s format (final.pth/.safetensors beside config.json, or the model folder final/), ' +
        'classifier.safetensors + .json, log.jsonl',
    },
    ...validationOptions(FINETUNE_DEFAULTS.valFraction, 'the split column, else per class'),
    ...runOptions(FINETUNE_DEFAULTS, 2),
  },
  json: 'the summary as JSON',
  async run(ctx) {
    const v = ctx.values;
    await train(
      ctx,
      v.out,
      (events) =>
        finetune({
          ...events,
          ...labelledData(v),
          tokenizer: v.tokenizer,
          out: v.out,
          ...runSettings(ctx),
        }),
      (s) => {
        if (ctx.json) return ctx.stdout.write(`${JSON.stringify(s)}\n`);
        ctx.stdout.write(
          `${runLine(s)}\nheld-out accuracy ${(100 * s.val_accuracy).toFixed(1)}% on ${plural(s.val_clips, 'clip')} ` +
            `of ${plural(s.classes.length, 'class', 'classes')} (chance ${(100 * s.chance).toFixed(1)}%)` +
            `${s.best_epoch !== null ? ` (epoch ${s.best_epoch}, the best)` : ''}\nweights: ${s.weights}\n`,
        );
      },
    );
  },
});

/** The probe's and fine-tuning's data and starting weights. */
function labelledData(
  v: Pick<ProbeOptions, 'data' | 'weights' | 'config' | 'out' | 'val'> & { 'val-fraction'?: number },
): Pick<ProbeOptions, 'data' | 'weights' | 'config' | 'out' | 'val' | 'valFraction'> {
  return { data: v.data, weights: v.weights, config: v.config, out: v.out, val: v.val, valFraction: v['val-fraction'] };
}

/** How a run went, in one line: status, steps, epochs, time, loss first → last step. */
function runLine(s: {
  status: RunStatus;
  steps: number;
  epochs_completed: number;
  seconds: number;
  first_loss: number | null;
  last_loss: number | null;
}): string {
  const loss = s.first_loss === null ? 'no step run' : `loss ${s.first_loss.toFixed(4)} → ${s.last_loss!.toFixed(4)}`;
  return `${s.status}: ${plural(s.steps, 'step')}, ${plural(s.epochs_completed, 'epoch')} in ${s.seconds.toFixed(0)} s; ${loss}`;
}
