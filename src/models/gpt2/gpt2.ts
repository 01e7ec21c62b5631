/**
 * Hugging Face `GPT2Model` / `GPT2LMHeadModel` (transformers 4.44 modeling_gpt2.py) on the engine, as
 * msclap uses it:
 *   - the CLAP text encoder (`caption_encoder.base.` in CLAP_weights_2023.pth), pooled at one row per
 *     text and projected (clap/text-encoder.ts);
 *   - the clapcap decoder (`gpt.transformer.` + tied `gpt.lm_head.weight`), fed prefix embeddings
 *     (clapcap/decoder.ts).
 *
 * Building blocks, all pure graph functions:
 *   gpt2Params     → the weights of one GPT-2 as graph params (checkpoint keys are the param names)
 *   gpt2Embed      → wte[ids] + wpe[positions]                                     [B, T, n_embd]
 *                    (gpt2TokenEmbeddings / gpt2AddPositions for HF's inputs_embeds path)
 *   gpt2Transformer→ the block stack + ln_f over any input embeddings, optional KV cache in and out
 *   gpt2LmHead     → hidden @ wteᵀ (tied LM head)                                  [B, T, vocab]
 *
 * Positions are a graph input (`position_ids`, [T] int64) rather than derived in the graph: the engine
 * has no Range/Shape op, and with a KV cache they start at the cached length anyway. The causal mask is
 * computed from query and key positions (`key > query` is blocked), so it is correct for every T and
 * for cached decoding alike. Padding (id 0, msclap's pad token '!') only ever follows a text's real
 * tokens, so causal attention keeps every real row identical to an unpadded run: no attention mask.
 */
import { ClapError } from '../../errors.js';
import { type Dim, dimEq, type Graph, normAxis, type OpDef, ops, shapeToString, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm as layerNorm, type LayerNormParams, torchLayerNorm, torchParam } from '../layers.js';
import type { Gpt2Config } from './config.js';

// ------------------------------------------------------------------------------------------ weights

export interface Gpt2BlockParams {
  ln1: LayerNormParams;
  /** Conv1D weights are stored [in, out]: used as is. */
  attnW: Value;
  attnB: Value;
  attnProjW: Value;
  attnProjB: Value;
  ln2: LayerNormParams;
  fcW: Value;
  fcB: Value;
  projW: Value;
  projB: Value;
}

export interface Gpt2Params {
  config: Gpt2Config;
  /** [vocab, n_embd] */
  wte: Value;
  /** [n_positions, n_embd] */
  wpe: Value;
  blocks: Gpt2BlockParams[];
  lnF: LayerNormParams;
}

/**
 * Registers one GPT-2's weights in `g`. `prefix` is the GPT2Model's key prefix: `caption_encoder.base.`
 * (CLAP text encoder) or `gpt.transformer.` (clapcap). The optional `attn.bias` / `attn.masked_bias`
 * buffers of older transformers versions are ignored (the mask is built from positions); extra keys in
 * general are ignored, as msclap's `load_state_dict(strict=False)` does.
 */
export function gpt2Params(g: Graph, weights: StateDict, prefix: string, config: Gpt2Config): Gpt2Params {
  const { nEmbd: n, vocabSize, nPositions, nLayer, nHead } = config;
  if (n % nHead !== 0) throw new ClapError(`GPT-2 config: n_embd ${n} is not a multiple of n_head ${nHead}`);
  const p = (key: string, shape: number[]): Value => torchParam(g, weights, prefix + key, shape);
  const ln = (key: string): LayerNormParams => torchLayerNorm(g, weights, prefix + key, n, config.layerNormEpsilon);
  const blocks: Gpt2BlockParams[] = [];
  for (let i = 0; i < nLayer; i++) {
    const h = `h.${i}.`;
    blocks.push({
      ln1: ln(`${h}ln_1`),
      attnW: p(`${h}attn.c_attn.weight`, [n, 3 * n]),
      attnB: p(`${h}attn.c_attn.bias`, [3 * n]),
      attnProjW: p(`${h}attn.c_proj.weight`, [n, n]),
      attnProjB: p(`${h}attn.c_proj.bias`, [n]),
      ln2: ln(`${h}ln_2`),
      fcW: p(`${h}mlp.c_fc.weight`, [n, 4 * n]),
      fcB: p(`${h}mlp.c_fc.bias`, [4 * n]),
      projW: p(`${h}mlp.c_proj.weight`, [4 * n, n]),
      projB: p(`${h}mlp.c_proj.bias`, [n]),
    });
  }
  if (weights.has(`${prefix}h.${nLayer}.ln_1.weight`)) {
    throw new ClapError(`the checkpoint has more than n_layer=${nLayer} GPT-2 blocks`, { subject: `${prefix}h.${nLayer}` });
  }
  return {
    config,
    wte: p('wte.weight', [vocabSize, n]),
    wpe: p('wpe.weight', [nPositions, n]),
    blocks,
    lnF: ln('ln_f'),
  };
}

