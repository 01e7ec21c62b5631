/**
 * msclap's GPT-2 tokenization, id for id: Hugging Face `GPT2TokenizerFast` ('gpt2') with msclap's
 * `add_special_tokens({'pad_token': '!'})`, as used by `CLAPWrapper.preprocess_text` (text encoder)
 * and `_generate_beam` / `generate_caption` (clapcap decoding).
 */
import { ClapError } from '../errors.js';
import { cleanUpTokenization, decodeUtf8Replace, pythonCapitalize, toWellFormed, WHITE_SPACE_CLASS } from './unicode.js';
import { ENDOFTEXT, ENDOFTEXT_ID, getGpt2Vocab, VOCAB_SIZE, type Gpt2Vocab } from './vocab.js';

/** msclap's pad token `'!'`: GPT-2 id 0, registered as a special (never merged) token. */
export const PAD_TOKEN = '!';
export const PAD_ID = 0;
/** `' '` (Ġ), msclap's caption stop token: `tokenizer.encode(' <|endoftext|>')[0]`. */
export const CAPTION_STOP_ID = 220;
/** msclap's `text_len`: texts are padded (never truncated) to 77 tokens. */
export const CLAP_TEXT_LEN = 77;
/** What msclap appends to every text before tokenizing it. */
export const CLAP_TEXT_SUFFIX = ` ${ENDOFTEXT}`;

/**
 * Which token the text encoder pools.
 * - `'reference'` (default, bit-for-bit msclap): `count(ids != 0) - 1`. Every `'!'` in the text
 *   (id 0, the pad id) moves the pooled row one to the left, e.g. `"Dog barking!"` pools the `' '`
 *   before `<|endoftext|>` rather than `<|endoftext|>` itself.
 * - `'fixed'`: the real last token, the appended `<|endoftext|>`, which is what the pooling intends
 *   and agrees with `'reference'` for every text without `'!'`. Better, but its embeddings differ from
 *   msclap's for texts containing `'!'`; the caller decides.
 */
export type ClapPooling = 'reference' | 'fixed';

export interface ClapTokens {
  /** Token ids of `text + ' <|endoftext|>'`, unpadded and never truncated (may exceed 77). */
  ids: number[];
  /** Row of the text encoder output that becomes the text embedding (see {@link ClapPooling}). */
  eosPosition: number;
}

export interface DecodeOptions {
  /**
   * Apply transformers' `clean_up_tokenization` (drop the space before `. ? ! ,` and in `n't 'm 's 've
   * 're`). Default true: msclap's `tokenizer.decode` does it (transformers 4.x default for GPT-2).
   * False gives the plain byte-level decoding, which round-trips `encode`.
   */
  cleanUpSpaces?: boolean;
}

export type IdDtype = 'int32' | 'int64';

export interface PadOptions {
  /**
   * Minimum padded length. Default: the batch's longest sequence (enough for a causal model: real
   * tokens never attend to the padding after them). {@link CLAP_TEXT_LEN} reproduces msclap's shape.
   * Longer sequences are never truncated (msclap does not truncate either; it crashes when lengths
   * then differ within a batch, this pads to the longest instead).
   */
  padTo?: number;
}

export interface PaddedBatch<T extends Int32Array | BigInt64Array> {
  /** `[batchSize, seqLen]` row-major token ids, padded with {@link PAD_ID}. */
  ids: T;
  /** `[batchSize, seqLen]`, 1 for real tokens (a `'!'` in the text included), 0 for padding. */
  attentionMask: T;
  /** Real length of each row. */
  lengths: Int32Array;
  batchSize: number;
  seqLen: number;
}

export interface ClapBatch<T extends Int32Array | BigInt64Array> extends PaddedBatch<T> {
  /** Pooled row of each text (see {@link ClapPooling}). */
  eosPositions: Int32Array;
}

const PRE_TOKEN = new RegExp(
  [
    "'s|'t|'re|'ve|'m|'ll|'d",
    ' ?\\p{L}+',
    ' ?\\p{N}+',
    ` ?[^${WHITE_SPACE_CLASS}\\p{L}\\p{N}]+`,
    `[${WHITE_SPACE_CLASS}]+(?![^${WHITE_SPACE_CLASS}])`,
    `[${WHITE_SPACE_CLASS}]+`,
  ].join('|'),
  'gu',
);
const SPECIAL_ONLY_EOT = /<\|endoftext\|>/g;
const SPECIAL_EOT_AND_PAD = /<\|endoftext\|>|!/g;
const WORD_CACHE_LIMIT = 50_000;

/**
 * GPT-2 byte-level BPE tokenizer (vocabulary: js-tiktoken's `r50k_base`, loaded once on first use,
 * offline). Instances keep a per-word BPE cache; share one ({@link defaultTokenizer}) where possible.
 */
