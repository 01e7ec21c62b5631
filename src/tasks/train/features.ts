/**
 * Audio features for training: each clip is decoded, resampled to 44.1 kHz mono, tiled to 7 s when
 * shorter (msclap's pad branch) or capped at `maxSeconds` when longer, and turned into its whole log-mel
 * [frames ≥ 965, mel] once — in worker threads, ahead of the training step — optionally cached on disk.
 * Random 7 s crops are then frame slices of that log-mel: a crop at frame f equals the log-mel of the
 * signal cropped at sample 320·f except within half an FFT window of the crop edges (real context instead
 * of reflect padding).
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, type Stats, statSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { ClapError } from '../../errors.js';
import { MODEL_SAMPLE_RATE, WINDOW_FRAMES, WINDOW_SAMPLES } from '../../audio/constants.js';
import { openAudio } from '../../audio/decode.js';
import { logMel, REFERENCE_FRONTEND } from '../../audio/logmel.js';
import { modelSignal } from '../../audio/signal.js';
import { tileToLength } from '../../audio/window.js';
import { FEATURE_DEFAULTS } from './defaults.js';

export const MEL_BINS = 64;
/** Frames of a training crop: one model window. */
export const CROP_FRAMES = WINDOW_FRAMES;
const CACHE_VERSION = 'clap-ts-train-features-v1';

/** The whole-clip log-mel of one file (what a worker computes). */
export async function computeFeatures(path: string, maxSeconds: number): Promise<Float32Array> {
  const source = await openAudio(path);
  try {
    const signal = modelSignal(source, 'mean');
    if (signal.length === 0) throw new ClapError('audio has zero samples', { subject: path });
    const n = Math.min(signal.length, Math.max(WINDOW_SAMPLES, Math.round(maxSeconds * MODEL_SAMPLE_RATE)));
    let x: Float32Array = signal.read(0, n).slice();
    if (x.length < WINDOW_SAMPLES) x = tileToLength(x);
    return logMel(x, REFERENCE_FRONTEND);
  } finally {
    source.close();
  }
}

interface Job {
  path: string;
  maxSeconds: number;
  resolve: (f: Float32Array) => void;
  reject: (e: Error) => void;
}

/** A fixed pool of feature workers (worker_threads), FIFO. */
export class FeaturePool {
  private readonly workers: { w: Worker; job?: Job }[] = [];
  private readonly queue: Job[] = [];
  private closed = false;

  constructor(size = Math.max(1, Math.min(4, availableParallelism() - 1))) {
    // Under tsx (tests, scripts) this module is .ts and so is the worker; in dist both are .js.
    const ext = import.meta.url.endsWith('.ts') ? '.ts' : '.js';
    const url = new URL(`./features-worker${ext}`, import.meta.url);
    for (let i = 0; i < size; i++) {
      // tsx's loader is not active in worker threads: register it there first (tests and scripts only).
      const w =
        ext === '.ts'
          ? new Worker(`import('tsx/esm/api').then((m) => { m.register(); return import(${JSON.stringify(url.href)}); });`, { eval: true })
          : new Worker(url);
      const slot: { w: Worker; job?: Job } = { w };
      w.on('message', (m: { ok: boolean; data?: Float32Array; error?: string }) => {
        const job = slot.job!;
        slot.job = undefined;
        if (m.ok) job.resolve(m.data!);
        else job.reject(new ClapError(m.error ?? 'feature worker failed', { subject: job.path }));
        this.pump();
      });
      w.on('error', (e) => {
        const job = slot.job;
        slot.job = undefined;
        job?.reject(e);
      });
      this.workers.push(slot);
    }
  }

  compute(path: string, maxSeconds: number): Promise<Float32Array> {
    if (this.closed) return Promise.reject(new Error('FeaturePool is closed'));
    return new Promise((resolve, reject) => {
      this.queue.push({ path, maxSeconds, resolve, reject });
      this.pump();
    });
  }

  private pump(): void {
    for (const slot of this.workers) {
      if (slot.job || this.queue.length === 0) continue;
      const job = this.queue.shift()!;
      slot.job = job;
      slot.w.postMessage({ path: job.path, maxSeconds: job.maxSeconds });
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.workers.map((s) => s.w.terminate()));
  }
}

export interface FeatureStoreOptions {
  /** Clips longer than this are cut (default 30 s). */
  maxSeconds?: number;
  /** Directory of the on-disk feature cache (off when undefined). */
  cacheDir?: string;
  /** Worker threads (default min(4, cores − 1)); 0 computes on the main thread. */
  workers?: number;
}

/** Whole-clip log-mels by path: memory, then the disk cache, then the worker pool. */
export class FeatureStore {
  private readonly mem = new Map<string, Promise<Float32Array>>();
  private pool?: FeaturePool;
  readonly maxSeconds: number;

  constructor(private readonly o: FeatureStoreOptions = {}) {
    this.maxSeconds = o.maxSeconds ?? FEATURE_DEFAULTS.maxSeconds;
    if (o.cacheDir) mkdirSync(o.cacheDir, { recursive: true });
  }

  /** Starts computing (or loading) every path; returns immediately. */
  prefetch(paths: readonly string[]): void {
    for (const p of paths) void this.get(p).catch(() => undefined);
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
    const key = createHash('sha1').update(`${CACHE_VERSION}\0${path}\0${st.size}\0${st.mtimeMs}\0${this.maxSeconds}`).digest('hex');
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
    if (this.o.workers === 0) data = await computeFeatures(path, this.maxSeconds);
    else {
      this.pool ??= new FeaturePool(this.o.workers);
      data = await this.pool.compute(path, this.maxSeconds);
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
