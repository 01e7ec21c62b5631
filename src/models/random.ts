/**
 * Random weights with the official key names and shapes: benchmarks and tests at full size without the
 * real checkpoints (which cannot be downloaded here). Deterministic per seed; scales follow the
 * reference's initialisation so activations look like a real model's. Every tensor comes from
 * `randomTensor`, seeded by a per-state-dict counter.
 */
import type { HostTensor } from '../engine/index.js';
import type { ClapConfig } from './clap.js';
import { GPT2_BASE, type Gpt2Config } from './gpt2.js';
import { type HtsatConfig, htsatNumFeatures, swinRelativePositionIndex, swinShiftMask } from './htsat.js';
import { MAPPER_HEADS } from './mapper.js';

/** Uniform values with standard deviation `std` around `offset` (LCG: fast enough for 124M values). */
export function randomTensor(shape: number[], std: number, seed: number, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  const k = (std * Math.sqrt(3)) / 2 ** 31;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = offset + (s - 2 ** 31) * k;
  }
  return { dtype: 'float32', shape, data };
}

/** Adds `randomTensor`s under `prefix` to `sd`, with seeds counting up from `seed`; returns the tensor added. */
function randomPut(sd: Map<string, HostTensor>, prefix: string, seed: number) {
  let s = seed;
  return (key: string, shape: number[], std: number, offset = 0): HostTensor => {
    const t = randomTensor(shape, std, s++, offset);
    sd.set(prefix + key, t);
    return t;
  };
}

/** Hugging Face GPT2Model weights under `prefix` (e.g. `caption_encoder.base.` or `gpt.transformer.`). */
export function randomGpt2StateDict(c: Gpt2Config, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const put = randomPut(sd, prefix, seed * 1000);
  const n = c.nEmbd;
  put('wte.weight', [c.vocabSize, n], 0.02);
  put('wpe.weight', [c.nPositions, n], 0.01);
  for (let i = 0; i < c.nLayer; i++) {
    const h = `h.${i}.`;
    put(`${h}ln_1.weight`, [n], 0.02, 1);
    put(`${h}ln_1.bias`, [n], 0.02);
    put(`${h}attn.c_attn.weight`, [n, 3 * n], 0.02);
    put(`${h}attn.c_attn.bias`, [3 * n], 0.02);
    put(`${h}attn.c_proj.weight`, [n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}attn.c_proj.bias`, [n], 0.02);
    put(`${h}ln_2.weight`, [n], 0.02, 1);
    put(`${h}ln_2.bias`, [n], 0.02);
    put(`${h}mlp.c_fc.weight`, [n, 4 * n], 0.02);
    put(`${h}mlp.c_fc.bias`, [4 * n], 0.02);
    put(`${h}mlp.c_proj.weight`, [4 * n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}mlp.c_proj.bias`, [n], 0.02);
  }
  put('ln_f.weight', [n], 0.02, 1);
  put('ln_f.bias', [n], 0.02);
  return sd;
}

/** msclap Projection weights under `prefix` (`…projection.`). */
export function randomProjectionStateDict(dIn: number, dProj: number, prefix: string, seed = 1): Map<string, HostTensor> {
  return new Map([
    [`${prefix}linear1.weight`, randomTensor([dProj, dIn], 1 / Math.sqrt(dIn), seed)],
    [`${prefix}linear2.weight`, randomTensor([dProj, dProj], 1 / Math.sqrt(dProj), seed + 1)],
    [`${prefix}layer_norm.weight`, randomTensor([dProj], 0.02, seed + 2, 1)],
    [`${prefix}layer_norm.bias`, randomTensor([dProj], 0.02, seed + 3)],
  ]);
}

export interface RandomHtsatOptions {
  seed?: number;
  /** Also add `head.weight`/`head.bias` (present in real checkpoints, unused with tscam). */
  withHead?: boolean;
}

