/**
 * Hugging Face `BertTokenizer(Fast)` (bert-base-uncased, msclap 2022's text tokenizer), id for id.
 *
 * msclap loads it with `AutoTokenizer`, i.e. the fast (Rust) tokenizer, so its rules are the ones
 * followed here (`tokenizers` BertNormalizer → BertPreTokenizer → WordPiece → `[CLS] … [SEP]`):
 * 1. added tokens (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]`, `[MASK]`, case-sensitive) are cut out first;
 * 2. clean text: drop U+0000, U+FFFD and every "other" character (Unicode category C: controls, format
 *    characters such as U+200B, unassigned, private use) except \t \n \r; whitespace (those three and
 *    White_Space) becomes a space;
 * 3. a space on both sides of every CJK ideograph (kana and Hangul are not split);
 * 4. accents stripped (NFD, then nonspacing marks Mn removed) — when lower-casing, unless configured off;
 * 5. lower-cased code point by code point (no final-sigma rule: `Σ` → `σ` everywhere);
 * 6. split on whitespace, every punctuation character (ASCII non-alphanumerics and Unicode P*) its own word;
 * 7. WordPiece: greedy longest match from the left, `##` continuations; a word with an unmatched position,
 *    or longer than 100 characters, is one `[UNK]`.
 *
 * The slow Python tokenizer (used to make the fixtures) differs only where Unicode versions differ and
 * in two corners of lower-casing: it applies the final-sigma rule, and it lower-cases before stripping
 * accents (same result in every case we know of). Ids come from the folder's vocab.txt / tokenizer.json.
 * No file access here (tokenizer-files.ts reads a folder; the browser build fetches an export's tokenizer.json).
 */
import { ClapError } from '../errors.js';
import { type AddedToken, AddedTokens } from './added-tokens.js';
import { type IdDtype, padBatch, type PaddedBatch } from './batch.js';
import { addedTokensOf, isObject, type Json, modelMaxLength, specialContent, vocabMap } from './hf-json.js';

/** BertNormalizer's switches (tokenizer.json names). */
export interface BertNormalization {
  cleanText: boolean;
  handleChineseChars: boolean;
  /** Strip accents; `null` = whatever `lowercase` is (the default). */
  stripAccents: boolean | null;
  lowercase: boolean;
}

export interface BertTokenizerOptions {
  /**
   * Longest encoding (specials included): longer texts keep their first `maxLength − 2` tokens and end
   * in `[SEP]`. msclap never truncates, and BERT has 512 positions, so the default is the folder's
   * `model_max_length` (512): every text the reference can encode is encoded as it does.
   */
  maxLength?: number;
}

const UNCASED: BertNormalization = { cleanText: true, handleChineseChars: true, stripAccents: null, lowercase: true };
const SPECIAL_KEYS = ['unk_token', 'sep_token', 'pad_token', 'cls_token', 'mask_token'] as const;
const SPECIAL_DEFAULTS: Record<(typeof SPECIAL_KEYS)[number], string> = {
  unk_token: '[UNK]',
  sep_token: '[SEP]',
  pad_token: '[PAD]',
  cls_token: '[CLS]',
  mask_token: '[MASK]',
};
const DEFAULT_MAX_LENGTH = 512;
/** WordPiece's `max_input_chars_per_word`. */
const MAX_WORD_CHARS = 100;

// Character classes (JavaScript's Unicode tables).
const DROPPED = /[\0\ufffd]|(?![\t\n\r])\p{C}/gu;
const SPACES = /[\t\n\r\p{White_Space}]/gu;
/** The CJK Unified Ideographs blocks of tokenizers' `is_chinese_char` (Extension E starts at U+2B920 there). */
const CJK_BLOCKS = [
  [0x4e00, 0x9fff],
  [0x3400, 0x4dbf],
  [0x20000, 0x2a6df],
  [0x2a700, 0x2b73f],
  [0x2b740, 0x2b81f],
  [0x2b920, 0x2ceaf],
  [0xf900, 0xfaff],
  [0x2f800, 0x2fa1f],
];
const CJK = new RegExp(`[${CJK_BLOCKS.map(([a, b]) => `\\u{${a.toString(16)}}-\\u{${b.toString(16)}}`).join('')}]`, 'gu');
const NONSPACING_MARK = /\p{Mn}/gu;
const WORD_OR_PUNCT = /[\p{P}\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e]|[^\p{P}\x21-\x2f\x3a-\x40\x5b-\x60\x7b-\x7e\p{White_Space}]+/gu;
const ANY_CHAR = /./gsu;

