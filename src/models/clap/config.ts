/**
 * A CLAP model as data: which audio encoder, which text encoder and how its output is pooled, which
 * projection heads, where in the state dict each sits, and the audio frontend the model was trained with.
 * One type serves every family:
 *
 *   msclap 2023        HTSAT (tscam)  + GPT-2 (eos row)   msclap Projection, one logit scale
 *   msclap 2022        Cnn14          + BERT (CLS row)    msclap Projection, one logit scale
 *   Hugging Face CLAP  LAION's HTSAT (fusion optional) + RoBERTa (pooler)  ClapProjectionLayer, two logit scales
 *   the paper's grid   Cnn14 or HTSAT × BERT, RoBERTa or GPT-2 in msclap's layout (from-scratch training)
 *
 * Presets, the config.json layouts (ours: `audio_encoder`/`htsat`/`cnn14`, `text_encoder`, `projection`;
 * Hugging Face's `model_type: "clap"`), and the config of a checkpoint (layout and sizes read off the weights).
 */
import { ClapError } from '../../errors.js';
import {
  type ClapFeatureExtractorConfig,
  type FrontendConfig,
  LAION_FUSED_EXTRACTOR,
  LAION_UNFUSED_EXTRACTOR,
  MSCLAP_2022_FRONTEND,
  MSCLAP_2022_WINDOW,
  MSCLAP_2023_WINDOW,
  REFERENCE_FRONTEND,
  type WindowShape,
} from '../../audio/index.js';
import type { StateDict } from '../../weights/index.js';
import type { ClapFamily } from './family.js';
import {
  BERT_BASE,
  type BertConfig,
  bertConfigFromJson,
  bertConfigToJson,
  type BertPositions,
  inferBertConfig,
  ROBERTA_BASE,
} from '../bert/index.js';
import { CNN14_2022, type Cnn14Config, inferCnn14Config } from '../cnn14/index.js';
import { GPT2_BASE, type Gpt2Config, gpt2ConfigFromJson, gpt2ConfigToJson, inferGpt2Config } from '../gpt2/config.js';
import {
  HTSAT_2023,
  type HtsatConfig,
  htsatConfigFromJson,
  htsatConfigToJson,
  htsatInputFrames,
  htsatNumFeatures,
  inferHtsatConfig,
} from '../htsat/config.js';
import { type ClapAudioConfig, HF_CLAP_FRAMES, type HfClapConfig, hfClapConfigFromJson } from '../hf-clap/config.js';
import { requireTensor } from '../layers.js';

export type ClapAudioEncoderConfig =
  | { type: 'htsat'; htsat: HtsatConfig }
  | { type: 'cnn14'; cnn14: Cnn14Config }
  /** Hugging Face's ClapAudioEncoder (LAION's HTSAT, optionally fused). */
  | { type: 'clap-audio'; clapAudio: ClapAudioConfig };

export type ClapTextEncoderConfig =
  | { type: 'gpt2'; gpt2: Gpt2Config }
  /**
   * BertModel's layout: BERT (`positions: 'absolute'`) or RoBERTa (`'roberta'`); pooled by the first
   * token's row (`'cls'`, msclap) or BertPooler's tanh(dense(·)) of it (`'pooler'`, Hugging Face).
   */
  | { type: 'bert'; bert: BertConfig; positions: BertPositions; pooling: 'cls' | 'pooler' };

/** How audio becomes the encoder's input: msclap's fixed windows and torchlibrosa log-mel, or ClapFeatureExtractor. */
export type ClapFrontend =
  | { type: 'msclap'; logmel: FrontendConfig; window: WindowShape }
  | { type: 'hf'; extractor: ClapFeatureExtractorConfig };

export interface ClapConfig {
  /**
   * Key layout and projection heads: `'msclap'` (modules `<prefix>base.` and `<prefix>projection.`, msclap's
   * Projection, `logit_scale`) or `'hf'` (ClapModel: `audio_model.audio_encoder.`, `audio_projection.`,
   * `text_model.`, `text_projection.`, ClapProjectionLayer, `logit_scale_a` / `logit_scale_t`).
   */
  layout: 'msclap' | 'hf';
  audio: ClapAudioEncoderConfig;
  /** null: the weights hold no text encoder (clapcap's audio encoder). */
  text: ClapTextEncoderConfig | null;
  frontend: ClapFrontend;
  /** Width of the shared embedding space. */
  dProj: number;
  /** msclap layout: the audio module's prefix, `audio_encoder.` in CLAP checkpoints, `clap.` inside clapcap. */
  audioPrefix: string;
  /** msclap layout: the text module's prefix (`caption_encoder.`). */
  textPrefix: string;
  /** The captioner's settings (config.json `clapcap` section, snake_case), passed to the caption decoder. */
  clapcap?: Record<string, unknown>;
}

