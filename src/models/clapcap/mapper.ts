/**
 * msclap's `TransformerMapper` (models/mapper.py): the clapcap module that turns one projected audio
 * embedding into `prefix_length` GPT-2 input embeddings.
 *
 *   x      = linear(audio)                      [B, clip_length·n]  (Linear with bias)
 *   x      = x.view(B, clip_length, n)
 *   seq    = concat(x, prefix_const)            [B, clip_length + prefix_length, n]
 *   seq    = transformer(seq)                   pre-LN layers (below), no mask
 *   out    = seq[:, clip_length:]               [B, prefix_length, n]
 *
 * Each layer (TransformerLayer with its defaults): x += attn(norm1(x)); x += mlp(norm2(x)), where
 *   attn: 8 heads (hard-coded upstream, whatever n), q = to_queries(x) and [k | v] = to_keys_values(x)
 *         both WITHOUT bias (keys are the first n outputs, values the next n), scores · head_dim^-0.5
 *         after q·kᵀ, softmax over keys, then `project` (WITH bias);
 *   mlp:  fc1 (n → int(n·mlp_ratio), mlp_ratio 2) → ReLU → fc2, both with bias; dropout is off.
 * LayerNorm eps is PyTorch's default 1e-5.
 *
 * Checkpoint keys (clapcap.pth): `clap_project.linear.{weight,bias}`, `clap_project.prefix_const`,
 * `clap_project.transformer.layers.<i>.{norm1,norm2}.{weight,bias}`,
 * `…attn.to_queries.weight`, `…attn.to_keys_values.weight`, `…attn.project.{weight,bias}`,
 * `…mlp.fc1.{weight,bias}`, `…mlp.fc2.{weight,bias}`.
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import {
  applyLayerNorm,
  applyLinear,
  type LayerNormParams,
  type LinearParams,
  requireTensor,
  torchLayerNorm,
  torchLinear,
  torchParam,
} from '../layers.js';
import { MAPPER_PREFIX, type MapperConfig } from './config.js';

interface MapperLayerParams {
  norm1: LayerNormParams;
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  project: LinearParams;
  norm2: LayerNormParams;
  fc1: LinearParams;
  fc2: LinearParams;
}

export interface MapperParams {
  config: MapperConfig;
  linear: LinearParams;
  /** [prefix_length, n_embd] */
  prefixConst: Value;
  layers: MapperLayerParams[];
}

/** Registers the mapper's weights in `g`; shapes are checked against `config`. */
export function mapperParams(g: Graph, sd: StateDict, config: MapperConfig, prefix = MAPPER_PREFIX): MapperParams {
  const { nEmbd: n, dIn, clipLength, prefixLength, numLayers, numHeads, mlpHidden, layerNormEps: eps } = config;
  if (n % numHeads !== 0) throw new ClapError(`mapper: n_embd ${n} is not a multiple of its ${numHeads} heads`);
  const layers: MapperLayerParams[] = [];
  for (let i = 0; i < numLayers; i++) {
    const l = `${prefix}transformer.layers.${i}.`;
    const kv = `${l}attn.to_keys_values`;
    requireTensor(sd, `${kv}.weight`, [2 * n, n]);
    layers.push({
      norm1: torchLayerNorm(g, sd, `${l}norm1`, n, eps),
      q: torchLinear(g, sd, `${l}attn.to_queries`, { bias: false, inFeatures: n, outFeatures: n }),
      // reshape(b, m, 2, heads, hd): keys are output rows [0, n), values rows [n, 2n).
      k: torchLinear(g, sd, kv, { bias: false, rows: [0, n] }),
      v: torchLinear(g, sd, kv, { bias: false, rows: [n, 2 * n] }),
      project: torchLinear(g, sd, `${l}attn.project`, { inFeatures: n, outFeatures: n }),
      norm2: torchLayerNorm(g, sd, `${l}norm2`, n, eps),
      fc1: torchLinear(g, sd, `${l}mlp.fc1`, { inFeatures: n, outFeatures: mlpHidden }),
      fc2: torchLinear(g, sd, `${l}mlp.fc2`, { inFeatures: mlpHidden, outFeatures: n }),
    });
  }
  if (sd.has(`${prefix}transformer.layers.${numLayers}.norm1.weight`)) {
    throw new ClapError(`the checkpoint has more than num_layers=${numLayers} mapper layers`, {
      subject: `${prefix}transformer.layers.${numLayers}`,
    });
  }
  return {
    config,
    linear: torchLinear(g, sd, `${prefix}linear`, { inFeatures: dIn, outFeatures: clipLength * n }),
    prefixConst: torchParam(g, sd, `${prefix}prefix_const`, [prefixLength, n]),
    layers,
  };
}

/** Self-attention of one mapper layer over x [B, L, n] (no mask). */
function mapperAttention(p: MapperLayerParams, x: Value, heads: number, n: number): Value {
  const hd = n / heads;
  const split = (t: Value): Value => ops.transpose(ops.reshape(t, [0, 0, heads, hd]), [0, 2, 1, 3]); // [B, H, L, hd]
  const q = split(applyLinear(x, p.q));
  const k = split(applyLinear(x, p.k));
  const v = split(applyLinear(x, p.v));
  // einsum('bnhd,bmhd->bnmh') * scale: the scale multiplies the dot products, as upstream.
  const scores = ops.mul(ops.matmul(q, ops.transpose(k, [0, 1, 3, 2])), hd ** -0.5); // [B, H, L, L]
  const ctx = ops.matmul(ops.softmax(scores, -1), v); // [B, H, L, hd]
  return applyLinear(ops.reshape(ops.transpose(ctx, [0, 2, 1, 3]), [0, 0, n]), p.project);
}

export interface MapperResult {
  /** `linear(x)` [B, clip_length·n]. */
  linear: Value;
  /** The GPT-2 prefix [B, prefix_length, n]. */
  prefix: Value;
}

/** The TransformerMapper forward: x [B, d_in] → prefix embeddings [B, prefix_length, n]. */
export function transformerMapper(p: MapperParams, x: Value): MapperResult {
  const { nEmbd: n, clipLength, prefixLength, numHeads } = p.config;
  const lin = applyLinear(x, p.linear); // [B, clip·n]
  const rows = ops.reshape(lin, [0, clipLength, n]); // [B, clip, n]
  // prefix_const broadcast over the batch: expand to [B, P, n] via a zero tensor of the batch's shape.
  const batchZeros = ops.mul(ops.slice(rows, 1, 0, 1), 0); // [B, 1, n]
  const consts = ops.add(batchZeros, ops.unsqueeze(p.prefixConst, [0])); // [B, P, n]
  let h = ops.concat([rows, consts], 1); // [B, clip + P, n]
  for (const l of p.layers) {
    h = ops.add(h, mapperAttention(l, applyLayerNorm(h, l.norm1), numHeads, n));
    h = ops.add(h, applyLinear(ops.relu(applyLinear(applyLayerNorm(h, l.norm2), l.fc1)), l.fc2));
  }
  return { linear: lin, prefix: ops.slice(h, 1, clipLength, clipLength + prefixLength) };
}
