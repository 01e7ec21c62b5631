/**
 * `clap export onnx`: a CLAP model as standalone ONNX files that any runtime can use correctly from the
 * files alone — the audio model takes a mono window (its frontend in the graph), the text model takes the
 * tokenizer's ids and mask and finds the pooled token itself, tokenizer.json holds the tokenizer, and
 * clap-export.json (tasks/clap-export.ts) describes them all.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ClapError } from '../errors.js';
import { atomicWrite } from '../engine/cache.js';
import { emitOnnx, type Graph, irVersionFor, MIN_OPSET, OPSET } from '../engine/index.js';
import type { Precision } from '../engine/quant.js';
import { ClapFeatureExtractor, frameCount } from '../audio/index.js';
import {
  bertTokenizerFromPath,
  type ClapPooling,
  CLAP_TEXT_SUFFIX,
  ENDOFTEXT,
  ENDOFTEXT_ID,
  getGpt2Vocab,
  gpt2TokenizerJson,
  PAD_ID,
  PAD_TOKEN,
  robertaTokenizerFromPath,
} from '../text/index.js';
import { locateTokenizerFiles, readJsonObject } from '../text/hf-files.js';
import {
  type AudioEncoderInput,
  audioGraphName,
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  type ClapConfig,
  clapFamily,
  describeClap,
  textGraphName,
  textMaxTokens,
} from '../models/clap/index.js';
import type { StateDict } from '../weights/index.js';
import { packageVersion } from '../version.js';
import {
  type AudioSpec,
  CLAP_EXPORT_FILE,
  CLAP_EXPORT_FORMAT,
  CLAP_EXPORT_VERSION,
  type ClapExport,
  type OnnxModelSpec,
  type TensorSpec,
  type TextSpec,
  type TokenizerSpec,
} from './clap-export.js';
import { towerGraph } from './towers.js';
import { DEFAULT_TEMPLATE, HF_TEMPLATE } from './zero-shot.js';
import { makeWritableDir } from '../files.js';

export interface OnnxExportOptions {
  /**
   * Default-domain opset, MIN_OPSET (17) to OPSET (21, the default); the IR version follows it (17 and 18:
   * IR 8, which Debian 12's onnx 1.12 and other older tools read).
   */
  opset?: number;
  /** Also write audio_encoder_logmel.onnx, which takes the log-mel (for runtimes with their own frontend). */
  logmel?: boolean;
}

/** What the exporter needs of a loaded model. */
export interface ExportSource {
  weights: StateDict;
  config: ClapConfig;
  /** exp(logit_scale), NaN when the weights have none. */
  logitScale: number;
  textPooling: ClapPooling;
  precision: Precision;
  /** BERT/RoBERTa: where the tokenizer files are (Clap's: the Hugging Face folder, --tokenizer, or beside the weights). */
  tokenizer?: string;
}

export const EXPORT_FILES = {
  audio: 'audio_encoder.onnx',
  logmel: 'audio_encoder_logmel.onnx',
  text: 'text_encoder.onnx',
  tokenizer: 'tokenizer.json',
} as const;

const POOLING_RULES: Record<ClapPooling, string> = {
  reference: "msclap's: position (number of tokens that are not '!' (id 0)) − 1, so each '!' in a text moves it one token left",
  fixed: 'the last token (the appended <|endoftext|>)',
};

/** What each input and output holds. */
const DESCRIPTIONS: Record<string, string> = {
  waveform: 'mono audio at audio.sample_rate, one window per row (shorter clips tiled, longer ones cropped)',
  logmel: 'log-mel in dB, time-major, as audio.frontend describes',
  input_features: "ClapFeatureExtractor's log-mel in dB [channels, frames, n_mels] per clip, as audio.frontend describes",
  is_longer: "ClapFeatureExtractor's is_longer: true takes the fusion path (fused models)",
  audio_embed: 'audio embedding (not normalised)',
  input_ids: 'token ids from text.tokenizer, padded on the right with pad_id',
  attention_mask: '1 for real tokens, 0 for padding',
  text_embed: 'text embedding (not normalised)',
};

const spec = (g: Graph, file: string, bytes: Uint8Array): OnnxModelSpec => {
  const tensor = (name: string, v: { dtype: string; shape: (number | string)[] }): TensorSpec => ({
    name,
    dtype: v.dtype as TensorSpec['dtype'],
    shape: [...v.shape],
    description: DESCRIPTIONS[name] ?? '',
  });
  return {
    file,
    sha256: createHash('sha256').update(bytes).digest('hex'),
    bytes: bytes.length,
    inputs: g.inputs.map((v) => tensor(v.name, v)),
    outputs: g.outputs.map((o) => tensor(o.name, o.value)),
  };
};

