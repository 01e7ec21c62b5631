/**
 * The audio tower at run time: audio inputs → the model's frontend (decode, resample, windows, log-mel or
 * Hugging Face's feature extractor; in worker threads when there are several inputs) → the compiled
 * audio-encoder graph, in batches of windows. Serves
 * `Clap` (embeddings, classification) and `ClapCap` (its own audio encoder).
 *
 * An input that cannot be read or decoded either stops the call (`errors: 'throw'`, the default) or is
 * returned in place as `{ input, error }` while the other inputs go on (`errors: 'return'`).
 */
import { ClapError } from '../errors.js';
import type { HostTensor, Session } from '../engine/index.js';
import type { AudioInput, LoadAudioOptions } from '../audio/index.js';
import { audioInputShape, type ClapConfig, type ClapFrontend } from '../models/clap/index.js';
import type { Calibration, Tuning } from './calibration.js';
import { defaultWorkers, FrontendPool, frontendStream, stripSubject } from './pipeline.js';

/** What the compiled encoder takes per clip: its input's name and shape, and whether it also takes is_longer. */
export interface AudioInputSpec {
  /** `logmel` [frames, mel] (msclap) or `input_features` [channels, frames, mel] (Hugging Face). */
  name: string;
  shape: number[];
  /** Fused Hugging Face models: an `is_longer` [B] bool input. */
  isLonger: boolean;
  /** How audio becomes that input. */
  frontend: ClapFrontend;
}

/** The audio input of a model's compiled encoder. */
export function audioInputSpec(cfg: ClapConfig): AudioInputSpec {
  const hf = cfg.audio.type === 'clap-audio';
  return {
    name: hf ? 'input_features' : 'logmel',
    shape: audioInputShape(cfg),
    isLonger: cfg.audio.type === 'clap-audio' && cfg.audio.clapAudio.enableFusion,
    frontend: cfg.frontend,
  };
}

/** What to do with an input that cannot be read or decoded. */
export type InputErrorMode = 'throw' | 'return';

/** An input that could not be read or decoded (`errors: 'return'`), in place of its result. */
export interface InputError {
  /** The path, or `audio[i]` for in-memory inputs. */
  input: string;
  /** Why, in one line (without the input's name). */
  error: string;
}

export function isInputError(r: object): r is InputError {
  return typeof (r as InputError).error === 'string';
}

export interface AudioEmbedOptions extends LoadAudioOptions {
  /** Windows per encoder run (default: CLAP_BATCH, else calibrated for this CPU: `AudioTower.batch`). */
  batchSize?: number;
  /** In sliding mode: 'mean' (default) averages the window embeddings into one; 'none' keeps only windows. */
  pool?: 'mean' | 'none';
  /** Called after each input is embedded (or found unreadable). */
  onProgress?: (done: number, total: number) => void;
  /**
   * Frontend worker threads (decode, resample, log-mel overlapped with the encoder) when there are
   * several inputs; 0 runs the frontend in this thread. Default: `defaultWorkers()` (half the cores, 1–4).
   */
  workers?: number;
  /**
   * An input that cannot be read or decoded: 'throw' (default) rejects with its ClapError, naming it;
   * 'return' puts `{ input, error }` in its place and embeds every other input.
   */
  errors?: InputErrorMode;
}

export interface WindowEmbedding {
  start: number;
  end: number;
  embedding: Float32Array;
}

export interface AudioEmbedding {
  /** The path, or `audio[i]` for in-memory inputs. */
  input: string;
  /** Projected audio embedding (not normalised), as msclap's get_audio_embeddings. */
  embedding: Float32Array;
  /** Per-window embeddings with times (seconds), in sliding mode. */
  windows?: WindowEmbedding[];
}

export class AudioTower {
  private session?: Promise<Session>;
  private calibrated?: Promise<number>;
  /** Frontend worker pools by size (one per size: a caller asking for another size gets its own). */
  private readonly pools = new Map<number, FrontendPool>();