/** The BertNormalizer steps 2–5 of the module comment. */
export function bertNormalize(text: string, n: BertNormalization = UNCASED): string {
  let s = text;
  if (n.cleanText) s = s.replace(DROPPED, '').replace(SPACES, ' ');
  if (n.handleChineseChars) s = s.replace(CJK, ' $& ');
  if (n.stripAccents ?? n.lowercase) s = s.normalize('NFD').replace(NONSPACING_MARK, '');
  // toLowerCase's only context-dependent mapping is the final sigma; per character for texts with a Σ.
  if (n.lowercase) s = s.includes('\u03a3') ? s.replace(ANY_CHAR, (c) => c.toLowerCase()) : s.toLowerCase();
  return s;
}

/** BertPreTokenizer: words split on whitespace, each punctuation character a word of its own. */
export function bertPreTokenize(text: string): string[] {
  return text.match(WORD_OR_PUNCT) ?? [];
}

export class BertTokenizer {
  readonly clsId: number;
  readonly sepId: number;
  readonly padId: number;
  readonly unkId: number;
  readonly vocabSize: number;
  readonly maxLength: number;
  private readonly added: AddedTokens;

  constructor(
    private readonly vocab: ReadonlyMap<string, number>,
    private readonly addedTokens: readonly AddedToken[],
    private readonly specials: { cls: string; sep: string; pad: string; unk: string },
    private readonly normalization: BertNormalization = UNCASED,
    options: BertTokenizerOptions & { defaultMaxLength?: number } = {},
  ) {
    this.added = new AddedTokens(addedTokens);
    const id = (content: string): number => {
      const v = this.added.id(content) ?? vocab.get(content);
      if (v === undefined) throw new ClapError(`the special token ${content} is not in the vocabulary`);
      return v;
    };
    this.clsId = id(specials.cls);
    this.sepId = id(specials.sep);
    this.padId = id(specials.pad);
    this.unkId = id(specials.unk);
    let size = 0;
    for (const v of vocab.values()) size = Math.max(size, v + 1);
    for (const t of addedTokens) size = Math.max(size, t.id + 1);
    this.vocabSize = size;
    const maxLength = options.maxLength ?? options.defaultMaxLength ?? DEFAULT_MAX_LENGTH;
    if (!Number.isInteger(maxLength) || maxLength < 2) throw new ClapError(`maxLength must be an integer ≥ 2, got ${maxLength}`);
    this.maxLength = maxLength;
  }

  /**
   * From vocab.txt's text, with tokenizer_config.json's switches and length in `config` (merged over
   * special_tokens_map.json; `{}` when the folder has neither), as `BertTokenizer` reads them. `source` names it in errors.
   */
  static fromVocabTxt(text: string, config: Json, source: string, options: BertTokenizerOptions = {}): BertTokenizer {
    const vocab = parseVocabTxt(text, source);
    const names = Object.fromEntries(SPECIAL_KEYS.map((k) => [k, specialContent(config[k])?.content ?? SPECIAL_DEFAULTS[k]])) as Record<
      (typeof SPECIAL_KEYS)[number],
      string
    >;
    const added = SPECIAL_KEYS.map((k) => {
      const id = vocab.get(names[k]);
      if (id === undefined) throw new ClapError(`${k} ${names[k]} is not in the vocabulary`, { subject: source });
      return { content: names[k], id };
    });
    const flag = (key: string, fallback: boolean | null): boolean | null => {
      const v = config[key];
      return typeof v === 'boolean' ? v : v === null ? null : fallback;
    };
    const normalization: BertNormalization = {
      cleanText: true,
      handleChineseChars: flag('tokenize_chinese_chars', true) ?? true,
      stripAccents: flag('strip_accents', null),
      lowercase: flag('do_lower_case', true) ?? true,
    };
    return new BertTokenizer(
      vocab,
      added,
      { cls: names.cls_token, sep: names.sep_token, pad: names.pad_token, unk: names.unk_token },
      normalization,
      { defaultMaxLength: modelMaxLength(config), ...options },
    );
  }

