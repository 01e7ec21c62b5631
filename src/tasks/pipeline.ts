/**
 * The audio pipeline: decoding, resampling, windowing and log-mel run in worker threads while the main
 * thread runs the encoder (Clap.embedAudio, ClapIndex) or a training step (whole-clip log-mels for
 * random crops, train/features.ts). Inputs are handed out a bounded number at a time (memory stays flat
 * however many files there are) and come back in input order.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ClapError } from '../errors.js';
import {
  audioToLogMel,
  type AudioInput,
  type AudioToLogMelOptions,
  ClapFeatureExtractor,
  type ClapFeatureExtractorConfig,
  type ClapFeatures,
  loadMonoWaveform,
  logMel,
  MODEL_SAMPLE_RATE,
  openAudio,
  REFERENCE_FRONTEND,
  tileToLength,
  WINDOW_SAMPLES,
} from '../audio/index.js';
import type { ClapFrontend } from '../models/clap/index.js';
import { modelSignal } from '../audio/signal.js';

/** The frontend's options: the audio ones, and the model's frontend (default msclap 2023's). */
export interface FrontendOptions extends AudioToLogMelOptions {
  model?: ClapFrontend;
}

/**
 * One input's frontend output: its windows' encoder inputs (log-mels [965×64] for msclap 2023; each
 * family's own shape, see ClapFrontend) and their times (seconds), Hugging Face's `is_longer` flags, and
 * the source's duration (seconds), sample rate and channel count.
 */
export interface FrontendResult {
  logmels: Float32Array[];
  /** Hugging Face models: whether each window takes the fusion path (ClapFeatureExtractor's is_longer). */
  isLonger?: boolean[];
  starts: number[];
  ends: number[];
  durationS: number;
  sourceSampleRate: number;
  channels: number;
}

/**
 * A file's frontend after hashing its content (sha256, hex): not decoded when the hash equals the
 * known one. Failures are results (`error`: the reason, without the path), not exceptions.
 */
export type FileFrontend =
  | { ok: true; unchanged: true; hash: string }
  | ({ ok: true; unchanged: false; hash: string } & FrontendResult)
  | { ok: false; error: string };

/** The frontend on one input, in this thread. */
export async function frontend(input: AudioInput, options: FrontendOptions): Promise<FrontendResult> {
  const { model, ...rest } = options;
  if (model?.type === 'hf') return hfFrontend(input, model.extractor, rest);
  const { logmels, audio } = await audioToLogMel(input, model ? { ...rest, frontend: model.logmel, shape: model.window } : rest);
  return {
    logmels,
    starts: audio.starts,
    ends: audio.ends,
    durationS: audio.durationS,
    sourceSampleRate: audio.sourceSampleRate,
    channels: audio.channels,
  };
}

const extractors = new Map<string, ClapFeatureExtractor>();

/** The (cached) extractor of a Hugging Face frontend. */
export function featureExtractor(cfg: ClapFeatureExtractorConfig): ClapFeatureExtractor {
  const key = JSON.stringify(cfg);
  let fx = extractors.get(key);
  if (!fx) {
    fx = new ClapFeatureExtractor(cfg);
    extractors.set(key, fx);
  }
  return fx;
}

/**
 * Hugging Face CLAP's input: the whole input at 48 kHz mono through ClapFeatureExtractor — one clip
 * (cropped, fused or padded as the extractor does; `crop: 'random'` with `seed` replays the reference's
 * `np.random.seed(seed); feature_extractor([clip])`, fused `is_longer` marking included), or with `sliding`
 * one extractor call per window (the last one padded by the extractor's own rule).
 */
