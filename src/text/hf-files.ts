/**
 * Hugging Face tokenizer files as published in model folders: `tokenizer.json` (the fast tokenizer's
 * single file) or the slow tokenizer's `vocab.json` + `merges.txt` / `vocab.txt`, with
 * `tokenizer_config.json` and `special_tokens_map.json` beside them. Only reading and shape checks
 * here; the tokenizers interpret the contents.
 */
import { existsSync, statSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { ClapError } from '../errors.js';
import { readJson } from '../files.js';
import { isObject, type Json } from './hf-json.js';

export {
  addedTokensOf,
  isObject,
  type Json,
  modelMaxLength,
  parseJsonMerges,
  parseMergesTxt,
  specialContent,
  vocabMap,
} from './hf-json.js';

/** A JSON file that must hold an object. */
export function readJsonObject(path: string, what: string): Json {
  const j = readJson(path, what);
  if (!isObject(j)) throw new ClapError(`${what} must be a JSON object`, { subject: path });
  return j;
}

/**
 * `tokenizer_config.json` merged over `special_tokens_map.json` (either may be absent). A special token
 * the config names by its text alone keeps the map's `{content, lstrip, ...}` entry for it.
 */
export function readTokenizerConfig(dir: string): Json {
  const mapPath = join(dir, 'special_tokens_map.json');
  const cfgPath = join(dir, 'tokenizer_config.json');
  const map = existsSync(mapPath) ? readJsonObject(mapPath, 'special tokens map') : {};
  const cfg = existsSync(cfgPath) ? readJsonObject(cfgPath, 'tokenizer config') : {};
  const out: Json = { ...map, ...cfg };
  for (const [key, v] of Object.entries(map)) {
    if (typeof cfg[key] === 'string' && isObject(v) && v.content === cfg[key]) out[key] = v;
  }
  return out;
}

/**
 * Where a tokenizer's files are: `path` is a folder, or one of its files (then the folder holding it).
 * `wanted` names the files that identify it; the first present one is returned with the folder.
 */
export function locateTokenizerFiles(path: string, wanted: readonly string[], what: string): { dir: string; file: string } {
  let dir = path;
  let isFile = false;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new ClapError(`${what} not found`, { subject: path });
  }
  if (isFile) {
    if (!wanted.includes(basename(path))) {
      throw new ClapError(`is not a ${what} file (expected ${wanted.join(' or ')})`, { subject: path });
    }
    return { dir: dirname(path), file: path };
  }
  dir = path;
  for (const name of wanted) {
    const file = join(dir, name);
    if (existsSync(file)) return { dir, file };
  }
  throw new ClapError(`no ${what} here (expected ${wanted.join(' or ')})`, { subject: dir });
}

/** Files a tokenizer is read from: the vocabularies and merges, and the configs beside them. */
const TOKENIZER_FILES = ['vocab.txt', 'tokenizer.json', 'vocab.json', 'merges.txt', 'added_tokens.json'];
const TOKENIZER_CONFIGS = ['tokenizer_config.json', 'special_tokens_map.json'];

/**
 * The files that make up the tokenizer at `path` (what a copy needs): in a folder, every tokenizer file
 * present; for a file, that file and the configs beside it.
 */
export function tokenizerFiles(path: string): string[] {
  let isFile: boolean;
  try {
    isFile = statSync(path).isFile();
  } catch {
    throw new ClapError('tokenizer not found', { subject: path });
  }
  const dir = isFile ? dirname(path) : path;
  const files = isFile ? [path] : TOKENIZER_FILES.map((f) => join(dir, f)).filter((f) => existsSync(f));
  if (files.length === 0) throw new ClapError(`no tokenizer files here (expected ${TOKENIZER_FILES.join(', ')})`, { subject: path });
  return [...files, ...TOKENIZER_CONFIGS.map((f) => join(dir, f)).filter((f) => existsSync(f))];
}
