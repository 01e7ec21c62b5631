/**
 * The browser build's `Clap`: the API of the Node library (embedAudio, embedText, similarity, classify) over
 * the files `clap export onnx` writes, run in onnxruntime-web — msclap 2023 and 2022, Hugging Face CLAP unfused
 * and fused. Everything a model family changes — input and output names, the window or feature extractor, the
 * tokenizer, the prompt, the scale — is read from clap-export.json; the frontend, tokenizers, similarity and
 * zero-shot math are the library's own modules.
 */
import { ClapError } from '../errors.js';
import type { ClapExport, OnnxModelSpec } from '../tasks/clap-export.js';
import { scaledSimilarity, applyTemplate, checkLabels, type Classification, scoreLabels } from '../tasks/zero-shot.js';
import { padBatch } from '../text/batch.js';
import { type ClipInput, clipInput, inputName, openWebAudio, type WebAudioInput, type WebWindowOptions } from './audio-input.js';
import { type LoadProgress, type ModelFiles, type ModelLocation, openModelFiles } from './model-files.js';
import {
  backendFor,
  configureRuntime,
  createSession,
  type Device,
  type Feeds,
  runModel,
  type RuntimeOptions,
  type Session,
} from './runtime.js';
import { type Tokenize, tokenizerFor } from './tokenizers.js';

export interface WebClapLoadOptions extends RuntimeOptions {
  /**
   * The folder `clap export onnx` wrote: its URL (or the URL of its clap-export.json; relative to the page),
   * or its files (a FileList or File[] holding clap-export.json, the .onnx files and tokenizer.json).
   */
  model: ModelLocation;
  /** Keep model files fetched from a URL in Cache Storage, read them from there next time (default true). */
  cache?: boolean;
  /** Called as each file is read: downloaded, from the cache, or from a File. */
  onProgress?: (event: LoadProgress) => void;
}

export interface WebAudioEmbedOptions extends WebWindowOptions {
  /** Windows per model run (default 4). */
  batchSize?: number;
  /** Called after each input is embedded. */
  onProgress?: (done: number, total: number) => void;
}

export interface WebAudioEmbedding {
  /** The File's name, the input's `name`, or `audio[i]`. */
  input: string;
  /** Projected audio embedding (not normalised), as the Node library's. */
  embedding: Float32Array;
}

export interface WebClassifyOptions extends WebAudioEmbedOptions {
  /** Sigmoid per label instead of a softmax across labels. */
  multiLabel?: boolean;
  /** Prompt: '{}' is replaced by the label. Default: the export's, the family's reference prompt ('this is the sound of {}' for msclap). */
  template?: string;
}

const AUDIO_BATCH = 4;
const TEXT_BATCH = 32;

/**
 * The audio model's feeds for a batch of clips, by the names and shapes its spec gives: the clips' inputs
 * (`waveform` [B, samples] or `input_features` [B, channels, frames, mels]), and `is_longer` [B] when it takes it.
 */
function audioFeeds(spec: OnnxModelSpec, clips: readonly ClipInput[]): Feeds {
  const [input, ...others] = spec.inputs;
  const dims = [clips.length, ...input.shape.slice(1).map(Number)];
  const size = dims.slice(1).reduce((a, b) => a * b, 1);
  const data = new Float32Array(clips.length * size);
  clips.forEach((c, i) => {
    if (c.data.length !== size)
      throw new ClapError(`${input.name} takes ${size} values per clip, the frontend gave ${c.data.length}`, { subject: spec.file });
    data.set(c.data, i * size);
  });
  const feeds: Feeds = { [input.name]: { data, dims } };
  for (const other of others) {
    if (other.name !== 'is_longer') throw new ClapError(`input '${other.name}' is not one clap-ts feeds`, { subject: spec.file });
    feeds.is_longer = { data: Uint8Array.from(clips, (c) => (c.isLonger ? 1 : 0)), dims: [clips.length] };
  }
  return feeds;
}

export class Clap {
  private audio?: Promise<Session>;
  private text?: Promise<{ session: Session; tokenize: Tokenize }>;

  private constructor(
    private readonly files: ModelFiles,
    /** What clap-export.json states about the model. */
    readonly manifest: ClapExport,
    /** The backend the models run on ('webgpu' only when asked for and available). */
    readonly backend: Device,
  ) {}

  /**
   * Reads clap-export.json and the models it lists (from Cache Storage after the first download), and
   * prepares them in onnxruntime-web; `onProgress` follows each file.
   */
  static async load(options: WebClapLoadOptions): Promise<Clap> {
    if (!options || options.model === undefined) throw new ClapError('Clap.load needs { model }: the URL or the files of an export');
    configureRuntime(options);
    const files = await openModelFiles(options.model, options.onProgress ?? (() => {}), options.cache ?? true);
    const clap = new Clap(files, files.manifest, backendFor(options.device));
    await Promise.all([clap.audioSession(), clap.manifest.text ? clap.textModel() : undefined]);
    return clap;
  }

  /** The embedding size. */
  get dim(): number {
    return this.manifest.embedding_dim;
  }

  private audioSession(): Promise<Session> {
    const spec = this.manifest.audio.model;
    this.audio ??= this.files.model(spec).then((bytes) => createSession(bytes, this.backend, spec.file));
    return this.audio;
  }

