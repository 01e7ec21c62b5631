import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ContrastiveOptions,
  type FreezeGroup,
  finetune,
  readLog,
  renderSvg,
  trainCaption,
  trainContrastive,
  trainProbe,
} from '../../tasks/train/index.js';
import type { ClapCapSettings } from '../../models/clapcap/index.js';
import { type Command, type CommandContext, num, required, str, UsageError } from '../command.js';

const FREEZE: FreezeGroup[] = ['audio', 'text', 'projection', 'temperature'];

function int(values: Record<string, unknown>, name: string, min = 1): number | undefined {
  const v = num(values as never, name);
  if (v !== undefined && (!Number.isInteger(v) || v < min)) throw new UsageError(`--${name} must be an integer ≥ ${min}`);
  return v;
}

function oneOf<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value !== undefined && !allowed.includes(value as T))
    throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${value}'`);
  return value as T | undefined;
}

export const trainContrastiveCommand: Command = {
  path: ['train', 'contrastive'],
  usage: 'train contrastive --data MANIFEST --out RUN_DIR',
  summary: 'Contrastive pre-training of CLAP (audio + text encoders) on audio files with captions',
  options: {
    data: { type: 'string' },
    out: { type: 'string' },
    init: { type: 'string' },
    config: { type: 'string' },
    epochs: { type: 'string' },
    batch: { type: 'string' },
    accumulate: { type: 'string' },
    'max-minutes': { type: 'string' },
    'max-steps': { type: 'string' },
    lr: { type: 'string' },
    optimizer: { type: 'string' },
    'weight-decay': { type: 'string' },
    schedule: { type: 'string' },
    warmup: { type: 'string' },
    patience: { type: 'string' },
    'min-lr': { type: 'string' },
    freeze: { type: 'string' },
    val: { type: 'string' },
    'val-fraction': { type: 'string' },
    'split-by': { type: 'string' },
    template: { type: 'string' },
    seed: { type: 'string' },
    'checkpoint-every': { type: 'string' },
    resume: { type: 'boolean' },
    cache: { type: 'string' },
    workers: { type: 'string' },
    threads: { type: 'string' },
    'text-len': { type: 'string' },
    'clip-grad': { type: 'string' },
    'max-seconds': { type: 'string' },
    'early-stop': { type: 'string' },
    positives: { type: 'string' },
    test: { type: 'string' },
    'spec-augment': { type: 'boolean' },
    mixup: { type: 'string' },
  },
  help: [
    '  --data MANIFEST      CSV or JSONL: path (relative to the manifest), caption and/or label[, split]',
    '  --out RUN_DIR        config.json, log.jsonl, checkpoint.safetensors, best.pth, final.pth, final.safetensors',
    '  --init W             start from these weights (.pth/.safetensors, official layout); default from scratch',
    "  --config C           preset (small, tiny, 2023) or config.json; default 'small' from scratch, '2023' with --init",
    '  --epochs N           default 10',
    '  --batch B            clips per step, or per micro-batch with --accumulate (default 16)',
    '  --accumulate K       gradient accumulation: K micro-batches of B clips per optimiser step (default 1),',
    '                       for a larger effective batch in the memory of B; each micro-batch has its own',
    '                       negatives in the contrastive loss, so this is not identical to --batch K×B (the',
    '                       usual trade-off). Steps, --max-steps, --warmup and checkpoints count optimiser steps',
    '  --max-minutes M      stop cleanly after M minutes (checkpoint + final weights)',
    '  --max-steps N        stop after N steps in total',
    "  --lr X               default 1e-3 (the paper's)",
    "  --optimizer O        adam (default, the paper's) or adamw",
    '  --weight-decay X     on weight matrices only (default 0 for adam, 0.01 for adamw)',
    '  --schedule S         plateau (default: ×0.1 after --patience epochs without improvement), cosine, constant',
    '  --warmup N           linear warm-up steps (default 0)',
    '  --patience N         plateau epochs (default 15)',
    '  --min-lr X           cosine floor (default 0)',
    '  --freeze LIST        comma list of audio, text, projection, temperature',
    '  --val MANIFEST       validation manifest; else --val-fraction of --data (default 0.1)',
    '  --split-by K         clip (default) or label: hold out whole classes (zero-shot on unseen classes)',
    "  --template T         caption for label-only rows and zero-shot prompts (default 'this is the sound of ')",
    '  --seed S             data order, crops, captions, split and initialisation (default 0)',
    '  --checkpoint-every N also checkpoint every N steps (always at each epoch end)',
    '  --resume             continue the run in RUN_DIR from its checkpoint',
    '  --cache DIR          on-disk cache of decoded log-mel features',
    '  --workers N          feature worker threads (default min(4, cores−1))',
    '  --threads N          compute threads of the training step',
    '  --text-len L         tokens per caption (default 77, or n_positions if smaller)',
    '  --clip-grad X        clip gradients to global L2 norm X',
    '  --max-seconds S      longer clips are cut to S seconds before random 7 s crops (default 30)',
    '  --early-stop N       stop after N epochs without a better validation score',
    '  --positives P        caption (default: identical captions are positives) or label (same label)',
    '  --test MANIFEST      also evaluated each epoch (logged as test), never used to pick the epoch',
    '  --spec-augment       SpecAugment on training crops (2 frequency masks ≤ 8 bins, 2 time masks ≤ 60 frames)',
    '  --mixup A            mixup of training audio, λ ~ Beta(A, A) per batch (targets mixed alike)',
    '  --json               print the summary as JSON',
  ].join('\n'),
  async run(ctx) {
    const v = ctx.values;
    const freeze =
      str(v, 'freeze')
        ?.split(',')
        .map((s) => s.trim())
        .filter(Boolean) ?? [];
    for (const f of freeze) oneOf(f, 'freeze', FREEZE);
    const o: ContrastiveOptions = {
      data: required(v, 'data'),
      out: required(v, 'out'),
      init: str(v, 'init'),
      config: str(v, 'config'),
      epochs: int(v, 'epochs'),
      batch: int(v, 'batch', 2),
      accumulate: int(v, 'accumulate', 1),
      maxMinutes: num(v, 'max-minutes'),
      maxSteps: int(v, 'max-steps'),
      lr: num(v, 'lr'),
      optimizer: oneOf(str(v, 'optimizer'), 'optimizer', ['adam', 'adamw'] as const),
      weightDecay: num(v, 'weight-decay'),
      schedule: oneOf(str(v, 'schedule'), 'schedule', ['plateau', 'cosine', 'constant'] as const),
      warmupSteps: int(v, 'warmup', 0),
      patience: int(v, 'patience'),
      minLr: num(v, 'min-lr'),
      freeze: freeze as FreezeGroup[],
      val: str(v, 'val'),
      valFraction: num(v, 'val-fraction'),
      splitBy: oneOf(str(v, 'split-by'), 'split-by', ['clip', 'label'] as const),
      template: str(v, 'template'),
      seed: int(v, 'seed', 0),
      checkpointEvery: int(v, 'checkpoint-every'),
      resume: v.resume === true,
      cacheDir: str(v, 'cache'),
      workers: int(v, 'workers', 0),
      threads: int(v, 'threads'),
      textLen: int(v, 'text-len', 2),
      clipGrad: num(v, 'clip-grad'),
      maxSeconds: num(v, 'max-seconds'),
      earlyStop: int(v, 'early-stop'),
      positives: oneOf(str(v, 'positives'), 'positives', ['caption', 'label'] as const),
      test: str(v, 'test'),
      specAugment: v['spec-augment'] === true,
      mixup: num(v, 'mixup'),
      progress: ctx.stderr,
    };
    if (o.maxMinutes !== undefined && !(o.maxMinutes > 0)) throw new UsageError('--max-minutes must be positive');
    const s = await trainContrastive(o);
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    ctx.stdout.write(
      `${s.status}: ${s.steps} steps, ${s.epochs_completed} epochs in ${s.seconds.toFixed(0)} s; loss ${s.first_loss?.toFixed(4)} → ${s.last_loss?.toFixed(4)}\n`,
    );
    if (s.val) ctx.stdout.write(`validation: ${JSON.stringify(s.val)}\n`);
    ctx.stdout.write(`weights: ${s.final_weights} (config ${s.config})\n`);
  },
};

