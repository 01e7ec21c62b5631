/**
 * `clap export onnx`: a CLAP model as standalone ONNX files that any runtime can use correctly from the
 * files alone — the audio model takes a mono window (its frontend in the graph), the text model takes the
 * tokenizer's ids and mask and finds the pooled token itself, tokenizer.json holds the tokenizer, and
 * clap-export.json (tasks/clap-export.ts) describes them all.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../errors.js';
import { atomicWrite } from '../engine/cache.js';
import { emitOnnx, type Graph, irVersionFor, MIN_OPSET, OPSET } from '../engine/index.js';
import type { Precision } from '../engine/quant.js';
import { frameCount, MODEL_SAMPLE_RATE, REFERENCE_FRONTEND, WINDOW_SAMPLES } from '../audio/index.js';
import {
  type ClapPooling,
  CLAP_TEXT_SUFFIX,
  ENDOFTEXT,
  ENDOFTEXT_ID,
  getGpt2Vocab,
  gpt2TokenizerJson,
  PAD_ID,
  PAD_TOKEN,
} from '../text/index.js';
import {
  AUDIO_ENCODER_GRAPHS,
  type AudioEncoderInput,
  buildAudioEncoderGraph,
  buildTextEncoderGraph,
  type ClapConfig,
  clapFamily,
  describeClap,
  TEXT_ENCODER_GRAPHS,
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
} from './clap-export.js';
import { towerGraph } from './towers.js';
import { DEFAULT_TEMPLATE } from './zero-shot.js';

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

/** Writes the model files and clap-export.json into `outDir`; returns the paths written. */
export async function exportClapOnnx(model: ExportSource, outDir: string, options: OnnxExportOptions = {}): Promise<string[]> {
  const opset = options.opset ?? OPSET;
  if (!Number.isInteger(opset) || opset < MIN_OPSET || opset > OPSET) {
    throw new ClapError(`must be an integer from ${MIN_OPSET} to ${OPSET}, got ${opset}`, { subject: 'opset' });
  }
  const { weights, config, precision } = model;
  if (clapFamily(config) !== 'msclap-2023') {
    throw new ClapError(
      `exporting ${describeClap(config)} is not supported yet: clap export onnx writes msclap 2023 models (HTSAT + GPT-2)`,
    );
  }
  const gpt2 = config.text?.type === 'gpt2' ? config.text.gpt2 : undefined;
  const metadata: Record<string, string> = Number.isNaN(model.logitScale) ? {} : { clap_ts_logit_scale: String(model.logitScale) };
  mkdirSync(outDir, { recursive: true });
  const written: string[] = [];
  const write = async (file: string, bytes: Uint8Array): Promise<void> => {
    const path = join(outDir, file);
    await atomicWrite(path, bytes);
    written.push(path);
  };
  const writeModel = async (file: string, name: string, build: (sd: StateDict) => Graph): Promise<OnnxModelSpec> => {
    const g = towerGraph(weights, name, build, precision);
    const bytes = emitOnnx(g, { metadata, opset });
    await write(file, bytes);
    return spec(g, file, bytes);
  };
  const audioModel = (input: AudioEncoderInput, file: string): Promise<OnnxModelSpec> =>
    writeModel(file, AUDIO_ENCODER_GRAPHS[input], (sd) => buildAudioEncoderGraph(sd, config, { input }));

  const audio: AudioSpec = {
    model: await audioModel('waveform', EXPORT_FILES.audio),
    ...(options.logmel ? { logmel_model: await audioModel('logmel', EXPORT_FILES.logmel) } : {}),
    sample_rate: MODEL_SAMPLE_RATE,
    window_samples: WINDOW_SAMPLES,
    shorter: 'tile',
    longer: 'crop',
    channels: 'mean',
    frontend: {
      type: 'torchlibrosa-logmel',
      mel_sample_rate: REFERENCE_FRONTEND.sampleRate,
      n_fft: REFERENCE_FRONTEND.nFft,
      win_length: REFERENCE_FRONTEND.winLength,
      hop_length: REFERENCE_FRONTEND.hopLength,
      window: 'hann (periodic)',
      center: REFERENCE_FRONTEND.center,
      pad_mode: 'reflect',
      n_mels: REFERENCE_FRONTEND.nMels,
      fmin: REFERENCE_FRONTEND.fmin,
      fmax: REFERENCE_FRONTEND.fmax,
      mel_scale: 'slaney',
      mel_norm: 'slaney',
      amin: REFERENCE_FRONTEND.amin,
      ref: REFERENCE_FRONTEND.ref,
      top_db: REFERENCE_FRONTEND.topDb,
      frames: frameCount(WINDOW_SAMPLES),
    },
  };
  let text: TextSpec | undefined;
  if (gpt2) {
    const pooling = model.textPooling;
    const textModel = await writeModel(EXPORT_FILES.text, TEXT_ENCODER_GRAPHS[pooling], (sd) =>
      buildTextEncoderGraph(sd, config, { pooling }),
    );
    await write(EXPORT_FILES.tokenizer, new TextEncoder().encode(JSON.stringify(gpt2TokenizerJson(getGpt2Vocab()))));
    text = {
      model: textModel,
      tokenizer: {
        file: EXPORT_FILES.tokenizer,
        type: 'gpt2-bpe',
        append: CLAP_TEXT_SUFFIX,
        special_tokens: { [ENDOFTEXT]: ENDOFTEXT_ID, [PAD_TOKEN]: PAD_ID },
        pad_id: PAD_ID,
        padding_side: 'right',
        max_tokens: gpt2.nPositions,
      },
      pooling: { mode: pooling, rule: POOLING_RULES[pooling] },
      template: `${DEFAULT_TEMPLATE}{}`,
    };
  }
  const description: ClapExport = {
    format: CLAP_EXPORT_FORMAT,
    version: CLAP_EXPORT_VERSION,
    producer: `clap-ts ${packageVersion()}`,
    family: 'msclap-2023',
    embedding_dim: config.dProj,
    onnx: { opset, ir_version: irVersionFor(opset), precision },
    audio,
    ...(text ? { text } : {}),
    logit_scale: Number.isNaN(model.logitScale) ? null : model.logitScale,
  };
  await write(CLAP_EXPORT_FILE, new TextEncoder().encode(`${JSON.stringify(description, null, 2)}\n`));
  return written;
}
