/**
 * The clapcap model's config (msclap's `ClapCaption`: a TransformerMapper and a GPT2LMHeadModel after its
 * own CLAP audio encoder). Sizes come from the checkpoint's shapes; what shapes cannot tell (GPT-2's
 * n_head, the LayerNorm eps, normalize_prefix) from the `clapcap` settings (fixtures' config.json →
 * `clapcap`, or msclap's config_clapcap.yml), with the official 2023 values as defaults. Given settings
 * are checked against the checkpoint.
 */
import { ClapError } from '../../errors.js';
import type { HostTensor } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { GPT2_BASE, type Gpt2Config, inferGpt2Config } from '../gpt2/config.js';
import { asFloat32, requireTensor } from '../layers.js';

/** The mapper's prefix in clapcap.pth. */
export const MAPPER_PREFIX = 'clap_project.';

/** msclap hard-codes 8 heads in `TransformerMapper.__init__` (`Transformer(dim_embedding, 8, num_layers)`). */
export const MAPPER_HEADS = 8;

export interface MapperConfig {
  /** Input size: the projected audio embedding (d_proj, `prefix_dim`). */
  dIn: number;
  /** GPT-2 n_embd. */
  nEmbd: number;
  /** Rows made from the audio embedding (`prefix_length_clip`). */
  clipLength: number;
  /** Rows kept for GPT-2 (`prefix_length`; the learned `prefix_const` rows). */
  prefixLength: number;
  numLayers: number;
  /** 8 in msclap. */
  numHeads: number;
  /** Hidden size of the MLP = int(n · mlpRatio); 2 in msclap. */
  mlpHidden: number;
  layerNormEps: number;
}

/** The mapper's geometry from the checkpoint's shapes (heads: msclap's hard-coded 8). */
export function inferMapperConfig(sd: StateDict, prefix = MAPPER_PREFIX): MapperConfig {
  const pc = requireTensor(sd, `${prefix}prefix_const`);
  if (pc.shape.length !== 2)
    throw new ClapError(`has shape [${pc.shape}], expected [prefix_length, n_embd]`, { subject: `${prefix}prefix_const` });
  const [prefixLength, nEmbd] = pc.shape;
  const lin = requireTensor(sd, `${prefix}linear.weight`);
  if (lin.shape.length !== 2 || lin.shape[0] % nEmbd !== 0) {
    throw new ClapError(`has shape [${lin.shape}], expected [clip_length·${nEmbd}, d_proj]`, { subject: `${prefix}linear.weight` });
  }
  let numLayers = 0;
  while (sd.has(`${prefix}transformer.layers.${numLayers}.norm1.weight`)) numLayers++;
  if (numLayers === 0)
    throw new ClapError('missing from the checkpoint (a transformer mapper has at least one layer)', {
      subject: `${prefix}transformer.layers.0`,
    });
  const fc1 = requireTensor(sd, `${prefix}transformer.layers.0.mlp.fc1.weight`, [null, nEmbd]);
  return {
    dIn: lin.shape[1],
    nEmbd,
    clipLength: lin.shape[0] / nEmbd,
    prefixLength,
    numLayers,
    numHeads: MAPPER_HEADS,
    mlpHidden: fc1.shape[0],
    layerNormEps: 1e-5,
  };
}

/** GPT2LMHeadModel's GPT2Model in clapcap.pth (`gpt.lm_head.weight` is tied to its wte). */
export const CLAPCAP_GPT_PREFIX = 'gpt.transformer.';

/** msclap's stop token: `tokenizer.encode(' <|endoftext|>')[0]` = 220 ('Ġ', a space), not 50256. */
export const CLAPCAP_STOP_TOKEN = 220;

/** Heads of the official decoder (the `gpt2` checkpoint): not recoverable from weight shapes. */
const DEFAULT_GPT_HEADS = 12;

export interface ClapCapConfig {
  gpt: Gpt2Config;
  mapper: MapperConfig;
  /** GPT-2 prefix rows (msclap `prefix_length`). */
  prefixLength: number;
  /** Rows the mapper makes from the audio embedding (`prefix_length_clip`). */
  clipLength: number;
  /** prefix / ‖prefix‖₂ before the mapper (msclap `normalize_prefix`, true in 2023). */
  normalizePrefix: boolean;
  /** Size of the audio embedding fed to the mapper (d_proj). */
  prefixDim: number;
  stopTokenId: number;
}

/** The `clapcap` settings as the fixtures' config.json writes them (msclap yml names); all optional. */
export interface ClapCapSettings {
  prefix_length?: number;
  prefix_length_clip?: number;
  num_layers?: number;
  normalize_prefix?: boolean;
  mapping_type?: string;
  prefix_dim?: number;
  mapper_heads?: number;
  mapper_mlp_ratio?: number;
  gpt2?: {
    n_head?: number;
    n_embd?: number;
    n_layer?: number;
    vocab_size?: number;
    n_positions?: number;
    layer_norm_epsilon?: number;
  };
}