/**
 * HTSAT weights with the reference's key names, shapes and dtypes. Values follow the reference's
 * initialisation scales (Linear/table ~0.02, LayerNorm ≈ 1/0, bn0 with dB-like running stats), plus the
 * integer `relative_position_index` and the −100 `attn_mask` buffers exactly as the reference registers
 * them. `head.*` (unused by tscam) is included only when asked.
 */
export function randomHtsatStateDict(cfg: HtsatConfig, prefix: string, o: RandomHtsatOptions = {}): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const f = randomPut(sd, prefix, (o.seed ?? 1) * 1000 + 500); // clear of the GPT-2 tower's seeds
  const linear = (key: string, out: number, inp: number, bias = true): void => {
    f(`${key}.weight`, [out, inp], 0.02);
    if (bias) f(`${key}.bias`, [out], 0.02);
  };
  const ln = (key: string, dim: number): void => {
    f(`${key}.weight`, [dim], 0.1, 1);
    f(`${key}.bias`, [dim], 0.02);
  };
  const M = cfg.melBins;
  f('bn0.weight', [M], 0.1, 1);
  f('bn0.bias', [M], 0.02);
  f('bn0.running_mean', [M], 8, -30);
  f('bn0.running_var', [M], 100, 400);
  sd.set(`${prefix}bn0.num_batches_tracked`, { dtype: 'int64', shape: [], data: BigInt64Array.of(0n) });
  const C0 = cfg.embedDim;
  const ps = cfg.patchSize;
  f('patch_embed.proj.weight', [C0, 1, ps, ps], 1 / ps);
  f('patch_embed.proj.bias', [C0], 0.02);
  ln('patch_embed.norm', C0);
  let H = cfg.specSize / ps;
  let C = C0;
  const ws0 = cfg.windowSize;
  for (let s = 0; s < cfg.depths.length; s++) {
    const heads = cfg.numHeads[s];
    const ws = Math.min(ws0, H);
    const L = ws * ws;
    const hidden = Math.round(C * cfg.mlpRatio);
    for (let d = 0; d < cfg.depths[s]; d++) {
      const k = `layers.${s}.blocks.${d}.`;
      const shift = d % 2 === 1 && H > ws0 ? Math.floor(ws0 / 2) : 0;
      if (shift > 0)
        sd.set(`${prefix}${k}attn_mask`, {
          dtype: 'float32',
          shape: [(H / ws) ** 2, L, L],
          data: swinShiftMask(H, ws, shift, cfg.maskValue),
        });
      ln(`${k}norm1`, C);
      f(`${k}attn.relative_position_bias_table`, [(2 * ws - 1) ** 2, heads], 0.02);
      sd.set(`${prefix}${k}attn.relative_position_index`, {
        dtype: 'int64',
        shape: [L, L],
        data: BigInt64Array.from(swinRelativePositionIndex(ws), (v) => BigInt(v)),
      });
      linear(`${k}attn.qkv`, 3 * C, C);
      linear(`${k}attn.proj`, C, C);
      ln(`${k}norm2`, C);
      linear(`${k}mlp.fc1`, hidden, C);
      linear(`${k}mlp.fc2`, C, hidden);
    }
    if (s < cfg.depths.length - 1) {
      linear(`layers.${s}.downsample.reduction`, 2 * C, 4 * C, false);
      ln(`layers.${s}.downsample.norm`, 4 * C);
      H /= 2;
      C *= 2;
    }
  }
  ln('norm', C);
  const cfb = H / cfg.freqRatio;
  f('tscam_conv.weight', [cfg.numClasses, C, cfb, 3], 1 / Math.sqrt(C * cfb * 3));
  f('tscam_conv.bias', [cfg.numClasses], 0.02);
  if (o.withHead) linear('head', cfg.numClasses, cfg.numClasses);
  return sd;
}