async function hfFrontend(input: AudioInput, cfg: ClapFeatureExtractorConfig, options: AudioToLogMelOptions): Promise<FrontendResult> {
  const fx = featureExtractor(cfg);
  const loaded = await loadMonoWaveform(input, cfg.samplingRate, options);
  const w = loaded.waveform;
  const sr = cfg.samplingRate;
  const max = fx.maxSamples;
  const out: ClapFeatures[] = [];
  const starts: number[] = [];
  const ends: number[] = [];
  const sliding = options.sliding ? (options.sliding === true ? {} : options.sliding) : undefined;
  if (sliding && w.length > max) {
    const hop = Math.max(1, Math.round((sliding.hopS ?? max / sr) * sr));
    const minTail = (sliding.minTailS ?? 1) * sr;
    const push = (o: number, end: number): void => {
      out.push(fx.extract(w.subarray(o, end)));
      starts.push(o / sr);
      ends.push(end / sr);
    };
    let o = 0;
    for (; o + max <= w.length; o += hop) push(o, o + max);
    // The rest no window covers, when long enough: one more window there, padded by the extractor's rule.
    if (w.length - (o - hop + max) >= minTail && o < w.length) push(o, w.length);
  } else {
    out.push(fx.extractClip(w, options));
    const offset = out[0].cropOffset ?? 0;
    starts.push(offset / sr);
    ends.push(Math.min(w.length, offset + max) / sr);
  }
  return {
    logmels: out.map((f) => f.features),
    isLonger: out.map((f) => f.isLonger),
    starts,
    ends,
    durationS: loaded.durationS,
    sourceSampleRate: loaded.sourceSampleRate,
    channels: loaded.channels,
  };
}

/**
 * A clip's whole log-mel [frames ≥ one window's, mel] for training, in this thread: mono (channel mean) at the
 * model's rate, cut at `maxClipSeconds` when longer (never below one window), then msclap's (default: 2023's)
 * — a clip shorter than the window tiled to it (msclap's pad branch) — or Hugging Face's extractor's
 * (`wholeClipLogMel`: padded by its rule up to 10 s).
 */
