/**
 * msclap's clapcap decoder side (`ClapCaption` minus its audio encoder) as two graphs:
 *
 *   prefix graph   audio_embed [B, d_proj]  (clapcap.clap(audio)[0], the projected audio embedding)
 *                  → prefix_normalized (x / ‖x‖₂ when normalize_prefix) → TransformerMapper
 *                  → mapper_linear [B, clip·n], prefix_embed [B, prefix_length, n]
 *   decoder graph  GPT2LMHeadModel on `inputs_embeds` (+ wpe, as Hugging Face adds positions to
 *                  inputs_embeds), logits of the LAST new position of every row. Rows are grouped:
 *                  B = G groups × R rows (a group = one file, its rows = its beams), and the cache
 *                  is a per-group pool of key/value slots that a row may attend to (pool_mask):
 *                    inputs_embeds  [B, T, n]          new rows (prefix embeddings, or wte[token] rows)
 *                    position_ids   [T]                their positions (the same for every row)
 *                    last_index     []                 T − 1
 *                    temperature    []                 for the softmax statistics below (1 = none)
 *                    pool_key_<i>, pool_value_<i>  [G, n_head, N, head_dim]  cached keys/values
 *                    pool_mask      [B, 1, T, N] bool  true = that row/position may NOT see the slot
 *                    grouped_shape [G, R, n_head, T, −1], rows_shape [B, n_head, T, −1],
 *                    heads_shape [G, n_head, R·T, −1], pool_size [N]  (int64 run-time shapes)
 *                  → logits [B, vocab], key_<i>, value_<i> [B, n_head, T, head_dim] (the new positions),
 *                    row_max [B] = max(logits / temperature), row_sumexp [B] = Σ exp(logits / t − max):
 *                    the softmax normaliser beam search needs for every row, vectorised by the runtime
 *                    (a JS exp loop over 50257 logits per beam costs more than the GPT-2 step itself)
 *                  Attention of a new position = softmax over [its allowed pool slots, the row's new
 *                  positions up to itself], then ·[pool values; new values] (gpt2Transformer's
 *                  `attend` hook); masked slots get torch.finfo(float32).min as Hugging Face's causal
 *                  mask does, so they weigh exactly 0. A group's rows meet its pool as one matrix
 *                  product per head ([R·T, head_dim] × [head_dim, N]): the pool is read once per step,
 *                  not once per row (a product per row and head, broadcast over the rows, read the
 *                  whole cache R times and cost a tenth of a decoding step).
 *
 *
 * tasks/caption/model.ts runs these graphs (prefill, cached steps, uncached runs) and kv-cache.ts keeps
 * the pool.
 */
