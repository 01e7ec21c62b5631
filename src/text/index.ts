export {
  CAPTION_STOP_ID,
  CLAP_TEXT_LEN,
  CLAP_TEXT_SUFFIX,
  defaultTokenizer,
  Gpt2Tokenizer,
  PAD_ID,
  PAD_TOKEN,
  type ClapBatch,
  type ClapPooling,
  CLAP_POOLINGS,
  type ClapTokens,
  type DecodeOptions,
} from './tokenizer.js';
export { cleanUpTokenization, decodeUtf8Replace, pythonCapitalize, toTitleCase } from './unicode.js';
export { ENDOFTEXT, ENDOFTEXT_ID, getGpt2Vocab, VOCAB_SIZE } from './vocab.js';
export { padBatch, type IdDtype, type PadOptions, type PaddedBatch } from './batch.js';
export { BertTokenizer, bertNormalize, bertPreTokenize, type BertNormalization, type BertTokenizerOptions } from './bert.js';
export { RobertaTokenizer, type RobertaTokenizerOptions } from './roberta.js';
export { ByteLevelBpe } from './bpe.js';