  /**
   * From a tokenizer.json document (WordPiece, BertNormalizer, BertPreTokenizer), with the length in `config`
   * (tokenizer_config.json; `{}` when there is none, as beside an export). `source` names it in errors.
   */
  static fromTokenizerJson(json: unknown, config: Json, source: string, options: BertTokenizerOptions = {}): BertTokenizer {
    if (!isObject(json)) throw new ClapError('tokenizer.json must be a JSON object', { subject: source });
    const model = json.model;
    if (!isObject(model) || model.type !== 'WordPiece') {
      throw new ClapError(`model.type is ${JSON.stringify(isObject(model) ? model.type : model)}, a BERT tokenizer is WordPiece`, {
        subject: source,
      });
    }
    if (model.continuing_subword_prefix !== undefined && model.continuing_subword_prefix !== '##') {
      throw new ClapError('only the "##" continuing_subword_prefix is supported', { subject: source });
    }
    if (model.max_input_chars_per_word !== undefined && model.max_input_chars_per_word !== MAX_WORD_CHARS) {
      throw new ClapError(`only max_input_chars_per_word ${MAX_WORD_CHARS} is supported`, { subject: source });
    }
    const normalization = normalizationOf(json.normalizer, source);
    const pre = json.pre_tokenizer;
    if (!isObject(pre) || pre.type !== 'BertPreTokenizer') {
      throw new ClapError(`pre_tokenizer ${JSON.stringify(isObject(pre) ? pre.type : pre)} is not supported (expected BertPreTokenizer)`, {
        subject: source,
      });
    }
    const unk = typeof model.unk_token === 'string' ? model.unk_token : '[UNK]';
    const padding = json.padding;
    const pad = isObject(padding) && typeof padding.pad_token === 'string' ? padding.pad_token : '[PAD]';
    return new BertTokenizer(
      vocabMap(model.vocab, source),
      addedTokensOf(json, source),
      { ...postSpecials(json.post_processor), pad, unk },
      normalization,
      { defaultMaxLength: modelMaxLength(config), ...options },
    );
  }

  /**
   * This tokenizer as a Hugging Face tokenizer.json (what `clap export onnx` ships beside a BERT text model):
   * the WordPiece vocabulary, the normalizer's switches, the added tokens and `[CLS] … [SEP]`.
   */
  toTokenizerJson(): Record<string, unknown> {
    const n = this.normalization;
    const { cls, sep, pad, unk } = this.specials;
    return {
      version: '1.0',
      truncation: null,
      padding: { strategy: 'BatchLongest', direction: 'Right', pad_id: this.padId, pad_type_id: 0, pad_token: pad },
      added_tokens: this.addedTokens.map((t) => ({
        id: t.id,
        content: t.content,
        single_word: false,
        lstrip: t.lstrip ?? false,
        rstrip: t.rstrip ?? false,
        normalized: false,
        special: true,
      })),
      normalizer: {
        type: 'BertNormalizer',
        clean_text: n.cleanText,
        handle_chinese_chars: n.handleChineseChars,
        strip_accents: n.stripAccents,
        lowercase: n.lowercase,
      },
      pre_tokenizer: { type: 'BertPreTokenizer' },
      post_processor: { type: 'BertProcessing', sep: [sep, this.sepId], cls: [cls, this.clsId] },
      decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
      model: {
        type: 'WordPiece',
        unk_token: unk,
        continuing_subword_prefix: '##',
        max_input_chars_per_word: MAX_WORD_CHARS,
        vocab: Object.fromEntries(this.vocab),
      },
    };
  }

