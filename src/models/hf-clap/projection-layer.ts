/**
 * `ClapProjectionLayer` (modeling_clap.py): linear1 (with bias) → ReLU → linear2 (with bias) — no
 * residual and no LayerNorm, unlike msclap's Projection (clap/projection.ts). Keys `audio_projection.*`,
 * `text_projection.*`.
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLinear, type LinearParams, torchLinear } from '../layers.js';

export interface ClapProjectionParams {
  linear1: LinearParams;
  linear2: LinearParams;
}

/** ClapProjectionLayer at `prefix` (`audio_projection.`): in → projectionDim. */
export function clapProjectionParams(
  g: Graph,
  sd: StateDict,
  prefix: string,
  inFeatures: number,
  projectionDim: number,
): ClapProjectionParams {
  return {
    linear1: torchLinear(g, sd, `${prefix}linear1`, { inFeatures, outFeatures: projectionDim }),
    linear2: torchLinear(g, sd, `${prefix}linear2`, { inFeatures: projectionDim, outFeatures: projectionDim }),
  };
}

export function clapProjection(p: ClapProjectionParams, x: Value): Value {
  return applyLinear(ops.relu(applyLinear(x, p.linear1)), p.linear2);
}
