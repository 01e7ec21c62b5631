/**
 * `clap train contrastive`: CLAP's contrastive pre-training (paper §2.1, §3) on a manifest of audio files
 * and captions, in the shared training loop (loop.ts: resume, checkpoints, limits, best epoch, events).
 * One ONNX model per step (forward, backward, Adam/AdamW update); features computed in worker threads
 * ahead of the step; validation (retrieval R@1/R@10, zero-shot accuracy) each epoch on the inference path
 * (`Clap`) with the weights exported in the official layout.
 *
 * RUN_DIR: config.json (model, loadable with --config and found beside the weights), train.json
 * (options), init.safetensors (the starting weights, official layout), final.pth + final.safetensors
 * (official layout: the best validation epoch when validating, else the last step), and the loop's files
 * (log.jsonl, checkpoint.safetensors, best-checkpoint.safetensors, summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, type HostTensor, isFloatDtype, type TrainStep } from '../../engine/index.js';
import { type ClapConfig, clapConfigToJson, randomClapStateDict, resolveClapConfig } from '../../models/clap/index.js';
import { resolveConfigArg } from '../config-arg.js';
import type { StateDict } from '../../weights/index.js';
import { loadWeights, saveSafetensors, toStateDict } from '../../weights/index.js';
import { applyTemplate, Clap, DEFAULT_TEMPLATE, withSubject } from '../clap.js';
import { CROP_FRAMES, cropInto, FeatureStore, MEL_BINS } from './features.js';
import { type ManifestItem, readManifest, splitItems } from './manifest.js';
import { cosineMatrix } from '../similarity.js';
import { retrieval, type RetrievalMetrics, zeroShotAccuracy } from './metrics.js';
import { buildContrastiveGraph, exportStateDict, paramGroup, trainableParts } from './model.js';
import { Rng } from '../rng.js';
import type { SpecAugmentOptions } from './augment.js';
import { parameterCount, saveWeights } from './outputs.js';
import { CONTRASTIVE_DEFAULTS } from './defaults.js';
import { contrastiveBatches } from './contrastive-batch.js';
import { type Evaluation, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import type { RunOptions } from './run-options.js';
import { embedItems } from './features.js';

export type FreezeGroup = 'audio' | 'text' | 'projection' | 'temperature';

export interface ContrastiveOptions extends RunOptions {
  data: string;
  out: string;
  /** Initial weights (.pth/.safetensors, official layout); default: random (from scratch). */
  init?: string;
  /**
   * Preset name (small, tiny, 2023) or config.json. Default: 'small' from scratch; with `init`, the
   * config.json beside it, else sizes read off it.
   */
  config?: string;
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
  const template = o.template ?? DEFAULT_TEMPLATE;

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

  // ---- model config and starting weights: checked before any worker thread starts
  let loaded: StateDict | undefined;
  let cfg: ClapConfig;
  if (run.resuming) {
    loaded = await loadWeights(join(out, 'init.safetensors'));
    cfg = resolveConfigArg(join(out, 'config.json'))!;
  } else if (o.init) {
    const init = await loadWeights(o.init);
    cfg = withSubject(() => resolveClapConfig(init, resolveConfigArg(o.config, o.init)), o.init);
    loaded = init;
  } else {
    cfg = resolveConfigArg(o.config ?? D.config)!;
  }
  const store = new FeatureStore({ maxClipSeconds: o.maxClipSeconds ?? D.maxClipSeconds, cacheDir: o.cacheDir, workers: o.workers });
  let step: TrainStep | undefined;
  try {
    store.prefetch([...train, ...val, ...testItems].map((it) => it.path));
    const skip = skipped(o);
    train = await store.readable(train, skip.onSkip);
    val = await store.readable(val, skip.onSkip);
    testItems = await store.readable(testItems, skip.onSkip);
    if (train.length < batch * accumulate)
      throw new ClapError(`${train.length} readable training clips is fewer than one step`, { subject: o.data });
    let base = loaded;
    if (!base) {
      const sd = randomClapStateDict(cfg, seed + 1);
      await setBn0Stats(sd, cfg, train, store);
      base = sd;
    }
    if (!run.resuming) {
      writeFileSync(join(out, 'config.json'), `${JSON.stringify(clapConfigToJson(cfg), null, 2)}\n`);
      await saveSafetensors(join(out, 'init.safetensors'), base);
      const { signal: _s, onEvent: _e, ...options } = o;
      writeFileSync(
        join(out, 'train.json'),
        `${JSON.stringify({ ...options, train_clips: train.length, val_clips: val.length }, null, 2)}\n`,
      );
    }
    const nPositions = trainableParts(cfg).gpt2?.nPositions ?? D.textLen;
    const textLen = Math.min(o.textLen ?? Math.min(nPositions, D.textLen), nPositions);
    const model = await contrastiveStep(base, cfg, o, batch, accumulate, textLen);
    step = model.step;
    const trained = step;
    const weights = (): StateDict => exportStateDict(base, trained.params());
    const evaluate = async (): Promise<Evaluation> => {
      const sd = val.length > 0 || testItems.length > 0 ? weights() : undefined;
      const v = val.length > 0 ? await evaluateSplit(sd!, cfg, val, store, template, o.threads) : undefined;
      const t = testItems.length > 0 ? await evaluateSplit(sd!, cfg, testItems, store, template, o.threads) : undefined;
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
        feeds: contrastiveBatches(train, store, { batch, textLen, positives: o.positives, specAugment: o.specAugment, mixup: o.mixup }),
        evaluate,
        epochFields: () => ({ logit_scale: Number(trained.param('logit_scale').data[0]) }),
        startFields: { train_clips: train.length, val_clips: val.length, params_trainable: model.params, skipped: skip.list },
        save: () => saveWeights(out, 'final', weights()),
        summary: (r): TrainSummary => ({
          run_dir: out,
          status: r.status,
          steps: r.steps,
          epochs_completed: r.epochs_completed,
          best_epoch: r.best_epoch,
          best_score: r.best_score,
          final_weights: r.weights,
          config: join(out, 'config.json'),
          params_trainable: model.params,
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
    clipGradNorm: o.clipGrad,
    lr: o.lr ?? D.lr,
    accumulate,
    runtime: { threads: o.threads },
  });
  return { step, params: parameterCount(trainable) };
}

/**
 * bn0's running statistics from the training data (per mel bin over the first 7 s of up to 256 clips),
 * weight 1 and bias 0: from scratch, the log-mel enters the Swin normalised. (bn0 runs in eval mode
 * during training: these statistics stay fixed.)
 */
async function setBn0Stats(sd: Map<string, HostTensor>, cfg: ClapConfig, train: ManifestItem[], store: FeatureStore): Promise<void> {
  const M = trainableParts(cfg).htsat.melBins;
  const P = `${cfg.audioPrefix}base.htsat.bn0.`;
  const sum = new Float64Array(M);
  const sq = new Float64Array(M);
  let n = 0;
  const sample = train.slice(0, 256);
  const buf = new Float32Array(CROP_FRAMES * MEL_BINS);
  for (const it of sample) {
    cropInto(await store.get(it.path), 0, buf, 0);
    for (let f = 0; f < CROP_FRAMES; f++) {
      for (let m = 0; m < M; m++) {
        const v = buf[f * M + m];
        sum[m] += v;
        sq[m] += v * v;
      }
    }
    n += CROP_FRAMES;
  }
  const mean = Float32Array.from(sum, (s) => s / n);
  const variance = Float32Array.from(sq, (s, m) => Math.max(1e-3, s / n - mean[m] * mean[m]));
  sd.set(`${P}running_mean`, { dtype: 'float32', shape: [M], data: mean });
  sd.set(`${P}running_var`, { dtype: 'float32', shape: [M], data: variance });
  sd.set(`${P}weight`, { dtype: 'float32', shape: [M], data: new Float32Array(M).fill(1) });
  sd.set(`${P}bias`, { dtype: 'float32', shape: [M], data: new Float32Array(M) });
}

/**
 * Retrieval and zero-shot metrics of weights `sd` on `items` through the inference path (`Clap`): the
 * first 7 s of each clip; every caption of every clip; classes = the distinct labels, prompted with the
 * template.
 */
export async function evaluateSplit(
  sd: StateDict,
  cfg: ClapConfig,
  items: readonly ManifestItem[],
  store: FeatureStore,
  template: string,
  threads?: number,
): Promise<EpochMetrics> {
  const clap = await Clap.load({ weights: toStateDict(sd), config: cfg, threads });
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
