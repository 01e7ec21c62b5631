/**
 * Learning-rate schedules. 'plateau' is the paper's (§3: ×0.1 after 15 epochs without improvement of
 * the validation score, or of the training loss without validation); 'cosine' is linear warm-up then
 * cosine decay to `minLr` over the run; 'constant' keeps `lr` (after the warm-up).
 * The state is plain JSON for checkpoints.
 */
export interface ScheduleConfig {
  kind: 'plateau' | 'cosine' | 'constant';
  lr: number;
  warmupSteps: number;
  /** Total optimisation steps of the run (cosine). */
  totalSteps: number;
  minLr: number;
  patience: number;
  factor: number;
}

export interface ScheduleState {
  /** Multiplier from plateau reductions. */
  scale: number;
  best: number | null;
  /** Epochs since `best` improved. */
  bad: number;
}

export function initialScheduleState(): ScheduleState {
  return { scale: 1, best: null, bad: 0 };
}

/** The learning rate of (1-based) step `step`. */
export function learningRate(c: ScheduleConfig, s: ScheduleState, step: number): number {
  const warm = c.warmupSteps > 0 && step <= c.warmupSteps ? step / c.warmupSteps : 1;
  if (c.kind === 'cosine') {
    if (step <= c.warmupSteps) return c.lr * warm;
    const t = Math.min(1, (step - c.warmupSteps) / Math.max(1, c.totalSteps - c.warmupSteps));
    return c.minLr + 0.5 * (c.lr - c.minLr) * (1 + Math.cos(Math.PI * t));
  }
  return c.lr * warm * (c.kind === 'plateau' ? s.scale : 1);
}

/** End of an epoch: `score` is higher-is-better. Returns true when the rate was reduced. */
export function endOfEpoch(c: ScheduleConfig, s: ScheduleState, score: number): boolean {
  if (s.best === null || score > s.best) {
    s.best = score;
    s.bad = 0;
    return false;
  }
  s.bad++;
  if (c.kind === 'plateau' && s.bad >= c.patience) {
    s.scale *= c.factor;
    s.bad = 0;
    return true;
  }
  return false;
}
