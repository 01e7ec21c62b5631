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
import { CLAP_POOLINGS, type ClapPooling } from '../text/index.js';
import {
  audioGraphName,
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  type ClapConfig,
  type ClapFamily,
  clapFamily,
  describeClap,
  logitScaleExp,
  resolveClapConfig,
  textGraphName,
} from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';
import { type AudioEmbedding, type AudioEmbedOptions, AudioTower, audioInputSpec, type InputError, isInputError } from './audio-tower.js';
import type { FrontendPool } from './pipeline.js';
import { AUDIO_TUNING, type Calibration, TEXT_TUNING, towerTuning } from './calibration.js';
import { resolveModelFiles } from './model-files.js';
import { type TextEncoding, textEncodingFor } from './text-encoding.js';
import { ModelCache } from './model-cache.js';
import { TextTower } from './text-tower.js';
import { exportClapOnnx, type OnnxExportOptions } from './onnx-export.js';
import { compileTower, int8WeightsFor, type TowerContext, towerKey, withThreads } from './towers.js';
import { WeightsSource } from './weights-source.js';
import { applyTemplate, checkLabels, type Classification, defaultTemplate, scaledSimilarity, scoreLabels } from './zero-shot.js';

export type { AudioEmbedding, AudioEmbedOptions, InputError, InputErrorMode, WindowEmbedding } from './audio-tower.js';
export { isInputError } from './audio-tower.js';
export { applyTemplate, checkLabels, type Classification, DEFAULT_TEMPLATE, HF_TEMPLATE, scoreLabels } from './zero-shot.js';
export type { OnnxExportOptions } from './onnx-export.js';

/** What `Clap.load` does when an option is left out (the CLI's help shows these; the batch is calibrated per CPU). */
export const CLAP_DEFAULTS = { textPooling: 'reference', precision: 'fp32' } as const;

export interface ClapLoadOptions extends RuntimeOptions {
  /**
   * The model: an msclap .pth (2023 or 2022, as released) or .safetensors file, a Hugging Face CLAP model
   * folder (laion/clap-htsat-unfused …) or its model.safetensors / pytorch_model.bin, or a loaded state dict.
   * The family is read off the weights (see `family` / `description`).
   */
  weights: string | StateDict;
  /**
   * A preset name ('2023', '2022', 'laion-unfused', 'laion-fused'), a config.json path, or a config object.
   * Default: a Hugging Face folder's own config.json, a config.json beside msclap weights when it describes a
   * model, else sizes read off the weights.
   */
  config?: string | ClapConfig;
  /**
   * Which family the weights are expected to be: its preset fills in what the weights do not store (when no
   * config does), and weights of another family are an error. Default: whatever the weights are.
   */
  family?: ClapFamily;
  /**
   * The text encoder's tokenizer for BERT/RoBERTa models: a folder holding vocab.txt (BERT) or vocab.json +
   * merges.txt / tokenizer.json (RoBERTa), or the file. Default: the Hugging Face folder itself, or tokenizer
   * files (or a bert-base-uncased/ folder) beside msclap weights.
   */
  tokenizer?: string;
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
  /**
   * Prompt: '{}' is replaced by the label; without '{}' the label is appended. Default: the family's reference
   * (`Clap.template`): msclap's 'this is the sound of ', Hugging Face's pipeline's 'This is a sound of {}.'.
   */
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

type Tower = 'audio' | 'text';

export class Clap {
  private readonly audioTower: AudioTower;
  private textTower?: Promise<TextTower>;
  private encoding?: TextEncoding;
  /** The graphs of this model's towers (the text one per pooling rule for GPT-2). */
  private readonly graphs: Record<Tower, string>;
  private weightsHashPromise?: Promise<string>;

  private constructor(
    private readonly ctx: TowerContext,
    readonly config: ClapConfig,
    /**
     * The similarity scale: exp(logit_scale) (msclap) or exp(logit_scale_a) (Hugging Face's logits_per_audio);
     * NaN when the weights have none (an audio-only model such as clapcap's encoder).
     */
    readonly logitScale: number,
    private readonly textPooling: ClapPooling,
    private readonly tokenizerPath: string | undefined,
  ) {
    this.graphs = { audio: audioGraphName(config), text: textGraphName(config, textPooling) };
    const tuning = towerTuning(ctx, this.graphs.audio, AUDIO_TUNING);
    this.audioTower = new AudioTower((threads) => this.compile('audio', threads), audioInputSpec(config), config.dProj, tuning);
  }