export class Gpt2Tokenizer {
  private readonly wordCache = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();

  private get vocab(): Gpt2Vocab {
    return getGpt2Vocab();
  }

  /** Loads the vocabulary now (otherwise the first call that needs it does; ~50 ms). */
  warmUp(): this {
    void this.vocab;
    return this;
  }

  /**
   * Plain GPT-2 BPE (`GPT2Tokenizer.from_pretrained('gpt2').encode(text)`): a literal
   * `<|endoftext|>` is the special token 50256, `'!'` is ordinary text. No tokens are added.
   */
  encode(text: string): number[] {
    return this.encodeWithSpecials(text, SPECIAL_ONLY_EOT);
  }

  /**
   * msclap's `preprocess_text` for one text: tokenizes `text + ' <|endoftext|>'` with `'!'` and
   * `<|endoftext|>` as special tokens (split out before BPE, surrounding spaces kept, as transformers
   * ≥ 4.34 does), so each `'!'` is its own id 0 (`"!!"` → `[0, 0]`, not BPE's single `"!!"` token).
   * No truncation. `mode` picks the pooled row (default `'reference'`).
   */
  encodeForClap(text: string, options: { mode?: ClapPooling } = {}): ClapTokens {
    const mode = options.mode ?? 'reference';
    const ids = this.encodeWithSpecials(text + CLAP_TEXT_SUFFIX, SPECIAL_EOT_AND_PAD);
    let eosPosition: number;
    if (mode === 'reference') {
      let nonPad = 0;
      for (const id of ids) if (id !== PAD_ID) nonPad++;
      eosPosition = nonPad - 1;
    } else if (mode === 'fixed') {
      eosPosition = ids.length - 1;
    } else {
      throw new ClapError(`unknown pooling mode ${JSON.stringify(mode)} (expected 'reference' or 'fixed')`, { subject: 'mode' });
    }
    return { ids, eosPosition };
  }

  /** {@link encodeForClap} for several texts, padded into one batch (see {@link padBatch}). */
  encodeBatchForClap(texts: readonly string[], options: PadOptions & { mode?: ClapPooling; dtype: 'int32' }): ClapBatch<Int32Array>;
  encodeBatchForClap(texts: readonly string[], options?: PadOptions & { mode?: ClapPooling; dtype?: 'int64' }): ClapBatch<BigInt64Array>;
  encodeBatchForClap(
    texts: readonly string[],
    options: PadOptions & { mode?: ClapPooling; dtype?: IdDtype } = {},
  ): ClapBatch<Int32Array | BigInt64Array> {
    const encoded = texts.map((t) => this.encodeForClap(t, { mode: options.mode }));
    const batch = padBatchAny(
      encoded.map((e) => e.ids),
      options.padTo,
      options.dtype ?? 'int64',
    );
    return { ...batch, eosPositions: Int32Array.from(encoded, (e) => e.eosPosition) };
  }

