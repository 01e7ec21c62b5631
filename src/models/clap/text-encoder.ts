/**
 * msclap's `TextEncoder` (models/clap.py: GPT-2, the hidden state of one token per text, then a
 * Projection) as one graph, and the feeds for its inputs.
 */
import { ClapError } from '../../errors.js';
import { Graph, type HostTensor } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { GPT2_BASE } from '../gpt2/config.js';
import { gatherRows, gpt2Embed, gpt2Params, gpt2Transformer } from '../gpt2/gpt2.js';
import type { ClapConfig } from './config.js';
import { projection, projectionParams } from './projection.js';

export interface TextEncoderGraphOptions {
  /** Also output `last_hidden_state` [B, T, n_embd] and `eos_hidden` [B, n_embd] (tests, hooks). */
  debugOutputs?: boolean;
}

/**
 * msclap's TextEncoder as one graph. Inputs: `input_ids` [B, T] int64 (each row padded with 0 after
 * its tokens), `position_ids` [T] int64 (0..T−1), `pool_index` [B] int64 (b·T + eosPosition[b]).
 * Output: `text_embed` [B, d_proj] (the projection output, not normalised, like get_text_embeddings).
 */
export function buildTextEncoderGraph(weights: StateDict, cfg: ClapConfig, options: TextEncoderGraphOptions = {}): Graph {
  const prefix = cfg.textPrefix;
  if (!prefix) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
  const g = new Graph('clap_text_encoder');
  const gpt = gpt2Params(g, weights, `${prefix}base.`, cfg.text);
  const proj = projectionParams(g, weights, `${prefix}projection.`, { inDim: cfg.text.nEmbd });
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const pos = g.input('position_ids', 'int64', ['T']);
  const pool = g.input('pool_index', 'int64', ['B']);
  const { hidden } = gpt2Transformer(gpt, gpt2Embed(gpt, ids, pos), { positionIds: pos });
  const pooled = gatherRows(hidden, pool);
  g.output('text_embed', projection(proj, pooled));
  if (options.debugOutputs) {
    g.output('last_hidden_state', hidden);
    g.output('eos_hidden', pooled);
  }
  return g;
}

/** One tokenized text: its ids (msclap's, ending in 220, 50256) and the row msclap pools. */
export interface TokenizedText {
  ids: ArrayLike<number>;
  eosPosition: number;
}

/** Feeds for a batch: rows padded with 0 to the longest text in it. */
export function textEncoderFeeds(
  texts: readonly TokenizedText[],
  limits: { nPositions: number; vocabSize: number } = GPT2_BASE,
): Record<string, HostTensor> {
  const { nPositions, vocabSize } = limits;
  if (texts.length === 0) throw new ClapError('no texts to encode');
  const T = Math.max(...texts.map((t) => t.ids.length));
  if (T > nPositions) throw new ClapError(`a text has ${T} tokens; GPT-2 takes at most ${nPositions}`);
  const B = texts.length;
  const ids = new BigInt64Array(B * T); // pad id 0 ('!')
  const pool = new BigInt64Array(B);
  texts.forEach((t, b) => {
    if (t.ids.length === 0) throw new ClapError(`text ${b} has no tokens`);
    if (!Number.isInteger(t.eosPosition) || t.eosPosition < 0 || t.eosPosition >= t.ids.length) {
      throw new ClapError(`text ${b}: eosPosition ${t.eosPosition} outside its ${t.ids.length} tokens`);
    }
    for (let i = 0; i < t.ids.length; i++) {
      const id = t.ids[i];
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize)
        throw new ClapError(`text ${b}: token id ${id} at ${i} is outside the vocabulary (0..${vocabSize - 1})`);
      ids[b * T + i] = BigInt(id);
    }
    pool[b] = BigInt(b * T + t.eosPosition);
  });
  return {
    input_ids: { dtype: 'int64', shape: [B, T], data: ids },
    position_ids: { dtype: 'int64', shape: [T], data: BigInt64Array.from({ length: T }, (_, i) => BigInt(i)) },
    pool_index: { dtype: 'int64', shape: [B], data: pool },
  };
}
