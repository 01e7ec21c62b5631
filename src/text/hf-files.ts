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
import type { AddedToken } from './added-tokens.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

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

/** The text of a special token entry: a string, or an AddedToken dict `{content, lstrip, ...}`. */
export function specialContent(v: unknown): { content: string; lstrip: boolean; rstrip: boolean } | undefined {
  if (typeof v === 'string') return { content: v, lstrip: false, rstrip: false };
  if (isObject(v) && typeof v.content === 'string') return { content: v.content, lstrip: v.lstrip === true, rstrip: v.rstrip === true };
  return undefined;
}

/** tokenizer.json's `added_tokens` (ids, contents, strip flags). */
export function addedTokensOf(tokenizerJson: Json, path: string): AddedToken[] {
  const list = tokenizerJson.added_tokens ?? [];
  if (!Array.isArray(list)) throw new ClapError('added_tokens must be a list', { subject: path });
  return list.map((t, i) => {
    if (!isObject(t) || typeof t.content !== 'string' || !Number.isInteger(t.id)) {
      throw new ClapError(`added_tokens[${i}] needs a string content and an integer id`, { subject: path });
    }
    return { content: t.content, id: t.id as number, lstrip: t.lstrip === true, rstrip: t.rstrip === true };
  });
}

/** A `{token: id}` object as a Map, ids checked. */
export function vocabMap(v: unknown, path: string): Map<string, number> {
  if (!isObject(v)) throw new ClapError('the vocabulary must be a {token: id} object', { subject: path });
  const m = new Map<string, number>();
  for (const [token, id] of Object.entries(v)) {
    if (!Number.isInteger(id) || (id as number) < 0)
      throw new ClapError(`token ${JSON.stringify(token)} has id ${String(id)}`, { subject: path });
    m.set(token, id as number);
  }
  return m;
}

/** merges.txt: an optional `#version` line, then one `left right` pair per line. */
export function parseMergesTxt(text: string, path: string): [string, string][] {
  const out: [string, string][] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/\r$/, '');
    if (line.length === 0 || (i === 0 && line.startsWith('#version'))) return;
    const parts = line.split(' ');
    if (parts.length !== 2 || parts[0] === '' || parts[1] === '')
      throw new ClapError(`line ${i + 1} is not a "left right" merge`, { subject: path });
    out.push([parts[0], parts[1]]);
  });
  return out;
}

/** tokenizer.json's `model.merges`: `"left right"` strings (older files) or `[left, right]` pairs (newer). */
export function parseJsonMerges(v: unknown, path: string): [string, string][] {
  if (!Array.isArray(v)) throw new ClapError('model.merges must be a list', { subject: path });
  return v.map((m, i) => {
    if (typeof m === 'string') {
      const parts = m.split(' ');
      if (parts.length === 2 && parts[0] !== '' && parts[1] !== '') return [parts[0], parts[1]] as [string, string];
    } else if (Array.isArray(m) && m.length === 2 && typeof m[0] === 'string' && typeof m[1] === 'string') {
      return [m[0], m[1]] as [string, string];
    }
    throw new ClapError(`model.merges[${i}] is not a merge pair`, { subject: path });
  });
}

/** `model_max_length` of a tokenizer config when it is a sensible integer (the hub writes 1e30 for "none"). */
export function modelMaxLength(config: Json): number | undefined {
  const v = config.model_max_length;
  return typeof v === 'number' && Number.isInteger(v) && v > 0 && v < 1e9 ? v : undefined;
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
