/**
 * msclap's clapcap decoder side (`ClapCaptionModel` minus its audio encoder) on the engine:
 *
 *   prefix graph   audio_embed [B, d_proj]  (clapcap.clap(audio)[0], the projected audio embedding)
 *                  → prefix_normalized (x / ‖x‖₂ when normalize_prefix) → TransformerMapper
 *                  → mapper_linear [B, clip·n], prefix_embed [B, prefix_length, n]
 *   decoder graph  GPT2LMHeadModel on `inputs_embeds` (+ wpe, as Hugging Face adds positions to
 *                  inputs_embeds) with an optional KV cache, logits of ONE row per sequence:
 *                    inputs_embeds [B, T, n]    new rows (prefix embeddings, or wte[token] rows)
 *                    position_ids  [T]          their positions (P..P+T−1 after P cached rows)
 *                    key_positions [S]          positions of all keys, S = P + T (0..S−1)
 *                    last_index    []           the row of T whose logits are returned (T−1)
 *                    temperature   []           for the softmax statistics below (1 = none)
 *                    past_length   [1]          P
 *                    past_key_<i>, past_value_<i>  [B, n_head, P, head_dim] (P may be 0)
 *                  → logits [B, vocab], key_<i>, value_<i> [B, n_head, T, head_dim] (the new positions),
 *                    row_max [B] = max(logits / temperature), row_sumexp [B] = Σ exp(logits / t − max):
 *                    the softmax normaliser beam search needs for every row, vectorised by the runtime
 *                    (a JS exp loop over 50257 logits per beam costs more than the GPT-2 step itself)
 *
 * One decoder graph serves all three uses, so GPT-2's weights live in one ORT session:
 *   prefill  = prefix embeddings with an empty past (P = 0);
 *   step     = one wte row per beam ([B, 1, n], looked up on the host: the same bytes Gather would
 *              copy) with the cached history as past: the host keeps each row's keys/values, reorders
 *              them for beam search and feeds them without a copy (onnxruntime-node reads JS memory);
 *              only the new positions come back (large outputs are what a step would otherwise spend
 *              its time on: ORT copies every output into fresh JS memory);
 *   uncached = prefix embeddings followed by every token's wte row, empty past: what msclap runs each
 *              step (it has no KV cache), minus the LM head on every row.
 *
 * Config: sizes come from the checkpoint's shapes; what shapes cannot tell (GPT-2's n_head, the
 * LayerNorm eps, normalize_prefix) from the `clapcap` settings (fixtures' config.json → `clapcap`, or
 * msclap's config_clapcap.yml), with the official 2023 values as defaults. Given settings are checked
 * against the checkpoint.
 */