  /**
   * GPT-2 byte-level decoding as msclap's `tokenizer.decode(ids)`: the tokens' bytes (special tokens
   * as their text) decoded as UTF-8 with invalid sequences → U+FFFD (Python `errors="replace"`), then
   * `clean_up_tokenization` unless `cleanUpSpaces: false`.
   */
  decode(ids: ArrayLike<number> | ArrayLike<bigint>, options: DecodeOptions = {}): string {
    const vocab = this.vocab;
    let total = 0;
    const n = ids.length;
    const checked = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      const raw = ids[i]!;
      const id = typeof raw === 'bigint' ? Number(raw) : raw;
      if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
        throw new ClapError(`token id ${String(raw)} at index ${i} is outside the GPT-2 vocabulary [0, ${VOCAB_SIZE})`);
      }
      checked[i] = id;
      total += vocab.tokenLength(id);
    }
    const bytes = new Uint8Array(total);
    let o = 0;
    for (let i = 0; i < n; i++) {
      const b = vocab.tokenBytes(checked[i]!);
      bytes.set(b, o);
      o += b.length;
    }
    const text = decodeUtf8Replace(bytes);
    return options.cleanUpSpaces === false ? text : cleanUpTokenization(text);
  }

  /**
   * `generate_caption`'s post-processing of the best beam: `decode(ids).capitalize()` with Python
   * semantics — first character titlecased, the rest lower-cased; a caption that starts with a space
   * (GPT-2 words do) keeps no capital. `ids` are the beam's tokens up to its length (stop token 220
   * included, as msclap decodes it: a trailing space).
   */
  decodeCaption(ids: ArrayLike<number> | ArrayLike<bigint>, options: DecodeOptions = {}): string {
    return pythonCapitalize(this.decode(ids, options));
  }

  private encodeWithSpecials(text: string, specials: RegExp): number[] {
    const vocab = this.vocab;
    const src = toWellFormed(text);
    const out: number[] = [];
    let start = 0;
    specials.lastIndex = 0;
    for (let m = specials.exec(src); m !== null; m = specials.exec(src)) {
      this.encodeOrdinary(vocab, src.slice(start, m.index), out);
      out.push(m[0] === ENDOFTEXT ? ENDOFTEXT_ID : PAD_ID);
      start = m.index + m[0].length;
    }
    this.encodeOrdinary(vocab, src.slice(start), out);
    return out;
  }

  /** Pre-tokenizes `text` (no special tokens in it) and appends each pre-token's BPE ids to `out`. */
  private encodeOrdinary(vocab: Gpt2Vocab, text: string, out: number[]): void {
    if (text.length === 0) return;
    PRE_TOKEN.lastIndex = 0;
    for (let m = PRE_TOKEN.exec(text); m !== null; m = PRE_TOKEN.exec(text)) {
      const word = m[0];
      let ids = this.wordCache.get(word);
      if (ids === undefined) {
        ids = vocab.encodeBytes(this.utf8.encode(word));
        if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
        this.wordCache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }
}

let shared: Gpt2Tokenizer | undefined;

/** A process-wide tokenizer (one vocabulary, one word cache). */
export function defaultTokenizer(): Gpt2Tokenizer {
  shared ??= new Gpt2Tokenizer();
  return shared;
}

/**
 * Pads token-id sequences with {@link PAD_ID} into one row-major batch for the model. By default rows
 * are padded only to the longest sequence (all a causal model needs); `padTo: CLAP_TEXT_LEN` gives
 * msclap's 77-wide input. `dtype` defaults to `'int64'` (BigInt64Array, ONNX's usual id type).
 */
export function padBatch(seqs: ReadonlyArray<ArrayLike<number>>, options: PadOptions & { dtype: 'int32' }): PaddedBatch<Int32Array>;
export function padBatch(seqs: ReadonlyArray<ArrayLike<number>>, options?: PadOptions & { dtype?: 'int64' }): PaddedBatch<BigInt64Array>;
export function padBatch(
  seqs: ReadonlyArray<ArrayLike<number>>,
  options: PadOptions & { dtype?: IdDtype } = {},
): PaddedBatch<Int32Array | BigInt64Array> {
  return padBatchAny(seqs, options.padTo, options.dtype ?? 'int64');
}

function padBatchAny(
  seqs: ReadonlyArray<ArrayLike<number>>,
  padTo: number | undefined,
  dtype: IdDtype,
): PaddedBatch<Int32Array | BigInt64Array> {
  if (seqs.length === 0) throw new ClapError('cannot pad an empty batch (no texts)');
  if (padTo !== undefined && !(Number.isInteger(padTo) && padTo >= 0)) {
    throw new ClapError(`padTo must be a non-negative integer, got ${padTo}`, { subject: 'padTo' });
  }
  if (dtype !== 'int32' && dtype !== 'int64') throw new ClapError(`unknown id dtype ${JSON.stringify(dtype)}`, { subject: 'dtype' });
  const batchSize = seqs.length;
  const lengths = Int32Array.from(seqs, (s) => s.length);
  let seqLen = padTo ?? 0;
  for (const len of lengths) seqLen = Math.max(seqLen, len);
  const size = batchSize * seqLen;
  if (dtype === 'int32') {
    const ids = new Int32Array(size).fill(PAD_ID);
    const attentionMask = new Int32Array(size);
    seqs.forEach((s, b) => {
      for (let i = 0; i < s.length; i++) {
        ids[b * seqLen + i] = checkId(s[i]!, b, i);
        attentionMask[b * seqLen + i] = 1;
      }
    });
    return { ids, attentionMask, lengths, batchSize, seqLen };
  }
  const ids = new BigInt64Array(size).fill(BigInt(PAD_ID));
  const attentionMask = new BigInt64Array(size);
  seqs.forEach((s, b) => {
    for (let i = 0; i < s.length; i++) {
      ids[b * seqLen + i] = BigInt(checkId(s[i]!, b, i));
      attentionMask[b * seqLen + i] = 1n;
    }
  });
  return { ids, attentionMask, lengths, batchSize, seqLen };
}

function checkId(id: number, row: number, col: number): number {
  if (!Number.isInteger(id) || id < 0 || id >= VOCAB_SIZE) {
    throw new ClapError(`token id ${id} (row ${row}, position ${col}) is outside the GPT-2 vocabulary [0, ${VOCAB_SIZE})`);
  }
  return id;
}
