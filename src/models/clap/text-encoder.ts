/**
 * msclap's `TextEncoder` (models/clap.py: a transformer, one row per text, then a Projection) as one graph
 * — GPT-2 pooled at msclap's eos row, or BERT/RoBERTa pooled at the first token — and Hugging Face's text
 * tower (hf-clap/) for its layout; plus the feeds each takes.
 *
 * Inputs: `input_ids` and `attention_mask`, [B, T] int64, rows padded on the right (mask 0 there); positions
 * are computed in the graph (BERT's 0…T−1, RoBERTa's from the ids: models/bert bertPositionIds), so the
 * library and an exported model feed the same two inputs. GPT-2's pooled token is found in the graph by the
 * pooling rule the graph is built with:
 * - 'reference' (msclap's `torch.ne(input_ids, 0).sum(-1) - 1`): the number of real tokens that are not
 *   '!' (id 0, msclap's pad token) minus one — each '!' in a text moves it one to the left;
 * - 'fixed': the last real token (the appended `<|endoftext|>`).
 * Positions are 0…T−1 on every row. Output: `text_embed` [B, d_proj] (the projection output, not
 * normalised, like get_text_embeddings). The tower itself (`clapTextEmbedding`) builds into any graph: the
 * contrastive training graph is made of the same one.
 */