const MSCLAP_PREFIXES = { layout: 'msclap', audioPrefix: 'audio_encoder.', textPrefix: 'caption_encoder.' } as const;

/** The official CLAP 2023 release (`CLAP_weights_2023.pth`). */
export const CLAP_2023: Readonly<ClapConfig> = Object.freeze<ClapConfig>({
  ...MSCLAP_PREFIXES,
  audio: { type: 'htsat', htsat: HTSAT_2023 },
  text: { type: 'gpt2', gpt2: GPT2_BASE },
  frontend: { type: 'msclap', logmel: REFERENCE_FRONTEND, window: MSCLAP_2023_WINDOW },
  dProj: 1024,
});

/** The official CLAP 2022 release (`CLAP_weights_2022.pth`: Cnn14 + bert-base-uncased). */
export const CLAP_2022: Readonly<ClapConfig> = Object.freeze<ClapConfig>({
  ...MSCLAP_PREFIXES,
  audio: { type: 'cnn14', cnn14: CNN14_2022 },
  text: { type: 'bert', bert: BERT_BASE, positions: 'absolute', pooling: 'cls' },
  frontend: { type: 'msclap', logmel: MSCLAP_2022_FRONTEND, window: MSCLAP_2022_WINDOW },
  dProj: 1024,
});

/** LAION's checkpoints as Hugging Face publishes them (laion/clap-htsat-unfused / -fused), ClapConfig's defaults. */
export const LAION_CLAP_UNFUSED: Readonly<ClapConfig> = Object.freeze(hfClapConfig(hfClapConfigFromJson({}), LAION_UNFUSED_EXTRACTOR));
export const LAION_CLAP_FUSED: Readonly<ClapConfig> = Object.freeze(
  hfClapConfig(hfClapConfigFromJson({ audio_config: { enable_fusion: true } }), LAION_FUSED_EXTRACTOR),
);

/** Audio and text encoders of the paper's Table 1 grid (all in msclap's layout, each audio encoder with its msclap frontend). */
export const GRID_AUDIO = ['cnn14', 'htsat'] as const;
export const GRID_TEXT = ['bert', 'roberta', 'gpt2'] as const;

/**
 * The grid's sizes: '' the published encoders (CNN14, HTSAT, bert-base, roberta-base, GPT-2; d_proj 1024),
 * 'small-' (trains on a laptop CPU; HTSAT + GPT-2 is ~4.6M parameters, 3.2M of them GPT-2's 50257-row token
 * table) and 'tiny-' (tests). Small and tiny take the full-size input with bigger patches and fewer channels.
 * RoBERTa keeps room for its pad offset (positions = tokens + 2, a multiple of 256 plus 2 as roberta-base's 514).
 */
interface GridSize {
  htsat: HtsatConfig;
  cnn14: Cnn14Config;
  bert: BertConfig;
  roberta: BertConfig;
  gpt2: Gpt2Config;
  dProj: number;
}

