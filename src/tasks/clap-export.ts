/**
 * clap-export.json: what `clap export onnx` writes beside the ONNX models so that any runtime — the
 * browser build, onnxruntime in Python, … — can use them correctly from the files alone: each model's
 * inputs and outputs, how a clip becomes the audio model's input, how a text becomes token ids and which
 * token the text model pools, the prompt template and the similarity scale. What differs between model
 * families (the frontend, the tokenizer, the pooling rule, the window) is data here, so other families
 * plug in without a new format.
 *
 * No file access: the exporter (Clap.exportOnnx) writes it, the browser build reads it from a URL.
 */
import { ClapError } from '../errors.js';
import type { ClapFeatureExtractorConfig } from '../audio/clap-feature-extractor.js';

export const CLAP_EXPORT_FILE = 'clap-export.json';
export const CLAP_EXPORT_FORMAT = 'clap-export';
export const CLAP_EXPORT_VERSION = 1;

export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'int64' | 'bool';
  /** Sizes; a string names a size chosen at run time (the ONNX dim_param: 'B' rows, 'T' tokens). */
  shape: (number | string)[];
  description: string;
}

/** One ONNX file. */
export interface OnnxModelSpec {
  file: string;
  /** sha256 of the file (hex): the browser build keys its cache on it. */
  sha256: string;
  bytes: number;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
}

/** msclap's log-mel frontend: what the waveform model computes inside, and what the log-mel model expects fed. */
export interface TorchlibrosaFrontendSpec {
  /** 'torchlibrosa-logmel': torchlibrosa's Spectrogram + LogmelFilterBank as msclap runs them. */
  type: 'torchlibrosa-logmel';
  /** Rate the mel filterbank is designed for (msclap 2023: 32000, applied to 44.1 kHz bins; 2022: 44100). */
  mel_sample_rate: number;
  n_fft: number;
  win_length: number;
  hop_length: number;
  window: 'hann (periodic)';
  center: boolean;
  pad_mode: 'reflect';
  n_mels: number;
  fmin: number;
  fmax: number;
  mel_scale: 'slaney';
  mel_norm: 'slaney';
  /** dB = 10·log10(max(power, amin)) − 10·log10(max(amin, ref)), then clipped to max − top_db when set. */
  amin: number;
  ref: number;
  top_db: number | null;
  /** Frames of one window. */
  frames: number;
}

/**
 * Hugging Face CLAP: transformers' `ClapFeatureExtractor` (preprocessor_config.json), run outside the model
 * (the library's audio/clap-feature-extractor.ts): 48 kHz mono → `input_features` [channels, frames, n_mels]
 * and, fused, `is_longer`. Reflect-padded periodic-Hann STFT in float64, power, mel (`mel_scale` HTK
 * unnormalised for `fusion`, Slaney for `rand_trunc`), 10·log10(max(x, 1e-10)), no top_db.
 */
export interface ClapFeatureExtractorSpec {
  type: 'clap-feature-extractor';
  sampling_rate: number;
  n_fft: number;
  hop_length: number;
  n_mels: number;
  fmin: number;
  fmax: number;
  max_length_s: number;
  /** 'rand_trunc': a window-long crop of a longer clip; 'fusion': the whole clip's mel shrunk + 3 chunks. */
  truncation: 'rand_trunc' | 'fusion';
  /** Shorter clips: 'repeatpad' tiles whole copies then zero-pads (also 'repeat', 'pad'). */
  padding: 'repeatpad' | 'repeat' | 'pad';
  mel_scale: 'htk' | 'slaney';
  mel_norm: 'slaney' | null;
  /** Frames of one 10 s window (1001). */
  frames: number;
  /** 1 (rand_trunc) or 4 (fusion: shrunk whole mel, front, middle, back chunks). */
  channels: number;
}

export type FrontendSpec = TorchlibrosaFrontendSpec | ClapFeatureExtractorSpec;

/** The extractor a `clap-feature-extractor` frontend describes (what the exporter wrote it from). */
export function extractorConfigOf(fe: ClapFeatureExtractorSpec): ClapFeatureExtractorConfig {
  return {
    samplingRate: fe.sampling_rate,
    hopLength: fe.hop_length,
    fftWindowSize: fe.n_fft,
    featureSize: fe.n_mels,
    frequencyMin: fe.fmin,
    frequencyMax: fe.fmax,
    maxLengthS: fe.max_length_s,
    truncation: fe.truncation,
    padding: fe.padding,
  };
}