// ------------------------------------------------------------------------------------------ graph

/** Token embeddings wte[ids]: [B, T] int64 → [B, T, n_embd] (to concatenate after a caption prefix). */
export function gpt2TokenEmbeddings(p: Gpt2Params, inputIds: Value): Value {
  return ops.gather(p.wte, inputIds, 0);
}

/** GPT2Model's `inputs_embeds` path: inputsEmbeds [B, T, n_embd] + wpe[positions] ([T] int64). */
export function gpt2AddPositions(p: Gpt2Params, inputsEmbeds: Value, positionIds: Value): Value {
  return ops.add(inputsEmbeds, ops.gather(p.wpe, positionIds, 0));
}

/** Token + position embeddings: wte[ids] ([B, T] int64) + wpe[positions] ([T] int64) → [B, T, n_embd]. */
export function gpt2Embed(p: Gpt2Params, inputIds: Value, positionIds: Value): Value {
  return gpt2AddPositions(p, gpt2TokenEmbeddings(p, inputIds), positionIds);
}

/**
 * Causal mask from positions: `true` where key position > query position (blocked).
 * queryPositions [T], keyPositions [S] → bool [T, S].
 */
export function causalMask(queryPositions: Value, keyPositions: Value = queryPositions): Value {
  return ops.greater(ops.unsqueeze(keyPositions, [0]), ops.unsqueeze(queryPositions, [1]));
}

/** A layer's attention keys and values, [B, n_head, S, head_dim] each (the Hugging Face `past_key_values` layout). */
export interface KeyValue {
  key: Value;
  value: Value;
}

/**
 * Concat along an axis whose sizes are symbolic (the cached and the new sequence, or a caption prefix
 * and its tokens), with the result size named by the caller (a fresh symbol such as "S"): the engine's
 * own concat only adds static sizes. Inference only (no gradient rule).
 */
export function concatSymbolic(xs: Value[], axis: number, size: Dim): Value {
  const op: OpDef = {
    type: 'Concat',
    infer: (inputs) => {
      const a = normAxis(axis, inputs[0].rank);
      const shape = [...inputs[0].shape];
      for (const x of inputs) {
        if (x.dtype !== inputs[0].dtype || x.rank !== shape.length) throw new Error('concat dtype/rank mismatch');
        x.shape.forEach((d, i) => {
          if (i !== a && !dimEq(d, shape[i])) throw new Error(`concat shape mismatch ${shapeToString(x.shape)} vs ${shapeToString(shape)}`);
        });
      }
      shape[a] = size;
      return [{ dtype: inputs[0].dtype, shape }];
    },
  };
  return xs[0].graph.addNode(op, xs, { axis: { i: axis } })[0];
}

export interface Gpt2TransformerOptions {
  /** [T] int64 positions of the input rows (0..T−1 without a cache, P..P+T−1 after P cached ones). */
  positionIds: Value;
  /**
   * Cached keys/values of every layer ([B, n_head, P, head_dim]) and the positions of all keys after
   * appending the new ones ([S] int64, S = P + T, usually 0..S−1). `totalDim` names S in shapes.
   */
  past?: { kv: KeyValue[]; keyPositions: Value; totalDim: Dim };
  /** Also return each layer's keys/values (with the past prepended): the next step's cache. */
  presents?: boolean;
  /** Skip ln_f (clapcap never needs the pre-ln_f state; provided for hooks/tests). */
  skipFinalNorm?: boolean;
  /**
   * Replaces each layer's attention core (causal mask, past concat, softmax, ·V): given the new rows'
   * queries, keys and values ([B, n_head, T, head_dim], q not yet scaled), returns the context
   * [B, n_head, T, head_dim]. The caller then owns caching and masking (e.g. clapcap's beam cache):
   * `past` must not be given, and `presents` are the new rows' keys/values only.
   */
  attend?: (layer: number, q: Value, k: Value, v: Value) => Value;
}