const GRID_SIZES: Readonly<Record<'' | 'small-' | 'tiny-', Readonly<GridSize>>> = {
  '': { htsat: HTSAT_2023, cnn14: CNN14_2022, bert: BERT_BASE, roberta: ROBERTA_BASE, gpt2: GPT2_BASE, dProj: 1024 },
  'small-': {
    htsat: { ...HTSAT_2023, patchSize: 8, embedDim: 32, depths: [2, 2, 2], numHeads: [2, 4, 8], windowSize: 8 },
    cnn14: { ...CNN14_2022, channels: [16, 32, 64, 128, 256, 512], outEmb: 256 },
    bert: { ...BERT_BASE, hiddenSize: 64, numHiddenLayers: 2, numAttentionHeads: 4, intermediateSize: 256, maxPositionEmbeddings: 128 },
    roberta: {
      ...ROBERTA_BASE,
      hiddenSize: 64,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      intermediateSize: 256,
      maxPositionEmbeddings: 258,
    },
    gpt2: { vocabSize: 50257, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 },
    dProj: 128,
  },
  'tiny-': {
    htsat: { ...HTSAT_2023, patchSize: 16, embedDim: 16, depths: [1, 2], numHeads: [1, 2], windowSize: 4, numClasses: 8 },
    cnn14: { ...CNN14_2022, channels: [4, 8, 8, 16, 16, 32], outEmb: 32, classesNum: 8 },
    bert: { ...BERT_BASE, hiddenSize: 16, numHiddenLayers: 1, numAttentionHeads: 2, intermediateSize: 32, maxPositionEmbeddings: 128 },
    roberta: {
      ...ROBERTA_BASE,
      hiddenSize: 16,
      numHiddenLayers: 1,
      numAttentionHeads: 2,
      intermediateSize: 32,
      maxPositionEmbeddings: 258,
    },
    gpt2: { vocabSize: 50257, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 },
    dProj: 32,
  },
};

/** One cell of the grid at one size, in msclap's layout. */
function gridConfig(size: keyof typeof GRID_SIZES, audio: (typeof GRID_AUDIO)[number], text: (typeof GRID_TEXT)[number]): ClapConfig {
  const z = GRID_SIZES[size];
  return {
    ...MSCLAP_PREFIXES,
    audio: audio === 'htsat' ? { type: 'htsat', htsat: z.htsat } : { type: 'cnn14', cnn14: z.cnn14 },
    text:
      text === 'gpt2'
        ? { type: 'gpt2', gpt2: z.gpt2 }
        : { type: 'bert', bert: z[text], positions: text === 'roberta' ? 'roberta' : 'absolute', pooling: 'cls' },
    frontend: (audio === 'htsat' ? CLAP_2023 : CLAP_2022).frontend,
    dProj: z.dProj,
  };
}

/** The grid's presets by name: `[tiny-|small-]{cnn14,htsat}-{bert,roberta,gpt2}`. */
function gridPresets(): Record<string, Readonly<ClapConfig>> {
  const out: Record<string, Readonly<ClapConfig>> = {};
  for (const size of Object.keys(GRID_SIZES) as (keyof typeof GRID_SIZES)[]) {
    for (const a of GRID_AUDIO) for (const t of GRID_TEXT) out[`${size}${a}-${t}`] = Object.freeze(gridConfig(size, a, t));
  }
  return out;
}

/**
 * Models by name, accepted by every `--config`: the releases ('2023', '2022', 'laion-unfused', 'laion-fused'),
 * two training sizes of msclap 2023's architecture ('small', 'tiny': the grid's small- and tiny-htsat-gpt2), and
 * the paper's encoder grid (Table 1) for training from scratch: `[tiny-|small-]{cnn14,htsat}-{bert,roberta,gpt2}`.
 */
export const CLAP_PRESETS: Readonly<Record<string, Readonly<ClapConfig>>> = Object.freeze({
  '2023': CLAP_2023,
  '2022': CLAP_2022,
  'laion-unfused': LAION_CLAP_UNFUSED,
  'laion-fused': LAION_CLAP_FUSED,
  small: Object.freeze(gridConfig('small-', 'htsat', 'gpt2')),
  tiny: Object.freeze(gridConfig('tiny-', 'htsat', 'gpt2')),
  ...gridPresets(),
});

/** The presets in words, for help texts and errors. */
export const CLAP_PRESET_NAMES =
  "2023, 2022, laion-unfused, laion-fused, small, tiny, or the paper's encoder grid [tiny-|small-]{cnn14,htsat}-{bert,roberta,gpt2}";

/** A Hugging Face folder's config.json (+ its preprocessor_config.json) as a ClapConfig. */
export function hfClapConfig(hf: HfClapConfig, extractor: ClapFeatureExtractorConfig): ClapConfig {
  if ((extractor.truncation === 'fusion') !== hf.audio.enableFusion) {
    throw new ClapError(
      `the feature extractor's truncation '${extractor.truncation}' does not fit a ${hf.audio.enableFusion ? 'fused' : 'unfused'} model`,
      { subject: 'preprocessor_config.json' },
    );
  }
  return {
    layout: 'hf',
    audio: { type: 'clap-audio', clapAudio: hf.audio },
    text: { type: 'bert', bert: hf.text, positions: 'roberta', pooling: 'pooler' },
    frontend: { type: 'hf', extractor },
    dProj: hf.projectionDim,
    audioPrefix: 'audio_model.',
    textPrefix: 'text_model.',
  };
}

