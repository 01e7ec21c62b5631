import type { LoopOptions } from './loop.js';

/**
 * Settings every training run shares: run length, optimiser, data loading, reproducibility, and the
 * loop's (resume, checkpoints, time and step limits, early stop, Ctrl-C, events).
 */
export interface RunOptions extends LoopOptions {
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
  /** Clips longer than this many seconds are cut before training crops; a clip length, not a time limit. */
  maxClipSeconds?: number;
  /** Clip gradients to this global norm. */
  clipGrad?: number;
}
