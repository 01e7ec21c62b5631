/**
 * `BertModel` (transformers 4.44 modeling_bert.py), the text encoder of msclap 2022, and — with
 * RoBERTa's positions — of LAION CLAP (`ClapTextModel`, whose weights have BertModel's layout):
 * embeddings → layers → last_hidden_state, and the pooler `tanh(dense(h[:, 0]))`.
 *
 *   embeddings.ts  BertEmbeddings
 *   layer.ts       BertLayer (self-attention, intermediate, output)
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLinear, type LinearParams, torchLinear } from '../layers.js';
import type { BertConfig } from './config.js';
import { bertEmbeddings, type BertEmbeddingsParams, bertEmbeddingsParams } from './embeddings.js';
import { bertLayer, type BertLayerParams, bertLayerParams, extendedAttentionMask } from './layer.js';

export interface BertParams {
  config: BertConfig;
  embeddings: BertEmbeddingsParams;
  layers: BertLayerParams[];
  /** BertPooler's dense layer, when asked for (msclap 2022 never uses it). */
  pooler?: LinearParams;
}

/** A BertModel's weights under `prefix` (`caption_encoder.base.`, `text_model.`); extra keys are ignored. */
export function bertParams(g: Graph, sd: StateDict, prefix: string, c: BertConfig, options: { pooler?: boolean } = {}): BertParams {
  const layers: BertLayerParams[] = [];
  for (let i = 0; i < c.numHiddenLayers; i++) layers.push(bertLayerParams(g, sd, `${prefix}encoder.layer.${i}.`, c));
  if (sd.has(`${prefix}encoder.layer.${c.numHiddenLayers}.attention.self.query.weight`)) {
    throw new ClapError(`the checkpoint has more than num_hidden_layers=${c.numHiddenLayers} layers`, {
      subject: `${prefix}encoder.layer.${c.numHiddenLayers}`,
    });
  }
  return {
    config: c,
    embeddings: bertEmbeddingsParams(g, sd, `${prefix}embeddings.`, c),
    layers,
    ...(options.pooler
      ? { pooler: torchLinear(g, sd, `${prefix}pooler.dense`, { inFeatures: c.hiddenSize, outFeatures: c.hiddenSize }) }
      : {}),
  };
}

/** last_hidden_state [B, T, hidden] of ids [B, T], attention mask [B, T] and positions [B, T] (all int64). */
export function bertModel(p: BertParams, inputIds: Value, attentionMask: Value, positionIds: Value): Value {
  const mask = extendedAttentionMask(attentionMask);
  let h = bertEmbeddings(p.embeddings, inputIds, positionIds);
  for (const layer of p.layers) h = bertLayer(h, layer, mask);
  return h;
}

/** The first token's row of last_hidden_state: [B, T, hidden] → [B, hidden] (`[CLS]` / `<s>`). */
export function firstToken(hidden: Value): Value {
  return ops.gather(hidden, hidden.graph.constant({ dtype: 'int64', shape: [], data: BigInt64Array.of(0n) }, 'first_token'), 1);
}

/** BertPooler: `tanh(dense(h[:, 0]))` → [B, hidden]. */
export function bertPooler(p: BertParams, hidden: Value): Value {
  if (!p.pooler) throw new ClapError('internal: bertParams was built without the pooler');
  return ops.tanh(applyLinear(firstToken(hidden), p.pooler));
}

/** How positions are numbered: BERT's 0…T−1, or RoBERTa's `create_position_ids_from_input_ids`. */
export type BertPositions = 'absolute' | 'roberta';

/**
 * position_ids of a padded id batch `ids` [B, T] (int64), in the graph, so a text model takes only ids and
 * mask: `'absolute'` gives 0…T−1 ([T], the same for every row); `'roberta'` is transformers'
 * `create_position_ids_from_input_ids`, `cumsum(ids ≠ pad)·(ids ≠ pad) + pad` — tokens that are not the pad
 * id count from padId + 1, pad ids get the pad id (a literal `<pad>` inside a text included: it takes the pad
 * position and does not advance the count). The running count is a product with the upper-triangular ones
 * matrix, exact in float32 far beyond any position table.
 */
export function bertPositionIds(ids: Value, positions: BertPositions, padId: number): Value {
  const t = ops.positions(ids, 1);
  if (positions === 'absolute') return t;
  const real = ops.sub(1, ops.cast(ops.equal(ids, padId), 'float32'));
  const tf = ops.cast(t, 'float32');
  const upper = ops.sub(1, ops.cast(ops.greater(ops.unsqueeze(tf, [1]), ops.unsqueeze(tf, [0])), 'float32'));
  return ops.add(ops.cast(ops.mul(ops.matmul(real, upper), real), 'int64'), padId);
}