// ------------------------------------------------------------------------------------------ keys and sizes

/** The audio encoder module's key prefix. */
export function audioEncoderPrefix(c: ClapConfig): string {
  if (c.layout === 'hf') return 'audio_model.audio_encoder.';
  return c.audio.type === 'htsat' ? `${c.audioPrefix}base.htsat.` : `${c.audioPrefix}base.`;
}

export function audioProjectionPrefix(c: ClapConfig): string {
  return c.layout === 'hf' ? 'audio_projection.' : `${c.audioPrefix}projection.`;
}

export function textEncoderPrefix(c: ClapConfig): string {
  return c.layout === 'hf' ? 'text_model.' : `${c.textPrefix}base.`;
}

export function textProjectionPrefix(c: ClapConfig): string {
  return c.layout === 'hf' ? 'text_projection.' : `${c.textPrefix}projection.`;
}

/** Width of the audio encoder's output (the audio projection's input). */
export function audioFeatures(a: ClapAudioEncoderConfig): number {
  if (a.type === 'htsat') return htsatNumFeatures(a.htsat);
  if (a.type === 'cnn14') return a.cnn14.outEmb;
  return htsatNumFeatures(a.clapAudio.htsat);
}

/** Width of the text encoder's output. */
export function textFeatures(t: ClapTextEncoderConfig): number {
  return t.type === 'gpt2' ? t.gpt2.nEmbd : t.bert.hiddenSize;
}

/** Longest text (tokens, specials included) the text encoder takes. */
export function textMaxTokens(t: ClapTextEncoderConfig): number {
  if (t.type === 'gpt2') return t.gpt2.nPositions;
  // RoBERTa's positions start after the pad id: 514 rows hold 512 tokens.
  return t.positions === 'roberta' ? t.bert.maxPositionEmbeddings - t.bert.padTokenId - 1 : t.bert.maxPositionEmbeddings;
}

/** The shape of one clip's encoder input: [frames, mel] (msclap) or [channels, frames, mel] (Hugging Face). */
export function audioInputShape(c: ClapConfig): number[] {
  const a = c.audio;
  if (a.type === 'clap-audio') return [a.clapAudio.enableFusion ? 4 : 1, HF_CLAP_FRAMES, a.clapAudio.htsat.melBins];
  if (c.frontend.type !== 'msclap') throw new ClapError(`a ${a.type} audio encoder needs msclap's frontend`);
  const { logmel, window } = c.frontend;
  const frames = Math.floor(window.samples / logmel.hopLength) + 1;
  if (a.type === 'htsat') return [Math.min(frames, htsatInputFrames(a.htsat)), a.htsat.melBins];
  return [frames, a.cnn14.melBins];
}

/** Mel bins of the audio encoder's input. */
export function audioMelBins(a: ClapAudioEncoderConfig): number {
  return a.type === 'htsat' ? a.htsat.melBins : a.type === 'cnn14' ? a.cnn14.melBins : a.clapAudio.htsat.melBins;
}

// ------------------------------------------------------------------------------------------ family names

/** What a config is, in words ("msclap 2022 (Cnn14 + BERT)"), for messages and indexes. */
export function describeClap(c: ClapConfig): string {
  const audio = { htsat: 'HTSAT', cnn14: 'Cnn14', 'clap-audio': 'HTSAT' }[c.audio.type];
  const text = c.text === null ? 'no text encoder' : c.text.type === 'gpt2' ? 'GPT-2' : c.text.positions === 'roberta' ? 'RoBERTa' : 'BERT';
  const pair = `${audio} + ${text}`;
  const family = clapFamily(c);
  if (family === 'hf-clap')
    return `Hugging Face CLAP (${pair}, ${c.audio.type === 'clap-audio' && c.audio.clapAudio.enableFusion ? 'fused' : 'unfused'})`;
  if (family === 'msclap-2023') return `msclap 2023 (${pair})`;
  if (family === 'msclap-2022') return `msclap 2022 (${pair})`;
  return `msclap layout (${pair})`;
}

