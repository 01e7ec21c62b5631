/**
 * Hugging Face `RobertaTokenizer(Fast)` (roberta-base, LAION CLAP's text tokenizer), id for id:
 * added tokens cut out first (`<s>`, `</s>`, `<pad>`, `<unk>` kept with the spaces around them,
 * `<mask>` swallowing the whitespace before it), each piece through GPT-2's byte-level pre-tokenizer
 * and BPE without a prefix space (`"Dog"` ≠ `" Dog"`), then `<s> … </s>`.
 *
 * Vocabulary and merges come from the model folder (tokenizer.json, or vocab.json + merges.txt): ids are
 * never hard-coded, roberta-base's are not GPT-2's. The byte-level BPE core is shared with GPT-2 (bpe.ts).
 * No file access here (tokenizer-files.ts reads a folder; the browser build fetches an export's tokenizer.json).
 */
import { ClapError } from '../errors.js';
import { type AddedToken, AddedTokens } from './added-tokens.js';
import { type IdDtype, padBatch, type PaddedBatch } from './batch.js';
import { ByteLevelBpe, ByteLevelEncoder } from './bpe.js';
import {
  addedTokensOf,
  isObject,
  type Json,
  modelMaxLength,
  parseJsonMerges,
  parseMergesTxt,
  specialContent,
  vocabMap,
} from './hf-json.js';

export interface RobertaTokenizerOptions {
  /**
   * Longest encoding (specials included). Longer texts keep their first `maxLength − 2` tokens and end
   * in `</s>`, as `truncation=True` does. Default: the folder's `model_max_length` (512 for roberta-base;
   * RoBERTa's 514 positions hold no more).
   */
  maxLength?: number;
}

/** RoBERTa's special tokens (RobertaTokenizer's defaults; `<mask>` strips the whitespace on its left). */
const DEFAULT_SPECIALS: Record<string, { content: string; lstrip?: boolean }> = {
  bos_token: { content: '<s>' },
  eos_token: { content: '</s>' },
  unk_token: { content: '<unk>' },
  pad_token: { content: '<pad>' },
  mask_token: { content: '<mask>', lstrip: true },
};

const DEFAULT_MAX_LENGTH = 512;

export class RobertaTokenizer {
  /** `<s>`, `</s>`, `<pad>` ids. */
  readonly bosId: number;
  readonly eosId: number;
  readonly padId: number;
  readonly maxLength: number;
  private readonly encoder: ByteLevelEncoder;
  private readonly added: AddedTokens;

