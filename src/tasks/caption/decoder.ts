/**
 * Audio captioning from projected audio embeddings (msclap `generate_caption` after its audio encoder):
 *
 *   const dec = await ClapCapDecoder.load(clapcapStateDict, configJson.clapcap);
 *   const [r] = await dec.caption([audioEmbedding]);      // beam 5, entry_length 67, temperature 1
 *   r.caption  // generate_caption's string (capitalised best beam, stop-token space included)
 *
 * `caption` takes msclap's `prefix` (clapcap.clap(audio)[0], d_proj values per file: what `Clap`
 * computes with clapcap.pth's own audio encoder), runs the mapper for all files in one call, then
 * decodes files in batches (`batchSize`, all their beams in one GPT-2 batch), with the KV cache unless
 * `kvCache: false` (msclap's own way: every step re-runs GPT-2 over prefix + tokens).
 */
import { ClapError } from '../../errors.js';
import type { RuntimeOptions } from '../../engine/index.js';
import type { Precision } from '../../engine/quant.js';
import type { ClapCapConfig, ClapCapSettings } from '../../models/clapcap/index.js';
import type { StateDict } from '../../weights/index.js';
import { ClapCapCache } from './kv-cache.js';
import { ClapCapModel } from './model.js';
import { defaultTokenizer, type Gpt2Tokenizer } from '../../text/index.js';
import { beamTemperature } from './logprobs.js';
import { beamSearch, type CaptionLm, type LmState, sample, type SearchResult } from './search.js';

export type CaptionStrategy = 'beam' | 'greedy' | 'sample';
export const CAPTION_STRATEGIES: readonly CaptionStrategy[] = ['beam', 'greedy', 'sample'];

/** What captioning does when an option is left out (msclap's generate_caption settings; the CLI's help shows these). */
export const CAPTION_DEFAULTS = {
  strategy: 'beam',
  beamSize: 5,
  entryLength: 67,
  temperature: 1,
  topK: 0,
  topP: 1,
  seed: 0,
  batchSize: 8,
} as const;

export interface CaptionOptions {
  /** 'beam' (msclap, default), 'greedy' (= beam size 1, as msclap's beam_size=1), 'sample'. */
  strategy?: CaptionStrategy;
  /** Beams (default 5, generate_caption's). */
  beamSize?: number;
  /**
   * Most tokens per caption (msclap entry_length, default 67, or fewer when GPT-2's positions run out
   * first). At most what they allow: prefix_length + entryLength − 1 ≤ n_positions.
   */
  entryLength?: number;
  /** Default 1. Beam: logits / temperature (≤ 0 means 1, as msclap). Sampling: 0 = argmax. */
  temperature?: number;
  /** Sampling: keep the k most likely tokens (default 0 = all). */
  topK?: number;
  /** Sampling: nucleus probability (default 1 = all). */
  topP?: number;
  /** Sampling: PRNG seed (default 0); each file has its own stream. */
  seed?: number;
  /** Use the KV cache (default true). */
  kvCache?: boolean;
  /** Files decoded together (default 8; with the cache each file holds ≈27 MB of keys/values at full size). */
  batchSize?: number;
  /** Called after each batch of files with the number captioned so far. */
  onProgress?: (done: number, total: number) => void;
}

export interface CaptionBeam {
  /** decode(tokens): msclap's beam text (stop token included as a trailing space). */
  text: string;
  tokens: number[];
  /** score / length (mean log-probability per token, float32 as msclap ranks them); NaN when sampled. */
  score: number;
  length: number;
  stopped: boolean;
  /** Row in msclap's final `tokens` tensor (the decode order before ranking). */
  beamIndex: number;
}

export interface CaptionResult {
  /** generate_caption's caption: the best text with Python `str.capitalize` (quirk 23). */
  caption: string;
  /** The best beam's raw text (decode of its tokens). */
  text: string;
  tokens: number[];
  score: number;
  stopped: boolean;
  /** Every beam, best first (beam and greedy strategies). */
  beams?: CaptionBeam[];
  /** GPT-2 forward passes this caption took in msclap's terms (≤ entryLength). */
  modelCalls: number;
}

/** A cached state is a point in its cache's history: only the latest one can be continued. */
interface CachedState extends LmState {
  cache: ClapCapCache;
  positions: number;
}
interface UncachedState extends LmState {
  prefixRows: Int32Array;
  tokens: number[][];
}

