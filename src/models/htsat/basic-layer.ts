/**
 * Swin's `BasicLayer`: `depth` SwinTransformerBlocks (odd ones shifted by window/2 when the grid is larger
 * than a window), then PatchMerging except after the last stage. Between blocks one Gather moves the
 * stream into the next block's window order.
 */
import { ClapError } from '../../errors.js';
import type { Graph } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import type { HtsatConfig } from './config.js';
import { patchMerging } from './patch-merging.js';
import { MSCLAP_SWIN_KEYS, type SwinBlockKeys, swinBlock, swinBlockParams } from './swin-block.js';
import { reorder, type TokenStream, windowOrder } from './token-order.js';

export interface BasicLayerOptions {
  hardMask: boolean;
  trainable: boolean;
  /** The blocks' key names (default msclap's). */
  keys?: Readonly<SwinBlockKeys>;
}

/** Stage `stage` of HTSAT under `prefix` (the HTSAT module's prefix) on stream `s`. */
export function basicLayer(
  g: Graph,
  s: TokenStream,
  sd: StateDict,
  prefix: string,
  stage: number,
  cfg: HtsatConfig,
  o: BasicLayerOptions,
): TokenStream {
  const { side: H, dim: C } = s;
  const heads = cfg.numHeads[stage];
  const win = cfg.windowSize;
  if (C % heads !== 0) throw new ClapError(`stage ${stage}: dim ${C} not divisible by ${heads} heads`);
  const ws = Math.min(win, H);
  if (H % ws !== 0) throw new ClapError(`stage ${stage}: grid ${H} is not a multiple of window ${ws}`);
  let { x, order } = s;
  for (let d = 0; d < cfg.depths[stage]; d++) {
    const key = `${prefix}layers.${stage}.blocks.${d}.`;
    const shift = d % 2 === 1 && H > win ? Math.floor(win / 2) : 0;
    const blockOrder = windowOrder(H, H, ws, shift);
    x = reorder(g, x, order, blockOrder, `order_s${stage}b${d}`);
    order = blockOrder;
    x = swinBlock(
      x,
      swinBlockParams(g, sd, key, { side: H, dim: C, heads, window: ws, shift }, cfg, { ...o, keys: o.keys ?? MSCLAP_SWIN_KEYS }),
    );
  }
  const downsample = `${prefix}layers.${stage}.downsample.`;
  if (stage < cfg.depths.length - 1) return patchMerging(g, { x, order, side: H, dim: C }, sd, downsample, win, cfg.eps);
  if (sd.has(`${downsample}reduction.weight`))
    throw new ClapError('the last stage has no PatchMerging in the reference', { subject: `${downsample}reduction.weight` });
  return { x, order, side: H, dim: C };
}
