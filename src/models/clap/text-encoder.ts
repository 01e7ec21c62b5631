/**
 * msclap's `TextEncoder` (models/clap.py: GPT-2, the hidden state of one token per text, then a
 * Projection) as one graph, and the feeds for its inputs.
 *
 * Inputs: `input_ids` and `attention_mask`, [B, T] int64, rows padded on the right (mask 0 there).
 * The pooled token is found in the graph, by the pooling rule the graph is built with:
 * - 'reference' (msclap's `torch.ne(input_ids, 0).sum(-1) - 1`): the number of real tokens that are not
 *   '!' (id 0, msclap's pad token) minus one — each '!' in a text moves it one to the left;
 * - 'fixed': the last real token (the appended `<|endoftext|>`).
 * Positions are 0…T−1 on every row. Output: `text_embed` [B, d_proj] (the projection output, not
 * normalised, like get_text_embeddings).
 */
import { ClapError } from '../../errors.js';
import { Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
import type { ClapPooling } from '../../text/index.js';
import type { StateDict } from '../../weights/index.js';
import { GPT2_BASE } from '../gpt2/config.js';
import { gpt2Embed, gpt2Params, gpt2Transformer } from '../gpt2/gpt2.js';
import type { ClapConfig } from './config.js';
import { projection, projectionParams } from './projection.js';

export interface TextEncoderGraphOptions {
  /** Which token represents a text (default 'reference', msclap's; see the file comment). */
  pooling?: ClapPooling;
  /** Also output `last_hidden_state` [B, T, n_embd] and `eos_hidden` [B, n_embd] (tests, hooks). */
  debugOutputs?: boolean;
}

/** The graph's name for each pooling rule (each is compiled and cached on its own). */
export const TEXT_ENCODER_GRAPHS: Readonly<Record<ClapPooling, string>> = {
  reference: 'clap_text_encoder',
  fixed: 'clap_text_encoder_fixed',
};

/** The pooled position of each row, [B, 1] int64, from the ids and the attention mask [B, T]. */
function pooledPosition(ids: Value, mask: Value, pooling: ClapPooling): Value {
  const counted = pooling === 'reference' ? ops.mul(mask, ops.sub(1, ops.cast(ops.equal(ids, 0), 'int64'))) : mask;
  return ops.sub(ops.reduceSum(counted, [-1], true), 1);
}

export function buildTextEncoderGraph(weights: StateDict, cfg: ClapConfig, options: TextEncoderGraphOptions = {}): Graph {
  const prefix = cfg.textPrefix;
  if (!prefix) throw new ClapError('these weights have no text encoder (a clapcap file?): use CLAP weights for text');
  const pooling = options.pooling ?? 'reference';
  if (!Object.hasOwn(TEXT_ENCODER_GRAPHS, pooling))
    throw new ClapError(`unknown pooling '${String(pooling)}' (expected reference or fixed)`);
  const g = new Graph(TEXT_ENCODER_GRAPHS[pooling]);
  const gpt = gpt2Params(g, weights, `${prefix}base.`, cfg.text);
  const proj = projectionParams(g, weights, `${prefix}projection.`, { inDim: cfg.text.nEmbd });
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const mask = g.input('attention_mask', 'int64', ['B', 'T']);
  const pos = ops.positions(ids, 1);
  const { hidden } = gpt2Transformer(gpt, gpt2Embed(gpt, ids, pos), { positionIds: pos });
  // hidden[b, position[b], :] for each row b.
  const at = ops.expand(ops.unsqueeze(pooledPosition(ids, mask, pooling), [2]), [1, 1, cfg.text.nEmbd]);
  const pooled = ops.squeeze(ops.gatherElements(hidden, at, 1), [1]);
  g.output('text_embed', projection(proj, pooled));
  if (options.debugOutputs) {
    g.output('last_hidden_state', hidden);
    g.output('eos_hidden', pooled);
  }
  return g;
}

/** Feeds for a batch of token id sequences (each msclap's, ending in 220, 50256): rows padded with 0 to the longest. */
export function textEncoderFeeds(
  texts: readonly ArrayLike<number>[],
  limits: { nPositions: number; vocabSize: number } = GPT2_BASE,
): Record<string, HostTensor> {
  const { nPositions, vocabSize } = limits;
  if (texts.length === 0) throw new ClapError('no texts to encode');
  const T = Math.max(...texts.map((t) => t.length));
  if (T > nPositions) throw new ClapError(`a text has ${T} tokens; GPT-2 takes at most ${nPositions}`);
  const B = texts.length;
  const ids = new BigInt64Array(B * T); // pad id 0 ('!')
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
