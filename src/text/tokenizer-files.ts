/**
 * BERT and RoBERTa tokenizers read from a model folder's files (Node): where the files are, which of them
 * is used, and tokenizer_config.json's settings; bert.ts and roberta.ts interpret the contents.
 */
import { join } from 'node:path';
import { readText } from '../files.js';
import { type BertTokenizerOptions, BertTokenizer } from './bert.js';
import { locateTokenizerFiles, readJsonObject, readTokenizerConfig } from './hf-files.js';
import { RobertaTokenizer, type RobertaTokenizerOptions } from './roberta.js';

/**
 * From a folder (or one of its files) holding vocab.txt (with tokenizer_config.json for the casing
 * switches, when present) or tokenizer.json; vocab.txt is preferred, as `BertTokenizer` reads it.
 */
export function bertTokenizerFromPath(path: string, options: BertTokenizerOptions = {}): BertTokenizer {
  const { dir, file } = locateTokenizerFiles(path, ['vocab.txt', 'tokenizer.json'], 'BERT tokenizer (vocab.txt)');
  const config = readTokenizerConfig(dir);
  if (file.endsWith('tokenizer.json'))
    return BertTokenizer.fromTokenizerJson(readJsonObject(file, 'tokenizer.json'), config, file, options);
  return BertTokenizer.fromVocabTxt(readText(file, 'BERT vocabulary'), config, file, options);
}

/**
 * From a model folder (or one of its tokenizer files): tokenizer.json when present, else vocab.json +
 * merges.txt, with tokenizer_config.json / special_tokens_map.json for the special tokens and length.
 */
export function robertaTokenizerFromPath(path: string, options: RobertaTokenizerOptions = {}): RobertaTokenizer {
  const { dir, file } = locateTokenizerFiles(path, ['tokenizer.json', 'vocab.json', 'merges.txt'], 'RoBERTa tokenizer');
  const config = readTokenizerConfig(dir);
  if (file.endsWith('tokenizer.json'))
    return RobertaTokenizer.fromTokenizerJson(readJsonObject(file, 'tokenizer.json'), config, file, options);
  const vocabPath = join(dir, 'vocab.json');
  const mergesPath = join(dir, 'merges.txt');
  return RobertaTokenizer.fromVocabAndMerges(
    { json: readJsonObject(vocabPath, 'RoBERTa vocabulary'), source: vocabPath },
    { text: readText(mergesPath, 'BPE merges'), source: mergesPath },
    config,
    options,
  );
}
