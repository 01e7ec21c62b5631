/**
 * `clap train probe`: a linear probe — multinomial logistic regression on FROZEN CLAP audio embeddings
 * (the projected, L2-normalised embedding the inference path returns, of each clip's first 7 s) — trained
 * full-batch with Adam and an L2 penalty, reporting accuracy on a held-out split. The encoder is never
 * touched: embeddings are computed once (features through the training FeatureStore, so --cache is shared
 * with `clap train contrastive`).
 *
 * OUT (optional): probe.safetensors (`probe.weight` [classes, dim], `probe.bias` [classes]), probe.json
 * (labels, options, metrics).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { saveSafetensors } from '../../weights/index.js';
import { Clap } from '../clap.js';
import { CROP_FRAMES, cropInto, FeatureStore, MEL_BINS } from './features.js';
import { type ManifestItem, readManifest, splitItems } from './manifest.js';
import { resolveTrainConfig } from './presets.js';
import { Rng } from '../rng.js';
import { makeDir } from './outputs.js';
import { PROBE_DEFAULTS } from './defaults.js';

export interface ProbeOptions {
  data: string;
  /** CLAP weights (.pth / .safetensors) and optional config (preset or config.json). */
  weights: string;
  config?: string;
  out?: string;
  /** Held-out manifest; else `valFraction` of --data (the manifest's `split` column wins). */
  val?: string;
  valFraction?: number;
  epochs?: number;
  lr?: number;
  /** L2 penalty on the weights (default 1e-4). */
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
  first_loss: number;
  last_loss: number;
  weights?: string;
}

/** Softmax regression state: W [C][D] row-major, b [C]. */
export interface LinearHead {
  classes: number;
  dim: number;
  weight: Float64Array;
  bias: Float64Array;
}

export function predictHead(h: LinearHead, x: ArrayLike<number>): number[] {
  const out: number[] = [];
  for (let c = 0; c < h.classes; c++) {
    let s = h.bias[c];
    const off = c * h.dim;
    for (let d = 0; d < h.dim; d++) s += h.weight[off + d] * x[d];
    out.push(s);
  }
  return out;
}

/**
 * Trains a softmax-regression head full-batch: mean cross-entropy + (weightDecay / 2)·‖W‖², Adam.
 * Returns the head and the loss per epoch. Deterministic (zero initialisation).
 */
export function trainLinearHead(
  xs: readonly ArrayLike<number>[],
  ys: readonly number[],
  classes: number,
  o: { epochs?: number; lr?: number; weightDecay?: number } = {},
): { head: LinearHead; losses: number[] } {
  if (xs.length === 0) throw new ClapError('no training clips for the probe');
  const dim = xs[0].length;
  const epochs = o.epochs ?? PROBE_DEFAULTS.epochs;
  const lr = o.lr ?? PROBE_DEFAULTS.lr;
  const wd = o.weightDecay ?? PROBE_DEFAULTS.weightDecay;
  const head: LinearHead = { classes, dim, weight: new Float64Array(classes * dim), bias: new Float64Array(classes) };
  const nP = classes * dim + classes;
  const m = new Float64Array(nP);
  const v = new Float64Array(nP);
  const g = new Float64Array(nP);
  const b1 = 0.9,
    b2 = 0.999,
    eps = 1e-8;
  const losses: number[] = [];
  const n = xs.length;
  for (let t = 1; t <= epochs; t++) {
    g.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const z = predictHead(head, xs[i]);
      const mx = Math.max(...z);
      let se = 0;
      for (let c = 0; c < classes; c++) se += Math.exp(z[c] - mx);
      const lse = mx + Math.log(se);
      loss -= z[ys[i]] - lse;
      for (let c = 0; c < classes; c++) {
        const p = Math.exp(z[c] - lse) - (c === ys[i] ? 1 : 0);
        if (p === 0) continue;
        const off = c * dim;
        const x = xs[i];
        for (let d = 0; d < dim; d++) g[off + d] += p * x[d];
        g[classes * dim + c] += p;
      }
    }
    let reg = 0;
    for (let k = 0; k < classes * dim; k++) {
      g[k] = g[k] / n + wd * head.weight[k];
      reg += head.weight[k] * head.weight[k];
    }
    for (let c = 0; c < classes; c++) g[classes * dim + c] /= n;
    losses.push(loss / n + (wd / 2) * reg);
    const c1 = 1 - b1 ** t;
    const c2 = 1 - b2 ** t;
    for (let k = 0; k < nP; k++) {
      m[k] = b1 * m[k] + (1 - b1) * g[k];
      v[k] = b2 * v[k] + (1 - b2) * g[k] * g[k];
      const step = (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + eps);
      if (k < classes * dim) head.weight[k] -= step;
      else head.bias[k - classes * dim] -= step;
    }
  }
  return { head, losses };
}

