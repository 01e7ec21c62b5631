/** Random HTSAT weights with the reference's key names, shapes and dtypes (tests and benchmarks at any size). */
import type { HostTensor } from '../../engine/index.js';
import { randomPut } from '../random.js';
import type { HtsatConfig } from './config.js';
import { swinShiftMask } from './swin-block.js';
import { swinRelativePositionIndex } from './window-attention.js';

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
