/**
 * `clap train contrastive`: CLAP's contrastive pre-training (paper §2.1, §3) on a manifest of audio files
 * and captions, in the shared training loop (loop.ts: resume, checkpoints, limits, best epoch, events).
 * One ONNX model per step (forward, backward, Adam/AdamW update); features computed in worker threads
 * ahead of the step; validation (retrieval R@1/R@10, zero-shot accuracy) each epoch on the inference path
 * (`Clap`) with the weights exported in the official layout.
 *
 * Any family trains: msclap 2023 (HTSAT + GPT-2), msclap 2022 (Cnn14 + BERT), the paper's encoder grid in
 * msclap's layout (Cnn14 or HTSAT × BERT, RoBERTa or GPT-2, from scratch by config), and Hugging Face CLAP
 * folders (fused or not, from --init) — each through its own frontend, tokenizer and towers (model.ts).
 *
 * RUN_DIR: train.json (options), the starting model and the final weights in the family's format
 * (run-model.ts: msclap layout: config.json, init.safetensors, tokenizer/, final.pth + final.safetensors;
 * Hugging Face: the folders init/ and final/) — the best validation epoch when validating, else the last step
 * — and the loop's files (log.jsonl, checkpoint.safetensors, best-checkpoint.safetensors, summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, type HostTensor, isFloatDtype, type TrainStep } from '../../engine/index.js';
import {
  audioEncoderPrefix,
  type ClapConfig,
  clapFamily,
  describeClap,
  randomClapStateDict,
  textMaxTokens,
} from '../../models/clap/index.js';
import type { StateDict } from '../../weights/index.js';
import { toStateDict } from '../../weights/index.js';
import { applyTemplate, Clap } from '../clap.js';
import { defaultTemplate } from '../zero-shot.js';
import { textEncodingFor } from '../text-encoding.js';
import { ClipInputs, FeatureStore } from './features.js';
import { type ManifestItem, readManifest, splitItems } from './manifest.js';
import { cosineMatrix } from '../similarity.js';
import { retrieval, type RetrievalMetrics, zeroShotAccuracy } from './metrics.js';
import { buildContrastiveGraph, exportStateDict, paramGroup } from './model.js';
import { Rng } from '../rng.js';
import type { SpecAugmentOptions } from './augment.js';
import { parameterCount } from './outputs.js';
import { type RunModel, resumedModel, saveRunModel, startingModel, writeRunStart } from './run-model.js';
import { CONTRASTIVE_DEFAULTS } from './defaults.js';
import { contrastiveBatches } from './contrastive-batch.js';
import { type Evaluation, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import type { RunOptions } from './run-options.js';
import { embedItems } from './features.js';

export type FreezeGroup = 'audio' | 'text' | 'projection' | 'temperature';

export interface ContrastiveOptions extends RunOptions {
  data: string;
  out: string;
  /**
   * Initial weights of any family: an msclap .pth/.safetensors (official layout) or a Hugging Face CLAP model
   * folder; default: random (from scratch).
   */
  init?: string;
  /**
   * Preset name (small, tiny, 2023, the encoder grid's …) or config.json. Default: 'small' from scratch; with
   * `init`, the config.json beside it (a Hugging Face folder's own), else sizes read off it.
   */
  config?: string;
  /**
   * BERT/RoBERTa text encoders: the tokenizer's files (a folder, or vocab.txt / tokenizer.json …); default: the
   * Hugging Face folder's, or those beside `init`. Required from scratch. The run keeps a copy beside its weights.
   */
  tokenizer?: string;
  /** Clips per micro-batch (the contrastive loss's negatives come from within one micro-batch). */
  batch?: number;
  /**
   * Gradient accumulation: micro-batches of `batch` clips per optimiser step (default 1); a step sees
   * batch × accumulate clips. Each micro-batch's loss has its own negatives, so this is not identical
   * to a batch accumulate times larger. Steps, checkpoints and schedules count optimiser steps.
   */
  accumulate?: number;
  optimizer?: 'adam' | 'adamw';
  weightDecay?: number;
  schedule?: 'plateau' | 'cosine' | 'constant';
  warmupSteps?: number;
  patience?: number;
  minLr?: number;
  freeze?: FreezeGroup[];
  /** Validation manifest; else `valFraction` of --data, split by clip or label. */
  val?: string;
  valFraction?: number;
  splitBy?: 'clip' | 'label';
  /** Caption of label-only rows and the zero-shot prompt; default the family's (`Clap.template`). */
  template?: string;
  textLen?: number;
  /**
   * Which pairs in a batch are positives: 'caption' (default: identical caption texts) or 'label' (clips
   * sharing a label, whatever their captions — several paraphrases or per-clip descriptions of a class).
   */
  positives?: 'caption' | 'label';
  /**
   * Test manifest: evaluated (and logged as `test`) after every epoch like the validation split, but never
   * used for early stopping or for choosing the best epoch — an untouched held-out measurement.
   */
  test?: string;
  /** SpecAugment on every training crop (true: the defaults of `specAugment`). */
  specAugment?: boolean | SpecAugmentOptions;
  /** Mixup of the audio with λ ~ Beta(α, α) per batch (targets mixed alike); off when undefined or 0. */
  mixup?: number;
}