/**
 * The decoder's config from the checkpoint (shapes) and optional settings (checked against it).
 * Throws a ClapError naming the setting when they disagree.
 */
export function clapCapConfig(sd: StateDict, settings: ClapCapSettings = {}): ClapCapConfig {
  if (settings.mapping_type !== undefined && settings.mapping_type !== 'transformer') {
    throw new ClapError(`mapping_type '${settings.mapping_type}' is not supported (msclap 2023 uses 'transformer')`, {
      subject: 'clapcap.mapping_type',
    });
  }
  const g = settings.gpt2 ?? {};
  const nHead = g.n_head ?? DEFAULT_GPT_HEADS;
  const gpt = inferGpt2Config(sd, CLAPCAP_GPT_PREFIX, nHead, g.layer_norm_epsilon ?? 1e-5);
  if (gpt.nLayer === 0)
    throw new ClapError('missing from the checkpoint (is this a clapcap checkpoint?)', { subject: `${CLAPCAP_GPT_PREFIX}h.0` });
  if (gpt.nEmbd % nHead !== 0)
    throw new ClapError(
      g.n_head === undefined
        ? `GPT-2's head count is not stored in the weights, and the default ${nHead} does not divide n_embd ${gpt.nEmbd}: ` +
            "give it in the config's clapcap section (gpt2.n_head)"
        : `n_embd ${gpt.nEmbd} is not a multiple of n_head ${nHead}`,
      { subject: 'clapcap.gpt2.n_head' },
    );
  const mapper = inferMapperConfig(sd, MAPPER_PREFIX);
  const expect = (name: string, given: number | undefined, actual: number): void => {
    if (given !== undefined && given !== actual) {
      throw new ClapError(`is ${given} but the checkpoint has ${actual}`, { subject: `clapcap.${name}` });
    }
  };
  expect('prefix_length', settings.prefix_length, mapper.prefixLength);
  expect('prefix_length_clip', settings.prefix_length_clip, mapper.clipLength);
  expect('num_layers', settings.num_layers, mapper.numLayers);
  expect('prefix_dim', settings.prefix_dim, mapper.dIn);
  expect('mapper_heads', settings.mapper_heads, mapper.numHeads);
  if (settings.mapper_mlp_ratio !== undefined)
    expect('mapper_mlp_ratio (hidden size)', Math.trunc(mapper.nEmbd * settings.mapper_mlp_ratio), mapper.mlpHidden);
  expect('gpt2.n_embd', g.n_embd, gpt.nEmbd);
  expect('gpt2.n_layer', g.n_layer, gpt.nLayer);
  expect('gpt2.vocab_size', g.vocab_size, gpt.vocabSize);
  expect('gpt2.n_positions', g.n_positions, gpt.nPositions);
  if (mapper.nEmbd !== gpt.nEmbd) {
    throw new ClapError(`has width ${mapper.nEmbd} but GPT-2's n_embd is ${gpt.nEmbd}`, { subject: `${MAPPER_PREFIX}prefix_const` });
  }
  const lm = requireTensor(sd, 'gpt.lm_head.weight', [gpt.vocabSize, gpt.nEmbd]);
  if (
    lm !== requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`) &&
    !sameValues(lm, requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`))
  ) {
    throw new ClapError('differs from gpt.transformer.wte.weight (GPT2LMHeadModel ties them)', { subject: 'gpt.lm_head.weight' });
  }
  if (mapper.prefixLength >= gpt.nPositions)
    throw new ClapError(`prefix_length ${mapper.prefixLength} leaves no GPT-2 position for a token`);
  return {
    gpt,
    mapper,
    prefixLength: mapper.prefixLength,
    clipLength: mapper.clipLength,
    normalizePrefix: settings.normalize_prefix ?? true,
    prefixDim: mapper.dIn,
    stopTokenId: CLAPCAP_STOP_TOKEN,
  };
}

function sameValues(a: HostTensor, b: HostTensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data.buffer === b.data.buffer && a.data.byteOffset === b.data.byteOffset) return true;
  const x = asFloat32(a);
  const y = asFloat32(b);
  // spot check (tied weights are one storage in a real checkpoint; a full compare of 38M values is wasteful)
  const step = Math.max(1, Math.floor(x.length / 4099));
  for (let i = 0; i < x.length; i += step) if (!Object.is(x[i], y[i])) return false;
  return true;
}

/** The official 2023 clapcap geometry: GPT-2 124M, d_proj 1024, prefix/clip length 40, 8 mapper layers. */
export const CLAPCAP_2023 = { gpt: GPT2_BASE, prefixDim: 1024, prefixLength: 40, clipLength: 40, numLayers: 8 } as const;
