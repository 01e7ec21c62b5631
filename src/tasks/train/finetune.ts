/**
 * `clap train finetune`: supervised fine-tuning of the whole CLAP audio encoder (HTSAT + audio projection)
 * with a linear classifier on the L2-normalised audio embedding (paper §3: the audio encoder fine-tuned on
 * the target task). Cross-entropy over random 7 s crops, Adam; after every epoch the held-out split is
 * classified through the inference path (`Clap` with the exported weights: first 7 s of each clip) and
 * the head. The text encoder is untouched (its keys are copied through).
 *
 * OUT: final.pth + final.safetensors (the whole CLAP in the official layout, fine-tuned audio encoder),
 * config.json, classifier.safetensors (`classifier.weight` [classes, d_proj], `classifier.bias`),
 * classifier.json (labels), log.jsonl, summary.json.
 */
import { existsSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, Graph, type HostTensor, isFloatDtype, ops } from '../../engine/index.js';
import { clapConfigToJson, l2Normalize, projection, projectionParams, resolveClapConfig } from '../../models/clap/index.js';
import { buildHtsat, htsatInputFrames, htsatNumFeatures } from '../../models/htsat/index.js';
import { applyLinear, torchLinear } from '../../models/layers.js';
import { loadWeights, saveSafetensors, toStateDict } from '../../weights/index.js';
import { Clap } from '../clap.js';
import { CROP_FRAMES, cropInto, FeatureStore, frameCountOf, MEL_BINS } from './features.js';
import { readManifest } from './manifest.js';
import { exportStateDict } from './model.js';
import { embedItems, headAccuracy, labelledSplit, type LinearHead } from './probe.js';
import { resolveTrainConfig } from './presets.js';
import { Rng } from '../rng.js';
import type { RunOptions } from './run-options.js';
import { finishRun, jsonlLogger, parameterCount, saveWeights, makeDir } from './outputs.js';
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
  /** Held-out accuracy after each epoch, and of the final weights. */
  val_accuracy_per_epoch: number[];
  val_accuracy: number;
  chance: number;
  weights: string;
  seconds: number;
}

const HEAD = 'classifier';