export class ClapCapDecoder {
  constructor(
    readonly model: ClapCapModel,
    readonly tokenizer: Gpt2Tokenizer = defaultTokenizer(),
  ) {}

  /** Compiles the mapper and GPT-2 sessions from a clapcap state dict (+ optional `clapcap` settings). */
  static async load(
    sd: StateDict,
    settings: ClapCapSettings | ClapCapConfig = {},
    options: RuntimeOptions & { tokenizer?: Gpt2Tokenizer; precision?: Precision } = {},
  ): Promise<ClapCapDecoder> {
    const { tokenizer, ...runtime } = options;
    return new ClapCapDecoder(await ClapCapModel.load(sd, settings, runtime), tokenizer);
  }

  get config(): ClapCapConfig {
    return this.model.config;
  }

  /** The mapper: projected audio embeddings (one per file) → GPT-2 prefix embeddings [P·n] per file. */
  async prefixEmbeddings(audioEmbeds: readonly Float32Array[]): Promise<Float32Array[]> {
    const { prefix, batch } = await this.model.prefix(audioEmbeds);
    const size = prefix.length / batch;
    return Array.from({ length: batch }, (_, i) => prefix.slice(i * size, (i + 1) * size));
  }

  /** Captions from projected audio embeddings (msclap's `prefix`, d_proj values per file). */
  async caption(audioEmbeds: readonly Float32Array[], options: CaptionOptions = {}): Promise<CaptionResult[]> {
    checkOptions(options, this.config);
    if (audioEmbeds.length === 0) return [];
    return this.captionPrefixEmbeddings(await this.prefixEmbeddings(audioEmbeds), options);
  }

  /** Captions from GPT-2 prefix embeddings (the mapper's output, [prefix_length·n_embd] per file). */
  async captionPrefixEmbeddings(prefixEmbeds: readonly Float32Array[], options: CaptionOptions = {}): Promise<CaptionResult[]> {
    const o = checkOptions(options, this.config);
    const size = this.config.prefixLength * this.config.gpt.nEmbd;
    prefixEmbeds.forEach((p, i) => {
      if (p.length !== size) throw new ClapError(`prefix embedding ${i} has ${p.length} values, expected ${size} (prefix_length × n_embd)`);
    });
    const out: CaptionResult[] = [];
    for (let s = 0; s < prefixEmbeds.length; s += o.batchSize) {
      const chunk = prefixEmbeds.slice(s, s + o.batchSize);
      const flat = new Float32Array(chunk.length * size);
      chunk.forEach((p, i) => flat.set(p, i * size));
      const rowsPerFile = o.strategy === 'sample' || o.strategy === 'greedy' ? 1 : o.beamSize;
      const lm = this.lm(flat, {
        kvCache: o.kvCache,
        temperature: o.strategy === 'sample' ? 1 : beamTemperature(o.temperature),
        slots: this.config.prefixLength + rowsPerFile * (o.entryLength - 1),
      });
      const stop = this.config.stopTokenId;
      const results: SearchResult[] =
        o.strategy === 'sample'
          ? await sample(lm, chunk.length, {
              entryLength: o.entryLength,
              temperature: o.temperature,
              topK: o.topK,
              topP: o.topP,
              seed: o.seed,
              streamOffset: s,
              stopToken: stop,
            })
          : await beamSearch(lm, chunk.length, {
              beamSize: o.strategy === 'greedy' ? 1 : o.beamSize,
              entryLength: o.entryLength,
              temperature: o.temperature,
              stopToken: stop,
            });
      for (const r of results) out.push(this.finish(r, o.strategy !== 'sample'));
      options.onProgress?.(out.length, prefixEmbeds.length);
    }
    return out;
  }

  private finish(r: SearchResult, withBeams: boolean): CaptionResult {
    const beams: CaptionBeam[] = r.beams.map((b) => ({ ...b, text: this.tokenizer.decode(b.tokens) }));
    const best = beams[0];
    return {
      caption: this.tokenizer.decodeCaption(best.tokens),
      text: best.text,
      tokens: best.tokens,
      score: best.score,
      stopped: best.stopped,
      ...(withBeams ? { beams } : {}),
      modelCalls: r.modelCalls,
    };
  }