  private textModel(): Promise<{ session: Session; tokenize: Tokenize }> {
    const spec = this.manifest.text;
    if (!spec) throw new ClapError('this export has no text model (exported from weights without a text encoder)');
    this.text ??= (async () => {
      const [bytes, json] = await Promise.all([this.files.model(spec.model), this.files.json(spec.tokenizer.file)]);
      const session = await createSession(bytes, this.backend, spec.model.file);
      return { session, tokenize: tokenizerFor(spec.tokenizer, json, spec.tokenizer.file) };
    })();
    return this.text;
  }

  /** Projected audio embeddings (not normalised), in input order; an input that cannot be decoded rejects, naming it. */
  async embedAudio(inputs: readonly WebAudioInput[], options: WebAudioEmbedOptions = {}): Promise<WebAudioEmbedding[]> {
    if (inputs.length === 0) throw new ClapError('no audio given');
    const batchSize = options.batchSize ?? AUDIO_BATCH;
    const out: WebAudioEmbedding[] = [];
    for (let start = 0; start < inputs.length; start += batchSize) {
      const part = inputs.slice(start, start + batchSize);
      const names = part.map((x, i) => inputName(x, start + i));
      const clips = await Promise.all(part.map((x, i) => this.clipOf(x, names[i], options)));
      const embeddings = await this.runAudio(clips);
      names.forEach((input, i) => out.push({ input, embedding: embeddings[i] }));
      options.onProgress?.(out.length, inputs.length);
    }
    return out;
  }

  private async clipOf(input: WebAudioInput, name: string, options: WebWindowOptions): Promise<ClipInput> {
    const source = await openWebAudio(input, name, this.manifest.audio);
    try {
      return clipInput(source, this.manifest.audio, options);
    } catch (e) {
      throw e instanceof ClapError && !e.subject ? new ClapError(e.message, { subject: name, cause: e }) : e;
    } finally {
      source.close();
    }
  }

  private async runAudio(clips: ClipInput[]): Promise<Float32Array[]> {
    const spec = this.manifest.audio.model;
    const flat = await runModel(await this.audioSession(), audioFeeds(spec, clips), spec.outputs[0].name);
    return this.rows(flat, clips.length);
  }

  private rows(flat: Float32Array, count: number): Float32Array[] {
    const d = this.dim;
    return Array.from({ length: count }, (_, i) => flat.slice(i * d, (i + 1) * d));
  }

  /** Projected text embeddings (not normalised), in order. */
  async embedText(texts: readonly string[]): Promise<Float32Array[]> {
    if (texts.length === 0) throw new ClapError('no texts given');
    const { session, tokenize } = await this.textModel();
    const spec = this.manifest.text!;
    const [idsName, maskName] = spec.model.inputs.map((t) => t.name);
    const out: Float32Array[] = [];
    for (let start = 0; start < texts.length; start += TEXT_BATCH) {
      const part = texts.slice(start, start + TEXT_BATCH);
      const batch = padBatch(part.map(tokenize), { padId: spec.tokenizer.pad_id, vocabSize: Number.MAX_SAFE_INTEGER });
      const dims = [batch.batchSize, batch.seqLen];
      const feeds = { [idsName]: { data: batch.ids, dims }, [maskName]: { data: batch.attentionMask, dims } };
      out.push(...this.rows(await runModel(session, feeds, spec.model.outputs[0].name), part.length));
    }
    return out;
  }

  /** The similarity scale × cosine similarity, [audio][text] (msclap's compute_similarity). */
  similarity(audio: readonly Float32Array[], text: readonly Float32Array[]): number[][] {
    return scaledSimilarity(audio, text, this.manifest.logit_scale ?? Number.NaN);
  }

  /** Zero-shot classification of each input against `labels` (the template applied). */
  async classify(inputs: readonly WebAudioInput[], labels: readonly string[], options: WebClassifyOptions = {}): Promise<Classification[]> {
    checkLabels(labels);
    const text = await this.labelEmbeddings(labels, options.template);
    return this.classifyEmbeddings(await this.embedAudio(inputs, options), labels, { ...options, text });
  }

  /**
   * Zero-shot scores of audio embedded before (embedAudio's results) against `labels`: a new label set costs
   * only its text embeddings. `text` takes the labels' embeddings when the caller has them already.
   */
  async classifyEmbeddings(
    audio: readonly WebAudioEmbedding[],
    labels: readonly string[],
    options: Pick<WebClassifyOptions, 'multiLabel' | 'template'> & { text?: Float32Array[] } = {},
  ): Promise<Classification[]> {
    checkLabels(labels);
    const text = options.text ?? (await this.labelEmbeddings(labels, options.template));
    const sim = this.similarity(
      audio.map((a) => a.embedding),
      text,
    );
    const scores = scoreLabels(sim, labels, options.multiLabel ?? false);
    return audio.map((a, i) => ({ input: a.input, scores: scores[i] }));
  }

  /** The labels' prompts embedded: '{}' in the template (default: the export's) replaced by each label. */
  private labelEmbeddings(labels: readonly string[], template = this.manifest.text?.template ?? '{}'): Promise<Float32Array[]> {
    return this.embedText(labels.map((l) => applyTemplate(template, l)));
  }

  /** Frees the models' memory in onnxruntime-web. */
  async release(): Promise<void> {
    const sessions = await Promise.all([this.audio, this.text?.then((t) => t.session)]);
    await Promise.all(sessions.map((s) => s?.release()));
    this.audio = undefined;
    this.text = undefined;
  }
}