/** A config's family: the two msclap releases' pairs, Hugging Face's layout, or any other msclap-layout pair ('msclap'). */
export function clapFamily(c: ClapConfig): ClapFamily {
  if (c.layout === 'hf') return 'hf-clap';
  if (c.audio.type === 'htsat' && (c.text === null || c.text.type === 'gpt2')) return 'msclap-2023';
  if (c.audio.type === 'cnn14' && c.text?.type === 'bert' && c.text.positions === 'absolute') return 'msclap-2022';
  return 'msclap';
}

// ------------------------------------------------------------------------------------------ config.json

type Json = Record<string, unknown>;

const sectionOf = (json: Json, k: string): Json | undefined => {
  const v = json[k];
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ClapError('must be an object', { subject: `config ${k}` });
  return v as Json;
};

/** Text encoder types config.json may name (transformers class names). */
const TEXT_TYPES: Record<string, 'gpt2' | 'bert' | 'roberta'> = { GPT2Model: 'gpt2', BertModel: 'bert', RobertaModel: 'roberta' };

/**
 * Reads a config.json: ours (`htsat` or `cnn14`, `text_encoder` with a transformers `type`, `projection`,
 * optional `clapcap`; missing sections from `base`) or a Hugging Face ClapModel folder's (`model_type: "clap"`;
 * its feature extractor settings from `preprocessor`, the folder's preprocessor_config.json, when given).
 */
export function clapConfigFromJson(
  json: Json,
  base: Readonly<ClapConfig> = CLAP_2023,
  preprocessor?: ClapFeatureExtractorConfig,
): ClapConfig {
  if (json.model_type === 'clap') {
    const hf = hfClapConfigFromJson(json);
    return hfClapConfig(hf, preprocessor ?? (hf.audio.enableFusion ? LAION_FUSED_EXTRACTOR : LAION_UNFUSED_EXTRACTOR));
  }
  const htsat = sectionOf(json, 'htsat');
  const cnn14 = sectionOf(json, 'cnn14');
  const text = sectionOf(json, 'text_encoder');
  const proj = sectionOf(json, 'projection');
  if (htsat && cnn14) throw new ClapError('give one audio encoder section, htsat or cnn14', { subject: 'config' });
  const dProj = proj?.d_proj;
  if (dProj !== undefined && (typeof dProj !== 'number' || !Number.isInteger(dProj)))
    throw new ClapError('must be an integer', { subject: 'config projection.d_proj' });
  const clapcap = sectionOf(json, 'clapcap');
  let audio: ClapAudioEncoderConfig = base.audio;
  let frontend = base.frontend;
  if (htsat) {
    audio = { type: 'htsat', htsat: htsatConfigFromJson(htsat, base.audio.type === 'htsat' ? base.audio.htsat : HTSAT_2023) };
    if (base.audio.type !== 'htsat') frontend = CLAP_2023.frontend;
  } else if (cnn14) {
    audio = { type: 'cnn14', cnn14: cnn14ConfigFromJson(cnn14) };
    if (base.audio.type !== 'cnn14') frontend = CLAP_2022.frontend;
  }
  return {
    ...base,
    ...(clapcap ? { clapcap } : {}),
    audio,
    frontend,
    text: text ? textConfigFromJson(text, base.text) : base.text,
    dProj: (dProj as number | undefined) ?? base.dProj,
  };
}

function cnn14ConfigFromJson(j: Json): Cnn14Config {
  const channels = j.channels ?? CNN14_2022.channels;
  if (!Array.isArray(channels) || channels.length !== 6 || !channels.every((c) => Number.isInteger(c) && c > 0)) {
    throw new ClapError('must be 6 positive integers', { subject: 'cnn14.channels' });
  }
  const num = (k: string, d: number): number => {
    const v = j[k] ?? d;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1)
      throw new ClapError('must be a positive integer', { subject: `cnn14.${k}` });
    return v;
  };
  return {
    ...CNN14_2022,
    channels: channels as number[],
    outEmb: num('out_emb', CNN14_2022.outEmb),
    classesNum: num('classes_num', CNN14_2022.classesNum),
    melBins: num('mel_bins', 64),
  };
}