  constructor(
    readonly vocab: ByteLevelBpe,
    added: readonly AddedToken[],
    specials: { bos: string; eos: string; pad: string },
    options: RobertaTokenizerOptions & { defaultMaxLength?: number } = {},
  ) {
    this.encoder = new ByteLevelEncoder(() => vocab);
    this.added = new AddedTokens(added);
    const id = (content: string): number => {
      const v = this.added.id(content);
      if (v === undefined) throw new ClapError(`the special token ${content} is not in the vocabulary`);
      return v;
    };
    this.bosId = id(specials.bos);
    this.eosId = id(specials.eos);
    this.padId = id(specials.pad);
    const maxLength = options.maxLength ?? options.defaultMaxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new ClapError(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    this.maxLength = maxLength;
  }

  /**
   * From the slow tokenizer's vocab.json (parsed) and merges.txt (text), with `config` (tokenizer_config.json
   * merged over special_tokens_map.json; `{}` when absent) for the special tokens and length.
   */
  static fromVocabAndMerges(
    vocab: { json: unknown; source: string },
    merges: { text: string; source: string },
    config: Json,
    options: RobertaTokenizerOptions = {},
  ): RobertaTokenizer {
    const ids = vocabMap(vocab.json, vocab.source);
    const bpe = ByteLevelBpe.fromVocabAndMerges(ids, parseMergesTxt(merges.text, merges.source), vocab.source);
    const specials = Object.entries(DEFAULT_SPECIALS).map(([key, d]) => {
      const content = specialContent(config[key])?.content ?? d.content;
      const id = ids.get(content);
      if (id === undefined) throw new ClapError(`${key} ${content} is not in the vocabulary`, { subject: vocab.source });
      return { key, token: { ...specialFlags(config, key, content, d.lstrip === true), id } };
    });
    const name = (key: string): string => specials.find((s) => s.key === key)!.token.content;
    return new RobertaTokenizer(
      bpe,
      specials.map((s) => s.token),
      { bos: name('bos_token'), eos: name('eos_token'), pad: name('pad_token') },
      { defaultMaxLength: modelMaxLength(config), ...options },
    );
  }

  /**
   * From a tokenizer.json document (byte-level BPE, no prefix space), with `config` (tokenizer_config.json;
   * `{}` when there is none, as beside an export) for defaults of the special tokens and the length.
   */
  static fromTokenizerJson(json: unknown, config: Json, source: string, options: RobertaTokenizerOptions = {}): RobertaTokenizer {
    if (!isObject(json)) throw new ClapError('tokenizer.json must be a JSON object', { subject: source });
    const model = json.model;
    if (!isObject(model) || (model.type !== undefined && model.type !== 'BPE')) {
      throw new ClapError(`model.type is ${JSON.stringify(isObject(model) ? model.type : model)}, a RoBERTa tokenizer is BPE`, {
        subject: source,
      });
    }
    const pre = json.pre_tokenizer;
    if (isObject(pre) && pre.type === 'ByteLevel' && pre.add_prefix_space === true) {
      throw new ClapError('pre_tokenizer.add_prefix_space = true is not supported (RoBERTa and LAION CLAP use false)', { subject: source });
    }
    const bpe = ByteLevelBpe.fromVocabAndMerges(vocabMap(model.vocab, source), parseJsonMerges(model.merges, source), source);
    const post = json.post_processor;
    const pair = (v: unknown): string | undefined => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
    const cls = (isObject(post) && pair(post.cls)) || specialContent(config.bos_token)?.content || '<s>';
    const sep = (isObject(post) && pair(post.sep)) || specialContent(config.eos_token)?.content || '</s>';
    const pad =
      (isObject(json.padding) && typeof json.padding.pad_token === 'string' && json.padding.pad_token) ||
      specialContent(config.pad_token)?.content ||
      '<pad>';
    return new RobertaTokenizer(
      bpe,
      addedTokensOf(json, source),
      { bos: cls, eos: sep, pad },
      {
        defaultMaxLength: modelMaxLength(config),
        ...options,
      },
    );
  }

  /** Token ids of one text: `<s>`, the text's tokens (truncated to maxLength − 2), `</s>`. */
  encode(text: string): number[] {
    const body: number[] = [];
    for (const piece of this.added.split(text)) {
      if (typeof piece === 'number') body.push(piece);
      else this.encoder.encodeOrdinary(piece, body);
    }
    if (body.length > this.maxLength - 2) body.length = this.maxLength - 2;
    return [this.bosId, ...body, this.eosId];
  }

  /** Several texts padded with `<pad>` to the longest (`padding=True`), with the attention mask. */
  encodeBatch(texts: readonly string[], options: { dtype?: IdDtype } = {}): PaddedBatch<Int32Array | BigInt64Array> {
    return padBatch(
      texts.map((t) => this.encode(t)),
      { padId: this.padId, vocabSize: this.vocab.size, dtype: options.dtype ?? 'int64' },
    );
  }
}

/**
 * A special token's strip flags: transformers ≥ 4.34 records them in tokenizer_config.json's
 * `added_tokens_decoder`; older folders in special_tokens_map.json's `{content, lstrip, ...}` entries;
 * otherwise RobertaTokenizer's defaults (only `<mask>` strips, on its left).
 */
function specialFlags(
  config: Json,
  key: string,
  content: string,
  defaultLstrip: boolean,
): { content: string; lstrip: boolean; rstrip: boolean } {
  const decoder = config.added_tokens_decoder;
  if (isObject(decoder)) {
    for (const entry of Object.values(decoder)) {
      const s = specialContent(entry);
      if (s?.content === content) return s;
    }
  }
  const own = specialContent(config[key]);
  if (own && isObject(config[key])) return own;
  return { content, lstrip: defaultLstrip, rstrip: false };
}
