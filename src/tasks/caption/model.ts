/**
 * The compiled clapcap decoder (models/clapcap/decoder.ts's graphs in ORT sessions).
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
 */
import { ClapError } from '../../errors.js';
import type { HostTensor, RuntimeOptions, Session } from '../../engine/index.js';
import type { Precision } from '../../engine/quant.js';
import {
  buildClapCapDecoderGraph,
  buildClapCapPrefixGraph,
  CLAPCAP_GPT_PREFIX,
  type ClapCapConfig,
  clapCapConfig,
  type ClapCapSettings,
  kvNames,
} from '../../models/clapcap/index.js';
import { asFloat32, requireTensor } from '../../models/layers.js';
import type { StateDict } from '../../weights/index.js';
import { ModelCache } from '../model-cache.js';
import { compileTower, int8WeightsFor, type TowerContext } from '../towers.js';
import { WeightsSource } from '../weights-source.js';

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

  /**
   * Compiles the model's two graphs (no model cache) from a clapcap state dict and its settings or config;
   * `precision` is the decoder's (see `compile`).
   */
  static async load(
    sd: StateDict,
    settings: ClapCapSettings | ClapCapConfig = {},
    options: RuntimeOptions & { precision?: Precision } = {},
  ): Promise<ClapCapModel> {
    const { precision = 'fp32', ...runtime } = options;
    const cfg = 'gpt' in settings && 'mapper' in settings ? (settings as ClapCapConfig) : clapCapConfig(sd, settings as ClapCapSettings);
    const ctx: TowerContext = {
      weights: WeightsSource.of(sd),
      cache: new ModelCache({ cacheDir: false }),
      precision,
      int8Weights: await int8WeightsFor(precision),
      runtime,
    };
    return ClapCapModel.compile(ctx, cfg);
  }

  /**
   * Compiles (or takes from the model cache) the model's two graphs; wte is read from the weights. The
   * mapper runs in float32 (once per file); GPT-2 at the context's precision: 'int8' quantises its MatMul
   * weights and the tied LM head (4x fewer bytes streamed per step: each step reads all of them), so it
   * is faster and approximate; 'fp32' reproduces msclap.
   */
  static async compile(ctx: TowerContext, cfg: ClapCapConfig): Promise<ClapCapModel> {
    const [prefixSession, decoderSession] = await Promise.all([
      compileTower(ctx, 'clapcap_prefix', (sd) => buildClapCapPrefixGraph(sd, cfg), 'fp32'),
      compileTower(ctx, 'clapcap_decoder', (sd) => buildClapCapDecoderGraph(sd, cfg)),
    ]);
    const sd = await ctx.weights.tensors();
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
      heads_shape: { dtype: 'int64', shape: [4], data: ints([G, H, R * T, -1]) },
      pool_size: { dtype: 'int64', shape: [1], data: ints([N]) },
      pool_mask: { dtype: 'bool', shape: [B, 1, T, N], data: mask },
    };
    for (let i = 0; i < nLayer; i++) {
      feeds[kvNames(i).poolKey] = { dtype: 'float32', shape: [G, H, N, hd], data: pool.keys[i] };
      feeds[kvNames(i).poolValue] = { dtype: 'float32', shape: [G, H, N, hd], data: pool.values[i] };
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
