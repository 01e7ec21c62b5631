/**
 * `BertModel` (transformers 4.44 modeling_bert.py), the text encoder of msclap 2022, and — with
 * RoBERTa's positions — of LAION CLAP (`ClapTextModel`, whose weights have BertModel's layout):
 * embeddings → layers → last_hidden_state, and the pooler `tanh(dense(h[:, 0]))`.
 *
 *   embeddings.ts  BertEmbeddings
 *   layer.ts       BertLayer (self-attention, intermediate, output)
 */
import { ClapError } from '../../errors.js';
import { type Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
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
 * position_ids [B, T] for a padded id batch [B, T]: `'absolute'` gives 0…T−1 on every row; `'roberta'`
 * numbers the tokens that are not the pad id from padId + 1 and gives the pad id to pad ids — a literal
 * `<pad>` inside a text included (it takes the pad position and does not advance the count), as
 * transformers does.
 */
export function bertPositionIds(ids: BigInt64Array, batch: number, length: number, positions: BertPositions, padId: number): HostTensor {
  const out = new BigInt64Array(batch * length);
  const pad = BigInt(padId);
  for (let b = 0; b < batch; b++) {
    let count = 0n;
    for (let t = 0; t < length; t++) {
      const i = b * length + t;
      if (positions === 'absolute') out[i] = BigInt(t);
      else if (ids[i] === pad) out[i] = pad;
      else out[i] = pad + ++count;
    }
  }
  return { dtype: 'int64', shape: [batch, length], data: out };
}
