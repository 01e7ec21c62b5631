export {
  CAPTION_STOP_ID,
  CLAP_TEXT_LEN,
  CLAP_TEXT_SUFFIX,
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
export { defaultTokenizer, ENDOFTEXT, ENDOFTEXT_ID, getGpt2Vocab, VOCAB_SIZE } from './vocab.js';
export { padBatch, type IdDtype, type PadOptions, type PaddedBatch } from './batch.js';
export { BertTokenizer, bertNormalize, bertPreTokenize, type BertNormalization, type BertTokenizerOptions } from './bert.js';
export { RobertaTokenizer, type RobertaTokenizerOptions } from './roberta.js';
export { bertTokenizerFromPath, robertaTokenizerFromPath } from './tokenizer-files.js';
export { BYTE_LEVEL_CHARS, ByteLevelBpe } from './bpe.js';
export { gpt2TokenizerFromJson, gpt2TokenizerJson } from './gpt2-tokenizer-json.js';
export { tokenizerFiles } from './hf-files.js';
