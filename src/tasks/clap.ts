/**
 * The library API: `Clap.load({ weights })`, then embedAudio / embedText / similarity / classify.
 * Towers compile lazily, one session each, so text-only work never builds the audio model; captioning is
 * its own model kind (`ClapCap`, tasks/clapcap.ts).
 */
import { ClapError } from '../errors.js';
import { hashKey } from '../engine/cache.js';
import type { RuntimeOptions } from '../engine/index.js';
import { PRECISIONS, type Precision } from '../engine/quant.js';
import type { AudioInput } from '../audio/index.js';
import { CLAP_POOLINGS, type ClapPooling, defaultTokenizer } from '../text/index.js';
import {
  AUDIO_ENCODER_GRAPHS,
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  type ClapConfig,
  logitScaleExp,
  resolveClapConfig,
  TEXT_ENCODER_GRAPHS,
} from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';
import { type AudioEmbedding, type AudioEmbedOptions, AudioTower, EMBED_BATCH_SIZE, type InputError, isInputError } from './audio-tower.js';
import { resolveConfigArg } from './config-arg.js';
import { ModelCache } from './model-cache.js';
import { TextTower } from './text-tower.js';
import { exportClapOnnx, type OnnxExportOptions } from './onnx-export.js';
import { compileTower, int8WeightsFor, type TowerContext, towerKey } from './towers.js';
import { WeightsSource } from './weights-source.js';
import { applyTemplate, checkLabels, type Classification, DEFAULT_TEMPLATE, scaledSimilarity, scoreLabels } from './zero-shot.js';

export type { AudioEmbedding, AudioEmbedOptions, InputError, InputErrorMode, WindowEmbedding } from './audio-tower.js';
export { isInputError } from './audio-tower.js';
export { applyTemplate, checkLabels, type Classification, DEFAULT_TEMPLATE, scoreLabels } from './zero-shot.js';
export type { OnnxExportOptions } from './onnx-export.js';

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

/** Options whose `errors: 'return'` puts `{ input, error }` entries among the results. */
type ReturningErrors = { errors: 'return' };
/** Options that leave `errors` at 'throw': every result is a success. */
type ThrowingErrors = { errors?: 'throw' };

/** What `Clap.load` remembers about a model in the cache (resolving it needs the weights). */
interface ModelRecord {
  config: ClapConfig;
  logitScale: number;
}

const AUDIO = AUDIO_ENCODER_GRAPHS.logmel;

export class Clap {
  private readonly audioTower: AudioTower;
  private textTower?: Promise<TextTower>;
  /** The text graph for this model's pooling rule. */
  private readonly textGraph: string;
  private weightsHashPromise?: Promise<string>;

  private constructor(
    private readonly ctx: TowerContext,
    readonly config: ClapConfig,
    /** exp(logit_scale); NaN when the weights have none (an audio-only model such as clapcap's encoder). */
    readonly logitScale: number,
    private readonly textPooling: ClapPooling,
  ) {
    this.audioTower = new AudioTower(() => this.compile('audio'), config.htsat.melBins, config.dProj);
    this.textGraph = TEXT_ENCODER_GRAPHS[textPooling];
  }

  static async load(options: ClapLoadOptions): Promise<Clap> {
    const { weights, config, textPooling, precision, ...runtime } = options;
    if (precision !== undefined && !PRECISIONS.includes(precision)) {
      throw new ClapError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(precision)}'`);
    }
    if (textPooling !== undefined && !CLAP_POOLINGS.includes(textPooling)) {
      throw new ClapError(`textPooling must be one of ${CLAP_POOLINGS.join(', ')}, got '${String(textPooling)}'`);
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

  /** Compiles a tower; once no tower needs building any more, the weights file's tensors are let go. */
  private async compile(tower: 'audio' | 'text') {
    const session =
      tower === 'audio'
        ? await compileTower(this.ctx, AUDIO, (sd) => buildAudioEncoderGraph(sd, this.config))
        : await compileTower(this.ctx, this.textGraph, (sd) => buildTextEncoderGraph(sd, this.config, { pooling: this.textPooling }));
    const ready = (name: string, started: boolean): boolean => started || this.ctx.cache.hasGraph(towerKey(this.ctx, name));
    if (ready(AUDIO, this.audioTower.started) && (!this.config.textPrefix || ready(this.textGraph, this.textTower !== undefined))) {
      this.ctx.weights.drop();
    }
    return session;
  }

  /**
   * Writes the model for any ONNX runtime (onnxruntime-web, Python, CUDA, …) into `outDir`:
   * `audio_encoder.onnx` (waveform → audio_embed, the frontend in the graph), on request
   * `audio_encoder_logmel.onnx`, and when the weights have a text encoder `text_encoder.onnx` (input_ids,
   * attention_mask → text_embed, pooled by this model's textPooling) with `tokenizer.json`; then
   * `clap-export.json`, which describes them all. Returns the paths written.
   */
  async exportOnnx(outDir: string, options: OnnxExportOptions = {}): Promise<string[]> {
    return exportClapOnnx(
      {
        weights: await this.ctx.weights.tensors(),
        config: this.config,
        logitScale: this.logitScale,
        textPooling: this.textPooling,
        precision: this.precision,
      },
      outDir,
      options,
    );
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
    const graphKey = towerKey(this.ctx, this.textGraph);
    const key = graphKey && hashKey(graphKey, 'text-embeddings', this.textPooling, JSON.stringify(texts));
    const known = this.ctx.cache.vectors(key, texts.length, this.config.dProj);
    if (known) return known;
    const tok = defaultTokenizer();
    const tokenized = texts.map((t) => tok.encodeForClap(t).ids);
    this.textTower ??= this.compile('text').then((s) => new TextTower(s, this.config.text, this.config.dProj));
    const e = (await (await this.textTower).embedAll(tokenized)).data as Float32Array;
    this.ctx.cache.setVectors(key, e);
    const d = this.config.dProj;
    return texts.map((_, i) => e.slice(i * d, (i + 1) * d));
  }

  /** msclap's compute_similarity: cosine similarity × exp(logit_scale), [audio][text]. */
  similarity(audio: readonly Float32Array[], text: readonly Float32Array[]): number[][] {
    return scaledSimilarity(audio, text, this.logitScale);
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
