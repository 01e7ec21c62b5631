/**
 * Audio augmentations for training batches, driven by the step's seeded Rng (so a resumed run sees the
 * same batches): SpecAugment (Park et al. 2019: frequency and time masks on the log-mel) and mixup
 * (Zhang et al. 2018: convex mixes of two clips, with the targets mixed by the same weight).
 */
import type { Rng } from '../rng.js';

export interface SpecAugmentOptions {
  /** Frequency masks per clip and their maximum width in mel bins (default 2 × 8). */
  freqMasks?: number;
  freqWidth?: number;
  /** Time masks per clip and their maximum width in frames (default 2 × 60, ≈ 0.4 s each). */
  timeMasks?: number;
  timeWidth?: number;
}

/**
 * Masks `frames × bins` log-mel values at `offset` of `mel` in place: each mask sets a random band (width
 * uniform in [0, max]) to the clip's mean, so the masked region carries no information but no outlier.
 */
export function specAugment(mel: Float32Array, offset: number, frames: number, bins: number, rng: Rng, o: SpecAugmentOptions = {}): void {
  let sum = 0;
  const n = frames * bins;
  for (let i = 0; i < n; i++) sum += mel[offset + i];
  const fill = sum / n;
  for (let m = 0; m < (o.freqMasks ?? 2); m++) {
    const w = rng.int((o.freqWidth ?? 8) + 1);
    const f0 = rng.int(Math.max(1, bins - w + 1));
    for (let t = 0; t < frames; t++) mel.fill(fill, offset + t * bins + f0, offset + t * bins + f0 + w);
  }
  for (let m = 0; m < (o.timeMasks ?? 2); m++) {
    const w = rng.int((o.timeWidth ?? 60) + 1);
    const t0 = rng.int(Math.max(1, frames - w + 1));
    mel.fill(fill, offset + t0 * bins, offset + (t0 + w) * bins);
  }
}

/** A standard normal draw (Box–Muller). */
function normal(rng: Rng): number {
  const u = 1 - rng.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.next());
}

/** Gamma(shape, 1) (Marsaglia–Tsang; shape < 1 via the boost Gamma(a+1)·U^(1/a)). */
function gamma(rng: Rng, a: number): number {
  if (a < 1) return gamma(rng, a + 1) * (1 - rng.next()) ** (1 / a);
  const d = a - 1 / 3;
  const c = 1 / Math.sqrt(9 * d);
  for (;;) {
    let x: number;
    let v: number;
    do {
      x = normal(rng);
      v = 1 + c * x;
    } while (v <= 0);
    v = v * v * v;
    const u = 1 - rng.next();
    if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
  }
}

/** λ ~ Beta(α, α). */
export function betaSample(rng: Rng, alpha: number): number {
  const x = gamma(rng, alpha);
  const y = gamma(rng, alpha);
  return x / (x + y);
}

/**
 * Mixup of a batch in place: clip k becomes λ·clip k + (1 − λ)·clip (k+1 mod B), and row k of the
 * [B, B] targets the same mix of rows k and k+1 (a doubly stochastic target matrix stays so; the text
 * side is not mixed). One λ ~ Beta(α, α) per batch; returns it.
 */
export function mixupBatch(mel: Float32Array, targets: Float32Array, batch: number, rng: Rng, alpha: number): number {
  const lam = betaSample(rng, alpha);
  const per = mel.length / batch;
  const first = mel.slice(0, per);
  const firstT = targets.slice(0, batch);
  for (let k = 0; k < batch; k++) {
    const nextMel = k + 1 < batch ? mel.subarray((k + 1) * per, (k + 2) * per) : first;
    const nextT = k + 1 < batch ? targets.subarray((k + 1) * batch, (k + 2) * batch) : firstT;
    for (let i = 0; i < per; i++) mel[k * per + i] = lam * mel[k * per + i] + (1 - lam) * nextMel[i];
    for (let j = 0; j < batch; j++) targets[k * batch + j] = lam * targets[k * batch + j] + (1 - lam) * nextT[j];
  }
  return lam;
}