  constructor(
    /** Compiles the encoder, with `threads` intra-op threads when given (else the model's setting). */
    private readonly compile: (threads?: number) => Promise<Session>,
    readonly input: AudioInputSpec,
    readonly dProj: number,
    private readonly tuning: Tuning,
  ) {}

  /** The compiled encoder (compiled on first use, with the threads a kept calibration chose). */
  encoder(): Promise<Session> {
    this.session ??= this.compile(this.tuning.kept()?.threads ?? undefined);
    return this.session;
  }

  /** Whether the encoder has been asked for. */
  get started(): boolean {
    return this.session !== undefined;
  }

  /**
   * Windows per encoder run on this CPU: CLAP_BATCH, else the calibration kept in the model cache, else
   * one measured now on synthetic windows (once per model and CPU; tasks/calibration.ts).
   */
  async batch(): Promise<number> {
    const known = this.tuning.known();
    if (known !== undefined) return known;
    this.calibrated ??= this.encoder().then(async (encoder) => {
      const { calibration, session } = await this.tuning.calibrate(
        encoder,
        (s, b) => this.runSynthetic(s, b),
        () => this.compile(1),
      );
      this.session = Promise.resolve(session);
      return calibration.batch;
    });
    return this.calibrated;
  }

  /** The calibration in effect (kept or measured by `batch()`), if any. */
  get calibration(): Calibration | undefined {
    return this.tuning.kept();
  }

  /** The encoder's feeds for a batch of frontend outputs. */
  private feeds(chunk: readonly Float32Array[], isLonger: (j: number) => boolean): Record<string, HostTensor> {
    const { name, shape } = this.input;
    const per = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(chunk.length * per);
    chunk.forEach((m, j) => data.set(m, j * per));
    const feeds: Record<string, HostTensor> = { [name]: { dtype: 'float32', shape: [chunk.length, ...shape], data } };
    if (this.input.isLonger)
      feeds.is_longer = { dtype: 'bool', shape: [chunk.length], data: Uint8Array.from(chunk, (_, j) => (isLonger(j) ? 1 : 0)) };
    return feeds;
  }

  /** One run of `session` on `batch` synthetic windows (calibration). */
  private async runSynthetic(session: Session, batch: number): Promise<void> {
    const per = this.input.shape.reduce((a, b) => a * b, 1);
    const window = Float32Array.from({ length: per }, (_, i) => Math.sin(i * 0.01) - 4);
    await session.run(
      this.feeds(
        Array.from({ length: batch }, () => window),
        () => false,
      ),
    );
  }

  /**
   * Runs the encoder on the frontend's outputs (log-mels [frames × mel bins] for msclap; [channels × frames ×
   * mel] features for Hugging Face, with their `isLonger` flags), in batches (default: `batch()`).
   */
  async embedLogMels(logmels: Float32Array[], batchSize?: number, isLonger?: boolean[]): Promise<Float32Array[]> {
    const size = batchSize ?? (await this.batch());
    const session = await this.encoder();
    const out: Float32Array[] = [];
    const { shape } = this.input;
    const per = shape.reduce((a, b) => a * b, 1);
    for (const [i, m] of logmels.entries()) {
      if (m.length !== per)
        throw new ClapError(`input ${i} has ${m.length} values, the encoder takes [${shape.join(', ')}] = ${per} per clip`);
    }
    for (let i = 0; i < logmels.length; i += size) {
      const chunk = logmels.slice(i, i + size);
      const r = await session.run(this.feeds(chunk, (j) => isLonger?.[i + j] === true));
      const e = r.audio_embed.data as Float32Array;
      for (let j = 0; j < chunk.length; j++) out.push(e.slice(j * this.dProj, (j + 1) * this.dProj));
    }
    return out;
  }

