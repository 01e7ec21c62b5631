export {
  CAPTION_STOP_ID,
  CLAP_TEXT_LEN,
  CLAP_TEXT_SUFFIX,
  defaultTokenizer,
  Gpt2Tokenizer,
  padBatch,
  PAD_ID,
  PAD_TOKEN,
  type ClapBatch,
  type ClapPooling,
  type ClapTokens,
  type DecodeOptions,
  type IdDtype,
  type PadOptions,
  type PaddedBatch,
} from './tokenizer.js';
export { cleanUpTokenization, decodeUtf8Replace, pythonCapitalize, toTitleCase } from './unicode.js';
export { ENDOFTEXT, ENDOFTEXT_ID, getGpt2Vocab, Gpt2Vocab, VOCAB_SIZE } from './vocab.js';