export async function clipLogMel(path: string, maxClipSeconds: number, model?: ClapFrontend): Promise<Float32Array> {
  const rate = model?.type === 'hf' ? model.extractor.samplingRate : (model?.window.sampleRate ?? MODEL_SAMPLE_RATE);
  const window = model?.type === 'hf' ? Math.round(model.extractor.maxLengthS * rate) : (model?.window.samples ?? WINDOW_SAMPLES);
  const source = await openAudio(path, model?.type === 'hf' ? { wavReading: 'soundfile' } : {});
  try {
    const signal = modelSignal(source, 'mean', rate);
    if (signal.length === 0) throw new ClapError('audio has zero samples', { subject: path });
    const n = Math.min(signal.length, Math.max(window, Math.round(maxClipSeconds * rate)));
    const x: Float32Array = signal.read(0, n).slice();
    if (model?.type === 'hf') return featureExtractor(model.extractor).wholeClipLogMel(x);
    return logMel(x.length < window ? tileToLength(x, window) : x, model?.logmel ?? REFERENCE_FRONTEND);
  } finally {
    source.close();
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

/** Hash, then (unless the hash is `knownHash`) the frontend, on one file, in this thread. */
export async function fileFrontend(path: string, options: FrontendOptions, knownHash?: string): Promise<FileFrontend> {
  try {
    const hash = await hashFile(path);
    if (knownHash === hash) return { ok: true, unchanged: true, hash };
    return { ok: true, unchanged: false, hash, ...(await frontend(path, options)) };
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const msg = e instanceof ClapError ? err.message : err.code ? `cannot read (${err.code})` : err.message;
    return { ok: false, error: stripSubject(msg, path) };
  }
}

/**
 * @internal message to a worker: `file` set → fileFrontend on `input` (a path); `clip` set → clipLogMel
 * on `input` (a path); else frontend.
 */
export interface FrontendJob {
  id: number;
  input: AudioInput;
  options: FrontendOptions;
  file?: { knownHash?: string };
  clip?: { maxClipSeconds: number; model?: ClapFrontend };
}
/** @internal message from a worker */
export interface FrontendReply {
  id: number;
  result?: FrontendResult;
  file?: FileFrontend;
  clip?: Float32Array;
  error?: { message: string; clap: boolean; subject?: string };
}

/** @internal the worker's side: one job → its reply (errors serialised) and the buffers to transfer. */
export async function runFrontendJob(job: FrontendJob): Promise<{ reply: FrontendReply; transfer: ArrayBuffer[] }> {
  let reply: FrontendReply;
  try {
    if (job.clip) reply = { id: job.id, clip: await clipLogMel(job.input as string, job.clip.maxClipSeconds, job.clip.model) };
    else if (job.file) reply = { id: job.id, file: await fileFrontend(job.input as string, job.options, job.file.knownHash) };
    else reply = { id: job.id, result: await frontend(job.input, job.options) };
  } catch (e) {
    const err = e as Error;
    reply = { id: job.id, error: { message: err.message, clap: e instanceof ClapError, subject: (e as ClapError).subject } };
  }
  const logmels = reply.clip
    ? [reply.clip]
    : (reply.result?.logmels ?? (reply.file?.ok && !reply.file.unchanged ? reply.file.logmels : []));
  return { reply, transfer: logmels.map((m) => m.buffer as ArrayBuffer) };
}

/** The frontend options that cross a thread boundary (functions are dropped). */
export function cloneableFrontendOptions(options: FrontendOptions & Record<string, unknown>): FrontendOptions {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(options)) if (typeof v !== 'function' && v !== undefined) out[k] = v;
  return out as FrontendOptions;
}

function workerUrl(): URL {
  // Under tsx (tests, bench) this module is a .ts file and so is its worker.
  return new URL(import.meta.url.endsWith('.ts') ? './frontend-worker.ts' : './frontend-worker.js', import.meta.url);
}

/** A .ts worker (tests, bench under tsx): registers tsx's loader in the worker first, then imports the module. */
function tsWorker(url: URL): Worker {
  const api = import.meta.resolve('tsx/esm/api');
  return new Worker(`import(${JSON.stringify(api)}).then((m) => { m.register(); return import(${JSON.stringify(url.href)}); })`, {
    eval: true,
  });
}

/** A pool of frontend worker threads. Idle workers do not keep the process alive. */
export class FrontendPool {
  private readonly workers: Worker[] = [];
  private readonly pending = new Map<number, { resolve: (r: FrontendReply) => void; reject: (e: Error) => void; worker: Worker }>();
  private readonly load = new Map<Worker, number>();
  private nextId = 0;
  private closed = false;

  constructor(readonly size = defaultWorkers()) {
    if (!Number.isInteger(size) || size < 1) throw new ClapError(`frontend workers must be a positive integer, got ${size}`);
  }

  private spawn(): Worker {
    const url = workerUrl();
    const w = url.pathname.endsWith('.ts') ? tsWorker(url) : new Worker(url);
    w.unref();
    w.on('message', (r: FrontendReply) => this.settle(w, r));
    w.on('error', (e) => this.fail(w, e));
    w.on('exit', (code) => {
      if (!this.closed) this.fail(w, new Error(`frontend worker exited with code ${code}`));
    });
    this.workers.push(w);
    this.load.set(w, 0);
    return w;
  }

  private settle(w: Worker, r: FrontendReply): void {
    const p = this.pending.get(r.id);
    if (!p) return;
    this.pending.delete(r.id);
    this.release(w);
    if (r.error)
      p.reject(
        r.error.clap
          ? new ClapError(stripSubject(r.error.message, r.error.subject), { subject: r.error.subject })
          : new Error(r.error.message),
      );
    else p.resolve(r);
  }

  private release(w: Worker): void {
    const n = (this.load.get(w) ?? 1) - 1;
    this.load.set(w, n);
    if (n === 0) w.unref();
  }

  private fail(w: Worker, e: Error): void {
    for (const [id, p] of this.pending) {
      if (p.worker === w) {
        this.pending.delete(id);
        p.reject(e);
      }
    }
    const i = this.workers.indexOf(w);
    if (i >= 0) this.workers.splice(i, 1);
    this.load.delete(w);
  }

  /** Runs the frontend on one input in the least loaded worker. */
  async process(input: AudioInput, options: FrontendOptions): Promise<FrontendResult> {
    return (await this.submit({ input, options })).result!;
  }

  /** fileFrontend on one file in the least loaded worker (rejects only when the worker fails). */
  async processFile(path: string, options: FrontendOptions, knownHash?: string): Promise<FileFrontend> {
    return (await this.submit({ input: path, options, file: { knownHash } })).file!;
  }

  /** clipLogMel on one file in the least loaded worker. */
  async processClip(path: string, maxClipSeconds: number, model?: ClapFrontend): Promise<Float32Array> {
    return (await this.submit({ input: path, options: {}, clip: { maxClipSeconds, model } })).clip!;
  }

  private submit(job: Omit<FrontendJob, 'id'>): Promise<FrontendReply> {
    if (this.closed) return Promise.reject(new Error('frontend pool is closed'));
    let w: Worker | undefined;
    if (this.workers.length < this.size) w = this.spawn();
    else w = this.workers.reduce((a, b) => ((this.load.get(a) ?? 0) <= (this.load.get(b) ?? 0) ? a : b));
    const n = (this.load.get(w) ?? 0) + 1;
    this.load.set(w, n);
    if (n === 1) w.ref();
    const id = this.nextId++;
    const worker = w;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject, worker });
      worker.postMessage({ id, ...job } satisfies FrontendJob);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    const ws = this.workers.splice(0);
    await Promise.all(ws.map((w) => w.terminate()));
    for (const p of this.pending.values()) p.reject(new Error('frontend pool closed'));
    this.pending.clear();
  }
}