import { ClapError } from '../../errors.js';
import { Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
import type { ClapPooling } from '../../text/index.js';
import type { StateDict } from '../../weights/index.js';
import { bertModel, bertParams, bertPositionIds, firstToken } from '../bert/index.js';
import { gpt2Embed, gpt2Params, gpt2Transformer } from '../gpt2/gpt2.js';
import { buildHfClapTextGraph, hfClapTextEmbedding } from '../hf-clap/clap-model.js';
import {
  type ClapConfig,
  type ClapTextEncoderConfig,
  textEncoderPrefix,
  textFeatures,
  textMaxTokens,
  textProjectionPrefix,
} from './config.js';
import { projection, projectionParams } from './projection.js';

export interface TextEncoderGraphOptions {
  /** GPT-2: which token represents a text (default 'reference', msclap's; see the file comment). */
  pooling?: ClapPooling;
  /** Also output `last_hidden_state` [B, T, width] and the pooled row (tests, hooks). */
  debugOutputs?: boolean;
}

/** GPT-2's graph name for each pooling rule (each is compiled and cached on its own). */
export const TEXT_ENCODER_GRAPHS: Readonly<Record<ClapPooling, string>> = {
  reference: 'clap_text_encoder',
  fixed: 'clap_text_encoder_fixed',
};

/** The name of the text graph a config compiles to. */
export function textGraphName(cfg: ClapConfig, pooling: ClapPooling = 'reference'): string {
  if (cfg.layout === 'hf') return 'hf_clap_text_encoder';
  return cfg.text?.type === 'bert' ? 'clap_text_encoder_bert' : TEXT_ENCODER_GRAPHS[pooling];
}

/** The pooled position of each row, [B, 1] int64, from the ids and the attention mask [B, T]. */
function pooledPosition(ids: Value, mask: Value, pooling: ClapPooling): Value {
  const counted = pooling === 'reference' ? ops.mul(mask, ops.sub(1, ops.cast(ops.equal(ids, 0), 'int64'))) : mask;
  return ops.sub(ops.reduceSum(counted, [-1], true), 1);
}

export interface ClapTextEmbedding {
  /** text_embed [B, d_proj]: the projection's output, not normalised. */
  embed: Value;
  /** last_hidden_state [B, T, width]. */
  hidden: Value;
  /** The row (or pooler output) that is projected, under the name parity tests know it by. */
  pooled: { name: string; value: Value };
}

/**
 * The text tower of any family in `g` on `ids` and `mask` ([B, T] int64, padded on the right) up to the
 * projection; GPT-2 pooled by `pooling` (see the file comment).
 */
export function clapTextEmbedding(
  g: Graph,
  weights: StateDict,
  cfg: ClapConfig,
  ids: Value,
  mask: Value,
  pooling: ClapPooling = 'reference',
): ClapTextEmbedding {
  const t = cfg.text;
  if (!t) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
  if (cfg.layout === 'hf') {
    if (t.type !== 'bert') throw new ClapError('internal: a Hugging Face CLAP text encoder is RoBERTa');
    const h = hfClapTextEmbedding(g, weights, { text: t.bert, projectionDim: cfg.dProj }, ids, mask);
    return { embed: h.embed, hidden: h.hidden, pooled: { name: 'pooler_output', value: h.pooled } };
  }
  const prefix = textEncoderPrefix(cfg);
  if (t.type === 'gpt2') {
    const gpt = gpt2Params(g, weights, prefix, t.gpt2);
    const proj = projectionParams(g, weights, textProjectionPrefix(cfg), { inDim: t.gpt2.nEmbd });
    const pos = ops.positions(ids, 1);
    const { hidden } = gpt2Transformer(gpt, gpt2Embed(gpt, ids, pos), { positionIds: pos });
    // hidden[b, position[b], :] for each row b.
    const at = ops.expand(ops.unsqueeze(pooledPosition(ids, mask, pooling), [2]), [1, 1, t.gpt2.nEmbd]);
    const pooled = ops.squeeze(ops.gatherElements(hidden, at, 1), [1]);
    return { embed: projection(proj, pooled), hidden, pooled: { name: 'eos_hidden', value: pooled } };
  }
  const bert = bertParams(g, weights, prefix, t.bert);
  const proj = projectionParams(g, weights, textProjectionPrefix(cfg), { inDim: textFeatures(t) });
  const hidden = bertModel(bert, ids, mask, bertPositionIds(ids, t.positions, t.bert.padTokenId));
  const cls = firstToken(hidden);
  return { embed: projection(proj, cls), hidden, pooled: { name: 'cls_hidden', value: cls } };
}

export function buildTextEncoderGraph(weights: StateDict, cfg: ClapConfig, options: TextEncoderGraphOptions = {}): Graph {
  const t = cfg.text;
  if (!t) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
  if (cfg.layout === 'hf') {
    if (t.type !== 'bert') throw new ClapError('internal: a Hugging Face CLAP text encoder is RoBERTa');
    return buildHfClapTextGraph(weights, { text: t.bert, projectionDim: cfg.dProj }, options);
  }
  const pooling = options.pooling ?? 'reference';
  if (!Object.hasOwn(TEXT_ENCODER_GRAPHS, pooling))
    throw new ClapError(`unknown pooling '${String(pooling)}' (expected reference or fixed)`);
  const g = new Graph(textGraphName(cfg, pooling));
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const e = clapTextEmbedding(g, weights, cfg, ids, mask, pooling);
  g.output('text_embed', e.embed);
  if (options.debugOutputs) {
    g.output('last_hidden_state', e.hidden);
    g.output(e.pooled.name, e.pooled.value);
  }
  return g;
}

/** What a text encoder needs to know to pad and position a batch. */
export interface TextFeedSpec {
  text: ClapTextEncoderConfig;
  /** The tokenizer's pad id (GPT-2: msclap's '!' = 0; BERT: [PAD]; RoBERTa: <pad>). */
  padId: number;
}

/** Feeds for a batch of token id sequences (specials included): rows padded with the pad id to the longest. */
export function textEncoderFeeds(texts: readonly ArrayLike<number>[], spec: TextFeedSpec): Record<string, HostTensor> {
  const { text, padId } = spec;
  const vocabSize = text.type === 'gpt2' ? text.gpt2.vocabSize : text.bert.vocabSize;
  const maxTokens = textMaxTokens(text);
  if (texts.length === 0) throw new ClapError('no texts to encode');
  const T = Math.max(...texts.map((t) => t.length));
  if (T > maxTokens) throw new ClapError(`a text has ${T} tokens; the text encoder takes at most ${maxTokens}`);
  const B = texts.length;
  const ids = new BigInt64Array(B * T).fill(BigInt(padId));
  const mask = new BigInt64Array(B * T);
  texts.forEach((t, b) => {
    if (t.length === 0) throw new ClapError(`text ${b} has no tokens`);
    for (let i = 0; i < t.length; i++) {
      const id = t[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
        throw new ClapError(`text ${b}: token id ${id} at ${i} is outside the vocabulary (0..${vocabSize - 1})`);
      ids[b * T + i] = BigInt(id);
      mask[b * T + i] = 1n;
    }
  });
  return {
    input_ids: { dtype: 'int64', shape: [B, T], data: ids },
    attention_mask: { dtype: 'int64', shape: [B, T], data: mask },
  };
}
