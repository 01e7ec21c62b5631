/**
 * Hugging Face `ClapConfig` (transformers 4.44 configuration_clap.py: `ClapAudioConfig` +
 * `ClapTextConfig` + projection settings) as the LAION checkpoints' config.json spells it. transformers'
 * `save_pretrained` writes only values that differ from the class defaults, so every missing key takes the
 * class default (the hub's older files list every key).
 */
import { ClapError } from '../../errors.js';
import { type BertConfig, bertConfigFromJson, ROBERTA_BASE } from '../bert/index.js';
import { HTSAT_2023, type HtsatConfig, htsatNumFeatures } from '../htsat/index.js';

/** `ClapAudioConfig`: LAION's HTSAT (msclap's geometry and names of hyper-parameters) plus the fusion switch. */
export interface ClapAudioConfig {
  htsat: HtsatConfig;
  /** Feature fusion of the fused checkpoints (`laion/clap-htsat-fused`): four-channel input, AFF block. */
  enableFusion: boolean;
  /** The AFF block's channel reduction (`aff_block_r`). */
  affBlockR: number;
}

export interface HfClapConfig {
  audio: ClapAudioConfig;
  text: BertConfig;
  /** Width of the joint space (both ClapProjectionLayers). */
  projectionDim: number;
}

/** laion/clap-htsat-unfused (ClapConfig's defaults). */
export const LAION_CLAP_UNFUSED: Readonly<HfClapConfig> = Object.freeze({
  audio: { htsat: HTSAT_2023, enableFusion: false, affBlockR: 4 },
  text: ROBERTA_BASE,
  projectionDim: 512,
});

/** laion/clap-htsat-fused. */
export const LAION_CLAP_FUSED: Readonly<HfClapConfig> = Object.freeze({
  ...LAION_CLAP_UNFUSED,
  audio: { ...LAION_CLAP_UNFUSED.audio, enableFusion: true },
});

type Json = Record<string, unknown>;

const section = (j: Json, key: string, subject: string): Json => {
  const v = j[key] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ClapError(`${key} must be an object`, { subject });
  return v as Json;
};

/** A model folder's config.json (`model_type: "clap"`). */
export function hfClapConfigFromJson(j: Json, subject = 'config.json'): HfClapConfig {
  if (j.model_type !== undefined && j.model_type !== 'clap') {
    throw new ClapError(`model_type is ${JSON.stringify(j.model_type)}, expected "clap" (a Hugging Face ClapModel folder)`, { subject });
  }
  const projectionDim = j.projection_dim ?? LAION_CLAP_UNFUSED.projectionDim;
  if (typeof projectionDim !== 'number' || !Number.isInteger(projectionDim) || projectionDim < 1) {
    throw new ClapError(`projection_dim must be a positive integer, got ${JSON.stringify(projectionDim)}`, { subject });
  }
  const act = j.projection_hidden_act ?? 'relu';
  if (act !== 'relu') throw new ClapError(`projection_hidden_act ${JSON.stringify(act)} is not supported (CLAP uses "relu")`, { subject });
  const textJson = section(j, 'text_config', subject);
  return {
    audio: clapAudioConfigFromJson(section(j, 'audio_config', subject), `${subject} audio_config`),
    text: bertConfigFromJson(textJson, ROBERTA_BASE, `${subject} text_config`),
    projectionDim,
  };
}

function clapAudioConfigFromJson(a: Json, subject: string): ClapAudioConfig {
  const num = (key: string, d: number): number => {
    const v = a[key] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0)
      throw new ClapError(`${key} must be a positive number, got ${JSON.stringify(v)}`, { subject });
    return v;
  };
  const ints = (key: string, d: readonly number[]): number[] => {
    const v = a[key] ?? d;
    if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x > 0)) {
      throw new ClapError(`${key} must be a list of positive integers, got ${JSON.stringify(v)}`, { subject });
    }
    return [...(v as number[])];
  };
  const unsupported = (key: string, ok: (v: unknown) => boolean, what: string): void => {
    if (a[key] !== undefined && !ok(a[key]))
      throw new ClapError(`${key} ${JSON.stringify(a[key])} is not supported (${what})`, { subject });
  };
  const patch = num('patch_size', HTSAT_2023.patchSize);
  unsupported('patch_stride', (v) => v === patch || (Array.isArray(v) && v.every((s) => s === patch)), 'the stride must equal patch_size');
  unsupported('hidden_act', (v) => v === 'gelu', 'HTSAT uses exact "gelu"');
  unsupported('fusion_type', (v) => v !== 'channel_map', 'only the AFF fusion of the LAION checkpoints');
  unsupported('patch_embed_input_channels', (v) => v === 1, 'one input channel');
  unsupported('flatten_patch_embeds', (v) => v === true, 'flattened patches');
  unsupported('enable_patch_layer_norm', (v) => v === true, 'the patch LayerNorm is always on');
  unsupported('qkv_bias', (v) => v === true, 'q, k, v have biases');
  const specSize = num('spec_size', HTSAT_2023.specSize);
  const melBins = num('num_mel_bins', HTSAT_2023.melBins);
  const htsat: HtsatConfig = {
    ...HTSAT_2023,
    specSize,
    patchSize: patch,
    melBins,
    freqRatio: Math.floor(specSize / melBins),
    embedDim: num('patch_embeds_hidden_size', HTSAT_2023.embedDim),
    depths: ints('depths', HTSAT_2023.depths),
    numHeads: ints('num_attention_heads', HTSAT_2023.numHeads),
    windowSize: num('window_size', HTSAT_2023.windowSize),
    mlpRatio: num('mlp_ratio', HTSAT_2023.mlpRatio),
    numClasses: num('num_classes', HTSAT_2023.numClasses),
    eps: num('layer_norm_eps', HTSAT_2023.eps),
  };
  if (htsat.numHeads.length !== htsat.depths.length) {
    throw new ClapError(`num_attention_heads has ${htsat.numHeads.length} entries for ${htsat.depths.length} stages`, { subject });
  }
  const hidden = a.hidden_size ?? htsatNumFeatures(htsat);
  if (hidden !== htsatNumFeatures(htsat)) {
    throw new ClapError(`hidden_size ${JSON.stringify(hidden)} != patch_embeds_hidden_size·2^(stages−1) = ${htsatNumFeatures(htsat)}`, {
      subject,
    });
  }
  return { htsat, enableFusion: a.enable_fusion === true, affBlockR: num('aff_block_r', 4) };
}

/** Frames ClapFeatureExtractor gives per channel: 10 s at 48 kHz, hop 480, centred. */
export const HF_CLAP_FRAMES = 1001;