/** `message` without a leading `subject: ` (the subject is reported apart). */
export function stripSubject(message: string, subject?: string): string {
  return subject && message.startsWith(`${subject}: `) ? message.slice(subject.length + 2) : message;
}

/**
 * Frontend (decode) worker threads by default, for every caller (embedAudio, indexes, queue workers, training
 * features): half the cores, 1 to 4. The encoder's ORT threads run beside them, and the frontend costs about a
 * tenth of the encoder's CPU per clip, so more workers only take cores from ORT.
 */
export function defaultWorkers(cores = availableParallelism()): number {
  return Math.max(1, Math.min(4, Math.floor(cores / 2)));
}

/** defaultWorkers in words, for help texts. */
export const DEFAULT_WORKERS_TEXT = 'half the cores, 1-4';

export interface FrontendStreamOptions {
  /** Run in this pool; without one the frontend runs in this thread, one input at a time. */
  pool?: FrontendPool;
  /** Inputs handed out ahead of the consumer (bounds memory); default 2 per worker + 4. */
  ahead?: number;
  /** Per-input options (e.g. the display name used in errors). */
  optionsFor: (index: number) => FrontendOptions;
}

/** One input's frontend outcome, in input order: its result, or why it failed. */
export type FrontendItem = { index: number; result: FrontendResult } | { index: number; error: unknown };

/** Frontend outcomes in input order, computing at most `ahead` inputs in advance. A failed input is an item too. */
export async function* frontendStream(inputs: readonly AudioInput[], opts: FrontendStreamOptions): AsyncGenerator<FrontendItem> {
  const { pool } = opts;
  const settle = (index: number, p: Promise<FrontendResult>): Promise<FrontendItem> =>
    p.then(
      (result) => ({ index, result }),
      (error: unknown) => ({ index, error }),
    );
  if (!pool) {
    for (let i = 0; i < inputs.length; i++) yield await settle(i, frontend(inputs[i], opts.optionsFor(i)));
    return;
  }
  const ahead = Math.max(1, opts.ahead ?? 2 * pool.size + 4);
  const queue: Promise<FrontendItem>[] = [];
  let next = 0;
  const fill = (): void => {
    while (next < inputs.length && queue.length < ahead) {
      const options = cloneableFrontendOptions(opts.optionsFor(next) as FrontendOptions & Record<string, unknown>);
      queue.push(settle(next, pool.process(inputs[next], options)));
      next++;
    }
  };
  fill();
  while (queue.length > 0) {
    const item = await queue.shift()!;
    fill();
    yield item;
  }
}
