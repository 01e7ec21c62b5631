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
  /** Stop cleanly after this many seconds. */
  maxSeconds?: number;
  /** Clip gradients to this global norm. */
  clipGrad?: number;
  /** Stop after this many steps (tests). */
  maxSteps?: number;
  /** Progress lines go here. */
  progress?: NodeJS.WritableStream;
}