  static async load(options: ClapLoadOptions): Promise<Clap> {
    const { weights, config, family, tokenizer, textPooling, precision, ...runtime } = options;
    if (precision !== undefined && !PRECISIONS.includes(precision)) {
      throw new ClapError(`precision must be one of ${PRECISIONS.join(', ')}, got '${String(precision)}'`);
    }
    if (textPooling !== undefined && !CLAP_POOLINGS.includes(textPooling)) {
      throw new ClapError(`textPooling must be one of ${CLAP_POOLINGS.join(', ')}, got '${String(textPooling)}'`);
    }
    const files = resolveModelFiles(weights, { config, tokenizer, family });
    const source = WeightsSource.of(files.weights);
    const cache = new ModelCache(runtime);
    const modelKey = cache.modelKey(source, files.config);
    let record = cache.record<ModelRecord>(modelKey, 'clap');
    if (!record) {
      const sd = await source.tensors();
      const resolved = withSubject(() => resolveClapConfig(sd, files.config), source.path);
      // Weights without a text encoder (clapcap's audio encoder) have no logit scale: similarity is then undefined.
      const scale = resolved.text === null ? Number.NaN : logitScaleExp(sd, resolved.layout === 'hf' ? 'logit_scale_a' : 'logit_scale');
      record = { config: resolved, logitScale: scale };
      cache.setRecord(modelKey, 'clap', record);
    }
    if (family !== undefined && clapFamily(record.config) !== family) {
      throw new ClapError(`holds ${describeClap(record.config)} weights, not ${family}`, source.path ? { subject: source.path } : {});
    }
    const p = precision ?? CLAP_DEFAULTS.precision;
    const ctx: TowerContext = { weights: source, cache, modelKey, precision: p, int8Weights: await int8WeightsFor(p), runtime };
    return new Clap(ctx, record.config, record.logitScale, textPooling ?? CLAP_DEFAULTS.textPooling, files.tokenizer);
  }

  /** The model's family: 'msclap-2023', 'msclap-2022', 'hf-clap', or 'msclap' (another msclap-layout pair). */
  get family(): ClapFamily {
    return clapFamily(this.config);
  }

  /** What the model is, in words ("msclap 2022 (Cnn14 + BERT)"). */
  get description(): string {
    return describeClap(this.config);
  }

  /** The zero-shot prompt `classify` uses when none is given: the family's reference (msclap's, or Hugging Face's pipeline's). */
  get template(): string {
    return defaultTemplate(this.family);
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

  /**
   * Compiles a tower (with `threads` intra-op threads when given, as a calibration chose); once no tower
   * needs building any more, the weights file's tensors are let go.
   */
  private async compile(tower: Tower, threads?: number) {
    const ctx = withThreads(this.ctx, threads);
    const session =
      tower === 'audio'
        ? await compileTower(ctx, this.graphs.audio, (sd) => buildAudioEncoderGraph(sd, this.config))
        : await compileTower(ctx, this.graphs.text, (sd) => buildTextEncoderGraph(sd, this.config, { pooling: this.textPooling }));
    const ready = (t: Tower, started: boolean): boolean => started || this.ctx.cache.hasGraph(towerKey(this.ctx, this.graphs[t]));
    if (ready('audio', this.audioTower.started) && (!this.config.text || ready('text', this.textTower !== undefined))) {
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
        tokenizer: this.tokenizerPath,
      },
      outDir,
      options,
    );
  }

  /**
   * Runs the audio tower on the frontend's outputs (log-mels [965×64 each] for msclap 2023, [690×64] for
   * 2022; Hugging Face features [channels×1001×64] with their is_longer flags), in batches (default:
   * `audioBatch()`).
   */
  embedLogMels(logmels: Float32Array[], batchSize?: number, isLonger?: boolean[]): Promise<Float32Array[]> {
    return this.audioTower.embedLogMels(logmels, batchSize, isLonger);
  }

  /**
   * Audio windows per encoder run on this CPU: CLAP_BATCH when set, else the calibration kept in the model
   * cache, else one measured now (a few seconds at full size, once per model and CPU). embedAudio, embedLogMels
   * and indexes use it when no batch is given.
   */
  audioBatch(): Promise<number> {
    return this.audioTower.batch();
  }

  /** The audio encoder's calibration (batch, threads, what was measured), once kept or measured; see `audioBatch`. */
  get audioCalibration(): Calibration | undefined {
    return this.audioTower.calibration;
  }

  /** @internal This model's frontend worker threads (embedAudio's; ClapIndex decodes in them too). */
  frontendPool(workers: number): FrontendPool {
    return this.audioTower.frontendPool(workers);
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
    const text = this.config.text;
    if (!text) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
    this.encoding ??= textEncodingFor(text, this.tokenizerPath, this.description);
    const encoding = this.encoding;
    // A label set seen before (same text graph, tokenizer, texts) is read from the model cache.
    const graphKey = towerKey(this.ctx, this.graphs.text);
    const key = graphKey && hashKey(graphKey, 'text-embeddings', encoding.identity, JSON.stringify(texts));
    const known = this.ctx.cache.vectors(key, texts.length, this.config.dProj);
    if (known) return known;
    const tokenized = texts.map((t) => encoding.tokenize(t));
    this.textTower ??= this.compile('text').then(
      (s) => new TextTower(s, { text, padId: encoding.padId }, this.config.dProj, towerTuning(this.ctx, this.graphs.text, TEXT_TUNING)),
    );
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
    const template = options.template ?? this.template;
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
