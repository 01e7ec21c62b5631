/**
 * `clap train probe`: a linear probe — multinomial logistic regression on FROZEN CLAP audio embeddings
 * (the inference path's projected audio embedding of each clip's first 7 s, L2-normalised) — trained
 * full-batch with Adam and an L2 penalty (linear-head.ts) in the shared training loop (loop.ts: one step
 * per epoch), reporting accuracy on a held-out split. The encoder is never touched: embeddings are
 * computed once (features through the training FeatureStore, so --cache is shared with the other trainers).
 *
 * OUT (optional; without it nothing is written and the run cannot be resumed): probe.safetensors
 * (`probe.weight` [classes, dim], `probe.bias` [classes], the labels in its metadata: `clap classify --head`
 * uses it), probe.json (labels, options, metrics), and the loop's files (log.jsonl, checkpoints,
 * summary.json).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { Clap } from '../clap.js';
import { embedItems, FeatureStore } from './features.js';
import { labelledSplit, readManifest } from './manifest.js';
import { PROBE_DEFAULTS } from './defaults.js';
import { headAccuracy, LinearHeadStep, saveLinearHead } from './linear-head.js';
import { normalized } from '../similarity.js';
import { constantLr, openRun, type RunStatus, runLoop, skipped } from './loop.js';
import type { LoopOptions } from './loop.js';

export interface ProbeOptions extends LoopOptions {
  data: string;
  /** CLAP weights (.pth / .safetensors) and optional config (preset or config.json). */
  weights: string;
  config?: string;
  out?: string;
  /** Held-out manifest; else `valFraction` of --data (the manifest's `split` column wins). */
  val?: string;
  valFraction?: number;
  /** Full-batch steps. */
  epochs?: number;
  lr?: number;
  /** L2 penalty on the weights. */
  weightDecay?: number;
  seed?: number;
  cacheDir?: string;
  workers?: number;
  threads?: number;
  /** Clips longer than this many seconds are cut (the embedding uses their first 7 s). */
  maxClipSeconds?: number;
}

export interface ProbeSummary {
  classes: string[];
  train_clips: number;
  val_clips: number;
  dim: number;
  train_accuracy: number;
  val_accuracy: number;
  /** 1 / classes, and the majority-class rate of the held-out split. */
  chance: number;
  majority: number;
  per_class: Record<string, { clips: number; accuracy: number }>;
  first_loss: number | null;
  last_loss: number | null;
  steps: number;
  status: RunStatus;
  weights?: string;
}

export async function trainProbe(o: ProbeOptions): Promise<ProbeSummary> {
  const run = openRun(o.out, o);
  const items = readManifest(o.data);
  const seed = o.seed ?? PROBE_DEFAULTS.seed;
  let { train, val } = labelledSplit(items, o.val ? readManifest(o.val) : undefined, o.valFraction ?? PROBE_DEFAULTS.valFraction, seed);
  const classes = [...new Set(train.map((it) => it.label!))].sort();
  if (classes.length < 2) throw new ClapError('the probe needs at least two classes in the training split', { subject: o.data });
  const unknown = val.find((it) => !classes.includes(it.label!));
  if (unknown) throw new ClapError(`held-out label '${unknown.label}' has no training clip`, { subject: unknown.path });
  const skip = skipped(o);
  const clap = await Clap.load({
    weights: o.weights,
    config: o.config,
    threads: o.threads,
  });
  const store = new FeatureStore({
    frontend: clap.config.frontend,
    maxClipSeconds: o.maxClipSeconds ?? PROBE_DEFAULTS.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  let xTrain: Float64Array[];
  let xVal: Float64Array[];
  try {
    store.prefetch([...train, ...val].map((it) => it.path));
    train = await store.readable(train, skip.onSkip);
    val = await store.readable(val, skip.onSkip);
    // the head takes the L2-normalised embedding, as the fine-tuned classifier does
    xTrain = (await embedItems(clap, train, store)).map(normalized);
    xVal = (await embedItems(clap, val, store)).map(normalized);
  } finally {
    await clap.release();
    await store.close();
  }
  const yTrain = train.map((it) => classes.indexOf(it.label!));
  const yVal = val.map((it) => classes.indexOf(it.label!));
  const stepper = new LinearHeadStep(xTrain, yTrain, classes.length, o.weightDecay ?? PROBE_DEFAULTS.weightDecay);
  const { head } = stepper;
  const counts = classes.map((_, k) => yVal.filter((y) => y === k).length);
  const { out } = o;
  return runLoop(
    run,
    {
      stepper,
      examples: xTrain.length,
      batch: xTrain.length,
      checkpointEachEpoch: false,
      feeds: () => undefined,
      startFields: { train_clips: train.length, val_clips: val.length, classes: classes.length, skipped: skip.list },
      save: async () => {
        if (out === undefined) return '';
        const file = join(out, 'probe.safetensors');
        await saveLinearHead(file, 'probe', head, classes);
        return file;
      },
      summary: (r): ProbeSummary => {
        const perClass: ProbeSummary['per_class'] = {};
        classes.forEach((c, k) => {
          const idx = yVal.map((y, i) => (y === k ? i : -1)).filter((i) => i >= 0);
          perClass[c] = {
            clips: idx.length,
            accuracy: headAccuracy(
              head,
              idx.map((i) => xVal[i]),
              idx.map((i) => yVal[i]),
            ),
          };
        });
        const summary: ProbeSummary = {
          classes,
          train_clips: train.length,
          val_clips: val.length,
          dim: head.dim,
          train_accuracy: headAccuracy(head, xTrain, yTrain),
          val_accuracy: headAccuracy(head, xVal, yVal),
          chance: 1 / classes.length,
          majority: val.length ? Math.max(...counts) / val.length : NaN,
          per_class: perClass,
          first_loss: r.first_loss,
          last_loss: r.last_loss,
          steps: r.steps,
          status: r.status,
          ...(out !== undefined ? { weights: r.weights } : {}),
        };
        if (out !== undefined) {
          const { signal: _signal, onEvent: _onEvent, ...options } = o;
          writeFileSync(join(out, 'probe.json'), `${JSON.stringify({ ...summary, options }, null, 2)}\n`);
        }
        return summary;
      },
    },
    { ...o, epochs: o.epochs ?? PROBE_DEFAULTS.epochs, seed, schedule: constantLr(o.lr ?? PROBE_DEFAULTS.lr) },
  );
}