import { ClapError } from '../errors.js';
import { type Dim, Graph, type HostTensor, ops, type RuntimeOptions, Session, type Value } from '../engine/index.js';
import { type Gpt2Config, gpt2LmHead, gpt2Params, gpt2Transformer, inferGpt2Config, type KeyValue } from './gpt2.js';
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
    throw new ClapError(`mapping_type '${settings.mapping_type}' is not supported (msclap 2023 uses 'transformer')`, { subject: 'clapcap.mapping_type' });
  }
  const g = settings.gpt2 ?? {};
  const nHead = g.n_head ?? DEFAULT_GPT_HEADS;
  const gpt = inferGpt2Config(sd, CLAPCAP_GPT_PREFIX, nHead, g.layer_norm_epsilon ?? 1e-5);
  if (gpt.nLayer === 0) throw new ClapError('missing from the checkpoint (is this a clapcap checkpoint?)', { subject: `${CLAPCAP_GPT_PREFIX}h.0` });
  if (gpt.nEmbd % nHead !== 0) throw new ClapError(`n_embd ${gpt.nEmbd} is not a multiple of n_head ${nHead}`, { subject: 'clapcap.gpt2.n_head' });
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
  if (settings.mapper_mlp_ratio !== undefined) expect('mapper_mlp_ratio (hidden size)', Math.trunc(mapper.nEmbd * settings.mapper_mlp_ratio), mapper.mlpHidden);
  expect('gpt2.n_embd', g.n_embd, gpt.nEmbd);
  expect('gpt2.n_layer', g.n_layer, gpt.nLayer);
  expect('gpt2.vocab_size', g.vocab_size, gpt.vocabSize);
  expect('gpt2.n_positions', g.n_positions, gpt.nPositions);
  if (mapper.nEmbd !== gpt.nEmbd) {
    throw new ClapError(`has width ${mapper.nEmbd} but GPT-2's n_embd is ${gpt.nEmbd}`, { subject: `${MAPPER_PREFIX}prefix_const` });
  }
  const lm = requireTensor(sd, 'gpt.lm_head.weight', [gpt.vocabSize, gpt.nEmbd]);
  if (lm !== requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`) && !sameValues(lm, requireTensor(sd, `${CLAPCAP_GPT_PREFIX}wte.weight`))) {
    throw new ClapError('differs from gpt.transformer.wte.weight (GPT2LMHeadModel ties them)', { subject: 'gpt.lm_head.weight' });
  }
  if (mapper.prefixLength >= gpt.nPositions) throw new ClapError(`prefix_length ${mapper.prefixLength} leaves no GPT-2 position for a token`);
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
export const kvNames = (i: number) => ({ pastKey: `past_key_${i}`, pastValue: `past_value_${i}`, newKey: `key_${i}`, newValue: `value_${i}` });

const INT64_MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * `x[..., start:, ...]` along `axis` with a run-time start ([1] int64) and a symbolic result size
 * (the engine's own slice wants constant bounds).
 */
function sliceFrom(x: Value, start: Value, axis: number, size: Dim): Value {
  const g = x.graph;
  return g.addNode({
    type: 'Slice',
    infer: (inputs) => {
      const shape = [...inputs[0].shape];
      shape[axis] = size;
      return [{ dtype: inputs[0].dtype, shape }];
    },
  }, [x, start, g.ints([INT64_MAX_SAFE]), g.ints([axis])])[0];
}

/** The decoder graph described at the top of this file. */
export function buildClapCapDecoderGraph(sd: StateDict, cfg: ClapCapConfig): Graph {
  const { nEmbd: n, nHead, nLayer } = cfg.gpt;
  const hd = n / nHead;
  const g = new Graph('clapcap_decoder');
  const p = gpt2Params(g, sd, CLAPCAP_GPT_PREFIX, cfg.gpt);
  const embeds = g.input('inputs_embeds', 'float32', ['B', 'T', n]);
  const positionIds = g.input('position_ids', 'int64', ['T']);
  const keyPositions = g.input('key_positions', 'int64', ['S']);
  const pastLength = g.input('past_length', 'int64', [1]);
  const lastIndex = g.input('last_index', 'int64', []);
  const temperature = g.input('temperature', 'float32', []);
  const past: KeyValue[] = [];
  for (let i = 0; i < nLayer; i++) {
    const nm = kvNames(i);
    past.push({ key: g.input(nm.pastKey, 'float32', ['B', nHead, 'P', hd]), value: g.input(nm.pastValue, 'float32', ['B', nHead, 'P', hd]) });
  }
  // GPT2Model: inputs_embeds + wpe[position_ids] (the `generated` tensor of msclap holds no positions).
  const x = ops.add(embeds, ops.gather(p.wpe, positionIds, 0));
  const { hidden, presents } = gpt2Transformer(p, x, { positionIds, past: { kv: past, keyPositions, totalDim: 'S' }, presents: true });
  const logits = gpt2LmHead(p, ops.gather(hidden, lastIndex, 1)); // [B, vocab]
  g.output('logits', logits);
  const scaled = ops.div(logits, temperature);
  const max = ops.reduceMax(scaled, [-1], true); // [B, 1]
  g.output('row_max', ops.reshape(max, [-1]));
  g.output('row_sumexp', ops.reduceSum(ops.exp(ops.sub(scaled, max)), [-1]));
  // Only the T new positions leave the runtime (copying the whole cache out each step costs more
  // than the step's attention); the host keeps the history and feeds it back without a copy.
  presents!.forEach((kv, i) => {
    g.output(kvNames(i).newKey, sliceFrom(kv.key, pastLength, 2, 'T'));
    g.output(kvNames(i).newValue, sliceFrom(kv.value, pastLength, 2, 'T'));
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

/**
 * The decoder's cache after a call: row r's history is `base` row r (what the call was fed as past)
 * followed by `fresh` row r (the positions the call added). Kept in two parts so that each step
 * copies the history once, when the next call reorders the rows (beam search) into its past.
 */
export interface KvCache {
  batch: number;
  /** Positions in every row's history (base.length + fresh.length). */
  length: number;
  base: KvBlock;
  fresh: KvBlock;
}

export interface DecoderOutput {
  /** [B, vocab] logits of each sequence's last input row. */
  logits: Float32Array;
  /** Per row: max of logits / temperature and Σ exp(logits / temperature − max) (float32). */
  stats: { temperature: number; max: Float32Array; sumExp: Float32Array };
  cache: KvCache;
}

export interface ForwardOptions {
  /** Row r of the new batch continues row parents[r] of `past` (default 0..B−1). */
  parents?: ArrayLike<number>;
  /** For the softmax statistics (default 1). */
  temperature?: number;
  /**
   * A cache that is no longer needed (e.g. the one before `past`): its base buffers are reused for the
   * new past instead of allocating (it must not be used afterwards).
   */
  recycle?: KvCache;
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
    const cfg = 'gpt' in settings && 'mapper' in settings ? settings as ClapCapConfig : clapCapConfig(sd, settings as ClapCapSettings);
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
  async prefix(audioEmbeds: Float32Array | readonly Float32Array[]): Promise<{ batch: number; normalized: Float32Array; linear: Float32Array; prefix: Float32Array }> {
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
      if (!Number.isInteger(t) || t < 0 || t >= vocabSize) throw new ClapError(`token id ${t} is outside the vocabulary (0..${vocabSize - 1})`);
      out.set(this.wte.subarray(t * n, (t + 1) * n), i * n);
    }
    return out;
  }

  /**
   * One decoder call: `embeds` [B, T, n] row-major continue rows `parents` of `past` (default: no
   * past). Returns the logits of each row's last position, their softmax statistics at `temperature`
   * (rounded to float32 first, as a float32 tensor divides), and the new cache.
   */
  async forward(embeds: Float32Array, T: number, past?: KvCache, o: ForwardOptions = {}): Promise<DecoderOutput> {
    const { nEmbd: n, nLayer, nPositions } = this.config.gpt;
    if (!Number.isInteger(T) || T < 1 || embeds.length % (T * n) !== 0) throw new Error(`inputs_embeds of ${embeds.length} values is not [B, ${T}, ${n}]`);
    const B = embeds.length / (T * n);
    const pastBlock = this.gatherPast(B, past, o.parents, o.recycle);
    const P = pastBlock.length;
    const S = P + T;
    if (S > nPositions) throw new ClapError(`the decoder would need ${S} positions; GPT-2 has ${nPositions}`);
    const range = (from: number, count: number): BigInt64Array => BigInt64Array.from({ length: count }, (_, i) => BigInt(from + i));
    const feeds: Record<string, HostTensor> = {
      inputs_embeds: { dtype: 'float32', shape: [B, T, n], data: embeds },
      position_ids: { dtype: 'int64', shape: [T], data: range(P, T) },
      key_positions: { dtype: 'int64', shape: [S], data: range(0, S) },
      past_length: { dtype: 'int64', shape: [1], data: BigInt64Array.of(BigInt(P)) },
      last_index: { dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(T - 1)) },
      temperature: { dtype: 'float32', shape: [], data: Float32Array.of(o.temperature ?? 1) },
    };
    const kvShape = [B, this.config.gpt.nHead, P, n / this.config.gpt.nHead];
    for (let i = 0; i < nLayer; i++) {
      const nm = kvNames(i);
      feeds[nm.pastKey] = { dtype: 'float32', shape: kvShape, data: pastBlock.keys[i] };
      feeds[nm.pastValue] = { dtype: 'float32', shape: kvShape, data: pastBlock.values[i] };
    }
    const out = await this.decoderSession.run(feeds);
    const fresh: KvBlock = { batch: B, length: T, keys: [], values: [] };
    for (let i = 0; i < nLayer; i++) {
      fresh.keys.push(out[kvNames(i).newKey].data as Float32Array);
      fresh.values.push(out[kvNames(i).newValue].data as Float32Array);
    }
    return {
      logits: out.logits.data as Float32Array,
      stats: { temperature: Math.fround(o.temperature ?? 1), max: out.row_max.data as Float32Array, sumExp: out.row_sumexp.data as Float32Array },
      cache: { batch: B, length: S, base: pastBlock, fresh },
    };
  }

  /**
   * The past for a call of B rows: row r = the full history (base ⊕ fresh) of row parents[r] of
   * `past`, contiguous per layer [B, n_head, S, head_dim] (one copy; buffers of `recycle` reused).
   */
  private gatherPast(B: number, past: KvCache | undefined, parents: ArrayLike<number> | undefined, recycle: KvCache | undefined): KvBlock {
    const { nEmbd: n, nHead: H, nLayer } = this.config.gpt;
    const hd = n / H;
    if (!past) {
      if (parents && parents.length !== B) throw new Error(`parents has ${parents.length} rows for ${B} sequences`);
      const empty = new Float32Array(0);
      return { batch: B, length: 0, keys: new Array(nLayer).fill(empty), values: new Array(nLayer).fill(empty) };
    }
    const index = parents ?? Array.from({ length: B }, (_, i) => i);
    if (index.length !== B) throw new Error(`parents has ${index.length} rows for ${B} sequences`);
    for (let r = 0; r < B; r++) {
      const p = index[r];
      if (!Number.isInteger(p) || p < 0 || p >= past.batch) throw new Error(`parent ${p} outside the cache's ${past.batch} rows`);
    }
    if (recycle === past) throw new Error('cannot recycle the cache being continued');
    const S = past.length;
    const Sb = past.base.length;
    const Sf = past.fresh.length;
    const size = B * H * S * hd;
    const take = (i: number, kind: 'keys' | 'values'): Float32Array => {
      const old = recycle?.base[kind][i];
      if (old && old.buffer.byteLength >= size * 4 && old.byteOffset === 0) return new Float32Array(old.buffer, 0, size);
      return new Float32Array(new ArrayBuffer(Math.ceil(size * 1.25) * 4), 0, size); // headroom for later, longer steps
    };
    const block: KvBlock = { batch: B, length: S, keys: [], values: [] };
    for (let i = 0; i < nLayer; i++) {
      for (const kind of ['keys', 'values'] as const) {
        const dst = take(i, kind);
        const base = past.base[kind][i];
        const fresh = past.fresh[kind][i];
        for (let r = 0; r < B; r++) {
          const p = index[r];
          for (let h = 0; h < H; h++) {
            const d = (r * H + h) * S * hd;
            if (Sb > 0) dst.set(base.subarray((p * H + h) * Sb * hd, (p * H + h + 1) * Sb * hd), d);
            dst.set(fresh.subarray((p * H + h) * Sf * hd, (p * H + h + 1) * Sf * hd), d + Sb * hd);
          }
        }
        block[kind].push(dst);
      }
    }
    return block;
  }

  /** Prefill: prefix embeddings [B, P, n] row-major → last-row logits and the cache of the P rows. */
  async prefill(prefixEmbeds: Float32Array, temperature = 1): Promise<DecoderOutput> {
    return this.forward(prefixEmbeds, this.config.prefixLength, undefined, { temperature });
  }

  /** One cached step: row r continues row parents[r] of `cache` with token tokens[r]. */
  async step(cache: KvCache, parents: ArrayLike<number>, tokens: ArrayLike<number>, o: Omit<ForwardOptions, 'parents'> = {}): Promise<DecoderOutput> {
    if (parents.length !== tokens.length) throw new Error('parents and tokens differ in length');
    return this.forward(this.tokenEmbeddings(tokens), 1, cache, { ...o, parents });
  }

  /**
   * Without a cache (what msclap does every step): row r = prefix row prefixRows[r] of `prefixEmbeds`
   * ([F, P, n] row-major) followed by tokens[r] (all rows the same length) → last-row logits
   * (its cache holds every position; callers that re-run from scratch ignore it).
   */
  async runUncached(prefixEmbeds: Float32Array, prefixRows: ArrayLike<number>, tokens: readonly ArrayLike<number>[], temperature = 1): Promise<DecoderOutput> {
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
    return this.forward(embeds, T, undefined, { temperature });
  }

  async release(): Promise<void> {
    await Promise.all([this.prefixSession.release(), this.decoderSession.release()]);
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
