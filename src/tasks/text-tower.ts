/**
 * The text tower at run time: a compiled text-encoder graph (models/clap/text-encoder.ts, which finds the
 * pooled token itself) and the batching around it. Texts are token id sequences; they are grouped by
 * length so that one long text does not pad all the others.
 */
import { ClapError } from '../errors.js';
import type { HostTensor, Session } from '../engine/index.js';
import { type TextFeedSpec, textEncoderFeeds } from '../models/clap/index.js';

export class TextTower {
  constructor(
    private readonly session: Session,
    readonly feeds: TextFeedSpec,
    readonly dProj: number,
  ) {}

  /** Embeds a batch (padded to its longest text): every output of the graph (`text_embed`, debug outputs when built with them). */
  async run(texts: readonly ArrayLike<number>[]): Promise<Record<string, HostTensor>> {
    return this.session.run(textEncoderFeeds(texts, this.feeds));
  }

  /** Embeds a batch (padded to its longest text) → [N, d_proj]. */
  async embed(texts: readonly ArrayLike<number>[]): Promise<HostTensor> {
    return (await this.run(texts)).text_embed;
  }

  /**
   * Embeds any number of texts in runs of at most `maxBatch`, grouping texts of similar length (sorted
   * by token count). Rows come back in input order as [N, d_proj]; each equals a single-text run (GPT-2's
   * causal attention and BERT's masked attention keep padding from reaching real rows).
   */
  async embedAll(texts: readonly ArrayLike<number>[], options: { maxBatch?: number } = {}): Promise<HostTensor> {
    const maxBatch = options.maxBatch ?? 64;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new ClapError(`maxBatch must be a positive integer, got ${maxBatch}`);
    if (texts.length === 0) throw new ClapError('no texts to encode');
    const order = texts.map((_, i) => i).sort((a, b) => texts[a].length - texts[b].length || a - b);
    const out = new Float32Array(texts.length * this.dProj);
    for (let start = 0; start < order.length; start += maxBatch) {
      const idx = order.slice(start, start + maxBatch);
      const e = (await this.embed(idx.map((i) => texts[i]))).data as Float32Array;
      idx.forEach((i, r) => out.set(e.subarray(r * this.dProj, (r + 1) * this.dProj), i * this.dProj));
    }
    return { dtype: 'float32', shape: [texts.length, this.dProj], data: out };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
