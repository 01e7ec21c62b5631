/** Settings every supervised training run shares: run length, optimiser, data loading, reproducibility. */
export interface RunOptions {
  epochs?: number;
  batch?: number;
  lr?: number;
  seed?: number;
  /** On-disk cache of decoded log-mel features. */
  cacheDir?: string;
  /** Feature worker threads (0 = decode on the main thread). */
  workers?: number;
  /** Compute threads. */
  threads?: number;
  /** Clips longer than this many seconds are cut before training crops (default 30); not a time limit. */
  maxClipSeconds?: number;
  /** Clip gradients to this global norm. */
  clipGrad?: number;
  /** Stop after this many steps (tests). */
  maxSteps?: number;
  /** Progress lines go here. */
  progress?: NodeJS.WritableStream;
}
