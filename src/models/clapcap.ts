/**
 * msclap's clapcap decoder side (`ClapCaptionModel` minus its audio encoder) on the engine:
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
 *                    pool_key_<i>, pool_value_<i>  [G, 1, n_head, N, head_dim]  cached keys/values
 *                    pool_mask      [B, 1, T, N] bool  true = that row/position may NOT see the slot
 *                    grouped_shape [G, R, n_head, T, −1], rows_shape [B, n_head, T, −1], pool_size [N]
 *                                   (int64 run-time shapes: rows ⇄ groups is a free reshape)
 *                  → logits [B, vocab], key_<i>, value_<i> [B, n_head, T, head_dim] (the new positions),
 *                    row_max [B] = max(logits / temperature), row_sumexp [B] = Σ exp(logits / t − max):
 *                    the softmax normaliser beam search needs for every row, vectorised by the runtime
 *                    (a JS exp loop over 50257 logits per beam costs more than the GPT-2 step itself)
 *                  Attention of a new position = softmax over [its allowed pool slots, the row's new
 *                  positions up to itself], then ·[pool values; new values] (gpt2Transformer's
 *                  `attend` hook); masked slots get torch.finfo(float32).min as Hugging Face's causal
 *                  mask does, so they weigh exactly 0.
 *
 * One decoder graph serves every use, so GPT-2's weights live in one ORT session:
 *   prefill  = prefix embeddings, one row per group, nothing visible in the pool;
 *   step     = one wte row per beam ([B, 1, n], looked up on the host: the same bytes Gather would
 *              copy); each beam sees the pool slots of its own history (the prefix and the tokens of
 *              its ancestors), so beams are reordered by rewriting masks, never by copying caches;
 *              the pool is fed from JS memory without a copy (onnxruntime-node reads it in place) and
 *              only the new positions' keys/values come back (ORT copies every output into fresh JS
 *              memory: returning whole caches each step would cost more than the step itself);
 *   uncached = prefix embeddings followed by every token's wte row and an empty pool: what msclap runs
 *              each step (it has no KV cache), minus the LM head on every row.
 * `ClapCapCache` keeps the pool, the slots and the masks for a batch of files.
 *
 * Config: sizes come from the checkpoint's shapes; what shapes cannot tell (GPT-2's n_head, the
 * LayerNorm eps, normalize_prefix) from the `clapcap` settings (fixtures' config.json → `clapcap`, or
 * msclap's config_clapcap.yml), with the official 2023 values as defaults. Given settings are checked
 * against the checkpoint.
 */
import { ClapError } from '../errors.js';
import { type Dim, Graph, type HostTensor, ops, type RuntimeOptions, Session, type Value } from '../engine/index.js';
import { causalMask, type Gpt2Config, gpt2LmHead, gpt2Params, gpt2Transformer, inferGpt2Config } from './gpt2.js';
import { asFloat32, requireTensor, type StateDict } from './layers.js';
import { inferMapperConfig, MAPPER_PREFIX, type MapperConfig, mapperParams, transformerMapper } from './mapper.js';
import { l2Normalize } from './projection.js';

/** GPT2LMHeadModel's GPT2Model in clapcap.pth (`gpt.lm_head.weight` is tied to its wte). */
export const CLAPCAP_GPT_PREFIX = 'gpt.transformer.';

/** msclap's stop token: `tokenizer.encode(' <|endoftext|>')[0]` = 220 ('Ġ', a space), not 50256. */
export const CLAPCAP_STOP_TOKEN = 220;

/** Heads of the official decoder (the `gpt2` checkpoint): not recoverable from weight shapes. */
const DEFAULT_GPT_HEADS = 12;

export interface ClapCapConfig {
  gpt: Gpt2Config;
  mapper: MapperConfig;
  /** GPT-2 prefix rows (msclap `prefix_length`). */
  prefixLength: number;
  /** Rows the mapper makes from the audio embedding (`prefix_length_clip`). */
  clipLength: number;
  /** prefix / ‖prefix‖₂ before the mapper (msclap `normalize_prefix`, true in 2023). */
  normalizePrefix: boolean;
  /** Size of the audio embedding fed to the mapper (d_proj). */
  prefixDim: number;
  stopTokenId: number;
}