/** A whole clap.pth-like state dict (audio encoder, text encoder, projections, logit_scale). */
export function randomClapStateDict(cfg: ClapConfig, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const add = (m: Map<string, HostTensor>): void => {
    for (const [k, v] of m) sd.set(k, v);
  };
  add(randomHtsatStateDict(cfg.htsat, `${cfg.audioPrefix}base.htsat.`, { seed, withHead: true }));
  add(randomProjectionStateDict(htsatNumFeatures(cfg.htsat), cfg.dProj, `${cfg.audioPrefix}projection.`, seed * 7));
  if (cfg.textPrefix) {
    add(randomGpt2StateDict(cfg.text, `${cfg.textPrefix}base.`, seed));
    add(randomProjectionStateDict(cfg.text.nEmbd, cfg.dProj, `${cfg.textPrefix}projection.`, seed * 11));
  }
  sd.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return sd;
}

export interface RandomClapCapOptions {
  gpt?: Gpt2Config;
  /** d_proj (1024 in the 2023 model). */
  prefixDim?: number;
  prefixLength?: number;
  clipLength?: number;
  numLayers?: number;
  seed?: number;
}

/** The official 2023 clapcap geometry: GPT-2 124M, d_proj 1024, prefix/clip length 40, 8 mapper layers. */
export const CLAPCAP_2023 = { gpt: GPT2_BASE, prefixDim: 1024, prefixLength: 40, clipLength: 40, numLayers: 8 } as const;

/**
 * clapcap decoder weights under clapcap.pth's key names and shapes: `gpt.transformer.*` + the tied
 * `gpt.lm_head.weight` (the same tensor object, as torch.save stores one storage) and the
 * TransformerMapper `clap_project.*`. The clapcap audio encoder (`clap.*`) is not included.
 */
export function randomClapCapStateDict(o: RandomClapCapOptions = {}): Map<string, HostTensor> {
  const c = o.gpt ?? CLAPCAP_2023.gpt;
  const dIn = o.prefixDim ?? CLAPCAP_2023.prefixDim;
  const P = o.prefixLength ?? CLAPCAP_2023.prefixLength;
  const clip = o.clipLength ?? CLAPCAP_2023.clipLength;
  const layers = o.numLayers ?? CLAPCAP_2023.numLayers;
  if (c.nEmbd % MAPPER_HEADS !== 0) throw new Error(`n_embd ${c.nEmbd} must be a multiple of the mapper's ${MAPPER_HEADS} heads`);
  const seed = o.seed ?? 1;
  const sd = randomGpt2StateDict(c, 'gpt.transformer.', seed);
  sd.set('gpt.lm_head.weight', sd.get('gpt.transformer.wte.weight')!);
  const n = c.nEmbd;
  const f = randomPut(sd, 'clap_project.', seed * 1000 + 500); // clear of the GPT-2 seeds
  // TransformerMapper (nn.Linear default init: U(±1/√fan_in), i.e. std 1/√(3·fan_in))
  const lin = (key: string, out: number, inp: number, bias = true): void => {
    f(`${key}.weight`, [out, inp], 1 / Math.sqrt(3 * inp));
    if (bias) f(`${key}.bias`, [out], 1 / Math.sqrt(3 * inp));
  };
  f('prefix_const', [P, n], 1);
  for (let i = 0; i < layers; i++) {
    const l = `transformer.layers.${i}.`;
    f(`${l}norm1.weight`, [n], 0.02, 1);
    f(`${l}norm1.bias`, [n], 0.02);
    lin(`${l}attn.to_queries`, n, n, false);
    lin(`${l}attn.to_keys_values`, 2 * n, n, false);
    lin(`${l}attn.project`, n, n);
    f(`${l}norm2.weight`, [n], 0.02, 1);
    f(`${l}norm2.bias`, [n], 0.02);
    lin(`${l}mlp.fc1`, 2 * n, n);
    lin(`${l}mlp.fc2`, n, 2 * n);
  }
  lin('linear', clip * n, dIn);
  return sd;
}
