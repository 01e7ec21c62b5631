/**
 * Swin's `PatchMerging`: cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]) → LayerNorm(4C) →
 * Linear(4C → 2C, no bias). The four strided slices and the concat are one Gather that also puts the
 * merged tokens into the next stage's window order.
 */
import { type Graph, ops } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, applyLinear, torchLayerNorm, torchLinear } from '../layers.js';
import { gatherTokens, invert, type TokenStream, windowOrder } from './token-order.js';

/** PatchMerging at `prefix` (`…layers.<s>.downsample.`): an H×H stream of C channels → (H/2)×(H/2) of 2C. */
export function patchMerging(g: Graph, s: TokenStream, sd: StateDict, prefix: string, windowSize: number, eps: number): TokenStream {
  const { side: H, dim: C } = s;
  const H2 = H / 2;
  const nextOrder = windowOrder(H2, H2, Math.min(windowSize, H2), 0);
  const inv = invert(s.order);
  const idx = new Int32Array(H * H);
  nextOrder.forEach((raster2, t) => {
    const i = Math.floor(raster2 / H2);
    const j = raster2 % H2;
    const src = [2 * i * H + 2 * j, (2 * i + 1) * H + 2 * j, 2 * i * H + 2 * j + 1, (2 * i + 1) * H + 2 * j + 1];
    for (let k = 0; k < 4; k++) idx[4 * t + k] = inv[src[k]];
  });
  const merged = ops.reshape(gatherTokens(g, s.x, idx, `merge_${prefix}`), [-1, 4 * C]);
  const norm = torchLayerNorm(g, sd, `${prefix}norm`, 4 * C, eps);
  const reduction = torchLinear(g, sd, `${prefix}reduction`, { inFeatures: 4 * C, outFeatures: 2 * C, bias: false });
  return { x: applyLinear(applyLayerNorm(merged, norm), reduction), order: nextOrder, side: H2, dim: 2 * C };
}
