/**
 * Audio features for training: each clip's whole log-mel [frames ≥ one window's, mel] in the model's frontend
 * (pipeline.ts `clipLogMel`: msclap's — 44.1 kHz mono, tiled to the window (7 s, 2022: 5 s) when shorter — or
 * Hugging Face's extractor's at 48 kHz, padded by its rule to 10 s; cut at `maxClipSeconds` when longer),
 * computed once — in the audio pipeline's worker threads, ahead of the training step — and optionally cached
 * on disk. Random windows are then frame slices of that log-mel: a crop at frame f equals the log-mel of the
 * signal cropped at sample hop·f except within half an FFT window of the crop edges (real context instead of
 * reflect padding). A fused Hugging Face model's input is built from it as the extractor builds it (ClipInputs).
 */
import { createHash } from 'node:crypto';
import { readFileSync, renameSync, type Stats, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WINDOW_FRAMES } from '../../audio/constants.js';
import type { ClapFeatureExtractor } from '../../audio/index.js';
import { ClapError } from '../../errors.js';
import type { ClapFrontend } from '../../models/clap/index.js';
import { clipLogMel, defaultWorkers, FrontendPool, featureExtractor, stripSubject } from '../pipeline.js';
import type { Rng } from '../rng.js';
import type { Clap } from '../clap.js';
import { type AudioInputSpec, audioInputSpec } from '../audio-tower.js';
import type { ManifestItem } from './manifest.js';
import type { ClapConfig } from '../../models/clap/index.js';
import type { HostTensor } from '../../engine/index.js';
import { FEATURE_DEFAULTS } from './defaults.js';
import { makeDirs } from '../../files.js';

export const MEL_BINS = 64;
/** Frames of a training crop: one model window. */
export const CROP_FRAMES = WINDOW_FRAMES;
const CACHE_VERSION = 'clap-ts-train-features-v1';

export interface FeatureStoreOptions {
  /** The model's frontend (default msclap 2023's). */
  frontend?: ClapFrontend;
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
    if (o.cacheDir) makeDirs(o.cacheDir, '--cache');
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
    const model = this.o.frontend ? `\0${JSON.stringify(this.o.frontend)}` : '';
    const key = createHash('sha1')
      .update(`${CACHE_VERSION}\0${path}\0${st.size}\0${st.mtimeMs}\0${this.maxClipSeconds}${model}`)
      .digest('hex');
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
    if (this.o.workers === 0) data = await clipLogMel(path, this.maxClipSeconds, this.o.frontend);
    else {
      this.pool ??= new FrontendPool(this.o.workers ?? defaultWorkers());
      data = await this.pool.processClip(path, this.maxClipSeconds, this.o.frontend);
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

/**
 * A model's encoder input cut from whole-clip features (FeatureStore): a window of `frames` frames — at a random
 * frame, or the first — or, for a fused Hugging Face model, the extractor's four channels (the whole mel shrunk
 * and three chunks, from random or the middle starts of the thirds; a clip of at most one window: four copies,
 * not `is_longer`).
 */
export class ClipInputs {
  readonly spec: AudioInputSpec;
  readonly frames: number;
  readonly mels: number;
  readonly channels: number;
  /** Values of one clip's input. */
  readonly size: number;
  private readonly fx?: ClapFeatureExtractor;

  constructor(cfg: ClapConfig) {
    this.spec = audioInputSpec(cfg);
    const s = this.spec.shape;
    [this.frames, this.mels] = s.slice(-2);
    this.channels = s.length === 3 ? s[0] : 1;
    this.size = s.reduce((a, b) => a * b, 1);
    if (cfg.frontend.type === 'hf' && this.spec.isLonger) this.fx = featureExtractor(cfg.frontend.extractor);
  }

  /** Clip `k`'s input from its whole-clip `features` into `out`; returns its `is_longer`. */
  into(features: Float32Array, out: Float32Array, k: number, rng?: Rng): boolean {
    const total = features.length / this.mels;
    const at = k * this.size;
    if (!this.fx) {
      const f = Math.max(0, Math.min(rng ? rng.int(total - this.frames + 1) : 0, total - this.frames));
      out.set(features.subarray(f * this.mels, (f + this.frames) * this.mels), at);
      return false;
    }
    if (total === this.frames) {
      out.set(this.fx.repeat4(features), at);
      return false;
    }
    const starts = this.fx.fusionThirds(total).map((t) => t[rng ? rng.int(t.length) : Math.floor((t.length - 1) / 2)]);
    out.set(this.fx.fuse(features, total, starts), at);
    return true;
  }

  /**
   * The encoder's feeds for a batch of `paths` (random windows from `rng`): `[spec.name]` [B, …shape] and, fused,
   * `is_longer` — with one clip marked when none is long, as the extractor marks a batch (and LAION's trainer).
   */
  async batch(store: FeatureStore, paths: readonly string[], rng: Rng): Promise<Record<string, HostTensor>> {
    const feats = await Promise.all(paths.map((p) => store.get(p)));
    const data = new Float32Array(paths.length * this.size);
    const isLonger = feats.map((f, k) => this.into(f, data, k, rng));
    const feeds: Record<string, HostTensor> = { [this.spec.name]: { dtype: 'float32', shape: [paths.length, ...this.spec.shape], data } };
    if (this.spec.isLonger) {
      if (!isLonger.some(Boolean)) isLonger[rng.int(paths.length)] = true;
      feeds.is_longer = { dtype: 'bool', shape: [paths.length], data: Uint8Array.from(isLonger, Number) };
    }
    return feeds;
  }
}

/** Frozen CLAP audio embeddings (each clip's first window; fused models: the extractor's deterministic choices). */
export async function embedItems(clap: Clap, items: readonly ManifestItem[], store: FeatureStore): Promise<Float32Array[]> {
  const inputs = new ClipInputs(clap.config);
  const clips: Float32Array[] = [];
  const isLonger: boolean[] = [];
  for (const it of items) {
    const m = new Float32Array(inputs.size);
    isLonger.push(inputs.into(await store.get(it.path), m, 0));
    clips.push(m);
  }
  return clap.embedLogMels(clips, 16, inputs.spec.isLonger ? isLonger : undefined);
}