function textConfigFromJson(j: Json, base: ClapTextEncoderConfig | null): ClapTextEncoderConfig {
  const type =
    j.type === undefined
      ? base?.type === 'bert'
        ? base.positions === 'roberta'
          ? 'roberta'
          : 'bert'
        : 'gpt2'
      : TEXT_TYPES[String(j.type)];
  if (!type)
    throw new ClapError(`unknown type ${JSON.stringify(j.type)} (expected ${Object.keys(TEXT_TYPES).join(', ')})`, {
      subject: 'config text_encoder',
    });
  if (type === 'gpt2') {
    const b = base?.type === 'gpt2' ? base.gpt2 : GPT2_BASE;
    return { type, gpt2: gpt2ConfigFromJson({ ...gpt2ConfigToJson(b), ...j }) };
  }
  const defaults = type === 'roberta' ? ROBERTA_BASE : BERT_BASE;
  const b = base?.type === 'bert' && (base.positions === 'roberta') === (type === 'roberta') ? base.bert : defaults;
  return {
    type: 'bert',
    bert: bertConfigFromJson(j, b, 'config text_encoder'),
    positions: type === 'roberta' ? 'roberta' : 'absolute',
    pooling: 'cls',
  };
}

/** The JSON layout `clapConfigFromJson` reads (msclap layout; a Hugging Face model keeps its own folder's files). */
export function clapConfigToJson(c: ClapConfig): Json {
  if (c.layout !== 'msclap') throw new ClapError('a Hugging Face CLAP config is its folder’s config.json; it has no msclap-layout form');
  const audio =
    c.audio.type === 'htsat'
      ? { htsat: htsatConfigToJson(c.audio.htsat) }
      : c.audio.type === 'cnn14'
        ? { cnn14: cnn14ConfigToJson(c.audio.cnn14) }
        : {};
  const t = c.text;
  const text =
    t === null
      ? {}
      : {
          text_encoder:
            t.type === 'gpt2'
              ? { type: 'GPT2Model', ...gpt2ConfigToJson(t.gpt2) }
              : { type: t.positions === 'roberta' ? 'RobertaModel' : 'BertModel', ...bertConfigToJson(t.bert) },
        };
  return {
    ...audio,
    ...text,
    projection: { d_proj: c.dProj, audio_in: audioFeatures(c.audio), ...(t ? { text_in: textFeatures(t) } : {}) },
  };
}

function cnn14ConfigToJson(c: Cnn14Config): Json {
  return { channels: c.channels, out_emb: c.outEmb, classes_num: c.classesNum, mel_bins: c.melBins };
}

// ------------------------------------------------------------------------------------------ from the weights

/**
 * The config of a checkpoint: its layout and encoders detected from the keys, sizes read off the weights
 * (an explicit config, when given, must agree with them). Head counts are not stored: they come from the
 * explicit config, or from the 64-wide-heads convention of GPT-2 and BERT (HTSAT's are in its bias tables).
 */
export function resolveClapConfig(sd: StateDict, explicit?: ClapConfig): ClapConfig {
  if (sd.has('audio_model.audio_encoder.patch_embed.proj.weight')) return resolveHfConfig(sd, explicit);
  const audioPrefix = ['audio_encoder.', 'clap.'].find(
    (p) => sd.has(`${p}base.htsat.patch_embed.proj.weight`) || sd.has(`${p}base.conv_block1.conv1.weight`),
  );
  if (!audioPrefix) {
    throw new ClapError(
      'no CLAP audio encoder found (expected msclap keys audio_encoder.base.htsat.* or audio_encoder.base.conv_block1.*, ' +
        'clapcap keys clap.base.htsat.*, or Hugging Face keys audio_model.audio_encoder.*)',
    );
  }
  const isHtsat = sd.has(`${audioPrefix}base.htsat.patch_embed.proj.weight`);
  const base = explicit ?? (isHtsat ? CLAP_2023 : CLAP_2022);
  const audio: ClapAudioEncoderConfig = isHtsat
    ? {
        type: 'htsat',
        htsat: inferHtsatConfig(sd, `${audioPrefix}base.htsat.`, base.audio.type === 'htsat' ? base.audio.htsat : HTSAT_2023),
      }
    : { type: 'cnn14', cnn14: inferCnn14Config(sd, `${audioPrefix}base.`, base.audio.type === 'cnn14' ? base.audio.cnn14 : CNN14_2022) };
  const textPrefix = 'caption_encoder.';
  let text: ClapTextEncoderConfig | null = null;
  if (sd.has(`${textPrefix}base.wte.weight`)) {
    const nEmbd = requireTensor(sd, `${textPrefix}base.wte.weight`).shape[1];
    const nHead = explicit?.text?.type === 'gpt2' ? explicit.text.gpt2.nHead : headsByConvention(nEmbd, 'GPT-2');
    const eps = explicit?.text?.type === 'gpt2' ? explicit.text.gpt2.layerNormEpsilon : GPT2_BASE.layerNormEpsilon;
    text = { type: 'gpt2', gpt2: inferGpt2Config(sd, `${textPrefix}base.`, nHead, eps) };
  } else if (sd.has(`${textPrefix}base.embeddings.word_embeddings.weight`)) {
    text = bertFromWeights(sd, `${textPrefix}base.`, explicit?.text ?? null, 'cls');
  }
  const frontend = base.audio.type === audio.type ? base.frontend : isHtsat ? CLAP_2023.frontend : CLAP_2022.frontend;
  const dProj = requireTensor(sd, `${audioPrefix}projection.linear1.weight`).shape[0];
  const resolved: ClapConfig = {
    layout: 'msclap',
    audio,
    text,
    frontend,
    dProj,
    audioPrefix,
    textPrefix,
    ...(explicit?.clapcap ? { clapcap: explicit.clapcap } : {}),
  };
  if (explicit) checkAgrees(explicit, resolved);
  return resolved;
}

