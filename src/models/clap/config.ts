/**
 * The CLAP model's config (msclap `CLAP`: an audio encoder, a text encoder, their projections into one
 * space): presets, the config.json layout (`htsat`, `text_encoder`, `projection`, optional `clapcap`), and
 * the config of a checkpoint (module prefixes detected, sizes read off the weights).
 */
import { ClapError } from '../../errors.js';
import type { StateDict } from '../../weights/index.js';
import { GPT2_BASE, type Gpt2Config, gpt2ConfigFromJson, gpt2ConfigToJson, inferGpt2Config } from '../gpt2/config.js';
import {
  HTSAT_2023,
  type HtsatConfig,
  htsatConfigFromJson,
  htsatConfigToJson,
  htsatNumFeatures,
  inferHtsatConfig,
} from '../htsat/config.js';
import { requireTensor } from '../layers.js';

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

/**
 * Model sizes by name, accepted by every `--config`. '2023' is the official release; 'small' (~4.6M
 * parameters, 3.2M of them GPT-2's 50257-row token table) trains on a laptop CPU; 'tiny' is for tests. All
 * take msclap's input (7 s at 44.1 kHz → log-mel [965, 64] → 256×256 image); the small ones use bigger
 * patches.
 */
export const CLAP_PRESETS: Readonly<Record<string, Readonly<ClapConfig>>> = Object.freeze({
  '2023': CLAP_2023,
  small: Object.freeze({
    ...CLAP_2023,
    htsat: { ...HTSAT_2023, patchSize: 8, embedDim: 32, depths: [2, 2, 2], numHeads: [2, 4, 8], windowSize: 8 },
    text: { vocabSize: 50257, nPositions: 128, nEmbd: 64, nLayer: 2, nHead: 4, layerNormEpsilon: 1e-5 },
    dProj: 128,
  }),
  tiny: Object.freeze({
    ...CLAP_2023,
    htsat: { ...HTSAT_2023, patchSize: 16, embedDim: 16, depths: [1, 2], numHeads: [1, 2], windowSize: 4, numClasses: 8 },
    text: { vocabSize: 50257, nPositions: 128, nEmbd: 16, nLayer: 1, nHead: 2, layerNormEpsilon: 1e-5 },
    dProj: 32,
  }),
});

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
    text: text ? gpt2ConfigFromJson({ ...gpt2ConfigToJson(base.text), ...text }) : base.text,
    dProj: (dProj as number | undefined) ?? base.dProj,
  };
}

/** The JSON layout `clapConfigFromJson` reads. */
export function clapConfigToJson(c: ClapConfig): Json {
  return {
    htsat: htsatConfigToJson(c.htsat),
    text_encoder: { type: 'GPT2Model', ...gpt2ConfigToJson(c.text) },
    projection: { d_proj: c.dProj, audio_in: htsatNumFeatures(c.htsat), text_in: c.text.nEmbd },
  };
}

/**
 * The config for a checkpoint: module prefixes detected, sizes read off the weights (an explicit
 * config, when given, must agree with them). GPT-2's head count is not stored in the weights: it comes
 * from the config, or from GPT-2's convention of 64-wide heads.
 */
export function resolveClapConfig(sd: StateDict, explicit?: ClapConfig): ClapConfig {
  const base = explicit ?? CLAP_2023;
  const audioPrefix = ['audio_encoder.', 'clap.'].find((p) => sd.has(`${p}base.htsat.patch_embed.proj.weight`));
  if (!audioPrefix) throw new ClapError('no CLAP audio encoder found (expected audio_encoder.base.htsat.* or clap.base.htsat.* keys)');
  const htsat = inferHtsatConfig(sd, `${audioPrefix}base.htsat.`, base.htsat);
  const textPrefix = sd.has('caption_encoder.base.wte.weight') ? 'caption_encoder.' : null;
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
