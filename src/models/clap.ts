/**
 * msclap's `CLAP` module (models/clap.py): the HTSAT audio encoder and the GPT-2 text encoder, each
 * followed by a Projection into the shared space, plus `logit_scale`. One config type with presets, and
 * one graph builder per tower (a graph per tower keeps text-only work from compiling the audio model).
 */
import { ClapError } from '../errors.js';
import { Graph } from '../engine/index.js';
import { buildHtsat, HTSAT_2023, htsatConfigFromJson, htsatNumFeatures, inferHtsatConfig, type HtsatConfig } from './htsat.js';
import { GPT2_BASE, gpt2ConfigFromJson, inferGpt2Config, type Gpt2Config } from './gpt2.js';
import { projection, projectionParams } from './projection.js';
import { requireTensor, type StateDict, stateDictHas } from './layers.js';

export interface ClapConfig {
  htsat: HtsatConfig;
  text: Gpt2Config;
  /** Width of the shared embedding space (1024 in the 2023 release). */
  dProj: number;
  /** Prefix of the audio encoder module: `audio_encoder.` in CLAP checkpoints, `clap.` inside clapcap. */
  audioPrefix: string;
  /** Prefix of the text encoder module (`caption_encoder.`), or null when the file has none (clapcap). */
  textPrefix: string | null;
  /** The captioner's settings (config.json `clapcap` section, snake_case), passed to the caption decoder. */
  clapcap?: Record<string, unknown>;
}

/** The official CLAP 2023 release (`CLAP_weights_2023.pth`). */
export const CLAP_2023: Readonly<ClapConfig> = Object.freeze({
  htsat: HTSAT_2023,
  text: GPT2_BASE,
  dProj: 1024,
  audioPrefix: 'audio_encoder.',
  textPrefix: 'caption_encoder.',
});

export const CLAP_PRESETS: Record<string, Readonly<ClapConfig>> = { '2023': CLAP_2023 };

type Json = Record<string, unknown>;

/** Reads a config.json in the layout the fixtures and `clap train` write (`htsat`, `text_encoder`, `projection`). */
export function clapConfigFromJson(json: Json, base: ClapConfig = CLAP_2023): ClapConfig {
  const section = (k: string): Json | undefined => {
    const v = json[k];
    if (v === undefined) return undefined;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new ClapError('must be an object', { subject: `config ${k}` });
    return v as Json;
  };
  const htsat = section('htsat');
  const text = section('text_encoder');
  const proj = section('projection');
  const dProj = proj?.d_proj;
  if (dProj !== undefined && (typeof dProj !== 'number' || !Number.isInteger(dProj)))
    throw new ClapError('must be an integer', { subject: 'config projection.d_proj' });
  const clapcap = section('clapcap');
  return {
    ...base,
    ...(clapcap ? { clapcap } : {}),
    htsat: htsat ? htsatConfigFromJson(htsat, base.htsat) : base.htsat,
    text: text ? gpt2ConfigFromJson({ ...gpt2ToJson(base.text), ...text }) : base.text,
    dProj: (dProj as number | undefined) ?? base.dProj,
  };
}

function gpt2ToJson(c: Gpt2Config): Json {
  return {
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    layer_norm_epsilon: c.layerNormEpsilon,
  };
}

/** The JSON layout `clapConfigFromJson` reads. */
export function clapConfigToJson(c: ClapConfig): Json {
  const h = c.htsat;
  return {
    htsat: {
      spec_size: h.specSize,
      patch_size: h.patchSize,
      mel_bins: h.melBins,
      freq_ratio: h.freqRatio,
      embed_dim: h.embedDim,
      depths: h.depths,
      num_heads: h.numHeads,
      window_size: h.windowSize,
      mlp_ratio: h.mlpRatio,
      num_classes: h.numClasses,
      num_features: htsatNumFeatures(h),
      layer_norm_eps: h.eps,
      bn_eps: h.bnEps,
      swin_shift_mask_value: h.maskValue,
    },
    text_encoder: { type: 'GPT2Model', ...gpt2ToJson(c.text) },
    projection: { d_proj: c.dProj, audio_in: htsatNumFeatures(h), text_in: c.text.nEmbd },
  };
}