export interface EpochMetrics extends Partial<RetrievalMetrics> {
  zero_shot_acc?: number;
  zero_shot_classes?: number;
  zero_shot_chance?: number;
  val_clips: number;
  val_captions: number;
}

export interface TrainSummary {
  run_dir: string;
  status: RunStatus;
  steps: number;
  epochs_completed: number;
  best_epoch: number | null;
  best_score: number | null;
  final_weights: string;
  config: string;
  params_trainable: number;
  first_loss: number | null;
  last_loss: number | null;
  seconds: number;
  seconds_per_step: number | null;
  /** Validation metrics of the final weights (the best epoch's), or of the last epoch without validation. */
  val: EpochMetrics | null;
}

export async function trainContrastive(o: ContrastiveOptions): Promise<TrainSummary> {
  const D = CONTRASTIVE_DEFAULTS;
  const run = openRun(o.out, o);
  const out = o.out;
  const seed = o.seed ?? D.seed;
  const batch = o.batch ?? D.batch;
  const epochs = o.epochs ?? D.epochs;
  if (!Number.isInteger(batch) || batch < 2) throw new ClapError('batch size must be an integer ≥ 2 (contrastive loss)');
  const accumulate = o.accumulate ?? D.accumulate;
  if (!Number.isInteger(accumulate) || accumulate < 1) throw new ClapError('accumulate must be an integer ≥ 1');

  // ---- model config, starting weights and tokenizer: checked before any worker thread starts
  const start = run.resuming ? await resumedModel(out) : await startingModel(o, D.config);
  const cfg = start.cfg;
  if (!cfg.text) throw new ClapError(`contrastive training needs a text encoder: ${describeClap(cfg)} has none`, { subject: o.init });
  const encoding = textEncodingFor(cfg.text, start.tokenizer, describeClap(cfg));
  const template = o.template ?? defaultTemplate(clapFamily(cfg));

  // ---- data
  const items = readManifest(o.data, { template });
  let train: ManifestItem[];
  let val: ManifestItem[];
  if (o.val) {
    train = items;
    val = readManifest(o.val, { template });
  } else {
    const r = new Rng(seed ^ 0x5eed);
    ({ train, val } = splitItems(items, { fraction: o.valFraction ?? D.valFraction, by: o.splitBy ?? D.splitBy, seed }, () => r.next()));
  }
  if (train.length < batch * accumulate) {
    const what = accumulate > 1 ? `one step of ${accumulate} micro-batches of ${batch}` : `one batch of ${batch}`;
    throw new ClapError(`${train.length} training clips is fewer than ${what}`, { subject: o.data });
  }
  let testItems = o.test ? readManifest(o.test, { template }) : [];

  const inputs = new ClipInputs(cfg);
  const store = new FeatureStore({
    frontend: cfg.frontend,
    maxClipSeconds: o.maxClipSeconds ?? D.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  let step: TrainStep | undefined;
  try {
    store.prefetch([...train, ...val, ...testItems].map((it) => it.path));
    const skip = skipped(o);
    train = await store.readable(train, skip.onSkip);
    val = await store.readable(val, skip.onSkip);
    testItems = await store.readable(testItems, skip.onSkip);
    if (train.length < batch * accumulate)
      throw new ClapError(`${train.length} readable training clips is fewer than one step`, { subject: o.data });
    let base = start.weights;
    if (!base) {
      const sd = randomClapStateDict(cfg, seed + 1);
      await setBn0Stats(sd, cfg, train, store, inputs);
      base = sd;
    }
    let model: RunModel = start;
    if (!run.resuming) {
      model = await writeRunStart(out, start, base);
      const { signal: _s, onEvent: _e, ...options } = o;
      writeFileSync(
        join(out, 'train.json'),
        `${JSON.stringify({ ...options, train_clips: train.length, val_clips: val.length }, null, 2)}\n`,
      );
    }
    const maxTokens = textMaxTokens(cfg.text);
    const textLen = Math.min(o.textLen ?? Math.min(maxTokens, D.textLen), maxTokens);
    const compiled = await contrastiveStep(base, cfg, o, batch, accumulate, textLen);
    step = compiled.step;
    const trained = step;
    const initial = base;
    const weights = (): StateDict => exportStateDict(initial, trained.params());
    const evaluateOn = (sd: StateDict, items: ManifestItem[]): Promise<EpochMetrics> =>
      evaluateSplit(sd, { config: cfg, tokenizer: model.tokenizer }, items, store, template, o.threads);
    const evaluate = async (): Promise<Evaluation> => {
      const sd = val.length > 0 || testItems.length > 0 ? weights() : undefined;
      const v = val.length > 0 ? await evaluateOn(sd!, val) : undefined;
      const t = testItems.length > 0 ? await evaluateOn(sd!, testItems) : undefined;
      return {
        ...(v ? { score: v.zero_shot_acc ?? (v.a2t_r10! + v.t2a_r10!) / 2 } : {}),
        fields: { ...(v ? { val: v } : {}), ...(t ? { test: t } : {}) },
      };
    };
    return await runLoop(
      run,
      {
        stepper: step,
        examples: train.length,
        batch,
        accumulate,
        feeds: contrastiveBatches(train, store, {
          batch,
          textLen,
          inputs,
          encoding,
          positives: o.positives,
          specAugment: o.specAugment,
          mixup: o.mixup,
        }),
        evaluate,
        epochFields: () => logitScales(trained, cfg),
        startFields: { train_clips: train.length, val_clips: val.length, params_trainable: compiled.params, skipped: skip.list },
        save: () => saveRunModel(out, 'final', model, weights()),
        summary: (r): TrainSummary => ({
          run_dir: out,
          status: r.status,
          steps: r.steps,
          epochs_completed: r.epochs_completed,
          best_epoch: r.best_epoch,
          best_score: r.best_score,
          final_weights: r.weights,
          config: cfg.layout === 'hf' ? join(r.weights, 'config.json') : join(out, 'config.json'),
          params_trainable: compiled.params,
          first_loss: r.first_loss,
          last_loss: r.last_loss,
          seconds: r.seconds,
          seconds_per_step: r.seconds_per_step,
          val: ((r.saved_epoch ?? r.epochs.at(-1))?.evaluation?.val as EpochMetrics | undefined) ?? null,
        }),
      },
      {
        ...o,
        epochs,
        seed,
        schedule: {
          kind: o.schedule ?? D.schedule,
          lr: o.lr ?? D.lr,
          warmupSteps: o.warmupSteps ?? D.warmupSteps,
          minLr: o.minLr ?? D.minLr,
          patience: o.patience ?? D.patience,
          factor: 0.1,
        },
      },
    );
  } finally {
    await step?.release();
    await store.close();
  }
}

/** The compiled training step: the contrastive graph, its trainable parameters (less the frozen groups), the optimiser. */
async function contrastiveStep(
  base: StateDict,
  cfg: ClapConfig,
  o: ContrastiveOptions,
  batch: number,
  accumulate: number,
  textLen: number,
): Promise<{ step: TrainStep; params: number }> {
  const D = CONTRASTIVE_DEFAULTS;
  const cg = buildContrastiveGraph(base, cfg, batch, textLen);
  const frozen = new Set(o.freeze ?? []);
  const all = [...cg.graph.params.values()].map((p) => p.value).filter((v) => isFloatDtype(v.dtype));
  const used = dependsOn(cg.loss, all);
  const trainable = all.filter((v, i) => {
    if (!used[i]) return false;
    const grp = paramGroup(v.name, cfg);
    if (grp === 'audio_projection' || grp === 'text_projection') return !frozen.has('projection');
    return !frozen.has(grp);
  });
  if (trainable.length === 0) throw new ClapError('everything is frozen: nothing to train');
  const rank = new Map(trainable.map((v) => [v.name, v.rank]));
  const step = await buildTrainStep(cg.loss, {
    optimizer: {
      kind: o.optimizer ?? D.optimizer,
      ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
      decay: (n) => (rank.get(n) ?? 0) >= 2,
    },
    params: trainable,
    buffers: cg.buffers,
    clipGradNorm: o.clipGrad,
    lr: o.lr ?? D.lr,
    accumulate,
    runtime: { threads: o.threads },
  });
  return { step, params: parameterCount(trainable) };
}

/**
 * The input BatchNorm's running statistics from the training data (per mel bin over the first window of up to
 * 256 clips), weight 1 and bias 0: from scratch, the log-mel enters the encoder normalised. (HTSAT's bn0 runs in
 * eval mode during training, so these statistics stay fixed; Cnn14's runs in training mode and starts from them.)
 */
async function setBn0Stats(
  sd: Map<string, HostTensor>,
  cfg: ClapConfig,
  train: ManifestItem[],
  store: FeatureStore,
  inputs: ClipInputs,
): Promise<void> {
  const M = inputs.mels;
  const P = `${audioEncoderPrefix(cfg)}bn0.`;
  const sum = new Float64Array(M);
  const sq = new Float64Array(M);
  let n = 0;
  const sample = train.slice(0, 256);
  const buf = new Float32Array(inputs.size);
  for (const it of sample) {
    inputs.into(await store.get(it.path), buf, 0);
    for (let i = 0; i < buf.length; i++) {
      const v = buf[i];
      sum[i % M] += v;
      sq[i % M] += v * v;
    }
    n += buf.length / M;
  }
  const mean = Float32Array.from(sum, (s) => s / n);
  const variance = Float32Array.from(sq, (s, m) => Math.max(1e-3, s / n - mean[m] * mean[m]));
  sd.set(`${P}running_mean`, { dtype: 'float32', shape: [M], data: mean });
  sd.set(`${P}running_var`, { dtype: 'float32', shape: [M], data: variance });
  sd.set(`${P}weight`, { dtype: 'float32', shape: [M], data: new Float32Array(M).fill(1) });
  sd.set(`${P}bias`, { dtype: 'float32', shape: [M], data: new Float32Array(M) });
}

/** The logit scales after an epoch, for the log: `logit_scale` (msclap) or `logit_scale_a` and `logit_scale_t`. */
function logitScales(step: TrainStep, cfg: ClapConfig): Record<string, number> {
  const keys = cfg.layout === 'hf' ? ['logit_scale_a', 'logit_scale_t'] : ['logit_scale'];
  // Frozen (--freeze temperature), they are not the step's.
  return Object.fromEntries(keys.filter((k) => step.paramNames.includes(k)).map((k) => [k, Number(step.param(k).data[0])]));
}

/**
 * Retrieval and zero-shot metrics of weights `sd` on `items` through the inference path (`Clap`): the
 * first 7 s of each clip; every caption of every clip; classes = the distinct labels, prompted with the
 * template.
 */
export async function evaluateSplit(
  sd: StateDict,
  model: { config: ClapConfig; tokenizer?: string },
  items: readonly ManifestItem[],
  store: FeatureStore,
  template: string,
  threads?: number,
): Promise<EpochMetrics> {
  const clap = await Clap.load({ weights: toStateDict(sd), config: model.config, tokenizer: model.tokenizer, threads });
  try {
    const audio = await embedItems(clap, items, store);
    const captions: string[] = [];
    const captionClip: number[] = [];
    items.forEach((it, i) =>
      it.captions.forEach((c) => {
        captions.push(c);
        captionClip.push(i);
      }),
    );
    const unique = [...new Set(captions)];
    const uEmb = await embedTexts(clap, unique);
    const byText = new Map(unique.map((c, i) => [c, uEmb[i]]));
    const sim = cosineMatrix(
      audio,
      captions.map((c) => byText.get(c)!),
    );
    const metrics: EpochMetrics = { ...retrieval(sim, captionClip, captions), val_clips: items.length, val_captions: captions.length };
    metrics.val_texts = unique.length;
    const labels = [...new Set(items.map((it) => it.label).filter((l): l is string => l !== undefined))].sort();
    if (labels.length >= 2) {
      const labelled = items.map((it, i) => [it, i] as const).filter(([it]) => it.label !== undefined);
      const prompts = await embedTexts(
        clap,
        labels.map((l) => applyTemplate(template, l)),
      );
      const zs = cosineMatrix(
        labelled.map(([, i]) => audio[i]),
        prompts,
      );
      metrics.zero_shot_acc = zeroShotAccuracy(
        zs,
        labelled.map(([it]) => labels.indexOf(it.label!)),
      );
      metrics.zero_shot_classes = labels.length;
      metrics.zero_shot_chance = 1 / labels.length;
    }
    return metrics;
  } finally {
    await clap.release();
  }
}

async function embedTexts(clap: Clap, texts: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 64) out.push(...(await clap.embedText(texts.slice(i, i + 64))));
  return out;
}
