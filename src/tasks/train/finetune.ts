/**
 * `clap train finetune`: supervised fine-tuning of the whole CLAP audio encoder (HTSAT + audio projection)
 * with a linear classifier on the L2-normalised audio embedding (paper §3: the audio encoder fine-tuned on
 * the target task), in the shared training loop (loop.ts). Cross-entropy over random 7 s crops, Adam;
 * after every epoch the held-out split is classified through the inference path (`Clap` with the
 * exported weights: first 7 s of each clip) and the head. The text encoder is untouched (its keys are
 * copied through).
 *
 * OUT: final.pth + final.safetensors (the whole CLAP in the official layout, fine-tuned audio encoder: the
 * best held-out epoch's), config.json, classifier.safetensors (`classifier.weight` [classes, d_proj],
 * `classifier.bias`), classifier.json (labels), and the loop's files (log.jsonl, checkpoints, summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, Graph, type HostTensor, isFloatDtype, ops, type TrainStep } from '../../engine/index.js';
import {
  type ClapConfig,
  clapConfigToJson,
  l2Normalize,
  projection,
  projectionParams,
  resolveClapConfig,
} from '../../models/clap/index.js';
import { buildHtsat, htsatInputFrames, htsatNumFeatures } from '../../models/htsat/index.js';
import { applyLinear, torchLinear } from '../../models/layers.js';
import { loadWeights, toStateDict } from '../../weights/index.js';
import { normalized } from '../similarity.js';
import { Clap, withSubject } from '../clap.js';
import { resolveConfigArg } from '../config-arg.js';
import { CROP_FRAMES, embedItems, FeatureStore, MEL_BINS, randomCropInto } from './features.js';
import { labelledSplit, readManifest } from './manifest.js';
import { exportStateDict, trainableParts } from './model.js';
import { headAccuracy, type LinearHead, saveLinearHead } from './linear-head.js';
import type { RunOptions } from './run-options.js';
import { parameterCount, saveWeights } from './outputs.js';
import { constantLr, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import { FINETUNE_DEFAULTS } from './defaults.js';

export interface FinetuneOptions extends RunOptions {
  data: string;
  /** CLAP weights to start from and their config (preset or config.json; default read off the weights). */
  weights: string;
  config?: string;
  out: string;
  val?: string;
  valFraction?: number;
}

export interface FinetuneSummary {
  classes: string[];
  train_clips: number;
  val_clips: number;
  steps: number;
  epochs_completed: number;
  params_trainable: number;
  first_loss: number | null;
  last_loss: number | null;
  /** Held-out accuracy after each epoch, and of the final weights (the best epoch's). */
  val_accuracy_per_epoch: number[];
  val_accuracy: number;
  chance: number;
  weights: string;
  seconds: number;
  status: RunStatus;
  best_epoch: number | null;
}

const HEAD = 'classifier';