/** Writes files into the export folder and describes the ONNX ones. */
interface ExportWriter {
  written: string[];
  write(file: string, bytes: Uint8Array): Promise<void>;
  model(file: string, name: string, build: (sd: StateDict) => Graph): Promise<OnnxModelSpec>;
}

function exportWriter(model: ExportSource, outDir: string, opset: number): ExportWriter {
  const metadata: Record<string, string> = Number.isNaN(model.logitScale) ? {} : { clap_ts_logit_scale: String(model.logitScale) };
  makeWritableDir(outDir);
  const w: ExportWriter = {
    written: [],
    async write(file, bytes) {
      const path = join(outDir, file);
      await atomicWrite(path, bytes);
      w.written.push(path);
    },
    async model(file, name, build) {
      const g = towerGraph(model.weights, name, build, model.precision);
      const bytes = emitOnnx(g, { metadata, opset });
      await w.write(file, bytes);
      return spec(g, file, bytes);
    },
  };
  return w;
}

/** Writes the model files and clap-export.json into `outDir`; returns the paths written. */
export async function exportClapOnnx(model: ExportSource, outDir: string, options: OnnxExportOptions = {}): Promise<string[]> {
  const opset = options.opset ?? OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > OPSET) {
    throw new ClapError(`must be an integer from ${MIN_OPSET} to ${OPSET}, got ${opset}`, { subject: 'opset' });
  }
  const { config } = model;
  if (options.logmel && config.frontend.type === 'hf') {
    throw new ClapError(
      "a Hugging Face CLAP model's audio_encoder.onnx already takes ClapFeatureExtractor's log-mel (input_features): leave out --logmel",
    );
  }
  // The tokenizer is read before anything is written: a missing one fails the export, not half of it.
  const tokenizer = config.text ? exportedTokenizer(model) : undefined;
  const w = exportWriter(model, outDir, opset);
  const audio = config.frontend.type === 'hf' ? await hfAudioSpec(model, w) : await msclapAudioSpec(model, w, options);
  const text = tokenizer ? await textSpec(model, w, tokenizer) : undefined;
  const description: ClapExport = {
    format: CLAP_EXPORT_FORMAT,
    version: CLAP_EXPORT_VERSION,
    producer: `clap-ts ${packageVersion()}`,
    family: clapFamily(config),
    embedding_dim: config.dProj,
    onnx: { opset, ir_version: irVersionFor(opset), precision: model.precision },
    audio,
    ...(text ? { text } : {}),
    logit_scale: Number.isNaN(model.logitScale) ? null : model.logitScale,
  };
  await w.write(CLAP_EXPORT_FILE, new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`));
  return w.written;
}

/** msclap's encoders: the waveform model (torchlibrosa's frontend in the graph), on request the log-mel one. */
async function msclapAudioSpec(model: ExportSource, w: ExportWriter, options: OnnxExportOptions): Promise<AudioSpec> {
  const { config } = model;
  if (config.frontend.type !== 'msclap') throw new ClapError('internal: msclap audio without its frontend');
  const { logmel, window } = config.frontend;
  const audioModel = (input: AudioEncoderInput, file: string): Promise<OnnxModelSpec> =>
    w.model(file, audioGraphName(config, input), (sd) => buildAudioEncoderGraph(sd, config, { input }));
  return {
    model: await audioModel('waveform', EXPORT_FILES.audio),
    ...(options.logmel ? { logmel_model: await audioModel('logmel', EXPORT_FILES.logmel) } : {}),
    sample_rate: window.sampleRate,
    window_samples: window.samples,
    shorter: 'tile',
    longer: 'crop',
    channels: 'mean',
    frontend: {
      type: 'torchlibrosa-logmel',
      mel_sample_rate: logmel.sampleRate,
      n_fft: logmel.nFft,
      win_length: logmel.winLength,
      hop_length: logmel.hopLength,
      window: 'hann (periodic)',
      center: logmel.center,
      pad_mode: 'reflect',
      n_mels: logmel.nMels,
      fmin: logmel.fmin,
      fmax: logmel.fmax,
      mel_scale: 'slaney',
      mel_norm: 'slaney',
      amin: logmel.amin,
      ref: logmel.ref,
      top_db: logmel.topDb,
      frames: frameCount(window.samples, logmel),
    },
  };
}

/** Hugging Face CLAP: the model takes ClapFeatureExtractor's output, which clap-export.json describes. */
async function hfAudioSpec(model: ExportSource, w: ExportWriter): Promise<AudioSpec> {
  const { config } = model;
  if (config.frontend.type !== 'hf' || config.audio.type !== 'clap-audio') throw new ClapError('internal: not a Hugging Face CLAP model');
  const x = config.frontend.extractor;
  const fx = new ClapFeatureExtractor(x);
  return {
    model: await w.model(EXPORT_FILES.audio, audioGraphName(config), (sd) => buildAudioEncoderGraph(sd, config)),
    sample_rate: x.samplingRate,
    window_samples: fx.maxSamples,
    shorter: x.padding,
    longer: x.truncation,
    channels: 'mean',
    frontend: {
      type: 'clap-feature-extractor',
      sampling_rate: x.samplingRate,
      n_fft: x.fftWindowSize,
      hop_length: x.hopLength,
      n_mels: x.featureSize,
      fmin: x.frequencyMin,
      fmax: x.frequencyMax,
      max_length_s: x.maxLengthS,
      truncation: x.truncation,
      padding: x.padding,
      mel_scale: x.truncation === 'fusion' ? 'htk' : 'slaney',
      mel_norm: x.truncation === 'fusion' ? null : 'slaney',
      frames: fx.chunkFrames,
      channels: fx.channels,
    },
  };
}

/** The tokenizer file the text model's ids come from, and what clap-export.json says of it. */
interface ExportedTokenizer {
  json: Record<string, unknown>;
  spec: Omit<TokenizerSpec, 'file'>;
  pooling: { mode: string; rule: string };
  template: string;
}

const addedIds = (json: Record<string, unknown>): Record<string, number> =>
  Object.fromEntries((json.added_tokens as { content: string; id: number }[]).map((t) => [t.content, t.id]));

function exportedTokenizer(model: ExportSource): ExportedTokenizer {
  const { config, tokenizer: path } = model;
  const t = config.text!;
  if (t.type === 'gpt2') {
    const pooling = model.textPooling;
    return {
      json: gpt2TokenizerJson(getGpt2Vocab()),
      spec: {
        type: 'gpt2-bpe',
        append: CLAP_TEXT_SUFFIX,
        special_tokens: { [ENDOFTEXT]: ENDOFTEXT_ID, [PAD_TOKEN]: PAD_ID },
        pad_id: PAD_ID,
        padding_side: 'right',
        max_tokens: t.gpt2.nPositions,
      },
      pooling: { mode: pooling, rule: POOLING_RULES[pooling] },
      template: `${DEFAULT_TEMPLATE}{}`,
    };
  }
  if (path === undefined) throw new ClapError(`${describeClap(config)} needs its tokenizer: pass --tokenizer PATH`);
  const roberta = t.positions === 'roberta';
  // RoBERTa: the folder's own tokenizer.json as published; BERT: written from vocab.txt (or its tokenizer.json).
  const bert = roberta ? undefined : bertTokenizerFromPath(path);
  const json = bert
    ? bert.toTokenizerJson()
    : readJsonObject(locateTokenizerFiles(path, ['tokenizer.json'], 'RoBERTa tokenizer (tokenizer.json)').file, 'tokenizer.json');
  const padId = bert ? bert.padId : robertaTokenizerFromPath(path).padId;
  return {
    json,
    spec: {
      type: roberta ? 'roberta-bpe' : 'bert-wordpiece',
      append: '',
      special_tokens: addedIds(json),
      pad_id: padId,
      padding_side: 'right',
      max_tokens: textMaxTokens(t),
    },
    pooling: t.pooling === 'pooler' ? POOLER_RULE : CLS_RULE,
    template: config.layout === 'hf' ? HF_TEMPLATE : `${DEFAULT_TEMPLATE}{}`,
  };
}

const CLS_RULE = { mode: 'cls', rule: 'the first token ([CLS]): its last hidden state, as msclap 2022 takes it' };
const POOLER_RULE = { mode: 'pooler', rule: 'the first token (<s>) through the pooler, tanh(dense(·)), in the graph' };

async function textSpec(model: ExportSource, w: ExportWriter, tok: ExportedTokenizer): Promise<TextSpec> {
  const { config } = model;
  const pooling = model.textPooling;
  const textModel = await w.model(EXPORT_FILES.text, textGraphName(config, pooling), (sd) =>
    buildTextEncoderGraph(sd, config, { pooling }),
  );
  await w.write(EXPORT_FILES.tokenizer, new TextEncoder().encode(JSON.stringify(tok.json)));
  return {
    model: textModel,
    tokenizer: { file: EXPORT_FILES.tokenizer, ...tok.spec },
    pooling: tok.pooling,
    template: tok.template,
  };
}
