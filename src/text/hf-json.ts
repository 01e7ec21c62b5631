/**
 * The contents of Hugging Face tokenizer files, parsed and shape-checked: tokenizer.json's vocabulary,
 * merges and added tokens, merges.txt, special-token entries. No file access (hf-files.ts reads the files;
 * the browser build gets the JSON from a URL), so both builds share one parser.
 */
import { ClapError } from '../errors.js';
import type { AddedToken } from './added-tokens.js';

export type Json = Record<string, unknown>;

export const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

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