export const trainPlotCommand: Command = {
  path: ['train', 'plot'],
  usage: 'train plot RUN_DIR [--out FILE.svg]',
  summary: 'Loss, learning-rate and validation curves of a training run (SVG)',
  options: { out: { type: 'string' } },
  help: ['  --out FILE   where to write the SVG (default RUN_DIR/curves.svg)', '  --json       {"svg": path, "steps", "epochs"}'].join(
    '\n',
  ),
  async run(ctx) {
    const dir = ctx.positionals[0];
    if (!dir || ctx.positionals.length > 1) throw new UsageError('give one RUN_DIR');
    const out = str(ctx.values, 'out') ?? join(dir, 'curves.svg');
    if (!out.endsWith('.svg')) throw new UsageError('--out must end in .svg (PNG is not supported: convert the SVG)');
    const entries = readLog(join(dir, 'log.jsonl'));
    writeFileSync(out, renderSvg(entries, `clap train — ${dir}`));
    const steps = new Set(entries.filter((e) => e.type === 'step').map((e) => e.step)).size;
    const epochs = new Set(entries.filter((e) => e.type === 'epoch').map((e) => e.epoch)).size;
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ svg: out, steps, epochs })}\n`);
    else ctx.stdout.write(`${out} (${steps} steps, ${epochs} epochs)\n`);
  },
};

export const trainProbeCommand: Command = {
  path: ['train', 'probe'],
  usage: 'train probe --data LABELLED_MANIFEST --weights W [--config C] [--out DIR]',
  summary: 'Linear probe: a softmax classifier on frozen CLAP audio embeddings, accuracy on a held-out split',
  options: {
    data: { type: 'string' },
    weights: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    val: { type: 'string' },
    'val-fraction': { type: 'string' },
    epochs: { type: 'string' },
    lr: { type: 'string' },
    'weight-decay': { type: 'string' },
    seed: { type: 'string' },
    cache: { type: 'string' },
    workers: { type: 'string' },
    threads: { type: 'string' },
    'max-seconds': { type: 'string' },
  },
  help: [
    '  --data MANIFEST      CSV or JSONL with path and label[, split]',
    '  --weights W          CLAP weights (.pth/.safetensors); --config C preset or config.json',
    '  --out DIR            write probe.safetensors (probe.weight [classes, dim], probe.bias) and probe.json',
    '  --val MANIFEST       held-out clips; else the split column, else --val-fraction per class (default 0.2)',
    '  --epochs N           full-batch Adam steps (default 300)',
    '  --lr X               default 0.01',
    '  --weight-decay X     L2 penalty on the weights (default 1e-4)',
    '  --seed S             the held-out split (default 0)',
    '  --cache DIR          on-disk cache of decoded log-mel features (shared with train contrastive)',
    '  --workers N / --threads N / --max-seconds S   as for train contrastive',
    '  --json               print the summary as JSON',
  ].join('\n'),
  async run(ctx) {
    const v = ctx.values;
    const s = await trainProbe({
      data: required(v, 'data'),
      weights: required(v, 'weights'),
      config: str(v, 'config'),
      out: str(v, 'out'),
      val: str(v, 'val'),
      valFraction: num(v, 'val-fraction'),
      epochs: int(v, 'epochs'),
      lr: num(v, 'lr'),
      weightDecay: num(v, 'weight-decay'),
      seed: int(v, 'seed', 0),
      cacheDir: str(v, 'cache'),
      workers: int(v, 'workers', 0),
      threads: int(v, 'threads'),
      maxSeconds: num(v, 'max-seconds'),
    });
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    const pc = (x: number): string => `${(100 * x).toFixed(1)}%`;
    ctx.stdout.write(
      `held-out accuracy ${pc(s.val_accuracy)} on ${s.val_clips} clips of ${s.classes.length} classes (chance ${pc(s.chance)}, majority ${pc(s.majority)}); training accuracy ${pc(s.train_accuracy)} on ${s.train_clips}\n`,
    );
    if (s.weights) ctx.stdout.write(`head: ${s.weights}\n`);
  },
};

/** Options the caption and fine-tuning commands share: run length, optimiser, data loading, reproducibility. */
const RUN_OPTIONS = {
  epochs: { type: 'string' },
  batch: { type: 'string' },
  lr: { type: 'string' },
  seed: { type: 'string' },
  cache: { type: 'string' },
  workers: { type: 'string' },
  threads: { type: 'string' },
  'max-seconds': { type: 'string' },
  'clip-grad': { type: 'string' },
  'max-steps': { type: 'string' },
} as const;

const RUN_HELP = '  --seed S / --cache DIR / --workers N / --threads N / --max-seconds S / --clip-grad X / --max-steps N';

function runSettings(ctx: CommandContext, minBatch = 1) {
  const v = ctx.values;
  return {
    epochs: int(v, 'epochs'),
    batch: int(v, 'batch', minBatch),
    lr: num(v, 'lr'),
    seed: int(v, 'seed', 0),
    cacheDir: str(v, 'cache'),
    workers: int(v, 'workers', 0),
    threads: int(v, 'threads'),
    maxSeconds: num(v, 'max-seconds'),
    clipGrad: num(v, 'clip-grad'),
    maxSteps: int(v, 'max-steps'),
    progress: ctx.stderr,
  };
}

export const trainCaptionCommand: Command = {
  path: ['train', 'caption'],
  usage: 'train caption --data MANIFEST --clap W --init CLAPCAP.pth --out DIR',
  summary: 'Train the clapcap mapper (optionally GPT-2) with the captioning loss on precomputed CLAP audio embeddings',
  options: {
    ...RUN_OPTIONS,
    data: { type: 'string' },
    clap: { type: 'string' },
    'clap-config': { type: 'string' },
    init: { type: 'string' },
    'clapcap-config': { type: 'string' },
    out: { type: 'string' },
    'train-gpt2': { type: 'boolean' },
    'max-tokens': { type: 'string' },
  },
  help: [
    '  --data MANIFEST        CSV or JSONL: path and caption(s) (one training example per clip and caption)',
    '  --clap W               CLAP weights whose audio embeddings feed the mapper (computed once); --clap-config C',
    '  --init CLAPCAP.pth     clapcap checkpoint to start from (GPT-2 + mapper, official key layout)',
    '  --clapcap-config F     JSON with msclap clapcap settings ({"clapcap": {...}} or the settings themselves)',
    '  --out DIR              clapcap.pth (+ .safetensors, clapcap.json, log.jsonl, summary.json)',
    '  --train-gpt2           also train GPT-2 (default: only the mapper)',
    '  --epochs N             default 10;  --batch B  default 8;  --lr X  default 2e-4 (Adam)',
    '  --max-tokens L         caption tokens incl. the stop token (default 30)',
    RUN_HELP,
    '  --json                 print the summary as JSON',
  ].join('\n'),
  async run(ctx) {
    const v = ctx.values;
    let settings: ClapCapSettings | undefined;
    const sf = str(v, 'clapcap-config');
    if (sf) {
      const j = JSON.parse(readFileSync(sf, 'utf8')) as { clapcap?: ClapCapSettings } & ClapCapSettings;
      settings = j.clapcap ?? j;
    }
    const s = await trainCaption({
      data: required(v, 'data'),
      clap: required(v, 'clap'),
      clapConfig: str(v, 'clap-config'),
      init: required(v, 'init'),
      settings,
      out: required(v, 'out'),
      trainGpt2: v['train-gpt2'] === true,
      maxTokens: int(v, 'max-tokens', 2),
      ...runSettings(ctx),
    });
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    ctx.stdout.write(
      `${s.steps} steps, ${s.epochs_completed} epochs: caption loss ${s.first_epoch_loss?.toFixed(4)} → ${s.last_epoch_loss?.toFixed(4)}\nweights: ${s.weights}\n`,
    );
  },
};

export const trainFinetuneCommand: Command = {
  path: ['train', 'finetune'],
  usage: 'train finetune --data LABELLED_MANIFEST --weights W --out DIR',
  summary: 'Fine-tune the whole CLAP audio encoder with a linear classifier; accuracy on a held-out split',
  options: {
    ...RUN_OPTIONS,
    data: { type: 'string' },
    weights: { type: 'string' },
    config: { type: 'string' },
    out: { type: 'string' },
    val: { type: 'string' },
    'val-fraction': { type: 'string' },
  },
  help: [
    '  --data MANIFEST      CSV or JSONL with path and label[, split]',
    '  --weights W          CLAP weights to start from; --config C preset or config.json (default: beside W, else read off W)',
    '  --out DIR            final.pth/.safetensors (whole CLAP, official layout), config.json, classifier.safetensors + .json, log.jsonl',
    '  --val MANIFEST       held-out clips; else the split column, else --val-fraction per class (default 0.2)',
    '  --epochs N           default 10;  --batch B  default 16;  --lr X  default 1e-4 (Adam)',
    RUN_HELP,
    '  --json               print the summary as JSON',
  ].join('\n'),
  async run(ctx) {
    const v = ctx.values;
    const s = await finetune({
      data: required(v, 'data'),
      weights: required(v, 'weights'),
      config: str(v, 'config'),
      out: required(v, 'out'),
      val: str(v, 'val'),
      valFraction: num(v, 'val-fraction'),
      ...runSettings(ctx, 2),
    });
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    ctx.stdout.write(
      `held-out accuracy ${(100 * s.val_accuracy).toFixed(1)}% on ${s.val_clips} clips of ${s.classes.length} classes (chance ${(100 * s.chance).toFixed(1)}%) after ${s.steps} steps\nweights: ${s.weights}\n`,
    );
  },
};
