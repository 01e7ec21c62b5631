/**
 * `clap train finetune`: supervised fine-tuning of the whole CLAP audio encoder (of any family: the audio
 * tower's training path, models/clap) with a linear classifier on the L2-normalised audio embedding (paper
 * §3: the audio encoder fine-tuned on the target task), in the shared training loop (loop.ts). Cross-entropy
 * over random windows, Adam; after every epoch the held-out split is classified through the inference path
 * (`Clap` with the exported weights: each clip's first window) and the head. The text encoder is untouched
 * (its keys are copied through).
 *
 * OUT: the whole CLAP with the fine-tuned audio encoder (the best held-out epoch's) in its family's format
 * (run-model.ts: final.pth + final.safetensors beside config.json and tokenizer/, or the model folder final/),
 * classifier.safetensors (`classifier.weight` [classes, d_proj], `classifier.bias`), classifier.json
 * (labels), and the loop's files (log.jsonl, checkpoints, summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, Graph, type HostTensor, isFloatDtype, ops, type TrainStep } from '../../engine/index.js';
import { type ClapConfig, clapAudioEmbedding, l2Normalize } from '../../models/clap/index.js';
import { applyLinear, torchLinear } from '../../models/layers.js';
import { toStateDict } from '../../weights/index.js';
import { normalized } from '../similarity.js';
import { Clap } from '../clap.js';
import { audioInputSpec } from '../audio-tower.js';
import { ClipInputs, embedItems, FeatureStore } from './features.js';
import { labelledSplit, readManifest } from './manifest.js';
import { exportStateDict } from './model.js';
import { headAccuracy, type LinearHead, saveLinearHead } from './linear-head.js';
import type { RunOptions } from './run-options.js';
import { parameterCount } from './outputs.js';
import { saveRunModel, startingModel, writeModelFiles } from './run-model.js';
import { constantLr, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import { FINETUNE_DEFAULTS } from './defaults.js';

export interface FinetuneOptions extends RunOptions {
  data: string;
  /**
   * CLAP weights to start from (any family: an msclap .pth / .safetensors or a Hugging Face CLAP folder) and
   * their config (preset or config.json; default beside them, else read off them).
   */
  weights: string;
  config?: string;
  /** BERT/RoBERTa text encoders: the tokenizer (default the folder's, or beside the weights), copied beside the output. */
  tokenizer?: string;
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

  const start = await startingModel({ init: o.weights, config: o.config, tokenizer: o.tokenizer }, '');
  const cfg = start.cfg;
  const base = new Map<string, HostTensor>();
  for (const [k, t] of start.weights!) base.set(k, t);
  const D = cfg.dProj;
  base.set(`${HEAD}.weight`, { dtype: 'float32', shape: [C, D], data: new Float32Array(C * D) });
  base.set(`${HEAD}.bias`, { dtype: 'float32', shape: [C], data: new Float32Array(C) });
  const { step, params } = await finetuneStep(base, cfg, C, batch, o);

  const store = new FeatureStore({
    frontend: cfg.frontend,
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
    const model = writeModelFiles(o.out, start);
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
    const inputs = new ClipInputs(cfg);
    return await runLoop(
      run,
      {
        stepper: step,
        examples: train.length,
        batch,
        feeds: async (idx, rng): Promise<Record<string, HostTensor>> => {
          const tg = new Float32Array(batch * C);
          idx.forEach((i, k) => {
            tg[k * C + classes.indexOf(train[i].label!)] = 1;
          });
          return {
            ...(await inputs.batch(
              store,
              idx.map((i) => train[i].path),
              rng,
            )),
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
          const file = await saveRunModel(o.out, 'final', model, clapOnly(sd));
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

/** The audio tower (training path) → L2 norm → linear head → cross-entropy, compiled with Adam. */
async function finetuneStep(
  base: Map<string, HostTensor>,
  cfg: ClapConfig,
  classes: number,
  batch: number,
  o: FinetuneOptions,
): Promise<{ step: TrainStep; params: number }> {
  const g = new Graph('clap_finetune');
  const spec = audioInputSpec(cfg);
  const input = g.input(spec.name, 'float32', [batch, ...spec.shape]);
  const isLonger = spec.isLonger ? g.input('is_longer', 'bool', [batch]) : undefined;
  const targets = g.input('targets', 'float32', [batch, classes]);
  const audio = clapAudioEmbedding(g, base, cfg, input, isLonger, true);
  const head = torchLinear(g, base, HEAD, { inFeatures: cfg.dProj, outFeatures: classes });
  const logits = applyLinear(l2Normalize(audio.embed), head);
  const loss = ops.neg(ops.reduceMean(ops.reduceSum(ops.mul(ops.logSoftmax(logits, -1), targets), [-1]), [0]));
  const floats = [...g.params.values()].map((p) => p.value).filter((v) => isFloatDtype(v.dtype));
  const used = dependsOn(loss, floats);
  const trainable = floats.filter((_, i) => used[i]);
  const step = await buildTrainStep(loss, {
    optimizer: { kind: 'adam' },
    params: trainable,
    buffers: audio.updates,
    lr: o.lr ?? FINETUNE_DEFAULTS.lr,
    clipGradNorm: o.clipGrad,
    runtime: { threads: o.threads },
  });
  return { step, params: parameterCount(trainable) };
}
