/**
 * Audio features for training: each clip's whole log-mel [frames ≥ 965, mel] (pipeline.ts `clipLogMel`:
 * 44.1 kHz mono, tiled to 7 s when shorter, cut at `maxClipSeconds` when longer), computed once — in the
 * audio pipeline's worker threads, ahead of the training step — and optionally cached on disk.
 * Random 7 s crops are then frame slices of that log-mel: a crop at frame f equals the log-mel of the
 * signal cropped at sample 320·f except within half an FFT window of the crop edges (real context instead
 * of reflect padding).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, type Stats, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WINDOW_FRAMES } from '../../audio/constants.js';
import { ClapError } from '../../errors.js';
import { clipLogMel, defaultWorkers, FrontendPool, stripSubject } from '../pipeline.js';
import type { Rng } from '../rng.js';
import type { Clap } from '../clap.js';
import type { ManifestItem } from './manifest.js';
import { FEATURE_DEFAULTS } from './defaults.js';
import { makeDir } from './outputs.js';

export const MEL_BINS = 64;
/** Frames of a training crop: one model window. */
export const CROP_FRAMES = WINDOW_FRAMES;
const CACHE_VERSION = 'clap-ts-train-features-v1';

export interface FeatureStoreOptions {
  /** Clips longer than this many seconds are cut before random 7 s crops. */
  maxClipSeconds?: number;
  /** Directory of the on-disk feature cache (off when undefined). */
  cacheDir?: string;
  /** Worker threads (default: `defaultWorkers()`, half the cores, 1–4); 0 computes on the main thread. */
  workers?: number;
}

/** Whole-clip log-mels by path: memory, then the disk cache, then the worker pool. */
export class FeatureStore {
  private readonly mem = new Map<string, Promise<Float32Array>>();
  private pool?: FrontendPool;
  readonly maxClipSeconds: number;

  constructor(private readonly o: FeatureStoreOptions = {}) {
    this.maxClipSeconds = o.maxClipSeconds ?? FEATURE_DEFAULTS.maxClipSeconds;
    if (o.cacheDir) makeDir(o.cacheDir, '--cache');
  }

  /** Starts computing (or loading) every path; returns immediately. */
  prefetch(paths: readonly string[]): void {
    for (const p of paths) void this.get(p).catch(() => undefined);
  }

  /**
   * The items whose audio can be read — all computed (or loaded) at once in the workers; each other one is
   * reported to `onSkip` with its reason and left out, so one broken file does not stop a run.
   */
  async readable<T extends { path: string }>(items: readonly T[], onSkip: (path: string, reason: string) => void): Promise<T[]> {
    const ok = await Promise.all(
      items.map((it) =>
        this.get(it.path).then(
          () => true,
          (e: unknown) => {
            onSkip(it.path, e instanceof ClapError ? stripSubject(e.message, e.subject) : (e as Error).message);
            return false;
          },
        ),
      ),
    );
    return items.filter((_, i) => ok[i]);
  }

  get(path: string): Promise<Float32Array> {
    let f = this.mem.get(path);
    if (!f) {
      f = this.load(path);
      this.mem.set(path, f);
    }
    return f;
  }

  private cacheFile(path: string): string | undefined {
    if (!this.o.cacheDir) return undefined;
    let st: Stats;
    try {
      st = statSync(path);
    } catch (e) {
      throw new ClapError(`cannot read audio (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: path });
    }
    const key = createHash('sha1').update(`${CACHE_VERSION}\0${path}\0${st.size}\0${st.mtimeMs}\0${this.maxClipSeconds}`).digest('hex');
    return join(this.o.cacheDir, `${key}.f32`);
  }

  private async load(path: string): Promise<Float32Array> {
    const file = this.cacheFile(path);
    if (file) {
      try {
        const buf = readFileSync(file);
        return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
      } catch {
        // not cached yet
      }
    }
    let data: Float32Array;
    if (this.o.workers === 0) data = await clipLogMel(path, this.maxClipSeconds);
    else {
      this.pool ??= new FrontendPool(this.o.workers ?? defaultWorkers());
      data = await this.pool.processClip(path, this.maxClipSeconds);
    }
    if (file) {
      const tmp = `${file}.${process.pid}.tmp`;
      writeFileSync(tmp, new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
      renameSync(tmp, file);
    }
    return data;
  }

  async close(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
  }
}

/** Frames of a whole-clip log-mel. */
export function frameCountOf(features: Float32Array): number {
  return features.length / MEL_BINS;
}

/** A 965-frame crop starting at `frame` (clamped), copied into `out` at `at`. */
export function cropInto(features: Float32Array, frame: number, out: Float32Array, at: number): void {
  const frames = frameCountOf(features);
  const f = Math.max(0, Math.min(frame, frames - CROP_FRAMES));
  out.set(features.subarray(f * MEL_BINS, (f + CROP_FRAMES) * MEL_BINS), at);
}

/** Crop number `k` of a batch: a random 7 s window of `features` (one draw of `rng`), copied into `out`. */
export function randomCropInto(features: Float32Array, rng: Rng, out: Float32Array, k: number): void {
  cropInto(features, rng.int(frameCountOf(features) - CROP_FRAMES + 1), out, k * CROP_FRAMES * MEL_BINS);
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
