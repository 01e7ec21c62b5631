/**
 * A model's text → token ids, by its text encoder: msclap's GPT-2 tokenization (built in), BERT's WordPiece
 * or RoBERTa's byte-level BPE from the tokenizer files the model came with.
 */
import { ClapError } from '../errors.js';
import type { ClapTextEncoderConfig } from '../models/clap/index.js';
import { bertTokenizerFromPath, defaultTokenizer, RobertaTokenizer, robertaTokenizerFromPath } from '../text/index.js';

const PROBE = 'The quick brown fox, DOG barking! 3 cars @ 50 km/h — Café naïve 日本語 <mask> [SEP] 😀';

export interface TextEncoding {
  /** The text's ids, specials included (GPT-2: msclap's, ending in 220, 50256; its graph finds the pooled row). */
  tokenize(text: string): number[];
  /** The id padding positions get. */
  padId: number;
  /** What the ids depend on besides the text (the tokenizer), for caches keyed on embeddings. */
  identity: string;
}

/**
 * The tokenization for `text`: msclap's GPT-2, or a BERT/RoBERTa tokenizer read from `tokenizer` (a folder or
 * file; required for those encoders). `model` names the model in errors.
 */
export function textEncodingFor(text: ClapTextEncoderConfig, tokenizer: string | undefined, model: string): TextEncoding {
  if (text.type === 'gpt2') {
    const tok = defaultTokenizer();
    return { tokenize: (t) => tok.encodeForClap(t).ids, padId: 0, identity: 'gpt2' };
  }
  const roberta = text.positions === 'roberta';
  if (tokenizer === undefined) {
    const hint = roberta ? 'vocab.json + merges.txt or tokenizer.json (roberta-base)' : 'vocab.txt (bert-base-uncased)';
    throw new ClapError(
      `${model} needs its tokenizer: pass --tokenizer PATH (a folder holding ${hint}, or the file), or put it beside the weights`,
    );
  }
  const tok = roberta ? robertaTokenizerFromPath(tokenizer) : bertTokenizerFromPath(tokenizer);
  const vocab = tok instanceof RobertaTokenizer ? tok.vocab.size : tok.vocabSize;
  if (vocab !== text.bert.vocabSize) {
    throw new ClapError(`the tokenizer has ${vocab} tokens but the text encoder ${text.bert.vocabSize}: not this model's tokenizer`, {
      subject: tokenizer,
    });
  }
  // Two tokenizers that agree on size, specials and a probe of words, cases, accents and scripts agree here.
  const identity = `${roberta ? 'roberta' : 'bert'}:${vocab}:${tok.encode(PROBE).join(',')}`;
  return { tokenize: (t) => tok.encode(t), padId: tok.padId, identity };
}
