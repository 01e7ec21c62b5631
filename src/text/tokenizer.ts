/**
 * msclap's GPT-2 tokenization, id for id: Hugging Face `GPT2TokenizerFast` ('gpt2') with msclap's
 * `add_special_tokens({'pad_token': '!'})`, as used by `CLAPWrapper.preprocess_text` (text encoder)
 * and `_generate_beam` / `generate_caption` (clapcap decoding).
 */
import { ClapError } from '../errors.js';
import { AddedTokens } from './added-tokens.js';
import { type IdDtype, padBatch, type PadOptions, type PaddedBatch } from './batch.js';
import { type ByteLevelBpe, ByteLevelEncoder } from './bpe.js';
import { cleanUpTokenization, decodeUtf8Replace, pythonCapitalize } from './unicode.js';
import { ENDOFTEXT, ENDOFTEXT_ID, VOCAB_SIZE } from './gpt2-ids.js';

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
export const CLAP_POOLINGS: readonly ClapPooling[] = ['reference', 'fixed'];

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

/** msclap's padding: only the width is a choice (the pad id is GPT-2's `'!'`). */
export type ClapPadOptions = Pick<PadOptions, 'padTo'>;

export interface ClapBatch<T extends Int32Array | BigInt64Array> extends PaddedBatch<T> {
  /** Pooled row of each text (see {@link ClapPooling}). */
  eosPositions: Int32Array;
}

const SPECIAL_ONLY_EOT = new AddedTokens([{ content: ENDOFTEXT, id: ENDOFTEXT_ID }]);
const SPECIAL_EOT_AND_PAD = new AddedTokens([
  { content: ENDOFTEXT, id: ENDOFTEXT_ID },
  { content: PAD_TOKEN, id: PAD_ID },
]);

/**
 * GPT-2 byte-level BPE tokenizer over a vocabulary given as a getter (called when first needed): GPT-2's
 * own, from js-tiktoken's `r50k_base` (`getGpt2Vocab`, what {@link defaultTokenizer} uses), or one read
 * from an exported tokenizer.json (`gpt2VocabFromTokenizerJson`, the browser build). Instances keep a
 * per-word BPE cache; share one where possible.
 */
export class Gpt2Tokenizer {
  private readonly encoder: ByteLevelEncoder;

  constructor(private readonly vocabSource: () => ByteLevelBpe) {
    this.encoder = new ByteLevelEncoder(vocabSource);
  }

  private get vocab(): ByteLevelBpe {
    return this.vocabSource();
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
  encodeBatchForClap(texts: readonly string[], options: ClapPadOptions & { mode?: ClapPooling; dtype: 'int32' }): ClapBatch<Int32Array>;
  encodeBatchForClap(
    texts: readonly string[],
    options?: ClapPadOptions & { mode?: ClapPooling; dtype?: 'int64' },
  ): ClapBatch<BigInt64Array>;
  encodeBatchForClap(
    texts: readonly string[],
    options: ClapPadOptions & { mode?: ClapPooling; dtype?: IdDtype } = {},
  ): ClapBatch<Int32Array | BigInt64Array> {
    const encoded = texts.map((t) => this.encodeForClap(t, { mode: options.mode }));
    const batch = padBatch(
      encoded.map((e) => e.ids),
      { padTo: options.padTo, dtype: options.dtype ?? 'int64' },
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

  private encodeWithSpecials(text: string, specials: AddedTokens): number[] {
    const out: number[] = [];
    for (const piece of specials.split(text)) {
      if (typeof piece === 'number') out.push(piece);
      else this.encoder.encodeOrdinary(piece, out);
    }
    return out;
  }
}
