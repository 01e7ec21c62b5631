/**
 * GPT-2's byte-level BPE vocabulary, built from js-tiktoken's `r50k_base` ranks (GPT-2's own
 * `encoder.json`: rank == token id, bytes == the token's bytes).
 *
 * tiktoken ships ranks only, no merge list. Hugging Face's GPT-2 tokenizer (what msclap runs) merges
 * by the `vocab.bpe` merge list, which is not quite the same algorithm as "merge the adjacent pair whose
 * concatenation has the lowest rank": a pair can concatenate to a vocabulary entry without being that
 * entry's merge. So the merge list is rebuilt here: in GPT-2, merge number `i` creates token `256 + i`,
 * hence token `t`'s merge is the two parts that BPE with merges `< t` leaves of `t`'s bytes. The rebuilt
 * list is pinned by a hash test against GPT-2's published `vocab.bpe` (see test/text).
 */
import { createRequire } from 'node:module';
import { ClapError } from '../errors.js';

/** Number of token ids (50 000 merges + 256 bytes + `<|endoftext|>`). */
export const VOCAB_SIZE = 50257;
/** `<|endoftext|>`: GPT-2's only special token. */
export const ENDOFTEXT = '<|endoftext|>';
export const ENDOFTEXT_ID = 50256;

interface RanksData {
  pat_str: string;
  special_tokens: Record<string, number>;
  bpe_ranks: string;
}

/** Immutable GPT-2 vocabulary: token bytes and the merge table. Build with {@link getGpt2Vocab}. */
export class Gpt2Vocab {
  /** All tokens' bytes back to back; token `id` is `bytes[offsets[id] .. offsets[id + 1])`. */
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  /** byte value → id of the single-byte token. */
  readonly byteToId: Int32Array;
  /** (left, right) → merged id; the merged id is also the merge's priority (lower merges first). */
  private readonly merges = new PairTable(1 << 17);
  /** merged id → its left / right part (−1 for byte and special tokens). */
  private readonly mergeLeft = new Int32Array(VOCAB_SIZE).fill(-1);
  private readonly mergeRight = new Int32Array(VOCAB_SIZE).fill(-1);
  private scratch = new Int32Array(64);

  constructor(bytes: Uint8Array, offsets: Int32Array) {
    if (offsets.length !== VOCAB_SIZE + 1) throw new ClapError('GPT-2 vocabulary: wrong number of tokens');
    this.bytes = bytes;
    this.offsets = offsets;
    this.byteToId = new Int32Array(256).fill(-1);
    for (let id = 0; id < ENDOFTEXT_ID; id++) {
      if (this.tokenLength(id) === 1) this.byteToId[bytes[offsets[id]!]!] = id;
    }
    for (let byte = 0; byte < 256; byte++) {
      if (this.byteToId[byte] === -1) throw new ClapError(`GPT-2 vocabulary lacks a token for byte ${byte}`);
    }
    // Rebuild the merge list in id order: both parts of token t are tokens < t, already known.
    for (let id = 0; id < ENDOFTEXT_ID; id++) {
      const start = offsets[id]!;
      const len = this.tokenLength(id);
      if (len === 1) continue;
      const w = this.scratchFor(len);
      for (let i = 0; i < len; i++) w[i] = this.byteToId[bytes[start + i]!]!;
      if (this.bpeInPlace(w, len) !== 2) {
        throw new ClapError(`GPT-2 vocabulary: token ${id} is not one merge of two earlier tokens`);
      }
      this.merges.set(w[0]!, w[1]!, id);
      this.mergeLeft[id] = w[0]!;
      this.mergeRight[id] = w[1]!;
    }
  }

  /** Number of merges (50 000 for GPT-2). */
  get mergeCount(): number {
    return this.merges.size;
  }

  /** The bytes of token `id` (a view; do not modify). `<|endoftext|>` gives its UTF-8 text. */
  tokenBytes(id: number): Uint8Array {
    return this.bytes.subarray(this.offsets[id]!, this.offsets[id + 1]!);
  }

  tokenLength(id: number): number {
    return this.offsets[id + 1]! - this.offsets[id]!;
  }

  /** The merge that creates `id` as `[left, right]`, or undefined for byte and special tokens. */
  mergeOf(id: number): [number, number] | undefined {
    const left = this.mergeLeft[id];
    return left === undefined || left < 0 ? undefined : [left, this.mergeRight[id]!];
  }

  /** Token ids of one pre-token's UTF-8 bytes under GPT-2's BPE. */
  encodeBytes(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const w = this.scratchFor(n);
    for (let i = 0; i < n; i++) w[i] = this.byteToId[bytes[i]!]!;
    const m = this.bpeInPlace(w, n);
    return Array.from(w.subarray(0, m));
  }

  private scratchFor(n: number): Int32Array {
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, 2 * this.scratch.length));
    return this.scratch;
  }

  /**
   * Hugging Face's GPT-2 BPE on `w[0..n)`: repeatedly take the adjacent pair with the lowest merge
   * rank and merge all its occurrences left to right (non-overlapping), until no pair is a merge.
   * Works in place; returns the new length.
   */
  private bpeInPlace(w: Int32Array, n: number): number {
    while (n > 1) {
      let best = -1;
      for (let i = 0; i + 1 < n; i++) {
        const merged = this.merges.get(w[i]!, w[i + 1]!);
        if (merged >= 0 && (best === -1 || merged < best)) best = merged;
      }
      if (best === -1) break;
      const first = this.mergeLeft[best]!;
      const second = this.mergeRight[best]!;
      let o = 0;
      for (let i = 0; i < n; ) {
        if (i + 1 < n && w[i] === first && w[i + 1] === second) {
          w[o++] = best;
          i += 2;
        } else {
          w[o++] = w[i++]!;
        }
      }
      n = o;
    }
    return n;
  }
}

/** Open-addressing hash map from a pair of non-negative int32 to a non-negative int32 (−1: absent). */
class PairTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  private readonly value: Int32Array;
  private readonly mask: number;
  size = 0;

  constructor(capacity: number) {
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.value = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  private slot(a: number, b: number): number {
    let i = ((Math.imul(a, 0x9e3779b1) ^ Math.imul(b, 0x85ebca6b)) >>> 15) & this.mask;
    while (this.left[i] !== -1 && (this.left[i] !== a || this.right[i] !== b)) i = (i + 1) & this.mask;
    return i;
  }

  get(a: number, b: number): number {
    const i = this.slot(a, b);
    return this.left[i] === -1 ? -1 : this.value[i]!;
  }

  set(a: number, b: number, v: number): void {
    if (2 * (this.size + 1) > this.mask + 1) throw new ClapError('internal: merge table full');
    const i = this.slot(a, b);
    if (this.left[i] === -1) this.size++;
    this.left[i] = a;
    this.right[i] = b;
    this.value[i] = v;
  }
}

let cached: Gpt2Vocab | undefined;

/** The GPT-2 vocabulary, loaded from js-tiktoken's `r50k_base` on first call (offline, ~50 ms) and kept. */
export function getGpt2Vocab(): Gpt2Vocab {
  if (cached === undefined) {
    const { bytes, offsets } = loadTokenBytes();
    cached = new Gpt2Vocab(bytes, offsets);
  }
  return cached;
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
