/**
 * What each trainer does when an option is left out: the trainers read these, and `clap train ... --help`
 * shows them, so the two cannot drift.
 */

/** Shared by every trainer that reads audio features. */
export const FEATURE_DEFAULTS = {
  /** Longer clips are cut to this many seconds before random 7 s crops (a clip length, not a time limit). */
  maxClipSeconds: 30,
  seed: 0,
} as const;

export const CONTRASTIVE_DEFAULTS = {
  ...FEATURE_DEFAULTS,
  /** Preset when training from scratch (with `init`, the config is read off the weights). */
  config: 'small',
  epochs: 10,
  batch: 16,
  accumulate: 1,
  lr: 1e-3,
  optimizer: 'adam',
  schedule: 'plateau',
  warmupSteps: 0,
  patience: 15,
  minLr: 0,
  valFraction: 0.1,
  splitBy: 'clip',
  positives: 'caption',
  /** Caption tokens, capped by the text model's n_positions. */
  textLen: 77,
} as const;

export const PROBE_DEFAULTS = { ...FEATURE_DEFAULTS, epochs: 300, lr: 0.01, weightDecay: 1e-4, valFraction: 0.2 } as const;

export const FINETUNE_DEFAULTS = { ...FEATURE_DEFAULTS, epochs: 10, batch: 16, lr: 1e-4, valFraction: 0.2 } as const;

export const CAPTION_TRAIN_DEFAULTS = { ...FEATURE_DEFAULTS, epochs: 10, batch: 8, lr: 2e-4, maxTokens: 30 } as const;
