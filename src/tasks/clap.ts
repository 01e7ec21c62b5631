/**
 * The library API: `Clap.load({ weights })`, then embedAudio / embedText / similarity / classify.
 * Towers compile lazily, one session each, so text-only work never builds the audio model; captioning is
 * its own model kind (`ClapCap`, tasks/clapcap.ts).
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../errors.js';
import { atomicWrite, hashKey } from '../engine/cache.js';
import { emitOnnx, type RuntimeOptions } from '../engine/index.js';
import { PRECISIONS, type Precision } from '../engine/quant.js';
import type { AudioInput } from '../audio/index.js';
import { type ClapPooling, defaultTokenizer } from '../text/index.js';
import { buildAudioEncoderGraph, buildTextEncoderGraph, type ClapConfig, logitScaleExp, resolveClapConfig } from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';
import { type AudioEmbedding, type AudioEmbedOptions, AudioTower, EMBED_BATCH_SIZE, type InputError, isInputError } from './audio-tower.js';
import { resolveConfigArg } from './config-arg.js';
import { ModelCache } from './model-cache.js';
import { cosineMatrix } from './similarity.js';
import { TextTower } from './text-tower.js';
import { compileTower, int8WeightsFor, type TowerContext, towerGraph, towerKey } from './towers.js';
import { WeightsSource } from './weights-source.js';

export type { AudioEmbedding, AudioEmbedOptions, InputError, InputErrorMode, WindowEmbedding } from './audio-tower.js';
export { isInputError } from './audio-tower.js';

/** What `Clap.load` and `embedAudio` do when an option is left out (the CLI's help shows these). */
export const CLAP_DEFAULTS = { textPooling: 'reference', precision: 'fp32', batchSize: EMBED_BATCH_SIZE } as const;

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

/** Options whose `errors: 'return'` puts `{ input, error }` entries among the results. */
type ReturningErrors = { errors: 'return' };
/** Options that leave `errors` at 'throw': every result is a success. */
type ThrowingErrors = { errors?: 'throw' };

/** What `Clap.load` remembers about a model in the cache (resolving it needs the weights). */
interface ModelRecord {
  config: ClapConfig;
  logitScale: number;
}

const AUDIO = 'clap_audio_encoder';
const TEXT = 'clap_text_encoder';

export class Clap {
  private readonly audioTower: AudioTower;
  private textTower?: Promise<TextTower>;
  private weightsHashPromise?: Promise<string>;

  private constructor(
    private readonly ctx: TowerContext,
    readonly config: ClapConfig,
    /** exp(logit_scale); NaN when the weights have none (an audio-only model such as clapcap's encoder). */
    readonly logitScale: number,
    private readonly textPooling: ClapPooling,
  ) {
    this.audioTower = new AudioTower(() => this.compile(AUDIO), config.htsat.melBins, config.dProj);
  }

