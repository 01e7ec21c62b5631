/**
 * msclap's GPT-2 tokenizer as a Hugging Face tokenizer.json (what `clap export onnx` writes and the browser
 * build reads): GPT-2's vocabulary and merge list, byte-level pre-tokenizer without a prefix space, and
 * the two added tokens msclap's tokenizer has — `<|endoftext|>` and its pad token `'!'` (id 0, so each
 * `'!'` is its own token). Any tokenizers-compatible library then gives msclap's ids for
 * `text + ' <|endoftext|>'` encoded without special tokens added.
 */
import { ClapError } from '../errors.js';
import { ByteLevelBpe, byteLevelEncode } from './bpe.js';
import { ENDOFTEXT, ENDOFTEXT_ID, VOCAB_SIZE } from './gpt2-ids.js';
import { addedTokensOf, isObject, type Json, parseJsonMerges, vocabMap } from './hf-json.js';
import { Gpt2Tokenizer, PAD_ID, PAD_TOKEN } from './tokenizer.js';

const BYTE_LEVEL = { type: 'ByteLevel', add_prefix_space: false, trim_offsets: true, use_regex: true };

const added = (id: number, content: string) => ({
  id,
  content,
  single_word: false,
  lstrip: false,
  rstrip: false,
  normalized: false,
  special: true,
});

/** The tokenizer.json document of msclap's GPT-2 tokenizer over `vocab` (GPT-2's). */
export function gpt2TokenizerJson(vocab: ByteLevelBpe): Json {
  const tokens: Record<string, number> = {};
  const merges: string[] = [];
  const spell = (id: number): string => (id === ENDOFTEXT_ID ? ENDOFTEXT : byteLevelEncode(vocab.tokenBytes(id)));
  for (let id = 0; id < vocab.size; id++) tokens[spell(id)] = id;
  // GPT-2's merge i creates token 256 + i: the merge list in rank order.
  for (let id = 256; id < ENDOFTEXT_ID; id++) {
    const m = vocab.mergeOf(id);
    if (!m) throw new ClapError(`GPT-2 vocabulary: token ${id} has no merge`);
    merges.push(`${spell(m[0])} ${spell(m[1])}`);
  }
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [added(PAD_ID, PAD_TOKEN), added(ENDOFTEXT_ID, ENDOFTEXT)],
    normalizer: null,
    pre_tokenizer: BYTE_LEVEL,
    post_processor: null,
    decoder: BYTE_LEVEL,
    model: {
      type: 'BPE',
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: '',
      end_of_word_suffix: '',
      fuse_unk: false,
      byte_fallback: false,
      vocab: tokens,
      merges,
    },
  };
}

/**
 * msclap's GPT-2 tokenizer from a tokenizer.json document (`gpt2TokenizerJson`'s layout): the vocabulary
 * must be GPT-2's size and the added tokens msclap's two, so the ids are msclap's. `source` names the file in errors.
 */
export function gpt2TokenizerFromJson(json: unknown, source: string): Gpt2Tokenizer {
  if (!isObject(json) || !isObject(json.model)) throw new ClapError('is not a tokenizer.json (no model section)', { subject: source });
  const model = json.model;
  if (model.type !== 'BPE')
    throw new ClapError(`model.type is '${String(model.type)}', msclap's GPT-2 tokenizer is BPE`, { subject: source });
  const specials = new Map(addedTokensOf(json, source).map((t) => [t.content, t.id]));
  if (specials.get(ENDOFTEXT) !== ENDOFTEXT_ID || specials.get(PAD_TOKEN) !== PAD_ID || specials.size !== 2) {
    throw new ClapError(`added_tokens must be ${ENDOFTEXT} (${ENDOFTEXT_ID}) and '${PAD_TOKEN}' (${PAD_ID}), as msclap's tokenizer`, {
      subject: source,
    });
  }
  const bpe = ByteLevelBpe.fromVocabAndMerges(vocabMap(model.vocab, source), parseJsonMerges(model.merges, source), source);
  if (bpe.size !== VOCAB_SIZE) throw new ClapError(`has ${bpe.size} tokens, GPT-2 has ${VOCAB_SIZE}`, { subject: source });
  return new Gpt2Tokenizer(() => bpe);
}