export interface Gpt2TransformerResult {
  /** [B, T, n_embd] after ln_f: GPT2Model's `last_hidden_state`. */
  hidden: Value;
  /** Per layer, when requested: keys and values over all S positions. */
  presents?: KeyValue[];
}

/**
 * The GPT-2 block stack + ln_f over input embeddings [B, T, n_embd] (token+position embeddings from
 * gpt2Embed, or clapcap's prefix embeddings + wpe). Attention is causal by position; scale 1/√head_dim.
 */
export function gpt2Transformer(p: Gpt2Params, embeds: Value, opts: Gpt2TransformerOptions): Gpt2TransformerResult {
  const { nEmbd: n, nHead } = p.config;
  if (embeds.rank !== 3 || !dimEq(embeds.shape[2], n))
    throw new Error(`GPT-2 input embeddings must be [B, T, ${n}], got ${shapeToString(embeds.shape)}`);
  if (opts.past && opts.past.kv.length !== p.blocks.length)
    throw new Error(`past has ${opts.past.kv.length} layers, the model ${p.blocks.length}`);
  if (opts.past && opts.attend) throw new Error('gpt2Transformer: `attend` replaces the past/mask handling; give one or the other');
  const mask = opts.attend ? undefined : causalMask(opts.positionIds, opts.past?.keyPositions ?? opts.positionIds);
  let h = embeds;
  const presents: KeyValue[] = [];
  p.blocks.forEach((b, i) => {
    const attend = opts.attend;
    const a = attention(
      b,
      layerNorm(h, b.ln1),
      mask,
      nHead,
      n,
      opts.past ? { kv: opts.past.kv[i], totalDim: opts.past.totalDim } : undefined,
      attend && ((q, k, v) => attend(i, q, k, v)),
    );
    presents.push(a.present);
    h = ops.add(h, a.out);
    const m = ops.linear(ops.gelu(ops.linear(layerNorm(h, b.ln2), b.fcW, b.fcB), 'tanh'), b.projW, b.projB);
    h = ops.add(h, m);
  });
  return { hidden: opts.skipFinalNorm ? h : layerNorm(h, p.lnF), ...(opts.presents ? { presents } : {}) };
}

/** Multi-head causal self-attention of one block; x is ln_1's output [B, T, n]. */
function attention(
  b: Gpt2BlockParams,
  x: Value,
  mask: Value | undefined,
  nHead: number,
  n: number,
  past?: { kv: KeyValue; totalDim: Dim },
  attend?: (q: Value, k: Value, v: Value) => Value,
): { out: Value; present: KeyValue } {
  const hd = n / nHead;
  const qkv = ops.linear(x, b.attnW, b.attnB); // [B, T, 3n]
  const [q, k, v] = ops.split(qkv, [n, n, n], 2).map((t) => ops.transpose(ops.reshape(t, [0, 0, nHead, hd]), [0, 2, 1, 3])); // [B, H, T, hd]
  if (attend) {
    const merged = ops.reshape(ops.transpose(attend(q, k, v), [0, 2, 1, 3]), [0, 0, n]);
    return { out: ops.linear(merged, b.attnProjW, b.attnProjB), present: { key: k, value: v } };
  }
  if (!mask) throw new Error('attention without a mask');
  let key = k;
  let value = v;
  if (past) {
    key = concatSymbolic([past.kv.key, k], 2, past.totalDim);
    value = concatSymbolic([past.kv.value, v], 2, past.totalDim);
  }
  // Hugging Face divides q·kᵀ by √head_dim; for the power-of-two head sizes of GPT-2 (64) the
  // result is bit-identical to scaling q first, which touches fewer elements.
  const scores = ops.matmul(ops.mul(q, 1 / Math.sqrt(hd)), ops.transpose(key, [0, 1, 3, 2])); // [B, H, T, S]
  const masked = ops.where(mask, x.graph.scalar(-3.4028234663852886e38), scores); // torch.finfo(float32).min, as HF
  const ctx = ops.matmul(ops.softmax(masked, -1), value); // [B, H, T, hd]
  const merged = ops.reshape(ops.transpose(ctx, [0, 2, 1, 3]), [0, 0, n]);
  return { out: ops.linear(merged, b.attnProjW, b.attnProjB), present: { key, value } };
}

/** Tied LM head (GPT2LMHeadModel without bias): hidden [..., n_embd] @ wteᵀ → logits [..., vocab]. */
export function gpt2LmHead(p: Gpt2Params, hidden: Value): Value {
  return ops.matmul(hidden, ops.transpose(p.wte, [1, 0]));
}