  /**
   * The step-wise model over prefix embeddings `prefixEmbeds` ([F, P, n] row-major): with the KV cache
   * (prefill, then one token per row and step) or without (prefix + all tokens every step). Each state
   * carries the rows' softmax statistics at `temperature` (see ClapCapModel.forward). With the cache,
   * rows must stay grouped by file (as beam search and sampling keep them) and `slots` sizes each
   * file's cache (prefix + rows × steps; it grows if exceeded).
   */
  lm(prefixEmbeds: Float32Array, o: { kvCache?: boolean; temperature?: number; slots?: number } = {}): CaptionLm {
    const model = this.model;
    const V = model.config.gpt.vocabSize;
    const temperature = o.temperature ?? 1;
    if (o.kvCache ?? true) {
      const cached: CaptionLm<CachedState> = {
        vocabSize: V,
        start: async (count) => {
          const cache = new ClapCapCache(model, count, o.slots ?? model.config.prefixLength + 64, temperature);
          const r = await cache.prefill(prefixEmbeds.subarray(0, count * model.config.prefixLength * model.config.gpt.nEmbd));
          return { logits: r.logits, stats: r.stats, rows: count, cache, positions: cache.positions };
        },
        next: async (state, parents, tokens) => {
          if (state.positions !== state.cache.positions) throw new Error('only the latest cached decoder state can be continued');
          const r = await state.cache.step(parents, tokens);
          return { logits: r.logits, stats: r.stats, rows: parents.length, cache: state.cache, positions: state.cache.positions };
        },
      };
      return cached as CaptionLm;
    }
    const uncached: CaptionLm<UncachedState> = {
      vocabSize: V,
      start: async (count) => {
        const prefixRows = Int32Array.from({ length: count }, (_, i) => i);
        const tokens = Array.from({ length: count }, () => [] as number[]);
        const r = await model.runUncached(prefixEmbeds, prefixRows, tokens, temperature);
        return { logits: r.logits, stats: r.stats, rows: count, prefixRows, tokens };
      },
      next: async (state, parents, next) => {
        const prefixRows = Int32Array.from(parents, (p) => state.prefixRows[p]);
        const tokens = Array.from(parents, (p, r) => [...state.tokens[p], next[r]]);
        const r = await model.runUncached(prefixEmbeds, prefixRows, tokens, temperature);
        return { logits: r.logits, stats: r.stats, rows: parents.length, prefixRows, tokens };
      },
    };
    return uncached as CaptionLm;
  }

  async release(): Promise<void> {
    await this.model.release();
  }
}

type ResolvedOptions = Required<Omit<CaptionOptions, 'onProgress'>>;

function checkOptions(o: CaptionOptions, cfg: ClapCapConfig): ResolvedOptions {
  const D = CAPTION_DEFAULTS;
  const strategy = o.strategy ?? D.strategy;
  if (strategy !== 'beam' && strategy !== 'greedy' && strategy !== 'sample') {
    throw new ClapError(`unknown strategy ${JSON.stringify(strategy)} (expected beam, greedy or sample)`, { subject: 'strategy' });
  }
  const int = (name: keyof CaptionOptions, v: number, lo: number, hi: number): number => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new ClapError(`must be an integer in ${lo}..${hi}, got ${v}`, { subject: name });
    return v;
  };
  const maxEntry = cfg.gpt.nPositions - cfg.prefixLength + 1;
  const temperature = o.temperature ?? D.temperature;
  if (!Number.isFinite(temperature) || (strategy === 'sample' && temperature < 0)) {
    throw new ClapError(`must be a finite number${strategy === 'sample' ? ' ≥ 0' : ''}, got ${temperature}`, { subject: 'temperature' });
  }
  const topP = o.topP ?? D.topP;
  if (!(topP > 0 && topP <= 1)) throw new ClapError(`must be in (0, 1], got ${topP}`, { subject: 'topP' });
  return {
    strategy,
    beamSize: int('beamSize', o.beamSize ?? D.beamSize, 1, cfg.gpt.vocabSize),
    // the default fits any model (a small GPT-2 may have fewer positions than 67 tokens need)
    entryLength: int('entryLength', o.entryLength ?? Math.min(D.entryLength, maxEntry), 1, maxEntry),
    temperature,
    topK: int('topK', o.topK ?? D.topK, 0, cfg.gpt.vocabSize),
    topP,
    seed: int('seed', o.seed ?? D.seed, 0, 2 ** 32 - 1),
    kvCache: o.kvCache ?? true,
    batchSize: int('batchSize', o.batchSize ?? D.batchSize, 1, 4096),
  };
}
