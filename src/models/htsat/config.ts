/**
 * HTSAT's hyper-parameters (the constructor arguments of msclap's `HTSAT_Swin_Transformer`): the 2023
 * preset, the config.json `htsat` section, and the sizes a checkpoint's shapes reveal.
 */
import { WINDOW_FRAMES } from '../../audio/constants.js';
import { ClapError } from '../../errors.js';
import type { StateDict } from '../../weights/index.js';
import { requireTensor } from '../layers.js';

/** HTSAT hyper-parameters (names follow the reference's constructor arguments). */
export interface HtsatConfig {
  /** Side of the square Swin input image (256). */
  specSize: number;
  /** Patch-embedding kernel = stride (4). */
  patchSize: number;
  /** Mel bins of the log-mel input (64). */
  melBins: number;
  /** Time chunks folded into the image's rows: specSize·freqRatio frames, specSize/freqRatio mels (4). */
  freqRatio: number;
  embedDim: number;
  depths: number[];
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  numClasses: number;
  /** LayerNorm eps. */
  eps: number;
  /** bn0 eps. */
  bnEps: number;
  /** Additive value of masked (cross-region) pairs in shifted windows (−100 in the reference). */
  maskValue: number;
}

/** The official msclap 2023 HTSAT (class defaults of HTSAT_Swin_Transformer; the yaml is ignored). */
export const HTSAT_2023: Readonly<HtsatConfig> = Object.freeze({
  specSize: 256,
  patchSize: 4,
  melBins: 64,
  freqRatio: 4,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [4, 8, 16, 32],
  windowSize: 8,
  mlpRatio: 4,
  numClasses: 527,
  eps: 1e-5,
  bnEps: 1e-5,
  maskValue: -100,
});

/** Width of the HTSAT output (`latent_output`): embedDim · 2^(stages−1). */
export function htsatNumFeatures(cfg: HtsatConfig): number {
  return cfg.embedDim * 2 ** (cfg.depths.length - 1);
}

/** Log-mel frames HTSAT is fed: one 7 s window (965), or fewer when the config's image holds fewer. */
export function htsatInputFrames(cfg: HtsatConfig): number {
  return Math.min(WINDOW_FRAMES, cfg.specSize * cfg.freqRatio);
}

/** An HtsatConfig from a config.json `htsat` section (snake_case, as the fixtures write it). */
export function htsatConfigFromJson(j: Record<string, unknown>, base: HtsatConfig = HTSAT_2023): HtsatConfig {
  const num = (k: string, d: number): number => {
    const v = j[k];
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ClapError(`expected a number, got ${JSON.stringify(v)}`, { subject: `htsat.${k}` });
    return v;
  };
  const arr = (k: string, d: number[]): number[] => {
    const v = j[k];
    if (v === undefined) return [...d];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x)))
      throw new ClapError('expected a list of integers', { subject: `htsat.${k}` });
    return v as number[];
  };
  const patch = num('patch_size', base.patchSize);
  const stride = j.patch_stride;
  if (stride !== undefined && !(Array.isArray(stride) && stride.every((s) => s === patch)) && stride !== patch) {
    throw new ClapError(`patch_stride ${JSON.stringify(stride)} != patch_size ${patch} is not supported`, {
      subject: 'htsat.patch_stride',
    });
  }
  const cfg = {
    specSize: num('spec_size', base.specSize),
    patchSize: patch,
    melBins: num('mel_bins', base.melBins),
    freqRatio: num('freq_ratio', base.freqRatio),
    embedDim: num('embed_dim', base.embedDim),
    depths: arr('depths', base.depths),
    numHeads: arr('num_heads', base.numHeads),
    windowSize: num('window_size', base.windowSize),
    mlpRatio: num('mlp_ratio', base.mlpRatio),
    numClasses: num('num_classes', base.numClasses),
    eps: num('layer_norm_eps', base.eps),
    bnEps: num('bn_eps', base.bnEps),
    maskValue: num('swin_shift_mask_value', base.maskValue),
  };
  if (j.num_features !== undefined && j.num_features !== htsatNumFeatures(cfg)) {
    throw new ClapError(`${JSON.stringify(j.num_features)} != embed_dim·2^(stages−1) = ${htsatNumFeatures(cfg)}`, {
      subject: 'htsat.num_features',
    });
  }
  if (cfg.numHeads.length !== cfg.depths.length) {
    throw new ClapError(`${cfg.numHeads.length} entries for ${cfg.depths.length} stages (depths)`, { subject: 'htsat.num_heads' });
  }
  if (j.ape === true) throw new ClapError('absolute position embedding (ape) is not supported', { subject: 'htsat.ape' });
  if (j.patch_norm === false) throw new ClapError('patch_norm=false is not supported', { subject: 'htsat.patch_norm' });
  return cfg;
}

/** The config.json `htsat` section `htsatConfigFromJson` reads. */
export function htsatConfigToJson(h: HtsatConfig): Record<string, unknown> {
  return {
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
  };
}

/**
 * Sizes read off the checkpoint (embed dim, depths, heads, window, mlp ratio, classes, patch size, mel
 * bins); spec size, freq ratio and eps are not stored and come from `base`.
 */
export function inferHtsatConfig(sd: StateDict, prefix: string, base: HtsatConfig = HTSAT_2023): HtsatConfig {
  const pe = requireTensor(sd, `${prefix}patch_embed.proj.weight`);
  if (pe.shape.length !== 4 || pe.shape[1] !== 1 || pe.shape[2] !== pe.shape[3]) {
    throw new ClapError(`has shape [${pe.shape.join(', ')}], expected [embed_dim, 1, patch, patch]`, {
      subject: `${prefix}patch_embed.proj.weight`,
    });
  }
  const embedDim = pe.shape[0];
  const depths: number[] = [];
  const numHeads: number[] = [];
  let windowSize = base.windowSize;
  let mlpRatio = base.mlpRatio;
  for (let s = 0; sd.has(`${prefix}layers.${s}.blocks.0.norm1.weight`); s++) {
    let d = 0;
    while (sd.has(`${prefix}layers.${s}.blocks.${d}.norm1.weight`)) d++;
    depths.push(d);
    const tableKey = `${prefix}layers.${s}.blocks.0.attn.relative_position_bias_table`;
    const table = requireTensor(sd, tableKey);
    if (table.shape.length !== 2)
      throw new ClapError(`has shape [${table.shape.join(', ')}], expected [(2w-1)^2, heads]`, { subject: tableKey });
    numHeads.push(table.shape[1]);
    if (s === 0) {
      const side = Math.round(Math.sqrt(table.shape[0]));
      if (side * side !== table.shape[0] || side % 2 !== 1)
        throw new ClapError(`has ${table.shape[0]} rows, not (2·window−1)²`, { subject: tableKey });
      windowSize = (side + 1) / 2;
      const fc1 = requireTensor(sd, `${prefix}layers.0.blocks.0.mlp.fc1.weight`);
      mlpRatio = fc1.shape[0] / embedDim;
    }
  }
  if (depths.length === 0)
    throw new ClapError('missing from the checkpoint (no Swin stages found)', { subject: `${prefix}layers.0.blocks.0.norm1.weight` });
  const tscam = requireTensor(sd, `${prefix}tscam_conv.weight`);
  const bn = requireTensor(sd, `${prefix}bn0.running_mean`);
  return {
    ...base,
    embedDim,
    patchSize: pe.shape[2],
    depths,
    numHeads,
    windowSize,
    mlpRatio,
    numClasses: tscam.shape[0],
    melBins: bn.shape[0],
  };
}