  /** Token ids of one text: `[CLS]`, its word pieces (truncated to maxLength − 2), `[SEP]`. */
  encode(text: string): number[] {
    const body: number[] = [];
    for (const piece of this.added.split(text)) {
      if (typeof piece === 'number') body.push(piece);
      else for (const word of bertPreTokenize(bertNormalize(piece, this.normalization))) this.wordPiece(word, body);
    }
    if (body.length > this.maxLength - 2) body.length = this.maxLength - 2;
    return [this.clsId, ...body, this.sepId];
  }

  /** Several texts padded with `[PAD]` (to the longest, or to `padTo`: msclap pads to 100), with the attention mask. */
  encodeBatch(texts: readonly string[], options: { padTo?: number; dtype?: IdDtype } = {}): PaddedBatch<Int32Array | BigInt64Array> {
    return padBatch(
      texts.map((t) => this.encode(t)),
      { padId: this.padId, vocabSize: this.vocabSize, padTo: options.padTo, dtype: options.dtype ?? 'int64' },
    );
  }

  /** WordPiece of one word: greedy longest-match-first with `##` continuations, else one `[UNK]`. */
  private wordPiece(word: string, out: number[]): void {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_CHARS) {
      out.push(this.unkId);
      return;
    }
    const pieces: number[] = [];
    for (let start = 0; start < chars.length; ) {
      let found = -1;
      let end = chars.length;
      for (; end > start; end--) {
        const sub = chars.slice(start, end).join('');
        const id = this.vocab.get(start > 0 ? `##${sub}` : sub);
        if (id !== undefined) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        out.push(this.unkId);
        return;
      }
      pieces.push(found);
      start = end;
    }
    for (const p of pieces) out.push(p);
  }
}

/** vocab.txt: one token per line, its id the line number (a repeated token keeps its last line). */
function parseVocabTxt(text: string, path: string): Map<string, number> {
  const lines = text.split('\n');
  if (lines.at(-1) === '') lines.pop();
  if (lines.length === 0) throw new ClapError('empty vocabulary', { subject: path });
  const m = new Map<string, number>();
  lines.forEach((line, i) => m.set(line.replace(/\r$/, ''), i));
  return m;
}

/** tokenizer.json's normalizer: BertNormalizer's switches, or none at all. */
function normalizationOf(norm: unknown, source: string): BertNormalization {
  if (norm === null || norm === undefined) return { cleanText: false, handleChineseChars: false, stripAccents: false, lowercase: false };
  if (isObject(norm) && norm.type === 'BertNormalizer') return bertNormalizerOf(norm);
  throw new ClapError(`normalizer ${JSON.stringify(isObject(norm) ? norm.type : norm)} is not supported (expected BertNormalizer)`, {
    subject: source,
  });
}

function bertNormalizerOf(n: Json): BertNormalization {
  const bool = (v: unknown, d: boolean): boolean => (typeof v === 'boolean' ? v : d);
  return {
    cleanText: bool(n.clean_text, true),
    handleChineseChars: bool(n.handle_chinese_chars, true),
    stripAccents: typeof n.strip_accents === 'boolean' ? n.strip_accents : null,
    lowercase: bool(n.lowercase, true),
  };
}

/** `[CLS]` / `[SEP]` of a BertProcessing or TemplateProcessing post-processor (defaults otherwise). */
function postSpecials(post: unknown): { cls: string; sep: string } {
  const out = { cls: '[CLS]', sep: '[SEP]' };
  if (!isObject(post)) return out;
  const pair = (v: unknown): string | undefined => (Array.isArray(v) && typeof v[0] === 'string' ? v[0] : undefined);
  if (post.type === 'BertProcessing') return { cls: pair(post.cls) ?? out.cls, sep: pair(post.sep) ?? out.sep };
  if (post.type === 'TemplateProcessing' && Array.isArray(post.single)) {
    const specials = post.single.flatMap((p) =>
      isObject(p) && isObject(p.SpecialToken) && typeof p.SpecialToken.id === 'string' ? [p.SpecialToken.id] : [],
    );
    if (specials.length === 2) return { cls: specials[0]!, sep: specials[1]! };
  }
  return out;
}