export function headAccuracy(h: LinearHead, xs: readonly ArrayLike<number>[], ys: readonly number[]): number {
  if (xs.length === 0) return NaN;
  let ok = 0;
  xs.forEach((x, i) => {
    const z = predictHead(h, x);
    let best = 0;
    for (let c = 1; c < z.length; c++) if (z[c] > z[best]) best = c;
    if (best === ys[i]) ok++;
  });
  return ok / xs.length;
}

/** Labelled items → train / held-out split (a `split` column, --val, or a seeded stratified split by clip). */
export function labelledSplit(
  items: ManifestItem[],
  val: ManifestItem[] | undefined,
  fraction: number,
  seed: number,
): { train: ManifestItem[]; val: ManifestItem[] } {
  const unlabelled = items.find((it) => it.label === undefined);
  if (unlabelled) throw new ClapError('every row needs a label', { subject: unlabelled.path });
  if (val) return { train: items, val };
  if (items.some((it) => it.split)) return splitItems(items, { fraction, by: 'clip', seed }, () => 0);
  // stratified: the same fraction of every class (at least one clip kept for training)
  const rng = new Rng((seed ^ 0x9e3779b9) >>> 0);
  const train: ManifestItem[] = [];
  const held: ManifestItem[] = [];
  const byLabel = new Map<string, ManifestItem[]>();
  for (const it of items) byLabel.set(it.label!, [...(byLabel.get(it.label!) ?? []), it]);
  for (const label of [...byLabel.keys()].sort()) {
    const xs = rng.shuffle([...byLabel.get(label)!]);
    const k = xs.length > 1 ? Math.min(xs.length - 1, Math.max(1, Math.round(xs.length * fraction))) : 0;
    held.push(...xs.slice(0, k));
    train.push(...xs.slice(k));
  }
  return { train, val: held };
}

/** Frozen CLAP audio embeddings (first 7 s of each clip). */
export async function embedItems(clap: Clap, items: readonly ManifestItem[], store: FeatureStore): Promise<Float32Array[]> {
  const mels: Float32Array[] = [];
  for (const it of items) {
    const m = new Float32Array(CROP_FRAMES * MEL_BINS);
    cropInto(await store.get(it.path), 0, m, 0);
    mels.push(m);
  }
  return clap.embedLogMels(mels, 16);
}

export async function trainProbe(o: ProbeOptions): Promise<ProbeSummary> {
  const items = readManifest(o.data);
  const seed = o.seed ?? PROBE_DEFAULTS.seed;
  const { train, val } = labelledSplit(items, o.val ? readManifest(o.val) : undefined, o.valFraction ?? PROBE_DEFAULTS.valFraction, seed);
  const classes = [...new Set(train.map((it) => it.label!))].sort();
  if (classes.length < 2) throw new ClapError('the probe needs at least two classes in the training split', { subject: o.data });
  const unknown = val.find((it) => !classes.includes(it.label!));
  if (unknown) throw new ClapError(`held-out label '${unknown.label}' has no training clip`, { subject: unknown.path });
  const clap = await Clap.load({
    weights: o.weights,
    config: o.config !== undefined ? resolveTrainConfig(o.config) : undefined,
    threads: o.threads,
  });
  const store = new FeatureStore({
    maxClipSeconds: o.maxClipSeconds ?? PROBE_DEFAULTS.maxClipSeconds,
    cacheDir: o.cacheDir,
    workers: o.workers,
  });
  let xTrain: Float32Array[];
  let xVal: Float32Array[];
  try {
    store.prefetch([...train, ...val].map((it) => it.path));
    xTrain = await embedItems(clap, train, store);
    xVal = await embedItems(clap, val, store);
  } finally {
    await clap.release();
    await store.close();
  }
  const yTrain = train.map((it) => classes.indexOf(it.label!));
  const yVal = val.map((it) => classes.indexOf(it.label!));
  const { head, losses } = trainLinearHead(xTrain, yTrain, classes.length, o);
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
  const counts = classes.map((_, k) => yVal.filter((y) => y === k).length);
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
    first_loss: losses[0],
    last_loss: losses[losses.length - 1],
  };
  if (o.out) {
    makeDir(o.out);
    const file = join(o.out, 'probe.safetensors');
    await saveSafetensors(
      file,
      new Map([
        ['probe.weight', { dtype: 'float32', shape: [head.classes, head.dim], data: Float32Array.from(head.weight) }],
        ['probe.bias', { dtype: 'float32', shape: [head.classes], data: Float32Array.from(head.bias) }],
      ]),
    );
    summary.weights = file;
    writeFileSync(join(o.out, 'probe.json'), `${JSON.stringify({ ...summary, options: o }, null, 2)}\n`);
  }
  return summary;
}
