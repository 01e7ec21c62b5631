/**
 * A linear softmax classifier on CLAP's L2-normalised audio embedding (the probe's head, and the
 * fine-tuned classifier): logits = W·x + b. The probe trains it full-batch with Adam on mean
 * cross-entropy + (weightDecay / 2)·‖W‖², in float64 on the host (`LinearHeadStep`, one step of the shared
 * training loop). As a file (`saveLinearHead`): `<name>.weight` [classes, dim], `<name>.bias` [classes] and
 * the labels in the safetensors metadata — `clap classify --head FILE` uses it in place of text labels.
 */
import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';
import type { HostTensor, OptimizerState } from '../../engine/index.js';
import { loadSafetensorsCheckpoint, saveSafetensors } from '../../weights/index.js';
import { normalized } from '../similarity.js';
import { PROBE_DEFAULTS } from './defaults.js';
import type { Stepper } from './loop.js';

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

const HEAD_FORMAT = 'clap-ts-linear-head';

/** Writes `head` and its class labels as one safetensors file (float32 tensors `<name>.weight`, `<name>.bias`). */
export async function saveLinearHead(file: string, name: string, head: LinearHead, labels: readonly string[]): Promise<void> {
  await saveSafetensors(
    file,
    new Map<string, HostTensor>([
      [`${name}.weight`, { dtype: 'float32', shape: [head.classes, head.dim], data: Float32Array.from(head.weight) }],
      [`${name}.bias`, { dtype: 'float32', shape: [head.classes], data: Float32Array.from(head.bias) }],
    ]),
    { format: HEAD_FORMAT, labels: JSON.stringify(labels), input: 'L2-normalised CLAP audio embedding' },
  );
}

/**
 * A head written by `clap train probe` (probe.safetensors) or `clap train finetune` (classifier.safetensors).
 * Labels come from the file's metadata (older runs: the `labels` or `classes` of the JSON file beside it).
 */
export async function loadLinearHead(file: string): Promise<{ head: LinearHead; labels: string[] }> {
  const ck = await loadSafetensorsCheckpoint(file);
  const fail = (why: string): never => {
    throw new ClapError(`${why}: not a classifier head written by clap train probe or finetune`, { subject: file });
  };
  const weights = [...ck.tensors].filter(([k, t]) => k.endsWith('.weight') && t.shape.length === 2);
  if (weights.length !== 1) fail(`${weights.length} weight matrices`);
  const [wKey, w] = weights[0];
  const b = ck.tensors.get(`${wKey.slice(0, -'.weight'.length)}.bias`);
  const [classes, dim] = w.shape as number[];
  if (b?.shape.length !== 1 || b.shape[0] !== classes) fail(`no bias of ${classes} values beside ${wKey}`);
  const labels = headLabels(file, (ck.metadata as Record<string, string> | undefined)?.labels);
  if (labels?.length !== classes) fail(`${labels?.length ?? 'no'} labels for ${classes} classes`);
  return {
    head: { classes, dim, weight: Float64Array.from(w.data as ArrayLike<number>), bias: Float64Array.from(b!.data as ArrayLike<number>) },
    labels: labels!,
  };
}

function headLabels(file: string, metadata: string | undefined): string[] | undefined {
  try {
    if (metadata !== undefined) return JSON.parse(metadata) as string[];
    const j = JSON.parse(readFileSync(file.replace(/\.safetensors$/, '.json'), 'utf8')) as { labels?: string[]; classes?: string[] };
    return j.labels ?? j.classes;
  } catch {
    return undefined;
  }
}

/** Class probabilities of one (projected, not yet normalised) audio embedding: softmax(W·x̂ + b). */
export function headProbabilities(head: LinearHead, embedding: ArrayLike<number>): number[] {
  if (embedding.length !== head.dim)
    throw new ClapError(`the head takes ${head.dim}-value embeddings but this model's have ${embedding.length}`);
  const z = predictHead(head, normalized(embedding));
  const max = Math.max(...z);
  const e = z.map((v) => Math.exp(v - max));
  const sum = e.reduce((a, v) => a + v, 0);
  return e.map((v) => v / sum);
}

const WEIGHT = 'probe.weight';
const BIAS = 'probe.bias';
const B1 = 0.9;
const B2 = 0.999;
const EPS = 1e-8;

