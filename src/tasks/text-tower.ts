/**
 * The text tower at run time: a compiled text-encoder graph (models/clap/text-encoder.ts, which finds the
 * pooled token itself) and the batching around it. Texts are token id sequences; they are grouped by
 * length so that one long text does not pad all the others.
 */
import { ClapError } from '../errors.js';
import type { HostTensor, Session } from '../engine/index.js';
import { type TextFeedSpec, textEncoderFeeds } from '../models/clap/index.js';
import type { Tuning } from './calibration.js';

/** Tokens of the synthetic texts a calibration runs (a typical zero-shot prompt). */
const CALIBRATION_TOKENS = 12;

export class TextTower {
  private calibrated?: Promise<number>;

  constructor(
    private readonly session: Session,
    readonly feeds: TextFeedSpec,
    readonly dProj: number,
    private readonly tuning: Tuning,
  ) {}

  /**
   * Texts per run for a call of `count` texts: CLAP_TEXT_BATCH, else the kept calibration, else one measured
   * now when the call is long enough to pay for it (twice the largest candidate), else the default.
   */
  async batch(count: number): Promise<number> {
    const known = this.tuning.known();
    if (known !== undefined) return known;
    const { batches, defaultBatch } = this.tuning.spec;
    if (!this.calibrated && count < 2 * Math.max(...batches)) return defaultBatch;
    const texts = (b: number): number[][] => Array.from({ length: b }, () => Array.from({ length: CALIBRATION_TOKENS }, (_, i) => 1 + i));
    const probe = (s: Session, b: number): Promise<unknown> => s.run(textEncoderFeeds(texts(b), this.feeds));
    this.calibrated ??= this.tuning.calibrate(this.session, probe, () => Promise.resolve(this.session)).then((r) => r.calibration.batch);
    return this.calibrated;
  }

  /** Embeds a batch (padded to its longest text): every output of the graph (`text_embed`, debug outputs when built with them). */
  async run(texts: readonly ArrayLike<number>[]): Promise<Record<string, HostTensor>> {
    return this.session.run(textEncoderFeeds(texts, this.feeds));
  }

  /** Embeds a batch (padded to its longest text) → [N, d_proj]. */
  async embed(texts: readonly ArrayLike<number>[]): Promise<HostTensor> {
    return (await this.run(texts)).text_embed;
  }

  /**
   * Embeds any number of texts in runs of at most `maxBatch` (default: `batch()`), grouping texts of
   * similar length (sorted by token count). Rows come back in input order as [N, d_proj]; each equals a single-text run (GPT-2's
   * causal attention and BERT's masked attention keep padding from reaching real rows).
   */
  async embedAll(texts: readonly ArrayLike<number>[], options: { maxBatch?: number } = {}): Promise<HostTensor> {
    if (texts.length === 0) throw new ClapError('no texts to encode');
    const maxBatch = options.maxBatch ?? (await this.batch(texts.length));
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new ClapError(`maxBatch must be a positive integer, got ${maxBatch}`);
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