export interface AudioSpec {
  /**
   * msclap: `waveform` [batch, window_samples] float32, mono windows at sample_rate, frontend in the graph.
   * Hugging Face: `input_features` [batch, channels, frames, n_mels] (and, fused, `is_longer` [batch] bool).
   */
  model: OnnxModelSpec;
  /** `logmel` [batch, frames, n_mels] float32: the frontend's output (written on request). */
  logmel_model?: OnnxModelSpec;
  /** The rate windows are cut at (clips are resampled to it; msclap: torchaudio's sinc_interp_hann). */
  sample_rate: number;
  window_samples: number;
  /**
   * A clip of at most one window: 'tile' = repeated and cut to the window (msclap pads by tiling, not zeros);
   * Hugging Face: the feature extractor's padding ('repeatpad': whole copies, then zeros).
   */
  shorter: 'tile' | 'repeatpad' | 'repeat' | 'pad';
  /**
   * A longer clip: 'crop' = one window-long crop (offset 0 by default; msclap picks a random one), or every
   * window (sliding); Hugging Face: the feature extractor's truncation ('rand_trunc' crops; 'fusion').
   */
  longer: 'crop' | 'rand_trunc' | 'fusion';
  /** Several channels: averaged ('mean'; msclap itself concatenates them). */
  channels: 'mean';
  frontend: FrontendSpec;
}

export interface TokenizerSpec {
  /** tokenizer.json (Hugging Face `tokenizers` format), beside this file. */
  file: string;
  /**
   * 'gpt2-bpe': GPT-2 byte-level BPE, no normalisation, no prefix space (msclap 2023); 'bert-wordpiece':
   * BERT's normalizer, pre-tokenizer and WordPiece with [CLS] … [SEP] (msclap 2022); 'roberta-bpe':
   * RoBERTa's byte-level BPE with <s> … </s> (Hugging Face CLAP) — tokenizer.json holds each in full.
   */
  type: string;
  /** Appended to every text before tokenizing (msclap 2023: ' <|endoftext|>'; others: ''). */
  append: string;
  /** Tokens cut out of the text before BPE (surrounding spaces kept), → their ids; no others are added. */
  special_tokens: Record<string, number>;
  pad_id: number;
  padding_side: 'right';
  /** Longest id sequence the model takes (texts are not truncated: a longer one is an error). */
  max_tokens: number;
}

export interface TextSpec {
  model: OnnxModelSpec;
  tokenizer: TokenizerSpec;
  /** The token whose hidden state represents a text; the model finds it itself (see `rule`). */
  pooling: { mode: string; rule: string };
  /** Zero-shot prompt: '{}' is replaced by the label. */
  template: string;
}

export interface ClapExport {
  format: typeof CLAP_EXPORT_FORMAT;
  version: typeof CLAP_EXPORT_VERSION;
  producer: string;
  /** 'msclap-2023', 'msclap-2022', 'hf-clap' (models/clap clapFamily). */
  family: string;
  embedding_dim: number;
  onnx: { opset: number; ir_version: number; precision: string };
  audio: AudioSpec;
  /** Absent for weights without a text encoder (clapcap's audio encoder). */
  text?: TextSpec;
  /** similarity = logit_scale × cosine(audio_embed, text_embed); zero-shot probabilities: softmax over labels. */
  logit_scale: number | null;
}

// ------------------------------------------------------------------------------------------ reading

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A reader of one JSON document that names the field in every error. */
class Fields {
  constructor(private readonly source: string) {}

  fail(path: string, problem: string): never {
    throw new ClapError(`${path} ${problem}`, { subject: this.source });
  }

  object(v: unknown, path: string): Json {
    return isObject(v) ? v : this.fail(path, 'must be an object');
  }

  string(o: Json, key: string, path: string): string {
    const v = o[key];
    return typeof v === 'string' && v !== '' ? v : this.fail(`${path}.${key}`, 'must be a non-empty string');
  }