/** Full-batch Adam on a softmax-regression head (zero initialisation: deterministic). */
export class LinearHeadStep implements Stepper<unknown> {
  readonly head: LinearHead;
  /** Adam moments over [W ; b] and the steps taken. */
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private readonly g: Float64Array;
  private t = 0;

  constructor(
    private readonly xs: readonly ArrayLike<number>[],
    private readonly ys: readonly number[],
    classes: number,
    private readonly weightDecay: number,
  ) {
    if (xs.length === 0) throw new ClapError('no training clips for the probe');
    const dim = xs[0].length;
    this.head = { classes, dim, weight: new Float64Array(classes * dim), bias: new Float64Array(classes) };
    const n = classes * dim + classes;
    this.m = new Float64Array(n);
    this.v = new Float64Array(n);
    this.g = new Float64Array(n);
  }

  /** One step at rate `lr`; returns the loss before it. */
  step(lr: number): number {
    const { classes, dim, weight, bias } = this.head;
    const { g, m, v, xs, ys } = this;
    const wd = this.weightDecay;
    const n = xs.length;
    g.fill(0);
    let loss = 0;
    for (let i = 0; i < n; i++) {
      const z = predictHead(this.head, xs[i]);
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
      g[k] = g[k] / n + wd * weight[k];
      reg += weight[k] * weight[k];
    }
    for (let c = 0; c < classes; c++) g[classes * dim + c] /= n;
    this.t++;
    const c1 = 1 - B1 ** this.t;
    const c2 = 1 - B2 ** this.t;
    for (let k = 0; k < g.length; k++) {
      m[k] = B1 * m[k] + (1 - B1) * g[k];
      v[k] = B2 * v[k] + (1 - B2) * g[k] * g[k];
      const s = (lr * (m[k] / c1)) / (Math.sqrt(v[k] / c2) + EPS);
      if (k < classes * dim) weight[k] -= s;
      else bias[k - classes * dim] -= s;
    }
    return loss / n + (wd / 2) * reg;
  }

  async run(_feeds: unknown, { lr }: { lr: number }): Promise<{ loss: number; updated: boolean }> {
    return { loss: this.step(lr), updated: true };
  }

  params(): Record<string, HostTensor> {
    const { weight, bias } = this.head;
    return { [WEIGHT]: this.tensor(weight, true), [BIAS]: this.tensor(bias, false) };
  }

  loadParams(params: Record<string, HostTensor>): void {
    this.head.weight.set(params[WEIGHT].data as Float64Array);
    this.head.bias.set(params[BIAS].data as Float64Array);
  }

  optimizerState(): OptimizerState {
    const w = this.head.weight.length;
    const slot = (from: number, to: number, isWeight: boolean): Record<string, HostTensor> => ({
      m: this.tensor(this.m.subarray(from, to), isWeight),
      v: this.tensor(this.v.subarray(from, to), isWeight),
    });
    return { step: this.t, slots: { [WEIGHT]: slot(0, w, true), [BIAS]: slot(w, this.m.length, false) } };
  }

  loadOptimizerState(state: OptimizerState): void {
    const w = this.head.weight.length;
    this.m.set(state.slots[WEIGHT].m.data as Float64Array);
    this.v.set(state.slots[WEIGHT].v.data as Float64Array);
    this.m.set(state.slots[BIAS].m.data as Float64Array, w);
    this.v.set(state.slots[BIAS].v.data as Float64Array, w);
    this.t = state.step;
  }

  private tensor(data: Float64Array, isWeight: boolean): HostTensor {
    const { classes, dim } = this.head;
    return { dtype: 'float64', shape: isWeight ? [classes, dim] : [classes], data: data.slice() };
  }
}

/** Trains a head for `epochs` full-batch steps (the probe's defaults); returns it and the loss of each step. */
export function trainLinearHead(
  xs: readonly ArrayLike<number>[],
  ys: readonly number[],
  classes: number,
  o: { epochs?: number; lr?: number; weightDecay?: number } = {},
): { head: LinearHead; losses: number[] } {
  const s = new LinearHeadStep(xs, ys, classes, o.weightDecay ?? PROBE_DEFAULTS.weightDecay);
  const lr = o.lr ?? PROBE_DEFAULTS.lr;
  const losses = Array.from({ length: o.epochs ?? PROBE_DEFAULTS.epochs }, () => s.step(lr));
  return { head: s.head, losses };
}
