/**
 * The tokenizer clap-export.json names, built from the exported tokenizer file with the library's own
 * tokenizer code (the ids `clap embed` feeds its text tower): msclap 2023's GPT-2 BPE, msclap 2022's BERT
 * WordPiece, Hugging Face CLAP's RoBERTa BPE. A tokenizer type not known here is refused by name; adding
 * one is one entry in TOKENIZERS.
 */
import { ClapError } from '../errors.js';
import type { TokenizerSpec } from '../tasks/clap-export.js';
import { BertTokenizer } from '../text/bert.js';
import { gpt2TokenizerFromJson } from '../text/gpt2-tokenizer-json.js';
import { RobertaTokenizer } from '../text/roberta.js';
import { CLAP_TEXT_SUFFIX, PAD_ID } from '../text/tokenizer.js';

/** A text → its ids, specials included, as the exported text model takes them. */
export type Tokenize = (text: string) => number[];

/** Throws unless the export's rule is `append` and its pad id is the tokenizer's. */
function checkSpec(spec: TokenizerSpec, source: string, append: string, padId: number): void {
  if (spec.append !== append) throw new ClapError(`append ${JSON.stringify(spec.append)} is not ${spec.type}'s`, { subject: source });
  if (spec.pad_id !== padId) throw new ClapError(`pad_id ${spec.pad_id} is not the tokenizer's (${padId})`, { subject: source });
}

// The export's tokenizer.json has no tokenizer_config.json beside it: the files' defaults apply, as they do in Node.
const TOKENIZERS: Record<string, (json: unknown, spec: TokenizerSpec, source: string) => Tokenize> = {
  'gpt2-bpe': (json, spec, source) => {
    // msclap's rule (appended end token, '!' split out) is the library's encodeForClap.
    const tok = gpt2TokenizerFromJson(json, source);
    checkSpec(spec, source, CLAP_TEXT_SUFFIX, PAD_ID);
    return (text) => tok.encodeForClap(text).ids;
  },
  'bert-wordpiece': (json, spec, source) => {
    const tok = BertTokenizer.fromTokenizerJson(json, {}, source);
    checkSpec(spec, source, '', tok.padId);
    return (text) => tok.encode(text);
  },
  'roberta-bpe': (json, spec, source) => {
    const tok = RobertaTokenizer.fromTokenizerJson(json, {}, source);
    checkSpec(spec, source, '', tok.padId);
    return (text) => tok.encode(text);
  },
};

export function tokenizerFor(spec: TokenizerSpec, json: unknown, source: string): Tokenize {
  const make = TOKENIZERS[spec.type];
  if (!make)
    throw new ClapError(`tokenizer type '${spec.type}' is not supported by this clap-ts (known: ${Object.keys(TOKENIZERS).join(', ')})`, {
      subject: source,
    });
  const tokenize = make(json, spec, source);
  return (text) => {
    const ids = tokenize(text);
    if (ids.length > spec.max_tokens)
      throw new ClapError(`is ${ids.length} tokens long, the model takes at most ${spec.max_tokens}`, { subject: JSON.stringify(text) });
    return ids;
  };
}
