/**
 * The library API: `Clap.load({ weights })`, then embedAudio / embedText / similarity / classify.
 * Sessions compile lazily, one per tower, so text-only work never builds the audio model.
 */
import { mkdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { ClapError } from '../errors.js';
import { emitOnnx, type Graph, Session, type HostTensor, type RuntimeOptions } from '../engine/index.js';
import { applyPrecision, PRECISIONS, type Precision } from '../engine/quant.js';
import {
  atomicWrite,
  engineFingerprint,
  fileFingerprint,
  hashKey,
  lookupModel,
  readCacheJson,
  resolveCacheDir,
  writeCacheJson,
} from '../engine/cache.js';
import { hashStateDict, loadWeights, readWeights, type StateDict } from '../weights/index.js';
import type { AudioInput, LoadAudioOptions } from '../audio/index.js';
import { defaultTokenizer, type ClapPooling } from '../text/index.js';
import {
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  CLAP_PRESETS,
  type ClapConfig,
  clapConfigFromJson,
  logitScaleExp,
  resolveClapConfig,
} from '../models/clap/index.js';
import { ClapCapDecoder, type CaptionBeam, type CaptionOptions } from './caption/index.js';
import { defaultWorkers, FrontendPool, frontendStream, type FrontendResult } from './pipeline.js';
import { graphVersion } from '../models/graph-versions.js';
import { cosineMatrix } from './similarity.js';
import { TextTower } from './text-tower.js';

/** What `Clap.load` and `embedAudio` do when an option is left out (the CLI's help shows these). */
export const CLAP_DEFAULTS = { textPooling: 'reference', precision: 'fp32', batchSize: 4 } as const;

export interface ClapLoadOptions extends RuntimeOptions {
  /** Path of a .pth (official format) or .safetensors file, or an already loaded state dict. */
  weights: string | StateDict;
  /**
   * A preset name ('2023'), a config.json path, or a config object. Default: a config.json beside the
   * weights file when it describes a model, else sizes read off the weights.
   */
  config?: string | ClapConfig;
  /**
   * Which token's hidden state represents a text. 'reference' (default) is msclap's: the position of the
   * last non-'!' token, so every '!' in a text moves it one to the left; 'fixed' always pools the final
   * <|endoftext|>. The released weights were evaluated with 'reference'.
   */
  textPooling?: ClapPooling;
  /**
   * Weight precision: 'fp32' (default, reference), 'fp16-weights' (MatMul weights stored float16, cast
   * to float32: smaller cache files), 'int8' (dynamic quantisation of MatMul weights: faster, approximate).
   */
  precision?: Precision;
}

export interface AudioEmbedOptions extends LoadAudioOptions {
  /** 7 s windows per encoder run (default 4: larger batches fall out of cache and cost more per clip). */
  batchSize?: number;
  /** In sliding mode: 'mean' (default) averages the window embeddings into one; 'none' keeps only windows. */
  pool?: 'mean' | 'none';
  /** Called after each input is embedded. */
  onProgress?: (done: number, total: number) => void;
  /**
   * Frontend worker threads (decode, resample, log-mel overlapped with the encoder) when there are
   * several inputs; 0 runs the frontend in this thread. Default: one per core beyond the first (at least 1).
   */
  workers?: number;
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

export interface Caption {
  input: string;
  /** The best beam, as msclap's generate_caption returns it (capitalised like Python's str.capitalize). */
  caption: string;
  /** Its token ids (up to and including the stop token). */
  tokens: number[];
  /** Every beam, best first, with its score (mean log-probability per token). */
  beams?: CaptionBeam[];
}

export interface ClassifyOptions extends AudioEmbedOptions {
  /** Sigmoid per label instead of a softmax across labels (paper §2.3, multi-label tasks). */
  multiLabel?: boolean;
  /** Prompt: '{}' is replaced by the label; without '{}' the label is appended. Default msclap's 'this is the sound of '. */
  template?: string;
}

export interface Classification {
  input: string;
  /** label → probability, in the order of the labels given. */
  scores: Record<string, number>;
}

export const DEFAULT_TEMPLATE = 'this is the sound of ';

export function applyTemplate(template: string, label: string): string {
  return template.includes('{}') ? template.split('{}').join(label) : template + label;
}

/**
 * A `config.json` beside the weights file (as `clap train` writes one, and the fixtures have) is used
 * when no config is given, if it has a model section; otherwise sizes are read off the weights.
 */
function siblingConfig(weights: ClapLoadOptions['weights']): string | undefined {
  if (typeof weights !== 'string') return undefined;
  const candidate = join(dirname(weights), 'config.json');
  try {
    const json = JSON.parse(readFileSync(candidate, 'utf8')) as Record<string, unknown>;
    return json && typeof json === 'object' && ('htsat' in json || 'text_encoder' in json) ? candidate : undefined;
  } catch {
    return undefined;
  }
}

async function resolveConfigArg(config: ClapLoadOptions['config']): Promise<ClapConfig | undefined> {
  if (config === undefined || typeof config === 'object') return config;
  if (CLAP_PRESETS[config]) return CLAP_PRESETS[config];
  let text: string;
  try {
    text = await readFile(config, 'utf8');
  } catch (e) {
    throw new ClapError(
      `cannot read config (${(e as NodeJS.ErrnoException).code ?? (e as Error).message}); presets: ${Object.keys(CLAP_PRESETS).join(', ')}`,
      { subject: config },
    );
  }
  try {
    return clapConfigFromJson(JSON.parse(text) as Record<string, unknown>);
  } catch (e) {
    throw new ClapError(e instanceof ClapError ? e.message : `not valid JSON (${(e as Error).message})`, { subject: config });
  }
}

interface ModelRecord {
  config: ClapConfig;
  logitScale: number;
}

export class Clap {
  private audioSession?: Promise<Session>;
  private textEncoder?: Promise<TextTower>;
  private captionDecoder?: Promise<ClapCapDecoder>;
  private weightsHashPromise?: Promise<string>;
  private pool?: FrontendPool;
  private loadedWeights?: StateDict;
  readonly logitScale: number;

  private constructor(
    weights: StateDict | undefined,
    readonly config: ClapConfig,
    private readonly options: ClapLoadOptions,
    logitScale: number,
    /** Cache key of this model (weights file identity + config + engine), when the weights are a file and caching is on. */
    private readonly modelKey?: string,
  ) {
    this.loadedWeights = weights;
    this.logitScale = logitScale;
  }

  /** The weights file this model was loaded from (as given), or undefined for an in-memory state dict. */
  get weightsPath(): string | undefined {
    return typeof this.options.weights === 'string' ? this.options.weights : undefined;
  }

  /**
   * The identity of these weights (sha256 of the tensors: names, dtypes, shapes, bytes), as caches and
   * indexes key on it. Memoised, and remembered in the model cache per weights file version (path,
   * size, mtime, inode), so a file is hashed once, not on every run.
   */
  weightsHash(): Promise<string> {
    this.weightsHashPromise ??= (async () => {
      const path = this.weightsPath;
      const dir = path !== undefined ? resolveCacheDir(this.options.cacheDir) : undefined;
      let fileKey: string | undefined;
      if (path !== undefined && dir) {
        const st = statSync(path);
        fileKey = hashKey('weights-hash', realpathSync(path), String(st.size), String(st.mtimeMs), String(st.ino));
        const known = readCacheJson<{ hash: string }>(dir, `${fileKey}.weights.json`);
        if (known && typeof known.hash === 'string') return known.hash;
      }
      const hash = hashStateDict(this.weights);
      if (fileKey) writeCacheJson(dir, `${fileKey}.weights.json`, { hash });
      return hash;
    })();
    return this.weightsHashPromise;
  }

  /**
   * The state dict. With a weights path and a warm model cache, the file is only read if this is
   * accessed; it is let go again once both towers' sessions exist (ORT holds its own copy).
   */
  get weights(): StateDict {
    if (!this.loadedWeights) {
      const path = this.options.weights as string;
      this.loadedWeights = readWeights(readFileSync(path), path).tensors;
    }
    return this.loadedWeights;
  }

  static async load(options: ClapLoadOptions): Promise<Clap> {
    if (options.precision !== undefined && !PRECISIONS.includes(options.precision)) {
      throw new ClapError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(options.precision)}'`);
    }
    const explicit = await resolveConfigArg(options.config ?? siblingConfig(options.weights));
    const dir = typeof options.weights === 'string' ? resolveCacheDir(options.cacheDir) : undefined;
    let modelKey: string | undefined;
    if (dir) {
      try {
        modelKey = hashKey(engineFingerprint(), fileFingerprint(options.weights as string), JSON.stringify(explicit ?? null));
      } catch {
        /* unreadable: loadWeights explains below */
      }
    }
    const record = modelKey ? readCacheJson<ModelRecord>(dir, `${modelKey}.clap.json`) : undefined;
    if (record && modelKey) return new Clap(undefined, record.config, options, record.logitScale, modelKey);
    const weights = typeof options.weights === 'string' ? await loadWeights(options.weights) : options.weights;
    let config: ClapConfig;
    try {
      config = resolveClapConfig(weights, explicit);
    } catch (e) {
      if (e instanceof ClapError && typeof options.weights === 'string')
        throw new ClapError(e.message, { subject: options.weights, cause: e });
      throw e;
    }
    // clapcap files have no logit_scale: similarity is then undefined (NaN), captioning still works.
    const logitScale = config.textPrefix ? logitScaleExp(weights) : Number.NaN;
    if (modelKey) writeCacheJson(dir, `${modelKey}.clap.json`, { config, logitScale } satisfies ModelRecord);
    return new Clap(weights, config, options, logitScale, modelKey);
  }

  private sessionKey(tower: 'audio' | 'text'): string {
    const graph = tower === 'audio' ? 'clap_audio_encoder' : 'clap_text_encoder';
    return hashKey(this.modelKey!, graph, String(graphVersion(graph)), this.options.optimization ?? 'all', this.precision);
  }

  /** Lets go of the weights file once no session needs building from it (only when it can be re-read). */
  private dropWeightsIfDone(): void {
    if (!this.modelKey) return;
    const dir = resolveCacheDir(this.options.cacheDir);
    const audioReady = this.audioSession !== undefined || lookupModel(dir, this.sessionKey('audio')) !== undefined;
    const textReady = !this.config.textPrefix || this.textEncoder !== undefined || lookupModel(dir, this.sessionKey('text')) !== undefined;
    if (audioReady && textReady) this.loadedWeights = undefined;
  }

  get precision(): Precision {
    return this.options.precision ?? CLAP_DEFAULTS.precision;
  }

  private audioGraph(): Graph {
    const g = buildAudioEncoderGraph(this.weights, this.config);
    applyPrecision(g, this.precision);
    return g;
  }

  private textGraph(): Graph {
    const g = buildTextEncoderGraph(this.weights, this.config);
    applyPrecision(g, this.precision);
    return g;
  }

  /**
   * Writes each tower as a standalone ONNX model (any ONNX runtime: onnxruntime-web, CUDA, …):
   * `audio_encoder.onnx` (logmel [B,965,64] → audio_embed) and, when the weights have one,
   * `text_encoder.onnx` (input_ids [B,T], position_ids [T], pool_index [B] → text_embed).
   */
  async exportOnnx(outDir: string): Promise<string[]> {
    mkdirSync(outDir, { recursive: true });
    const written: string[] = [];
    const towers: [string, () => Graph][] = [['audio_encoder.onnx', () => this.audioGraph()]];
    if (this.config.textPrefix) towers.push(['text_encoder.onnx', () => this.textGraph()]);
    for (const [file, graph] of towers) {
      const path = join(outDir, file);
      const metadata: Record<string, string> = Number.isNaN(this.logitScale) ? {} : { clap_ts_logit_scale: String(this.logitScale) };
      await atomicWrite(path, emitOnnx(graph(), { metadata }));
      written.push(path);
    }
    return written;
  }

  private audio(): Promise<Session> {
    if (!this.audioSession) {
      const build = (): Uint8Array => emitOnnx(this.audioGraph());
      this.audioSession = this.modelKey
        ? Session.cached(this.sessionKey('audio'), build, this.options)
        : Session.compile(this.audioGraph(), this.options);
      void this.audioSession.then(
        () => this.dropWeightsIfDone(),
        () => undefined,
      );
    }
    return this.audioSession;
  }

  private text(): Promise<TextTower> {
    if (!this.config.textPrefix) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
    if (!this.textEncoder) {
      const session = this.modelKey
        ? Session.cached(this.sessionKey('text'), () => emitOnnx(this.textGraph()), this.options)
        : Session.compile(this.textGraph(), this.options);
      this.textEncoder = session.then((s) => new TextTower(s, this.config.text, this.config.dProj));
      void this.textEncoder.then(
        () => this.dropWeightsIfDone(),
        () => undefined,
      );
    }
    return this.textEncoder;
  }

  /** Runs the audio tower on log-mels [965×64 each], in batches. */
  async embedLogMels(logmels: Float32Array[], batchSize = 4): Promise<Float32Array[]> {
    const session = await this.audio();
    const out: Float32Array[] = [];
    const per = logmels[0]?.length ?? 0;
    for (let i = 0; i < logmels.length; i += batchSize) {
      const chunk = logmels.slice(i, i + batchSize);
      const data = new Float32Array(chunk.length * per);
      chunk.forEach((m, j) => data.set(m, j * per));
      const r = await session.run({
        logmel: { dtype: 'float32', shape: [chunk.length, per / this.config.htsat.melBins, this.config.htsat.melBins], data },
      });
      const e = r.audio_embed.data as Float32Array;
      for (let j = 0; j < chunk.length; j++) out.push(e.slice(j * this.config.dProj, (j + 1) * this.config.dProj));
    }
    return out;
  }

  async embedAudio(inputs: readonly AudioInput[], options: AudioEmbedOptions = {}): Promise<AudioEmbedding[]> {
    if (inputs.length === 0) throw new ClapError('no audio inputs given');
    const batchSize = options.batchSize ?? CLAP_DEFAULTS.batchSize;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new ClapError(`batch size must be a positive integer, got ${batchSize}`);
    const results: AudioEmbedding[] = [];
    // Windows of consecutive inputs share encoder runs; an input is finished once its windows have run.
    let pending: { index: number; logmels: Float32Array[]; starts: number[]; ends: number[] }[] = [];
    let pendingWindows = 0;
    let done = 0;
    const flush = async (): Promise<void> => {
      const all = pending.flatMap((p) => p.logmels);
      const embeddings = await this.embedLogMels(all, batchSize);
      let k = 0;
      for (const p of pending) {
        const windows = p.logmels.map((_, w) => ({ start: p.starts[w], end: p.ends[w], embedding: embeddings[k + w] }));
        k += p.logmels.length;
        const name = nameOf(inputs[p.index], p.index);
        results[p.index] = options.sliding
          ? { input: name, embedding: options.pool === 'none' ? new Float32Array(0) : meanOf(windows.map((w) => w.embedding)), windows }
          : { input: name, embedding: windows[0].embedding };
        options.onProgress?.(++done, inputs.length);
      }
      pending = [];
      pendingWindows = 0;
    };
    const workers = options.workers ?? defaultWorkers();
    if (!Number.isInteger(workers) || workers < 0) throw new ClapError(`workers must be a non-negative integer, got ${workers}`);
    const pool = inputs.length > 1 && workers > 0 ? this.frontendPool(workers) : undefined;
    const { onProgress: _p, workers: _w, batchSize: _b, pool: _pool, ...frontendOptions } = options;
    const stream = frontendStream(inputs, {
      pool,
      ahead: batchSize + 2 * workers + 2,
      optionsFor: (i) => ({ ...frontendOptions, name: options.name ?? nameOf(inputs[i], i) }),
    });
    // Start compiling the encoder while the first inputs are decoded.
    const session = this.audio();
    session.catch(() => undefined);
    let i = 0;
    try {
      for (;;) {
        let item: IteratorResult<{ index: number; result: FrontendResult }>;
        try {
          item = await stream.next();
        } catch (e) {
          throw e instanceof ClapError ? e : new ClapError((e as Error).message, { subject: nameOf(inputs[i], i), cause: e });
        }
        if (item.done) break;
        const { index, result } = item.value;
        i = index + 1;
        pending.push({ index, logmels: result.logmels, starts: result.starts, ends: result.ends });
        pendingWindows += result.logmels.length;
        if (pendingWindows >= batchSize) await flush();
      }
    } finally {
      await stream.return(undefined);
    }
    if (pending.length) await flush();
    return results;
  }

  /**
   * Captions (msclap's generate_caption: beam search over the clapcap GPT-2 decoder, KV-cached). Needs
   * clapcap weights (`clapcap_weights_2023.pth`: its own audio encoder, mapper and GPT-2).
   */
  async caption(inputs: readonly AudioInput[], options: CaptionOptions & AudioEmbedOptions = {}): Promise<Caption[]> {
    if (this.config.audioPrefix !== 'clap.')
      throw new ClapError('captioning needs clapcap weights (e.g. clapcap_weights_2023.pth), not CLAP weights');
    const audio = await this.embedAudio(inputs, options);
    this.captionDecoder ??= ClapCapDecoder.load(
      this.weights,
      (this.config.clapcap ?? {}) as Parameters<typeof ClapCapDecoder.load>[1],
      this.options,
    );
    const decoder = await this.captionDecoder;
    const results = await decoder.caption(
      audio.map((a) => a.embedding),
      options,
    );
    return results.map((r, i) => ({ input: audio[i].input, caption: r.caption, tokens: r.tokens, ...(r.beams ? { beams: r.beams } : {}) }));
  }

  /** Projected text embeddings (not normalised), as msclap's get_text_embeddings. */
  async embedText(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) throw new ClapError('no texts given');
    const d = this.config.dProj;
    // A label set seen before (same model, precision, pooling, texts) is read from the on-disk cache.
    const dir = this.modelKey ? resolveCacheDir(this.options.cacheDir) : undefined;
    const file = dir
      ? join(
          dir,
          `${hashKey(this.modelKey!, 'text-embeddings', this.precision, this.options.textPooling ?? CLAP_DEFAULTS.textPooling, JSON.stringify(texts))}.f32`,
        )
      : undefined;
    if (file) {
      try {
        const buf = readFileSync(file);
        if (buf.length === texts.length * d * 4) {
          const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
          return texts.map((_, i) => all.slice(i * d, (i + 1) * d));
        }
      } catch {
        /* not cached */
      }
    }
    const tok = defaultTokenizer();
    const tokenized = texts.map((t) => tok.encodeForClap(t, { mode: this.options.textPooling ?? CLAP_DEFAULTS.textPooling }));
    const encoder = await this.text();
    const e = await encoder.embedAll(tokenized);
    const data = e.data as Float32Array;
    if (file) {
      try {
        mkdirSync(dirname(file), { recursive: true });
        atomicWrite(file, new Uint8Array(data.buffer, data.byteOffset, texts.length * d * 4));
      } catch {
        /* best effort */
      }
    }
    return texts.map((_, i) => data.slice(i * d, (i + 1) * d));
  }

  /** msclap's compute_similarity: cosine similarity × exp(logit_scale), [audio][text]. */
  similarity(audio: readonly Float32Array[], text: readonly Float32Array[]): number[][] {
    if (Number.isNaN(this.logitScale))
      throw new ClapError('these weights have no logit_scale (a clapcap file?): use CLAP weights for similarity');
    return cosineMatrix(audio, text).map((row) => row.map((c) => this.logitScale * c));
  }

  async classify(inputs: readonly AudioInput[], labels: readonly string[], options: ClassifyOptions = {}): Promise<Classification[]> {
    checkLabels(labels);
    const template = options.template ?? DEFAULT_TEMPLATE;
    const textEmb = await this.embedText(labels.map((l) => applyTemplate(template, l)));
    const audioEmb = await this.embedAudio(inputs, options);
    return scoreLabels(
      this.similarity(
        audioEmb.map((a) => a.embedding),
        textEmb,
      ),
      labels,
      options.multiLabel ?? false,
    ).map((scores, i) => ({ input: audioEmb[i].input, scores }));
  }

  private frontendPool(workers: number): FrontendPool {
    if (!this.pool || this.pool.size !== workers) {
      void this.pool?.close();
      this.pool = new FrontendPool(workers);
    }
    return this.pool;
  }

  async release(): Promise<void> {
    await this.pool?.close();
    this.pool = undefined;
    if (this.audioSession) await (await this.audioSession).release();
    if (this.textEncoder) await (await this.textEncoder).release();
    if (this.captionDecoder) await (await this.captionDecoder).release();
  }
}