import { type Dim, Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { l2Normalize } from '../clap/projection.js';
import { causalMask, gpt2LmHead, gpt2Params, gpt2Transformer } from '../gpt2/gpt2.js';
import { CLAPCAP_GPT_PREFIX, type ClapCapConfig, MAPPER_PREFIX } from './config.js';
import { mapperParams, transformerMapper } from './mapper.js';

/**
 * prefix graph. Input `audio_embed` [B, d_proj]; outputs `prefix_normalized` [B, d_proj],
 * `mapper_linear` [B, clip·n], `prefix_embed` [B, prefix_length, n].
 */
export function buildClapCapPrefixGraph(sd: StateDict, cfg: ClapCapConfig): Graph {
  const g = new Graph('clapcap_prefix');
  const p = mapperParams(g, sd, cfg.mapper, MAPPER_PREFIX);
  const x = g.input('audio_embed', 'float32', ['B', cfg.prefixDim]);
  const xn = cfg.normalizePrefix ? l2Normalize(x) : x;
  const m = transformerMapper(p, xn);
  g.output('prefix_normalized', xn);
  g.output('mapper_linear', m.linear);
  g.output('prefix_embed', m.prefix);
  return g;
}

/** Names of the decoder graph's cache inputs/outputs for layer i. */
export const kvNames = (i: number) => ({
  poolKey: `pool_key_${i}`,
  poolValue: `pool_value_${i}`,
  newKey: `key_${i}`,
  newValue: `value_${i}`,
});

/** torch.finfo(float32).min: Hugging Face's masked attention score. */
const MASKED = -3.4028234663852886e38;

/** ONNX Reshape to a run-time shape tensor; `dims` names the result's shape for the tracer. */
function reshapeTo(x: Value, shape: Value, dims: Dim[]): Value {
  return x.graph.addNode({ type: 'Reshape', infer: (inputs) => [{ dtype: inputs[0].dtype, shape: [...dims] }] }, [x, shape])[0];
}

/** ONNX Slice of the last axis between run-time bounds ([1] int64 each); `size` names the result's last dim. */
function sliceLast(x: Value, start: Value, end: Value, size: Dim): Value {
  const axis = x.graph.ints([x.rank - 1]);
  return x.graph.addNode(
    {
      type: 'Slice',
      infer: (inputs) => [{ dtype: inputs[0].dtype, shape: [...inputs[0].shape.slice(0, -1), size] }],
    },
    [x, start, end, axis],
  )[0];
}

/** ONNX Concat of the last axis; `size` names the result's last dim. */
function concatLast(xs: Value[], size: Dim): Value {
  return xs[0].graph.addNode(
    {
      type: 'Concat',
      infer: (inputs) => [{ dtype: inputs[0].dtype, shape: [...inputs[0].shape.slice(0, -1), size] }],
    },
    xs,
    { axis: { i: -1 } },
  )[0];
}

/** The decoder graph described at the top of this file. */
export function buildClapCapDecoderGraph(sd: StateDict, cfg: ClapCapConfig): Graph {
  const { nEmbd: n, nHead: H, nLayer } = cfg.gpt;
  const hd = n / H;
  const g = new Graph('clapcap_decoder');
  const p = gpt2Params(g, sd, CLAPCAP_GPT_PREFIX, cfg.gpt);
  const embeds = g.input('inputs_embeds', 'float32', ['B', 'T', n]);
  const positionIds = g.input('position_ids', 'int64', ['T']);
  const lastIndex = g.input('last_index', 'int64', []);
  const temperature = g.input('temperature', 'float32', []);
  const groupedShape = g.input('grouped_shape', 'int64', [5]);
  const rowsShape = g.input('rows_shape', 'int64', [4]);
  const headsShape = g.input('heads_shape', 'int64', [4]);
  const poolSize = g.input('pool_size', 'int64', [1]);
  const poolMask = g.input('pool_mask', 'bool', ['B', 1, 'T', 'N']);
  const pools = Array.from({ length: nLayer }, (_, i) => ({
    key: g.input(kvNames(i).poolKey, 'float32', ['G', H, 'N', hd]),
    value: g.input(kvNames(i).poolValue, 'float32', ['G', H, 'N', hd]),
  }));
  const causal = causalMask(positionIds); // [T, T], true = blocked
  const masked = g.scalar(MASKED);
  const zero = g.ints([0]);
  const end = g.ints([Number.MAX_SAFE_INTEGER]);
  // rows [B, H, T, c] = [G, R, H, T, c] (rows are group-major: a free reshape) ⇄ heads [G, H, R·T, c]
  // (a transpose of the few new positions, so that each head of a group is one matrix product with its pool).
  const headsGrouped = ops.gather(groupedShape, g.ints([0, 2, 1, 3, 4])); // [G, H, R, T, −1]
  const toHeads = (x: Value, c: Dim): Value =>
    reshapeTo(ops.transpose(reshapeTo(x, groupedShape, ['G', 'R', H, 'T', c]), [0, 2, 1, 3, 4]), headsShape, ['G', H, 'RT', c]);
  const toRows = (x: Value, c: Dim): Value =>
    reshapeTo(ops.transpose(reshapeTo(x, headsGrouped, ['G', H, 'R', 'T', c]), [0, 2, 1, 3, 4]), rowsShape, ['B', H, 'T', c]);
  const attend = (i: number, q: Value, k: Value, v: Value): Value => {
    // Hugging Face divides q·kᵀ by √head_dim; for GPT-2's head size 64 scaling q first is bit-identical.
    const qs = ops.mul(q, 1 / Math.sqrt(hd)); // [B, H, T, hd]
    const sPool = ops.where(poolMask, masked, toRows(ops.matmul(toHeads(qs, hd), ops.transpose(pools[i].key, [0, 1, 3, 2])), 'N')); // [B, H, T, N]
    const sSelf = ops.where(causal, masked, ops.matmul(qs, ops.transpose(k, [0, 1, 3, 2]))); // [B, H, T, T]
    const probs = ops.softmax(concatLast([sPool, sSelf], 'N+T'), -1);
    const pPool = sliceLast(probs, zero, poolSize, 'N');
    const pSelf = sliceLast(probs, poolSize, end, 'T');
    return ops.add(toRows(ops.matmul(toHeads(pPool, 'N'), pools[i].value), hd), ops.matmul(pSelf, v)); // [B, H, T, hd]
  };
  // GPT2Model: inputs_embeds + wpe[position_ids] (the `generated` tensor of msclap holds no positions).
  const x = ops.add(embeds, ops.gather(p.wpe, positionIds, 0));
  const { hidden, presents } = gpt2Transformer(p, x, { positionIds, attend, presents: true });
  const logits = gpt2LmHead(p, ops.gather(hidden, lastIndex, 1)); // [B, vocab]
  g.output('logits', logits);
  const scaled = ops.div(logits, temperature);
  const max = ops.reduceMax(scaled, [-1], true); // [B, 1]
  g.output('row_max', ops.reshape(max, [-1]));
  g.output('row_sumexp', ops.reduceSum(ops.exp(ops.sub(scaled, max)), [-1]));
  presents!.forEach((kv, i) => {
    g.output(kvNames(i).newKey, kv.key);
    g.output(kvNames(i).newValue, kv.value);
  });
  return g;
}
