/**
 * BERT's hyper-parameters (Hugging Face `BertConfig`, also RoBERTa's and `ClapTextConfig`'s names): the
 * bert-base preset, the config.json keys, and what a checkpoint's shapes reveal.
 */
import { ClapError } from '../../errors.js';
import type { StateDict } from '../../weights/index.js';
import { requireTensor } from '../layers.js';

export interface BertConfig {
  vocabSize: number;
  hiddenSize: number;
  numHiddenLayers: number;
  numAttentionHeads: number;
  intermediateSize: number;
  maxPositionEmbeddings: number;
  typeVocabSize: number;
  layerNormEps: number;
  /** Padding id: RoBERTa's positions count from it (`padding_idx + 1`). */
  padTokenId: number;
}

/** bert-base-uncased (msclap 2022's text encoder). */
export const BERT_BASE: Readonly<BertConfig> = Object.freeze({
  vocabSize: 30522,
  hiddenSize: 768,
  numHiddenLayers: 12,
  numAttentionHeads: 12,
  intermediateSize: 3072,
  maxPositionEmbeddings: 512,
  typeVocabSize: 2,
  layerNormEps: 1e-12,
  padTokenId: 0,
});

/** roberta-base as `ClapTextConfig` defaults it (LAION CLAP's text encoder). */
export const ROBERTA_BASE: Readonly<BertConfig> = Object.freeze({
  ...BERT_BASE,
  vocabSize: 50265,
  maxPositionEmbeddings: 514,
  typeVocabSize: 1,
  padTokenId: 1,
});

/**
 * A Hugging Face config.json (BertConfig / ClapTextConfig keys); missing keys take `base`'s values, as
 * transformers 4.44's `save_pretrained` writes only the values that differ from the class defaults.
 */
export function bertConfigFromJson(
  j: Record<string, unknown>,
  base: Readonly<BertConfig> = BERT_BASE,
  subject = 'text config',
): BertConfig {
  const num = (key: string, d: number, integer = true): number => {
    const v = j[key] ?? d;
    if (typeof v !== 'number' || !Number.isFinite(v) || (integer && !Number.isInteger(v)) || v < 0) {
      throw new ClapError(`${key} must be a non-negative ${integer ? 'integer' : 'number'}, got ${JSON.stringify(v)}`, { subject });
    }
    return v;
  };
  if (j.hidden_act !== undefined && j.hidden_act !== 'gelu') {
    throw new ClapError(`hidden_act ${JSON.stringify(j.hidden_act)} is not supported (BERT and RoBERTa use exact "gelu")`, { subject });
  }
  if (j.position_embedding_type !== undefined && j.position_embedding_type !== 'absolute') {
    throw new ClapError(`position_embedding_type ${JSON.stringify(j.position_embedding_type)} is not supported (only "absolute")`, {
      subject,
    });
  }
  const cfg: BertConfig = {
    vocabSize: num('vocab_size', base.vocabSize),
    hiddenSize: num('hidden_size', base.hiddenSize),
    numHiddenLayers: num('num_hidden_layers', base.numHiddenLayers),
    numAttentionHeads: num('num_attention_heads', base.numAttentionHeads),
    intermediateSize: num('intermediate_size', base.intermediateSize),
    maxPositionEmbeddings: num('max_position_embeddings', base.maxPositionEmbeddings),
    typeVocabSize: num('type_vocab_size', base.typeVocabSize),
    layerNormEps: num('layer_norm_eps', base.layerNormEps, false),
    padTokenId: num('pad_token_id', base.padTokenId),
  };
  if (cfg.numAttentionHeads < 1 || cfg.hiddenSize % cfg.numAttentionHeads !== 0) {
    throw new ClapError(`hidden_size ${cfg.hiddenSize} is not a multiple of num_attention_heads ${cfg.numAttentionHeads}`, { subject });
  }
  return cfg;
}

/** The config.json keys `bertConfigFromJson` reads. */
export function bertConfigToJson(c: BertConfig): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    hidden_size: c.hiddenSize,
    num_hidden_layers: c.numHiddenLayers,
    num_attention_heads: c.numAttentionHeads,
    intermediate_size: c.intermediateSize,
    max_position_embeddings: c.maxPositionEmbeddings,
    type_vocab_size: c.typeVocabSize,
    layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padTokenId,
    hidden_act: 'gelu',
  };
}

/**
 * Sizes read off a BertModel's weights under `prefix` (vocabulary, width, depth, positions, token types,
 * intermediate size). The head count and eps are not stored: they come from `base` (config.json).
 */
export function inferBertConfig(sd: StateDict, prefix: string, base: Readonly<BertConfig>): BertConfig {
  const word = requireTensor(sd, `${prefix}embeddings.word_embeddings.weight`);
  const pos = requireTensor(sd, `${prefix}embeddings.position_embeddings.weight`);
  const types = requireTensor(sd, `${prefix}embeddings.token_type_embeddings.weight`);
  for (const [key, t] of [
    ['word_embeddings', word],
    ['position_embeddings', pos],
    ['token_type_embeddings', types],
  ] as const) {
    if (t.shape.length !== 2)
      throw new ClapError(`has shape [${t.shape.join(', ')}], expected 2-D`, { subject: `${prefix}embeddings.${key}.weight` });
  }
  let layers = 0;
  while (sd.has(`${prefix}encoder.layer.${layers}.attention.self.query.weight`)) layers++;
  if (layers === 0)
    throw new ClapError('missing from the checkpoint (no BERT layers found)', {
      subject: `${prefix}encoder.layer.0.attention.self.query.weight`,
    });
  const inter = requireTensor(sd, `${prefix}encoder.layer.0.intermediate.dense.weight`);
  return {
    ...base,
    vocabSize: word.shape[0],
    hiddenSize: word.shape[1],
    maxPositionEmbeddings: pos.shape[0],
    typeVocabSize: types.shape[0],
    numHiddenLayers: layers,
    intermediateSize: inter.shape[0],
  };
}