  /** Embeddings of `inputs` in input order; see AudioEmbedOptions.errors for unreadable inputs. */
  async embed(inputs: readonly AudioInput[], options: AudioEmbedOptions = {}): Promise<(AudioEmbedding | InputError)[]> {
    if (inputs.length === 0) throw new ClapError('no audio inputs given');
    const given = options.batchSize;
    if (given !== undefined && (!Number.isInteger(given) || given < 1))
      throw new ClapError(`batch size must be a positive integer, got ${given}`);
    const errors = options.errors ?? 'throw';
    if (errors !== 'throw' && errors !== 'return') throw new ClapError(`errors must be 'throw' or 'return', got '${String(errors)}'`);
    const workers = options.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 0) throw new ClapError(`workers must be a non-negative integer, got ${workers}`);
    // Before the frontend workers start: a calibration due now must not share the CPU with them.
    const batchSize = given ?? (await this.batch());
    const results: (AudioEmbedding | InputError)[] = [];
    // Windows of consecutive inputs share encoder runs; an input is finished once its windows have run.
    let pending: { index: number; logmels: Float32Array[]; isLonger?: boolean[]; starts: number[]; ends: number[] }[] = [];
    let pendingWindows = 0;
    let done = 0;
    const flush = async (): Promise<void> => {
      const embeddings = await this.embedLogMels(
        pending.flatMap((p) => p.logmels),
        batchSize,
        pending.flatMap((p) => p.isLonger ?? p.logmels.map(() => false)),
      );
      let k = 0;
      for (const p of pending) {
        const windows = p.logmels.map((_, w) => ({ start: p.starts[w], end: p.ends[w], embedding: embeddings[k + w] }));
        k += p.logmels.length;
        const input = nameOf(inputs[p.index], p.index);
        results[p.index] = options.sliding
          ? { input, embedding: options.pool === 'none' ? new Float32Array(0) : meanOf(windows.map((w) => w.embedding)), windows }
          : { input, embedding: windows[0].embedding };
        options.onProgress?.(++done, inputs.length);
      }
      pending = [];
      pendingWindows = 0;
    };
    const pool = inputs.length > 1 && workers > 0 ? this.frontendPool(workers) : undefined;
    const { onProgress: _p, workers: _w, batchSize: _b, pool: _pool, errors: _e, ...frontendOptions } = options;
    const stream = frontendStream(inputs, {
      pool,
      ahead: batchSize + 2 * workers + 2,
      optionsFor: (i) => ({ ...frontendOptions, model: this.input.frontend, name: options.name ?? nameOf(inputs[i], i) }),
    });
    // Start compiling the encoder while the first inputs are decoded.
    this.encoder().catch(() => undefined);
    try {
      for await (const item of stream) {
        if ('error' in item) {
          const input = nameOf(inputs[item.index], item.index);
          const error = asInputError(item.error, input);
          if (errors === 'throw') throw error;
          results[item.index] = { input, error: stripSubject(error.message, error.subject) };
          options.onProgress?.(++done, inputs.length);
          continue;
        }
        const { index, result } = item;
        pending.push({ index, logmels: result.logmels, isLonger: result.isLonger, starts: result.starts, ends: result.ends });
        pendingWindows += result.logmels.length;
        if (pendingWindows >= batchSize) await flush();
      }
    } finally {
      await stream.return(undefined);
    }
    if (pending.length) await flush();
    return results;
  }

  /** The frontend worker pool of `workers` threads, kept for later calls (idle workers keep no process alive). */
  frontendPool(workers: number): FrontendPool {
    let pool = this.pools.get(workers);
    if (!pool) {
      pool = new FrontendPool(workers);
      this.pools.set(workers, pool);
    }
    return pool;
  }

  async release(): Promise<void> {
    await Promise.all([...this.pools.values()].map((p) => p.close()));
    this.pools.clear();
    if (this.session) await (await this.session).release();
    this.session = undefined;
    this.calibrated = undefined;
  }
}

/** An input's failure as a ClapError naming it. */
function asInputError(e: unknown, input: string): ClapError {
  return e instanceof ClapError ? e : new ClapError((e as Error).message, { subject: input, cause: e });
}

export function nameOf(input: AudioInput, index: number): string {
  return typeof input === 'string' ? input : `audio[${index}]`;
}

function meanOf(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i] / vs.length;
  return out;
}