/** BertModel sizes from the weights; RoBERTa when the position table has room for the pad offset and one token type. */
function bertFromWeights(
  sd: StateDict,
  prefix: string,
  explicit: ClapTextEncoderConfig | null,
  pooling: 'cls' | 'pooler',
): ClapTextEncoderConfig {
  const hidden = requireTensor(sd, `${prefix}embeddings.word_embeddings.weight`).shape[1];
  const types = requireTensor(sd, `${prefix}embeddings.token_type_embeddings.weight`).shape[0];
  const positions = requireTensor(sd, `${prefix}embeddings.position_embeddings.weight`).shape[0];
  const roberta =
    explicit?.type === 'bert' ? explicit.positions === 'roberta' : types === 1 && positions % 2 === 0 && positions % 256 === 2;
  const base = explicit?.type === 'bert' ? explicit.bert : roberta ? ROBERTA_BASE : BERT_BASE;
  const heads = explicit?.type === 'bert' ? base.numAttentionHeads : headsByConvention(hidden, roberta ? 'RoBERTa' : 'BERT');
  return {
    type: 'bert',
    bert: inferBertConfig(sd, prefix, { ...base, numAttentionHeads: heads }),
    positions: roberta ? 'roberta' : 'absolute',
    pooling,
  };
}

function headsByConvention(width: number, what: string): number {
  if (width % 64 !== 0) throw new ClapError(`the ${what} text encoder is ${width} wide: its head count cannot be inferred; pass --config`);
  return width / 64;
}

/** Hugging Face ClapModel weights: sizes from the shapes (heads from the bias tables), the rest from `explicit`. */
function resolveHfConfig(sd: StateDict, explicit?: ClapConfig): ClapConfig {
  const base = explicit?.layout === 'hf' ? explicit : LAION_CLAP_UNFUSED;
  if (base.audio.type !== 'clap-audio' || base.frontend.type !== 'hf')
    throw new ClapError('internal: a Hugging Face config without its audio encoder');
  const prefix = 'audio_model.audio_encoder.';
  const htsat = inferHfHtsat(sd, prefix, base.audio.clapAudio.htsat);
  const enableFusion = sd.has(`${prefix}patch_embed.mel_conv2d.weight`);
  const explicitText = explicit?.layout === 'hf' ? explicit.text : null;
  const text = sd.has('text_model.embeddings.word_embeddings.weight') ? bertFromWeights(sd, 'text_model.', explicitText, 'pooler') : null;
  if (text?.type === 'bert') text.positions = 'roberta';
  const extractor = base.frontend.extractor;
  const resolved: ClapConfig = {
    ...base,
    audio: { type: 'clap-audio', clapAudio: { ...base.audio.clapAudio, htsat, enableFusion } },
    text,
    frontend: {
      type: 'hf',
      extractor:
        enableFusion === (extractor.truncation === 'fusion') ? extractor : enableFusion ? LAION_FUSED_EXTRACTOR : LAION_UNFUSED_EXTRACTOR,
    },
    dProj: requireTensor(sd, 'audio_projection.linear2.weight').shape[0],
  };
  if (explicit) checkAgrees(explicit, resolved);
  return resolved;
}

