/** Random BertModel weights with transformers' key names and shapes (tests and benchmarks at any size). */
import type { HostTensor } from '../../engine/index.js';
import { randomPut } from '../random.js';
import type { BertConfig } from './config.js';

/** BertModel weights under `prefix` (e.g. `caption_encoder.base.` or `text_model.`), pooler included. */
export function randomBertStateDict(c: BertConfig, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const put = randomPut(sd, prefix, seed * 1000);
  const H = c.hiddenSize;
  // BERT initialises every weight N(0, 0.02); a larger spread keeps a random encoder's texts apart.
  const w = 0.05;
  put('embeddings.word_embeddings.weight', [c.vocabSize, H], w);
  put('embeddings.position_embeddings.weight', [c.maxPositionEmbeddings, H], w);
  put('embeddings.token_type_embeddings.weight', [c.typeVocabSize, H], w);
  put('embeddings.LayerNorm.weight', [H], 0.02, 1);
  put('embeddings.LayerNorm.bias', [H], 0.02);
  for (let i = 0; i < c.numHiddenLayers; i++) {
    const l = `encoder.layer.${i}.`;
    for (const k of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      put(`${l}${k}.weight`, [H, H], w);
      put(`${l}${k}.bias`, [H], 0.02);
    }
    put(`${l}attention.output.LayerNorm.weight`, [H], 0.02, 1);
    put(`${l}attention.output.LayerNorm.bias`, [H], 0.02);
    put(`${l}intermediate.dense.weight`, [c.intermediateSize, H], w);
    put(`${l}intermediate.dense.bias`, [c.intermediateSize], 0.02);
    put(`${l}output.dense.weight`, [H, c.intermediateSize], w);
    put(`${l}output.dense.bias`, [H], 0.02);
    put(`${l}output.LayerNorm.weight`, [H], 0.02, 1);
    put(`${l}output.LayerNorm.bias`, [H], 0.02);
  }
  put('pooler.dense.weight', [H, H], w);
  put('pooler.dense.bias', [H], 0.02);
  return sd;
}