  number(o: Json, key: string, path: string): number {
    const v = o[key];
    return typeof v === 'number' && Number.isFinite(v) ? v : this.fail(`${path}.${key}`, 'must be a number');
  }

  integer(o: Json, key: string, path: string): number {
    const v = this.number(o, key, path);
    return Number.isInteger(v) && v > 0 ? v : this.fail(`${path}.${key}`, 'must be a positive integer');
  }

  /** A file beside clap-export.json: a plain name, no folders. */
  fileName(o: Json, key: string, path: string): string {
    const file = this.string(o, key, path);
    return /^[\w][\w.-]*$/.test(file) ? file : this.fail(`${path}.${key}`, `'${file}' must be a plain file name`);
  }

  oneOf<T extends string>(o: Json, key: string, path: string, allowed: readonly T[]): T {
    const v = o[key];
    return allowed.includes(v as T) ? (v as T) : this.fail(`${path}.${key}`, `must be one of ${allowed.join(', ')}`);
  }

  frontend(v: unknown, path: string): FrontendSpec {
    const o = this.object(v, path);
    if (o.type === 'clap-feature-extractor') return this.clapFeatureExtractor(o, path);
    if (o.type !== 'torchlibrosa-logmel') this.fail(`${path}.type`, "must be 'torchlibrosa-logmel' or 'clap-feature-extractor'");
    const int = (k: string): number => this.integer(o, k, path);
    const num = (k: string): number => this.number(o, k, path);
    if (typeof o.center !== 'boolean') this.fail(`${path}.center`, 'must be true or false');
    if (o.top_db !== null) num('top_db');
    return {
      type: 'torchlibrosa-logmel',
      mel_sample_rate: int('mel_sample_rate'),
      n_fft: int('n_fft'),
      win_length: int('win_length'),
      hop_length: int('hop_length'),
      window: 'hann (periodic)',
      center: o.center as boolean,
      pad_mode: 'reflect',
      n_mels: int('n_mels'),
      fmin: num('fmin'),
      fmax: num('fmax'),
      mel_scale: 'slaney',
      mel_norm: 'slaney',
      amin: num('amin'),
      ref: num('ref'),
      top_db: o.top_db as number | null,
      frames: int('frames'),
    };
  }

  clapFeatureExtractor(o: Json, path: string): ClapFeatureExtractorSpec {
    const int = (k: string): number => this.integer(o, k, path);
    const num = (k: string): number => this.number(o, k, path);
    const truncation = this.oneOf(o, 'truncation', path, ['rand_trunc', 'fusion'] as const);
    return {
      type: 'clap-feature-extractor',
      sampling_rate: int('sampling_rate'),
      n_fft: int('n_fft'),
      hop_length: int('hop_length'),
      n_mels: int('n_mels'),
      fmin: num('fmin'),
      fmax: num('fmax'),
      max_length_s: num('max_length_s'),
      truncation,
      padding: this.oneOf(o, 'padding', path, ['repeatpad', 'repeat', 'pad'] as const),
      mel_scale: truncation === 'fusion' ? 'htk' : 'slaney',
      mel_norm: truncation === 'fusion' ? null : 'slaney',
      frames: int('frames'),
      channels: int('channels'),
    };
  }

  model(v: unknown, path: string): OnnxModelSpec {
    const o = this.object(v, path);
    const tensors = (key: string): TensorSpec[] => {
      const list = o[key];
      if (!Array.isArray(list) || list.length === 0) this.fail(`${path}.${key}`, 'must be a non-empty list');
      return list.map((t, i) => {
        const at = `${path}.${key}[${i}]`;
        const x = this.object(t, at);
        const shape = x.shape;
        if (!Array.isArray(shape) || !shape.every((d) => typeof d === 'string' || (Number.isInteger(d) && d > 0))) {
          this.fail(`${at}.shape`, 'must be a list of sizes');
        }
        const dtype = this.string(x, 'dtype', at);
        if (dtype !== 'float32' && dtype !== 'int64' && dtype !== 'bool')
          this.fail(`${at}.dtype`, `'${dtype}' is not float32, int64 or bool`);
        return { name: this.string(x, 'name', at), dtype, shape: shape as (number | string)[], description: String(x.description ?? '') };
      });
    };
    return {
      file: this.fileName(o, 'file', path),
      sha256: this.string(o, 'sha256', path),
      bytes: this.integer(o, 'bytes', path),
      inputs: tensors('inputs'),
      outputs: tensors('outputs'),
    };
  }
}