export async function finetune(o: FinetuneOptions): Promise<FinetuneSummary> {
  const t0 = performance.now();
  makeDir(o.out);
  const seed = o.seed ?? FINETUNE_DEFAULTS.seed;
  const batch = o.batch ?? FINETUNE_DEFAULTS.batch;
  const epochs = o.epochs ?? FINETUNE_DEFAULTS.epochs;
  const items = readManifest(o.data);
  const { train, val } = labelledSplit(
    items,
    o.val ? readManifest(o.val) : undefined,
    o.valFraction ?? FINETUNE_DEFAULTS.valFraction,
    seed,
  );
  const classes = [...new Set(train.map((it) => it.label!))].sort();
  if (classes.length < 2) throw new ClapError('fine-tuning needs at least two classes', { subject: o.data });
  if (train.length < batch) throw new ClapError(`${train.length} training clips is fewer than one batch of ${batch}`, { subject: o.data });
  const C = classes.length;

  const loaded = await loadWeights(o.weights);
  const sibling = join(dirname(o.weights), 'config.json');
  const cfg =
    o.config !== undefined ? resolveTrainConfig(o.config) : existsSync(sibling) ? resolveTrainConfig(sibling) : resolveClapConfig(loaded);
  const base = new Map<string, HostTensor>();
  for (const [k, t] of loaded) base.set(k, t);
  const D = cfg.dProj;
  base.set(`${HEAD}.weight`, { dtype: 'float32', shape: [C, D], data: new Float32Array(C * D) });
  base.set(`${HEAD}.bias`, { dtype: 'float32', shape: [C], data: new Float32Array(C) });

  // ---- graph: HTSAT (training path) → projection → L2 norm → linear head → cross-entropy
  const g = new Graph('clap_finetune');
  const frames = htsatInputFrames(cfg.htsat);
  const logmel = g.input('logmel', 'float32', [batch, frames, cfg.htsat.melBins]);
  const targets = g.input('targets', 'float32', [batch, C]);
  const h = buildHtsat(g, logmel, base, cfg.htsat, `${cfg.audioPrefix}base.htsat.`, { trainable: true });
  const proj = projectionParams(g, base, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(cfg.htsat) });
  const head = torchLinear(g, base, HEAD, { inFeatures: D, outFeatures: C });
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
  const nTrainable = parameterCount(trainable);

  const store = new FeatureStore({
    maxClipSeconds: o.maxClipSeconds ?? FINETUNE_DEFAULTS.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  try {
    store.prefetch([...train, ...val].map((it) => it.path));
    const log = jsonlLogger(join(o.out, 'log.jsonl'));
    log({ type: 'start', train_clips: train.length, val_clips: val.length, classes: C, params_trainable: nTrainable });
    writeFileSync(join(o.out, 'config.json'), `${JSON.stringify(clapConfigToJson(cfg), null, 2)}\n`);

    const headOf = (sd: Map<string, HostTensor>): LinearHead => ({
      classes: C,
      dim: D,
      weight: Float64Array.from(sd.get(`${HEAD}.weight`)!.data as Float32Array),
      bias: Float64Array.from(sd.get(`${HEAD}.bias`)!.data as Float32Array),
    });
    const clapOnly = (sd: Map<string, HostTensor>): Map<string, HostTensor> => new Map([...sd].filter(([k]) => !k.startsWith(`${HEAD}.`)));
    const evaluate = async (sd: Map<string, HostTensor>): Promise<number> => {
      if (val.length === 0) return NaN;
      const clap = await Clap.load({ weights: toStateDict(clapOnly(sd)), config: cfg, threads: o.threads });
      try {
        const x = await embedItems(clap, val, store);
        return headAccuracy(
          headOf(sd),
          x,
          val.map((it) => classes.indexOf(it.label!)),
        );
      } finally {
        await clap.release();
      }
    };

    const perEpoch = Math.floor(train.length / batch);
    let steps = 0;
    let epochsDone = 0;
    let firstLoss: number | null = null;
    let lastLoss: number | null = null;
    const accs: number[] = [];
    let sd = base;
    {
      outer: for (let ep = 0; ep < epochs; ep++) {
        const order = new Rng((seed * 1000003 + ep * 7919 + 29) >>> 0).shuffle(train.map((_, i) => i));
        for (let b = 0; b < perEpoch; b++) {
          const idx = order.slice(b * batch, (b + 1) * batch);
          const rng = new Rng((seed * 2654435761 + (steps + 1) * 40503 + 7) >>> 0);
          const mel = new Float32Array(batch * CROP_FRAMES * MEL_BINS);
          const tg = new Float32Array(batch * C);
          const feats = await Promise.all(idx.map((i) => store.get(train[i].path)));
          idx.forEach((i, k) => {
            cropInto(feats[k], rng.int(frameCountOf(feats[k]) - CROP_FRAMES + 1), mel, k * CROP_FRAMES * MEL_BINS);
            tg[k * C + classes.indexOf(train[i].label!)] = 1;
          });
          const r = await step.run({
            logmel: { dtype: 'float32', shape: [batch, frames, MEL_BINS], data: mel },
            targets: { dtype: 'float32', shape: [batch, C], data: tg },
          });
          if (!Number.isFinite(r.loss)) throw new ClapError(`the loss became ${r.loss} at step ${steps + 1}; lower --lr`);
          steps++;
          firstLoss ??= r.loss;
          lastLoss = r.loss;
          log({ type: 'step', step: steps, epoch: ep, loss: r.loss });
          if (o.maxSteps !== undefined && steps >= o.maxSteps) break outer;
        }
        epochsDone++;
        sd = exportStateDict(base, step.params());
        const acc = await evaluate(sd);
        accs.push(acc);
        log({ type: 'epoch', epoch: ep + 1, step: steps, val: { accuracy: acc } });
        o.progress?.write(`epoch ${ep + 1}/${epochs}: held-out accuracy ${(100 * acc).toFixed(1)}%\n`);
      }
      sd = exportStateDict(base, step.params());
      const final = accs.length === epochsDone && epochsDone > 0 && o.maxSteps === undefined ? accs[accs.length - 1] : await evaluate(sd);
      const file = await saveWeights(o.out, 'final', clapOnly(sd));
      await saveSafetensors(join(o.out, 'classifier.safetensors'), new Map([...sd].filter(([k]) => k.startsWith(`${HEAD}.`))));
      writeFileSync(join(o.out, 'classifier.json'), `${JSON.stringify({ labels: classes }, null, 2)}\n`);
      const summary: FinetuneSummary = {
        classes,
        train_clips: train.length,
        val_clips: val.length,
        steps,
        epochs_completed: epochsDone,
        params_trainable: nTrainable,
        first_loss: firstLoss,
        last_loss: lastLoss,
        val_accuracy_per_epoch: accs,
        val_accuracy: final,
        chance: 1 / C,
        weights: file,
        seconds: (performance.now() - t0) / 1000,
      };
      return finishRun(o.out, log, summary);
    }
  } finally {
    await step.release();
    await store.close();
  }
}
