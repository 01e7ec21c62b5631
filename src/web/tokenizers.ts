/**
 * The tokenizer clap-export.json names, built from the exported tokenizer file with the library's own
 * tokenizer code (the ids `clap embed` feeds its text tower). A family whose tokenizer type is not known
 * here is refused by name; adding one is one entry in TOKENIZERS.
 */
import { ClapError } from '../errors.js';
import type { TokenizerSpec } from '../tasks/clap-export.js';
import { gpt2TokenizerFromJson } from '../text/gpt2-tokenizer-json.js';
import { CLAP_TEXT_SUFFIX } from '../text/tokenizer.js';

/** A text → its ids, specials included, as the exported text model takes them. */
export type Tokenize = (text: string) => number[];

const TOKENIZERS: Record<string, (json: unknown, spec: TokenizerSpec, source: string) => Tokenize> = {
  'gpt2-bpe': (json, spec, source) => {
    // msclap's rule (appended end token, '!' split out) is the library's encodeForClap: check the export says the same.
    if (spec.append !== CLAP_TEXT_SUFFIX) throw new ClapError(`append ${JSON.stringify(spec.append)} is not msclap's`, { subject: source });
    const tok = gpt2TokenizerFromJson(json, source);
    return (text) => tok.encodeForClap(text).ids;
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