function inferHfHtsat(sd: StateDict, prefix: string, base: HtsatConfig): HtsatConfig {
  const pe = requireTensor(sd, `${prefix}patch_embed.proj.weight`);
  if (pe.shape.length !== 4 || pe.shape[1] !== 1 || pe.shape[2] !== pe.shape[3]) {
    throw new ClapError(`has shape [${pe.shape.join(', ')}], expected [C, 1, patch, patch]`, {
      subject: `${prefix}patch_embed.proj.weight`,
    });
  }
  const depths: number[] = [];
  const numHeads: number[] = [];
  for (let s = 0; sd.has(`${prefix}layers.${s}.blocks.0.layernorm_before.weight`); s++) {
    let d = 0;
    while (sd.has(`${prefix}layers.${s}.blocks.${d}.layernorm_before.weight`)) d++;
    depths.push(d);
    numHeads.push(requireTensor(sd, `${prefix}layers.${s}.blocks.0.attention.self.relative_position_bias_table`).shape[1]);
  }
  if (depths.length === 0)
    throw new ClapError('missing from the checkpoint (no Swin stages)', { subject: `${prefix}layers.0.blocks.0.layernorm_before.weight` });
  return {
    ...base,
    embedDim: pe.shape[0],
    patchSize: pe.shape[2],
    depths,
    numHeads,
    melBins: requireTensor(sd, `${prefix}batch_norm.running_mean`).shape[0],
  };
}

function checkAgrees(cfg: ClapConfig, w: ClapConfig): void {
  const pairs: [string, unknown, unknown][] = [
    ['layout', cfg.layout, w.layout],
    ['audio encoder', cfg.audio.type, w.audio.type],
    ['projection.d_proj', cfg.dProj, w.dProj],
  ];
  const a = cfg.audio;
  const b = w.audio;
  if (a.type === 'htsat' && b.type === 'htsat') {
    pairs.push(
      ['htsat.embed_dim', a.htsat.embedDim, b.htsat.embedDim],
      ['htsat.depths', a.htsat.depths.join(','), b.htsat.depths.join(',')],
      ['htsat.num_heads', a.htsat.numHeads.join(','), b.htsat.numHeads.join(',')],
    );
  } else if (a.type === 'cnn14' && b.type === 'cnn14') {
    pairs.push(
      ['cnn14.channels', a.cnn14.channels.join(','), b.cnn14.channels.join(',')],
      ['cnn14.out_emb', a.cnn14.outEmb, b.cnn14.outEmb],
    );
  } else if (a.type === 'clap-audio' && b.type === 'clap-audio') {
    pairs.push(
      ['audio_config.patch_embeds_hidden_size', a.clapAudio.htsat.embedDim, b.clapAudio.htsat.embedDim],
      ['audio_config.depths', a.clapAudio.htsat.depths.join(','), b.clapAudio.htsat.depths.join(',')],
      ['audio_config.num_attention_heads', a.clapAudio.htsat.numHeads.join(','), b.clapAudio.htsat.numHeads.join(',')],
      ['audio_config.enable_fusion', a.clapAudio.enableFusion, b.clapAudio.enableFusion],
    );
  }
  const t = cfg.text;
  const u = w.text;
  if (t && u) {
    pairs.push(['text_encoder.type', t.type, u.type]);
    if (t.type === 'gpt2' && u.type === 'gpt2')
      pairs.push(['text_encoder.n_embd', t.gpt2.nEmbd, u.gpt2.nEmbd], ['text_encoder.n_layer', t.gpt2.nLayer, u.gpt2.nLayer]);
    if (t.type === 'bert' && u.type === 'bert') {
      pairs.push(
        ['text_encoder.hidden_size', t.bert.hiddenSize, u.bert.hiddenSize],
        ['text_encoder.num_hidden_layers', t.bert.numHiddenLayers, u.bert.numHiddenLayers],
      );
    }
  }
  for (const [name, want, got] of pairs) {
    if (want !== got) throw new ClapError(`config says ${String(want)} but the weights have ${String(got)}`, { subject: name });
  }
}