/** The `clapcap` settings as the fixtures' config.json writes them (msclap yml names); all optional. */
export interface ClapCapSettings {
  prefix_length?: number;
  prefix_length_clip?: number;
  num_layers?: number;
  normalize_prefix?: boolean;
  mapping_type?: string;
  prefix_dim?: number;
  mapper_heads?: number;
  mapper_mlp_ratio?: number;
  gpt2?: {
    n_head?: number;
    n_embd?: number;
    n_layer?: number;
    vocab_size?: number;
    n_positions?: number;
    layer_norm_epsilon?: number;
  };
}

/**
 * The decoder's config from the checkpoint (shapes) and optional settings (checked against it).
 * Throws a ClapError naming the setting when they disagree.
 */
export function clapCapConfig(sd: StateDict, settings: ClapCapSettings = {}): ClapCapConfig {
  if (settings.mapping_type !== undefined && settings.mapping_type !== 'transformer') {
    throw new ClapError(`mapping_type '${settings.mapping_type}' is not supported (msclap 2023 uses 'transformer')`, {
      subject: 'clapcap.mapping_type',
    });
  }
  const g = settings.gpt2 ?? {};
  const nHead = g.n_head ?? DEFAULT_GPT_HEADS;
  const gpt = inferGpt2Config(sd, CLAPCAP_GPT_PREFIX, nHead, g.layer_norm_epsilon ?? 1e-5);
  if (gpt.nLayer === 0)
    throw new ClapError('missing from the checkpoint (is this a clapcap checkpoint?)', { subject: `${CLAPCAP_GPT_PREFIX}h.0` });
  if (gpt.nEmbd % nHead !== 0)
    throw new ClapError(`n_embd ${gpt.nEmbd} is not a multiple of n_head ${nHead}`, { subject: 'clapcap.gpt2.n_head' });
  const mapper = inferMapperConfig(sd, MAPPER_PREFIX);
  const expect = (name: string, given: number | undefined, actual: number): void => {
    if (given !== undefined && given !== actual) {
      throw new ClapError(`is ${given} but the checkpoint has ${actual}`, { subject: `clapcap.${name}` });
    }
  };
  expect('prefix_length', settings.prefix_length, mapper.prefixLength);
  expect('prefix_length_clip', settings.prefix_length_clip, mapper.clipLength);
  expect('num_layers', settings.num_layers, mapper.numLayers);
  expect('prefix_dim', settings.prefix_dim, mapper.dIn);
  expect('mapper_heads', settings.mapper_heads, mapper.numHeads);
  if (settings.mapper_mlp_ratio !== undefined)
    expect('mapper_mlp_ratio (hidden size)', Math.trunc(mapper.nEmbd * settings.mapper_mlp_ratio), mapper.mlpHidden);
  expect('gpt2.n_embd', g.n_embd, gpt.nEmbd);
  expect('gpt2.n_layer', g.n_layer, gpt.nLayer);
  expect('gpt2.vocab_size', g.vocab_size, gpt.vocabSize);
  expect('gpt2.n_positions', g.n_positions, gpt.nPositions);
  if (mapper.nEmbd !== gpt.nEmbd) {
    throw new ClapError(`has width ${mapper.nEmbd} but GPT-2's n_embd is ${gpt.nEmbd}`, { subject: `${MAPPER_PREFIX}prefix_const` });
  }
  const lm = requireTensor(sd, 'gpt.lm_head.weight', [gpt.vocabSize, gpt.nEmbd]);
  if (
    lm !== requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`) &&
    !sameValues(lm, requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`))
  ) {
    throw new ClapError('differs from gpt.transformer.wte.weight (GPT2LMHeadModel ties them)', { subject: 'gpt.lm_head.weight' });
  }
  if (mapper.prefixLength >= gpt.nPositions)
    throw new ClapError(`prefix_length ${mapper.prefixLength} leaves no GPT-2 position for a token`);
  return {
    gpt,
    mapper,
    prefixLength: mapper.prefixLength,
    clipLength: mapper.clipLength,
    normalizePrefix: settings.normalize_prefix ?? true,
    prefixDim: mapper.dIn,
    stopTokenId: CLAPCAP_STOP_TOKEN,
  };
}