export function checkLabels(labels: readonly string[]): void {
  if (labels.length === 0) throw new ClapError('no labels given');
  const seen = new Set<string>();
  for (const l of labels) {
    if (l.trim() === '') throw new ClapError('a label is empty');
    if (seen.has(l)) throw new ClapError(`label '${l}' is given twice`);
    seen.add(l);
  }
}

/** Softmax across labels, or a sigmoid per label for multi-label tasks. */
export function scoreLabels(similarity: number[][], labels: readonly string[], multiLabel: boolean): Record<string, number>[] {
  return similarity.map((row) => {
    let probs: number[];
    if (multiLabel) probs = row.map((s) => 1 / (1 + Math.exp(-s)));
    else {
      const m = Math.max(...row);
      const e = row.map((s) => Math.exp(s - m));
      const z = e.reduce((a, b) => a + b, 0);
      probs = e.map((v) => v / z);
    }
    return Object.fromEntries(labels.map((l, j) => [l, probs[j]]));
  });
}

function nameOf(input: AudioInput, index: number): string {
  return typeof input === 'string' ? input : `audio[${index}]`;
}

function meanOf(vs: Float32Array[]): Float32Array {
  const out = new Float32Array(vs[0].length);
  for (const v of vs) for (let i = 0; i < v.length; i++) out[i] += v[i] / vs.length;
  return out;
}

export type { HostTensor };
