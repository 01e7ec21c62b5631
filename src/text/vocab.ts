/**
 * GPT-2's byte-level BPE vocabulary, built from js-tiktoken's `r50k_base` ranks (GPT-2's own
 * `encoder.json`: rank == token id, bytes == the token's bytes).
 *
 * tiktoken ships ranks only, no merge list. Hugging Face's GPT-2 tokenizer (what msclap runs) merges
 * by the `vocab.bpe` merge list, which is not quite the same algorithm as "merge the adjacent pair whose
 * concatenation has the lowest rank": a pair can concatenate to a vocabulary entry without being that
 * entry's merge. So the merge list is rebuilt (ByteLevelBpe.fromRankedTokens) and pinned by a hash test
 * against GPT-2's published `vocab.bpe` (see test/text).
 */
import { createRequire } from 'node:module';
import { ClapError } from '../errors.js';
import { ByteLevelBpe } from './bpe.js';
import { ENDOFTEXT, ENDOFTEXT_ID, VOCAB_SIZE } from './gpt2-ids.js';
import { Gpt2Tokenizer } from './tokenizer.js';

export { ENDOFTEXT, ENDOFTEXT_ID, VOCAB_SIZE } from './gpt2-ids.js';

interface RanksData {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

let cached: ByteLevelBpe | undefined;

/** The GPT-2 vocabulary, loaded from js-tiktoken's `r50k_base` on first call (offline, ~50 ms) and kept. */
export function getGpt2Vocab(): ByteLevelBpe {
  if (cached === undefined) {
    const { bytes, offsets } = loadTokenBytes();
    cached = ByteLevelBpe.fromRankedTokens(bytes, offsets, ENDOFTEXT_ID, 'GPT-2 vocabulary');
    if (cached.size !== VOCAB_SIZE || cached.mergeCount !== ENDOFTEXT_ID - 256) throw new ClapError('GPT-2 vocabulary: unexpected size');
  }
  return cached;
}

let shared: Gpt2Tokenizer | undefined;

/** A process-wide msclap GPT-2 tokenizer on this vocabulary (one vocabulary, one word cache). */
export function defaultTokenizer(): Gpt2Tokenizer {
  shared ??= new Gpt2Tokenizer(getGpt2Vocab);
  return shared;
}

const BASE64 = new Int8Array(128).fill(-1);
'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.split('').forEach((c, i) => {
  BASE64[c.charCodeAt(0)] = i;
});

/** Reads r50k_base (`"<tag> <first rank> <base64 token> <base64 token> ..."` per line) into flat bytes. */
function loadTokenBytes(): { bytes: Uint8Array; offsets: Int32Array } {
  const require = createRequire(import.meta.url);
  let data: RanksData;
  try {
    const mod = require('js-tiktoken/ranks/r50k_base') as RanksData | { default: RanksData };
    data = 'default' in mod ? mod.default : mod;
  } catch (cause) {
    throw new ClapError('cannot load the GPT-2 vocabulary (js-tiktoken/ranks/r50k_base)', { cause });
  }
  const src = data.bpe_ranks;
  const starts = new Int32Array(ENDOFTEXT_ID).fill(-1);
  const ends = new Int32Array(ENDOFTEXT_ID);
  // Locate every base64 field (position in `src`) by rank.
  let pos = 0;
  while (pos < src.length) {
    let eol = src.indexOf('\n', pos);
    if (eol < 0) eol = src.length;
    const tagEnd = src.indexOf(' ', pos);
    const rankEnd = tagEnd < 0 ? -1 : src.indexOf(' ', tagEnd + 1);
    if (eol > pos) {
      if (tagEnd < 0 || rankEnd < 0 || rankEnd > eol) throw new ClapError('malformed r50k_base ranks');
      let rank = Number.parseInt(src.slice(tagEnd + 1, rankEnd), 10);
      if (!Number.isInteger(rank)) throw new ClapError('malformed r50k_base ranks');
      let p = rankEnd + 1;
      while (p < eol) {
        let q = src.indexOf(' ', p);
        if (q < 0 || q > eol) q = eol;
        if (rank < 0 || rank >= ENDOFTEXT_ID) throw new ClapError(`r50k_base rank ${rank} out of range`);
        starts[rank] = p;
        ends[rank] = q;
        rank++;
        p = q + 1;
      }
    }
    pos = eol + 1;
  }
  if (data.special_tokens[ENDOFTEXT] !== ENDOFTEXT_ID) throw new ClapError('r50k_base: unexpected <|endoftext|> id');
  const eot = new TextEncoder().encode(ENDOFTEXT);
  let total = eot.length;
  for (let id = 0; id < ENDOFTEXT_ID; id++) {
    if (starts[id] === -1) throw new ClapError(`r50k_base lacks token id ${id}`);
    total += ((ends[id]! - starts[id]!) >> 2) * 3;
  }
  const bytes = new Uint8Array(total);
  const offsets = new Int32Array(VOCAB_SIZE + 1);
  let o = 0;
  for (let id = 0; id < ENDOFTEXT_ID; id++) {
    offsets[id] = o;
    let bits = 0;
    let nbits = 0;
    for (let i = starts[id]!; i < ends[id]!; i++) {
      const c = src.charCodeAt(i);
      if (c === 61 /* = */) break;
      const v = c < 128 ? BASE64[c]! : -1;
      if (v < 0) throw new ClapError(`r50k_base: bad base64 in token ${id}`);
      bits = (bits << 6) | v;
      nbits += 6;
      if (nbits >= 8) {
        nbits -= 8;
        bytes[o++] = (bits >> nbits) & 0xff;
      }
    }
  }
  offsets[ENDOFTEXT_ID] = o;
  bytes.set(eot, o);
  o += eot.length;
  offsets[VOCAB_SIZE] = o;
  return { bytes: bytes.subarray(0, o), offsets };
}