function sameValues(a: HostTensor, b: HostTensor): boolean {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
  if (a.data.buffer === b.data.buffer && a.data.byteOffset === b.data.byteOffset) return true;
  const x = asFloat32(a);
  const y = asFloat32(b);
  // spot check (tied weights are one storage in a real checkpoint; a full compare of 38M values is wasteful)
  const step = Math.max(1, Math.floor(x.length / 4099));
  for (let i = 0; i < x.length; i += step) if (!Object.is(x[i], y[i])) return false;
  return true;
}

// ------------------------------------------------------------------------------------------ graphs

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
  const poolSize = g.input('pool_size', 'int64', [1]);
  const poolMask = g.input('pool_mask', 'bool', ['B', 1, 'T', 'N']);
  const pools = Array.from({ length: nLayer }, (_, i) => ({
    key: g.input(kvNames(i).poolKey, 'float32', ['G', 1, H, 'N', hd]),
    value: g.input(kvNames(i).poolValue, 'float32', ['G', 1, H, 'N', hd]),
  }));
  const causal = causalMask(positionIds); // [T, T], true = blocked
  const masked = g.scalar(MASKED);
  const zero = g.ints([0]);
  const end = g.ints([Number.MAX_SAFE_INTEGER]);
  // rows [B, H, T, c] ⇄ [G, R, H, T, c]: the same memory (rows are group-major), so the group's pool
  // [G, 1, H, N, hd] broadcasts over its R rows in one batched matmul, without any transpose.
  const grouped = (x: Value, c: Dim): Value => reshapeTo(x, groupedShape, ['G', 'R', H, 'T', c]);
  const rows = (x: Value, c: Dim): Value => reshapeTo(x, rowsShape, ['B', H, 'T', c]);
  const attend = (i: number, q: Value, k: Value, v: Value): Value => {
    // Hugging Face divides q·kᵀ by √head_dim; for GPT-2's head size 64 scaling q first is bit-identical.
    const qs = ops.mul(q, 1 / Math.sqrt(hd)); // [B, H, T, hd]
    const sPool = ops.where(poolMask, masked, rows(ops.matmul(grouped(qs, hd), ops.transpose(pools[i].key, [0, 1, 2, 4, 3])), 'N')); // [B, H, T, N]
    const sSelf = ops.where(causal, masked, ops.matmul(qs, ops.transpose(k, [0, 1, 3, 2]))); // [B, H, T, T]
    const probs = ops.softmax(concatLast([sPool, sSelf], 'N+T'), -1);
    const pPool = sliceLast(probs, zero, poolSize, 'N');
    const pSelf = sliceLast(probs, poolSize, end, 'T');
    return ops.add(rows(ops.matmul(grouped(pPool, 'N'), pools[i].value), hd), ops.matmul(pSelf, v)); // [B, H, T, hd]
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

// ------------------------------------------------------------------------------------------ runtime

/** Per layer, keys and values of `batch` rows × `length` positions, each [batch, n_head, length, head_dim]. */
export interface KvBlock {
  batch: number;
  length: number;
  keys: Float32Array[];
  values: Float32Array[];
}

/** Cached keys/values of G groups: per layer [G, n_head, capacity, head_dim]. */
export interface KvPool {
  groups: number;
  capacity: number;
  keys: Float32Array[];
  values: Float32Array[];
}

export interface DecoderOutput {
  /** [B, vocab] logits of each row's last new position. */
  logits: Float32Array;
  /** Per row: max of logits / temperature and Σ exp(logits / temperature − max) (float32). */
  stats: { temperature: number; max: Float32Array; sumExp: Float32Array };
  /** The new positions' keys/values. */
  fresh: KvBlock;
}

export interface ForwardOptions {
  /** Position of the first new row position (default 0). */
  positionStart?: number;
  /** For the softmax statistics (default 1; rounded to float32, as a float32 tensor divides). */
  temperature?: number;
  /** The cache rows may attend to, with `mask` [B, T, capacity] (1 = hidden); default: none. */
  pool?: KvPool;
  mask?: Uint8Array;
}

/** The compiled clapcap decoder: the prefix (mapper) session and the GPT-2 session, plus wte for token rows. */
export class ClapCapModel {
  private constructor(
    readonly config: ClapCapConfig,
    private readonly prefixSession: Session,
    private readonly decoderSession: Session,
    /** wte [vocab, n] (tied LM head): token rows of inputs_embeds. */
    private readonly wte: Float32Array,
  ) {}

  static async load(sd: StateDict, settings: ClapCapSettings | ClapCapConfig = {}, options: RuntimeOptions = {}): Promise<ClapCapModel> {
    const cfg = 'gpt' in settings && 'mapper' in settings ? (settings as ClapCapConfig) : clapCapConfig(sd, settings as ClapCapSettings);
    const [prefixSession, decoderSession] = await Promise.all([
      Session.compile(buildClapCapPrefixGraph(sd, cfg), options),
      Session.compile(buildClapCapDecoderGraph(sd, cfg), options),
    ]);
    const wte = asFloat32(requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`, [cfg.gpt.vocabSize, cfg.gpt.nEmbd]));
    return new ClapCapModel(cfg, prefixSession, decoderSession, wte);
  }

  /**
   * The mapper on B projected audio embeddings ([B, d_proj] row-major, or one array per file).
   * Returns each stage row-major: normalized [B, d_proj], linear [B, clip·n], prefix [B, P, n].
   */
  async prefix(
    audioEmbeds: Float32Array | readonly Float32Array[],
  ): Promise<{ batch: number; normalized: Float32Array; linear: Float32Array; prefix: Float32Array }> {
    const d = this.config.prefixDim;
    const flat = stackRows(audioEmbeds, d, 'audio embedding');
    const B = flat.length / d;
    const out = await this.prefixSession.run({ audio_embed: { dtype: 'float32', shape: [B, d], data: flat } });
    return {
      batch: B,
      normalized: out.prefix_normalized.data as Float32Array,
      linear: out.mapper_linear.data as Float32Array,
      prefix: out.prefix_embed.data as Float32Array,
    };
  }

  /** wte rows of `tokens` → [tokens.length, n] (GPT-2's token embeddings, bit-identical to its Gather). */
  tokenEmbeddings(tokens: ArrayLike<number>): Float32Array {
    const { nEmbd: n, vocabSize } = this.config.gpt;
    const out = new Float32Array(tokens.length * n);
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (!Number.isInteger(t) || t < 0 || t >= vocabSize)
        throw new ClapError(`token id ${t} is outside the vocabulary (0..${vocabSize - 1})`);
      out.set(this.wte.subarray(t * n, (t + 1) * n), i * n);
    }
    return out;
  }

  /** An empty (zeroed) pool for `groups` groups of `capacity` slots. */
  createPool(groups: number, capacity: number): KvPool {
    const { nEmbd: n, nLayer } = this.config.gpt;
    const size = groups * n * capacity; // G · n_head · capacity · head_dim
    return {
      groups,
      capacity,
      keys: Array.from({ length: nLayer }, () => new Float32Array(size)),
      values: Array.from({ length: nLayer }, () => new Float32Array(size)),
    };
  }

  /**
   * One decoder call on `embeds` [B, T, n] row-major (B = G·R rows, group-major, when a pool is
   * given). Returns the logits of each row's last position, their softmax statistics, and the new
   * positions' keys/values.
   */
  async forward(embeds: Float32Array, T: number, o: ForwardOptions = {}): Promise<DecoderOutput> {
    const { nEmbd: n, nHead: H, nLayer, nPositions } = this.config.gpt;
    const hd = n / H;
    if (!Number.isInteger(T) || T < 1 || embeds.length % (T * n) !== 0)
      throw new Error(`inputs_embeds of ${embeds.length} values is not [B, ${T}, ${n}]`);
    const B = embeds.length / (T * n);
    const P0 = o.positionStart ?? 0;
    if (P0 + T > nPositions) throw new ClapError(`the decoder would need ${P0 + T} positions; GPT-2 has ${nPositions}`);
    const pool = o.pool ?? this.createPool(B, 1);
    const G = pool.groups;
    const N = pool.capacity;
    if (B % G !== 0) throw new Error(`${B} rows do not split into ${G} groups`);
    const R = B / G;
    const mask = o.pool ? o.mask : new Uint8Array(B * T * N).fill(1);
    if (!mask || mask.length !== B * T * N) throw new Error(`pool mask must have ${B}·${T}·${N} entries`);
    const ints = (xs: number[]): BigInt64Array => BigInt64Array.from(xs, (v) => BigInt(v));
    const feeds: Record<string, HostTensor> = {
      inputs_embeds: { dtype: 'float32', shape: [B, T, n], data: embeds },
      position_ids: { dtype: 'int64', shape: [T], data: ints(Array.from({ length: T }, (_, i) => P0 + i)) },
      last_index: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(T - 1)) },
      temperature: { dtype: 'float32', shape: [], data: Float32Array.of(o.temperature ?? 1) },
      grouped_shape: { dtype: 'int64', shape: [5], data: ints([G, R, H, T, -1]) },
      rows_shape: { dtype: 'int64', shape: [4], data: ints([B, H, T, -1]) },
      pool_size: { dtype: 'int64', shape: [1], data: ints([N]) },
      pool_mask: { dtype: 'bool', shape: [B, 1, T, N], data: mask },
    };
    for (let i = 0; i < nLayer; i++) {
      feeds[kvNames(i).poolKey] = { dtype: 'float32', shape: [G, 1, H, N, hd], data: pool.keys[i] };
      feeds[kvNames(i).poolValue] = { dtype: 'float32', shape: [G, 1, H, N, hd], data: pool.values[i] };
    }
    const out = await this.decoderSession.run(feeds);
    const fresh: KvBlock = { batch: B, length: T, keys: [], values: [] };
    for (let i = 0; i < nLayer; i++) {
      fresh.keys.push(out[kvNames(i).newKey].data as Float32Array);
      fresh.values.push(out[kvNames(i).newValue].data as Float32Array);
    }
    return {
      logits: out.logits.data as Float32Array,
      stats: {
        temperature: Math.fround(o.temperature ?? 1),
        max: out.row_max.data as Float32Array,
        sumExp: out.row_sumexp.data as Float32Array,
      },
      fresh,
    };
  }

  /**
   * Without a cache (what msclap does every step): row r = prefix row prefixRows[r] of `prefixEmbeds`
   * ([F, P, n] row-major) followed by tokens[r] (all rows the same length) → last-row logits.
   */
  async runUncached(
    prefixEmbeds: Float32Array,
    prefixRows: ArrayLike<number>,
    tokens: readonly ArrayLike<number>[],
    temperature = 1,
  ): Promise<DecoderOutput> {
    const { nEmbd: n } = this.config.gpt;
    const P = this.config.prefixLength;
    const B = prefixRows.length;
    if (tokens.length !== B) throw new Error('one token list per row');
    const N = B ? tokens[0].length : 0;
    const T = P + N;
    const embeds = new Float32Array(B * T * n);
    for (let r = 0; r < B; r++) {
      if (tokens[r].length !== N) throw new Error('uncached rows must have equal lengths');
      const f = prefixRows[r];
      embeds.set(prefixEmbeds.subarray(f * P * n, (f + 1) * P * n), r * T * n);
      embeds.set(this.tokenEmbeddings(tokens[r]), (r * T + P) * n);
    }
    return this.forward(embeds, T, { temperature });
  }

  async release(): Promise<void> {
    await Promise.all([this.prefixSession.release(), this.decoderSession.release()]);
  }
}

/**
 * The KV cache of a batch of files being decoded (beam search or sampling): a pool of key/value slots
 * per file and, for every row of the last call, which slots make up its history.
 *
 *   prefill(prefixes)       one row per file; its P positions fill slots 0..P−1
 *   step(parents, tokens)   row r continues row parents[r] of the previous call with tokens[r]; rows
 *                           of a file must be contiguous, in file order, R per file (files without
 *                           rows, e.g. finished ones, are padded with masked dummy rows so the batch
 *                           keeps its G × R layout, and their outputs dropped)
 * Each step writes every row's new key/value into the next free slots of its file and masks, per row,
 * everything but its ancestors' slots. Beams therefore never copy caches.
 */
export class ClapCapCache {
  readonly pool: KvPool;
  private readonly nextSlot: Int32Array;
  /** Per row of the last call: its file and the slots of its history (1 = visible). */
  private rowGroup = new Int32Array(0);
  private rowSeen: Uint8Array[] = [];
  private length = 0;

  /** `capacity`: slots per file (P + rows per file × steps; grows if exceeded). */
  constructor(
    readonly model: ClapCapModel,
    readonly groups: number,
    capacity: number,
    readonly temperature = 1,
  ) {
    if (!Number.isInteger(groups) || groups < 1) throw new Error(`groups must be a positive integer, got ${groups}`);
    this.pool = model.createPool(groups, Math.max(capacity, model.config.prefixLength + 1));
    this.nextSlot = new Int32Array(groups);
  }

  /** Positions decoded so far (prefix + tokens fed). */
  get positions(): number {
    return this.length;
  }

  /** The prefix embeddings of every file ([G, P, n] row-major) → the logits after each prefix (G rows). */
  async prefill(prefixEmbeds: Float32Array): Promise<DecoderOutput> {
    if (this.length !== 0) throw new Error('prefill must be the first call');
    const P = this.model.config.prefixLength;
    const G = this.groups;
    const cap = this.pool.capacity;
    const out = await this.model.forward(prefixEmbeds, P, {
      pool: this.pool,
      mask: new Uint8Array(G * P * cap).fill(1),
      temperature: this.temperature,
    });
    this.write(
      out.fresh,
      Int32Array.from({ length: G }, (_, g) => g),
      0,
    );
    this.nextSlot.fill(P);
    this.rowGroup = Int32Array.from({ length: G }, (_, g) => g);
    this.rowSeen = Array.from({ length: G }, () => {
      const seen = new Uint8Array(cap);
      seen.fill(1, 0, P);
      return seen;
    });
    this.length = P;
    return out;
  }

  /** One token per row; see the class comment. Returns logits/stats for exactly these rows. */
  async step(parents: ArrayLike<number>, tokens: ArrayLike<number>): Promise<Omit<DecoderOutput, 'fresh'>> {
    if (this.length === 0) throw new Error('step before prefill');
    if (parents.length !== tokens.length || parents.length === 0)
      throw new Error('parents and tokens must be non-empty and of equal length');
    const G = this.groups;
    const rows = parents.length;
    // rows per file: contiguous, file order, the same count R for every file present
    const groupOf = new Int32Array(rows);
    const count = new Int32Array(G);
    for (let r = 0; r < rows; r++) {
      const p = parents[r];
      if (!Number.isInteger(p) || p < 0 || p >= this.rowGroup.length)
        throw new Error(`parent ${p} is not a row of the previous call (${this.rowGroup.length} rows)`);
      groupOf[r] = this.rowGroup[p];
      if (r > 0 && groupOf[r] < groupOf[r - 1]) throw new Error('rows must be grouped by file, in file order');
      count[groupOf[r]]++;
    }
    const R = count[groupOf[0]];
    for (let g = 0; g < G; g++)
      if (count[g] !== 0 && count[g] !== R) throw new Error(`every file needs the same number of rows (${count[g]} vs ${R})`);
    this.ensureCapacity(R);
    const cap = this.pool.capacity;
    // the padded G × R batch: real rows where a file has them, dummies (token 0, nothing visible) elsewhere
    const full = G * R;
    const realRow = new Int32Array(full).fill(-1); // padded row → row of this call
    for (let r = 0, g0 = -1, j = 0; r < rows; r++) {
      if (groupOf[r] !== g0) {
        g0 = groupOf[r];
        j = 0;
      }
      realRow[g0 * R + j++] = r;
    }
    const fullTokens = new Int32Array(full);
    const mask = new Uint8Array(full * cap).fill(1);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      fullTokens[f] = tokens[r];
      const seen = this.rowSeen[parents[r]];
      const m = mask.subarray(f * cap, (f + 1) * cap);
      for (let s = 0; s < cap; s++) m[s] = seen[s] ? 0 : 1;
    }
    const out = await this.model.forward(this.model.tokenEmbeddings(fullTokens), 1, {
      pool: this.pool,
      mask,
      positionStart: this.length,
      temperature: this.temperature,
    });
    // new slots: file g's rows j = 0..R−1 take nextSlot[g] + j
    const slotOf = new Int32Array(full).fill(-1);
    const seenNext: Uint8Array[] = new Array(rows);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      const g = Math.floor(f / R);
      slotOf[f] = this.nextSlot[g] + (f % R);
      const seen = this.rowSeen[parents[r]].slice();
      seen[slotOf[f]] = 1;
      seenNext[r] = seen;
    }
    this.writeSlots(out.fresh, slotOf, R);
    for (let g = 0; g < G; g++) if (count[g]) this.nextSlot[g] += R;
    this.rowGroup = groupOf;
    this.rowSeen = seenNext;
    this.length += 1;
    // outputs of the real rows only
    const V = this.model.config.gpt.vocabSize;
    if (rows === full) return { logits: out.logits, stats: out.stats };
    const logits = new Float32Array(rows * V);
    const max = new Float32Array(rows);
    const sumExp = new Float32Array(rows);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      logits.set(out.logits.subarray(f * V, (f + 1) * V), r * V);
      max[r] = out.stats.max[f];
      sumExp[r] = out.stats.sumExp[f];
    }
    return { logits, stats: { temperature: out.stats.temperature, max, sumExp } };
  }

  /** Writes a prefill's T positions of row g (one row per group) into slots from..from+T−1. */
  private write(fresh: KvBlock, groupOfRow: Int32Array, from: number): void {
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const T = fresh.length;
    const cap = this.pool.capacity;
    for (let i = 0; i < fresh.keys.length; i++) {
      for (const kind of ['keys', 'values'] as const) {
        const src = fresh[kind][i];
        const dst = this.pool[kind][i];
        for (let r = 0; r < groupOfRow.length; r++) {
          const g = groupOfRow[r];
          for (let h = 0; h < H; h++)
            dst.set(src.subarray((r * H + h) * T * hd, (r * H + h + 1) * T * hd), ((g * H + h) * cap + from) * hd);
        }
      }
    }
  }

  /** Writes each padded row's single new position into its slot (rows with slot −1 are skipped). */
  private writeSlots(fresh: KvBlock, slotOf: Int32Array, R: number): void {
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const cap = this.pool.capacity;
    for (let i = 0; i < fresh.keys.length; i++) {
      for (const kind of ['keys', 'values'] as const) {
        const src = fresh[kind][i];
        const dst = this.pool[kind][i];
        for (let f = 0; f < slotOf.length; f++) {
          const s = slotOf[f];
          if (s < 0) continue;
          const g = Math.floor(f / R);
          for (let h = 0; h < H; h++) dst.set(src.subarray((f * H + h) * hd, (f * H + h + 1) * hd), ((g * H + h) * cap + s) * hd);
        }
      }
    }
  }

  /** Grows every file's pool (copying its slots) when the next R slots would not fit. */
  private ensureCapacity(R: number): void {
    let need = 0;
    for (const s of this.nextSlot) need = Math.max(need, s + R);
    const cap = this.pool.capacity;
    if (need <= cap) return;
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const grown = Math.max(need, Math.ceil(cap * 1.5));
    for (const kind of ['keys', 'values'] as const) {
      this.pool[kind] = this.pool[kind].map((old) => {
        const next = new Float32Array(this.groups * H * grown * hd);
        for (let gh = 0; gh < this.groups * H; gh++) next.set(old.subarray(gh * cap * hd, (gh + 1) * cap * hd), gh * grown * hd);
        return next;
      });
    }
    this.pool.capacity = grown;
    this.rowSeen = this.rowSeen.map((seen) => {
      const next = new Uint8Array(grown);
      next.set(seen);
      return next;
    });
  }
}

/** One row-major Float32Array from one array or a list of equal-length rows of `width`. */
function stackRows(rows: Float32Array | readonly Float32Array[], width: number, what: string): Float32Array {
  if (rows instanceof Float32Array) {
    if (rows.length === 0 || rows.length % width !== 0) throw new ClapError(`${what}: ${rows.length} values is not a multiple of ${width}`);
    return rows;
  }
  if (rows.length === 0) throw new ClapError(`no ${what}s given`);
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => {
    if (r.length !== width) throw new ClapError(`${what} ${i} has ${r.length} values, expected ${width}`);
    out.set(r, i * width);
  });
  return out;
}
