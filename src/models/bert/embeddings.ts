/**
 * `BertEmbeddings` (also RoBERTa's): word + absolute position + token-type embeddings, then LayerNorm.
 * Positions are an input (BERT counts 0…T−1, RoBERTa from the pad id + 1 over non-pad tokens; see
 * bert.ts's bertPositionIds). Every text is one segment, so the token type is row 0 for every token.
 */
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, type LayerNormParams, torchLayerNorm, torchParam } from '../layers.js';
import type { BertConfig } from './config.js';

export interface BertEmbeddingsParams {
  /** [vocab, hidden] */
  word: Value;
  /** [positions, hidden] */
  position: Value;
  /** [types, hidden] */
  tokenType: Value;
  norm: LayerNormParams;
}

/** BertEmbeddings at `prefix` (`…embeddings.`). The non-persistent `position_ids` / `token_type_ids` buffers, when present, are ignored. */
export function bertEmbeddingsParams(g: Graph, sd: StateDict, prefix: string, c: BertConfig): BertEmbeddingsParams {
  const H = c.hiddenSize;
  return {
    word: torchParam(g, sd, `${prefix}word_embeddings.weight`, [c.vocabSize, H]),
    position: torchParam(g, sd, `${prefix}position_embeddings.weight`, [c.maxPositionEmbeddings, H]),
    tokenType: torchParam(g, sd, `${prefix}token_type_embeddings.weight`, [c.typeVocabSize, H]),
    norm: torchLayerNorm(g, sd, `${prefix}LayerNorm`, H, c.layerNormEps),
  };
}

/** ids [B, T] int64, positions [B, T] int64 → LayerNorm(word[ids] + position[positions] + tokenType[0]) [B, T, hidden]. */
export function bertEmbeddings(p: BertEmbeddingsParams, inputIds: Value, positionIds: Value): Value {
  const typeRow = ops.slice(p.tokenType, 0, 0, 1); // [1, hidden]: token_type_ids are all 0
  const sum = ops.add(ops.add(ops.gather(p.word, inputIds, 0), typeRow), ops.gather(p.position, positionIds, 0));
  return applyLayerNorm(sum, p.norm);
}