/**
 * The config for a checkpoint: module prefixes detected, sizes read off the weights (an explicit
 * config, when given, must agree with them). GPT-2's head count is not stored in the weights: it comes
 * from the config, or from GPT-2's convention of 64-wide heads.
 */
export function resolveClapConfig(sd: StateDict, explicit?: ClapConfig): ClapConfig {
  const base = explicit ?? CLAP_2023;
  const audioPrefix = ['audio_encoder.', 'clap.'].find((p) => stateDictHas(sd, `${p}base.htsat.patch_embed.proj.weight`));
  if (!audioPrefix) throw new ClapError('no CLAP audio encoder found (expected audio_encoder.base.htsat.* or clap.base.htsat.* keys)');
  const htsat = inferHtsatConfig(sd, `${audioPrefix}base.htsat.`, base.htsat);
  const textPrefix = stateDictHas(sd, 'caption_encoder.base.wte.weight') ? 'caption_encoder.' : null;
  let text = base.text;
  if (textPrefix) {
    const nEmbd = requireTensor(sd, `${textPrefix}base.wte.weight`).shape[1];
    const nHead = explicit ? explicit.text.nHead : nEmbd % 64 === 0 ? nEmbd / 64 : undefined;
    if (nHead === undefined) throw new ClapError(`the text encoder is ${nEmbd} wide: its head count cannot be inferred; pass --config`);
    text = inferGpt2Config(sd, `${textPrefix}base.`, nHead, base.text.layerNormEpsilon);
  }
  const dProj = requireTensor(sd, `${audioPrefix}projection.linear1.weight`).shape[0];
  const resolved: ClapConfig = { htsat, text, dProj, audioPrefix, textPrefix, ...(explicit?.clapcap ? { clapcap: explicit.clapcap } : {}) };
  if (explicit) checkAgrees(explicit, resolved);
  return resolved;
}

function checkAgrees(cfg: ClapConfig, fromWeights: ClapConfig): void {
  const pairs: [string, unknown, unknown][] = [
    ['htsat.embed_dim', cfg.htsat.embedDim, fromWeights.htsat.embedDim],
    ['htsat.depths', cfg.htsat.depths.join(','), fromWeights.htsat.depths.join(',')],
    ['htsat.num_heads', cfg.htsat.numHeads.join(','), fromWeights.htsat.numHeads.join(',')],
    ['projection.d_proj', cfg.dProj, fromWeights.dProj],
  ];
  if (fromWeights.textPrefix) {
    pairs.push(
      ['text_encoder.n_embd', cfg.text.nEmbd, fromWeights.text.nEmbd],
      ['text_encoder.n_layer', cfg.text.nLayer, fromWeights.text.nLayer],
    );
  }
  for (const [name, want, got] of pairs) {
    if (want !== got) throw new ClapError(`config says ${String(want)} but the weights have ${String(got)}`, { subject: name });
  }
}

export interface AudioEncoderGraphOptions {
  /** Also output `latent` and `clipwise` (and every HTSAT stage, for parity tests). */
  debugOutputs?: boolean;
}

/**
 * The audio tower as one graph: `logmel` [B, 965, 64] (the frontend's dB log-mel) → `audio_embed`
 * [B, d_proj], the projection output that msclap's get_audio_embeddings returns (not normalised).
 */
export function buildAudioEncoderGraph(sd: StateDict, cfg: ClapConfig, options: AudioEncoderGraphOptions = {}): Graph {
  const g = new Graph('clap_audio_encoder');
  const frames = cfg.htsat.specSize * cfg.htsat.freqRatio;
  const logmel = g.input('logmel', 'float32', ['B', Math.min(965, frames), cfg.htsat.melBins]);
  const h = buildHtsat(g, logmel, sd, cfg.htsat, `${cfg.audioPrefix}base.htsat.`);
  const proj = projectionParams(g, sd, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(cfg.htsat) });
  g.output('audio_embed', projection(proj, h.latent));
  if (options.debugOutputs) {
    g.output('latent', h.latent);
    g.output('clipwise', h.clipwise);
    for (const [name, v] of Object.entries(h.stages)) g.output(name, v);
  }
  return g;
}