  static async load(options: ClapLoadOptions): Promise<Clap> {
    const { weights, config, textPooling, precision, ...runtime } = options;
    if (precision !== undefined && !PRECISIONS.includes(precision)) {
      throw new ClapError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(precision)}'`);
    }
    const explicit = resolveConfigArg(config, weights);
    const source = WeightsSource.of(weights);
    const cache = new ModelCache(runtime);
    const modelKey = cache.modelKey(source, explicit);
    let record = cache.record<ModelRecord>(modelKey, 'clap');
    if (!record) {
      const sd = await source.tensors();
      const resolved = withSubject(() => resolveClapConfig(sd, explicit), source.path);
      // Weights without a text encoder (clapcap's audio encoder) have no logit_scale: similarity is then undefined.
      record = { config: resolved, logitScale: resolved.textPrefix ? logitScaleExp(sd) : Number.NaN };
      cache.setRecord(modelKey, 'clap', record);
    }
    const p = precision ?? CLAP_DEFAULTS.precision;
    const ctx: TowerContext = { weights: source, cache, modelKey, precision: p, int8Weights: await int8WeightsFor(p), runtime };
    return new Clap(ctx, record.config, record.logitScale, textPooling ?? CLAP_DEFAULTS.textPooling);
  }

  /** The weights file this model was loaded from (as given), or undefined for an in-memory state dict. */
  get weightsPath(): string | undefined {
    return this.ctx.weights.path;
  }

  get precision(): Precision {
    return this.ctx.precision;
  }

  /**
   * The identity of these weights (sha256 of the tensors: names, dtypes, shapes, bytes), as caches and
   * indexes key on it; remembered in the model cache per weights file version.
   */
  weightsHash(): Promise<string> {
    this.weightsHashPromise ??= this.ctx.cache.weightsHash(this.ctx.weights);
    return this.weightsHashPromise;
  }

  private builder(tower: typeof AUDIO | typeof TEXT) {
    return tower === AUDIO
      ? (sd: StateDict) => buildAudioEncoderGraph(sd, this.config)
      : (sd: StateDict) => buildTextEncoderGraph(sd, this.config);
  }

  /** Compiles a tower; once no tower needs building any more, the weights file's tensors are let go. */
  private async compile(tower: typeof AUDIO | typeof TEXT) {
    const session = await compileTower(this.ctx, tower, this.builder(tower));
    const ready = (name: string, started: boolean): boolean => started || this.ctx.cache.hasGraph(towerKey(this.ctx, name));
    if (ready(AUDIO, this.audioTower.started) && (!this.config.textPrefix || ready(TEXT, this.textTower !== undefined))) {
      this.ctx.weights.drop();
    }
    return session;
  }

  /**
   * Writes each tower as a standalone ONNX model (any ONNX runtime: onnxruntime-web, CUDA, …):
   * `audio_encoder.onnx` (logmel [B,965,64] → audio_embed) and, when the weights have one,
   * `text_encoder.onnx` (input_ids [B,T], position_ids [T], pool_index [B] → text_embed).
   */
  async exportOnnx(outDir: string): Promise<string[]> {
    mkdirSync(outDir, { recursive: true });
    const towers: [string, typeof AUDIO | typeof TEXT][] = [['audio_encoder.onnx', AUDIO]];
    if (this.config.textPrefix) towers.push(['text_encoder.onnx', TEXT]);
    const metadata: Record<string, string> = Number.isNaN(this.logitScale) ? {} : { clap_ts_logit_scale: String(this.logitScale) };
    const written: string[] = [];
    for (const [file, tower] of towers) {
      const path = join(outDir, file);
      const graph = towerGraph(await this.ctx.weights.tensors(), tower, this.builder(tower), this.precision);
      await atomicWrite(path, emitOnnx(graph, { metadata }));
      written.push(path);
    }
    return written;
  }

  /** Runs the audio tower on log-mels [965×64 each], in batches. */
  embedLogMels(logmels: Float32Array[], batchSize = EMBED_BATCH_SIZE): Promise<Float32Array[]> {
    return this.audioTower.embedLogMels(logmels, batchSize);
  }

  /**
   * Projected audio embeddings (not normalised), as msclap's get_audio_embeddings, in input order. An input
   * that cannot be read or decoded rejects the call, or with `errors: 'return'` is `{ input, error }` in place.
   */
  embedAudio(inputs: readonly AudioInput[], options: AudioEmbedOptions & ReturningErrors): Promise<(AudioEmbedding | InputError)[]>;
  embedAudio(inputs: readonly AudioInput[], options?: AudioEmbedOptions & ThrowingErrors): Promise<AudioEmbedding[]>;
  embedAudio(inputs: readonly AudioInput[], options?: AudioEmbedOptions): Promise<(AudioEmbedding | InputError)[]>;
  embedAudio(inputs: readonly AudioInput[], options: AudioEmbedOptions = {}): Promise<(AudioEmbedding | InputError)[]> {
    return this.audioTower.embed(inputs, options);
  }

  /** Projected text embeddings (not normalised), as msclap's get_text_embeddings. */
  async embedText(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) throw new ClapError('no texts given');
    if (!this.config.textPrefix) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
    // A label set seen before (same text graph, pooling, texts) is read from the model cache.
    const graphKey = towerKey(this.ctx, TEXT);
    const key = graphKey && hashKey(graphKey, 'text-embeddings', this.textPooling, JSON.stringify(texts));
    const known = this.ctx.cache.vectors(key, texts.length, this.config.dProj);
    if (known) return known;
    const tok = defaultTokenizer();
    const tokenized = texts.map((t) => tok.encodeForClap(t, { mode: this.textPooling }));
    this.textTower ??= this.compile(TEXT).then((s) => new TextTower(s, this.config.text, this.config.dProj));
    const e = (await (await this.textTower).embedAll(tokenized)).data as Float32Array;
    this.ctx.cache.setVectors(key, e);
    const d = this.config.dProj;
    return texts.map((_, i) => e.slice(i * d, (i + 1) * d));
  }

  /** msclap's compute_similarity: cosine similarity × exp(logit_scale), [audio][text]. */
  similarity(audio: readonly Float32Array[], text: readonly Float32Array[]): number[][] {
    if (Number.isNaN(this.logitScale))
      throw new ClapError('these weights have no logit_scale (a clapcap file?): use CLAP weights for similarity');
    return cosineMatrix(audio, text).map((row) => row.map((c) => this.logitScale * c));
  }

  /**
   * Zero-shot classification of each input against `labels` (the template applied). An input that cannot
   * be read or decoded rejects the call, or with `errors: 'return'` is `{ input, error }` in place.
   */
  classify(
    inputs: readonly AudioInput[],
    labels: readonly string[],
    options: ClassifyOptions & ReturningErrors,
  ): Promise<(Classification | InputError)[]>;
  classify(inputs: readonly AudioInput[], labels: readonly string[], options?: ClassifyOptions & ThrowingErrors): Promise<Classification[]>;
  classify(inputs: readonly AudioInput[], labels: readonly string[], options?: ClassifyOptions): Promise<(Classification | InputError)[]>;
  async classify(
    inputs: readonly AudioInput[],
    labels: readonly string[],
    options: ClassifyOptions = {},
  ): Promise<(Classification | InputError)[]> {
    checkLabels(labels);
    const template = options.template ?? DEFAULT_TEMPLATE;
    const textEmb = await this.embedText(labels.map((l) => applyTemplate(template, l)));
    const audio = await this.embedAudio(inputs, options);
    const embedded = audio.filter((a): a is AudioEmbedding => !isInputError(a));
    const scores = scoreLabels(
      this.similarity(
        embedded.map((a) => a.embedding),
        textEmb,
      ),
      labels,
      options.multiLabel ?? false,
    );
    let k = 0;
    return audio.map((a) => (isInputError(a) ? a : { input: a.input, scores: scores[k++] }));
  }

  async release(): Promise<void> {
    await this.audioTower.release();
    if (this.textTower) await (await this.textTower).release();
    this.textTower = undefined;
  }
}

/** `fn()`, with a ClapError about the weights' contents prefixed by the weights file. */
export function withSubject<T>(fn: () => T, path: string | undefined): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof ClapError && path !== undefined) throw new ClapError(e.message, { subject: path, cause: e });
    throw e;
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