export async function finetune(o: FinetuneOptions): Promise<FinetuneSummary> {
  const run = openRun(o.out, o);
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed;
  const batch = o.batch ?? FINETUNE_DEFAULTS.batch;
  const items = readManifest(o.data);
  let { train, val } = labelledSplit(items, o.val ? readManifest(o.val) : undefined, o.valFraction ?? FINETUNE_DEFAULTS.valFraction, seed);
  const classes = [...new Set(train.map((it) => it.label!))].sort();
  if (classes.length < 2) throw new ClapError('fine-tuning needs at least two classes', { subject: o.data });
  if (train.length < batch) throw new ClapError(`${train.length} training clips is fewer than one batch of ${batch}`, { subject: o.data });
  const C = classes.length;

  const loaded = await loadWeights(o.weights);
  const cfg = withSubject(() => resolveClapConfig(loaded, resolveConfigArg(o.config, o.weights)), o.weights);
  const base = new Map<string, HostTensor>();
  for (const [k, t] of loaded) base.set(k, t);
  const D = cfg.dProj;
  base.set(`${HEAD}.weight`, { dtype: 'float32', shape: [C, D], data: new Float32Array(C * D) });
  base.set(`${HEAD}.bias`, { dtype: 'float32', shape: [C], data: new Float32Array(C) });
  const { step, params } = await finetuneStep(base, cfg, C, batch, o);

  const store = new FeatureStore({
    maxClipSeconds: o.maxClipSeconds ?? FINETUNE_DEFAULTS.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  try {
    store.prefetch([...train, ...val].map((it) => it.path));
    const skip = skipped(o);
    train = await store.readable(train, skip.onSkip);
    val = await store.readable(val, skip.onSkip);
    if (train.length < batch)
      throw new ClapError(`${train.length} readable training clips is fewer than one batch of ${batch}`, { subject: o.data });
    writeFileSync(join(o.out, 'config.json'), `${JSON.stringify(clapConfigToJson(cfg), null, 2)}\n`);
    const weights = (): Map<string, HostTensor> => exportStateDict(base, step.params());
    const headOf = (sd: Map<string, HostTensor>): LinearHead => ({
      classes: C,
      dim: D,
      weight: Float64Array.from(sd.get(`${HEAD}.weight`)!.data as Float32Array),
      bias: Float64Array.from(sd.get(`${HEAD}.bias`)!.data as Float32Array),
    });
    const clapOnly = (sd: Map<string, HostTensor>): Map<string, HostTensor> => new Map([...sd].filter(([k]) => !k.startsWith(`${HEAD}.`)));
    const accuracy = async (): Promise<number> => {
      if (val.length === 0) return NaN;
      const sd = weights();
      const clap = await Clap.load({ weights: toStateDict(clapOnly(sd)), config: cfg, threads: o.threads });
      try {
        return headAccuracy(
          headOf(sd),
          (await embedItems(clap, val, store)).map(normalized),
          val.map((it) => classes.indexOf(it.label!)),
        );
      } finally {
        await clap.release();
      }
    };
    const frames = htsatInputFrames(trainableParts(cfg).htsat);
    return await runLoop(
      run,
      {
        stepper: step,
        examples: train.length,
        batch,
        feeds: async (idx, rng): Promise<Record<string, HostTensor>> => {
          const mel = new Float32Array(batch * CROP_FRAMES * MEL_BINS);
          const tg = new Float32Array(batch * C);
          const feats = await Promise.all(idx.map((i) => store.get(train[i].path)));
          idx.forEach((i, k) => {
            randomCropInto(feats[k], rng, mel, k);
            tg[k * C + classes.indexOf(train[i].label!)] = 1;
          });
          return {
            logmel: { dtype: 'float32', shape: [batch, frames, MEL_BINS], data: mel },
            targets: { dtype: 'float32', shape: [batch, C], data: tg },
          };
        },
        evaluate: async () => {
          if (val.length === 0) return { fields: {} };
          const acc = await accuracy();
          return { score: acc, fields: { val: { accuracy: acc } } };
        },
        startFields: { train_clips: train.length, val_clips: val.length, classes: C, params_trainable: params, skipped: skip.list },
        save: async () => {
          const sd = weights();
          const file = await saveWeights(o.out, 'final', clapOnly(sd));
          await saveLinearHead(join(o.out, 'classifier.safetensors'), HEAD, headOf(sd), classes);
          writeFileSync(join(o.out, 'classifier.json'), `${JSON.stringify({ labels: classes }, null, 2)}\n`);
          return file;
        },
        summary: async (r): Promise<FinetuneSummary> => ({
          classes,
          train_clips: train.length,
          val_clips: val.length,
          steps: r.steps,
          epochs_completed: r.epochs_completed,
          params_trainable: params,
          first_loss: r.first_loss,
          last_loss: r.last_loss,
          val_accuracy_per_epoch: r.epochs.map((e) => (e.validated ? e.score : NaN)),
          val_accuracy: r.saved_epoch ? r.saved_epoch.score : await accuracy(),
          chance: 1 / C,
          weights: r.weights,
          seconds: r.seconds,
          status: r.status,
          best_epoch: r.saved_epoch?.epoch ?? null,
        }),
      },
      { ...o, epochs: o.epochs ?? FINETUNE_DEFAULTS.epochs, seed, schedule: constantLr(o.lr ?? FINETUNE_DEFAULTS.lr) },
    );
  } finally {
    await step.release();
    await store.close();
  }
}

/** HTSAT (training path) → projection → L2 norm → linear head → cross-entropy, compiled with Adam. */
async function finetuneStep(
  base: Map<string, HostTensor>,
  cfg: ClapConfig,
  classes: number,
  batch: number,
  o: FinetuneOptions,
): Promise<{ step: TrainStep; params: number }> {
  const g = new Graph('clap_finetune');
  const { htsat } = trainableParts(cfg);
  const logmel = g.input('logmel', 'float32', [batch, htsatInputFrames(htsat), htsat.melBins]);
  const targets = g.input('targets', 'float32', [batch, classes]);
  const h = buildHtsat(g, logmel, base, htsat, `${cfg.audioPrefix}base.htsat.`, { trainable: true });
  const proj = projectionParams(g, base, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(htsat) });
  const head = torchLinear(g, base, HEAD, { inFeatures: cfg.dProj, outFeatures: classes });
  const logits = applyLinear(l2Normalize(projection(proj, h.latent)), head);
  const loss = ops.neg(ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(logits, -1), targets), [-1]), [0]));
  const floats = [...g.params.values()].map((p) => p.value).filter((v) => isFloatDtype(v.dtype));
  const used = dependsOn(loss, floats);
  const trainable = floats.filter((_, i) => used[i]);
  const step = await buildTrainStep(loss, {
    optimizer: { kind: 'adam' },
    params: trainable,
    lr: o.lr ?? FINETUNE_DEFAULTS.lr,
    clipGradNorm: o.clipGrad,
    runtime: { threads: o.threads },
  });
  return { step, params: parameterCount(trainable) };
}