/**
 * A parsed clap-export.json, checked for what a runtime relies on; `source` (its path or URL) prefixes
 * every error. A newer format version is refused with the version named.
 */
export function parseClapExport(json: unknown, source: string): ClapExport {
  const f = new Fields(source);
  const root = f.object(json, 'the file');
  if (root.format !== CLAP_EXPORT_FORMAT) f.fail('format', `must be '${CLAP_EXPORT_FORMAT}' (is this a clap-export.json?)`);
  if (root.version !== CLAP_EXPORT_VERSION) {
    f.fail(
      'version',
      `${String(root.version)} is not supported (this clap-ts reads version ${CLAP_EXPORT_VERSION}: re-export, or update clap-ts)`,
    );
  }
  const onnx = f.object(root.onnx, 'onnx');
  const audio = f.object(root.audio, 'audio');
  const out: ClapExport = {
    format: CLAP_EXPORT_FORMAT,
    version: CLAP_EXPORT_VERSION,
    producer: String(root.producer ?? ''),
    family: f.string(root, 'family', 'the file'),
    embedding_dim: f.integer(root, 'embedding_dim', 'the file'),
    onnx: {
      opset: f.integer(onnx, 'opset', 'onnx'),
      ir_version: f.integer(onnx, 'ir_version', 'onnx'),
      precision: f.string(onnx, 'precision', 'onnx'),
    },
    audio: {
      model: f.model(audio.model, 'audio.model'),
      ...(audio.logmel_model === undefined ? {} : { logmel_model: f.model(audio.logmel_model, 'audio.logmel_model') }),
      sample_rate: f.integer(audio, 'sample_rate', 'audio'),
      window_samples: f.integer(audio, 'window_samples', 'audio'),
      shorter: f.oneOf(audio, 'shorter', 'audio', ['tile', 'repeatpad', 'repeat', 'pad'] as const),
      longer: f.oneOf(audio, 'longer', 'audio', ['crop', 'rand_trunc', 'fusion'] as const),
      channels: 'mean',
      frontend: f.frontend(audio.frontend, 'audio.frontend'),
    },
    logit_scale: root.logit_scale === null ? null : f.number(root, 'logit_scale', 'the file'),
  };
  const msclap = out.audio.frontend.type === 'torchlibrosa-logmel';
  if (msclap !== (out.audio.shorter === 'tile' && out.audio.longer === 'crop'))
    f.fail('audio', `shorter/longer '${out.audio.shorter}'/'${out.audio.longer}' do not fit the ${out.audio.frontend.type} frontend`);
  if (root.text !== undefined) {
    const text = f.object(root.text, 'text');
    const tok = f.object(text.tokenizer, 'text.tokenizer');
    const pooling = f.object(text.pooling, 'text.pooling');
    const specials = f.object(tok.special_tokens, 'text.tokenizer.special_tokens');
    for (const [k, v] of Object.entries(specials))
      if (!Number.isInteger(v)) f.fail(`text.tokenizer.special_tokens['${k}']`, 'must be an id');
    if (tok.padding_side !== 'right') f.fail('text.tokenizer.padding_side', "must be 'right'");
    out.text = {
      model: f.model(text.model, 'text.model'),
      tokenizer: {
        file: f.fileName(tok, 'file', 'text.tokenizer'),
        type: f.string(tok, 'type', 'text.tokenizer'),
        append: typeof tok.append === 'string' ? tok.append : f.fail('text.tokenizer.append', 'must be a string'),
        special_tokens: specials as Record<string, number>,
        pad_id: f.number(tok, 'pad_id', 'text.tokenizer'),
        padding_side: 'right',
        max_tokens: f.integer(tok, 'max_tokens', 'text.tokenizer'),
      },
      pooling: { mode: f.string(pooling, 'mode', 'text.pooling'), rule: String(pooling.rule ?? '') },
      template: f.string(text, 'template', 'text'),
    };
  }
  return out;
}
