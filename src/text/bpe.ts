/**
 * The byte-level BPE core shared by GPT-2 (msclap 2023) and RoBERTa (LAION / Hugging Face CLAP):
 * a vocabulary of byte strings, a ranked merge list, Hugging Face's merge loop, and the GPT-2
 * pre-tokenizer in front of it with a per-word cache.
 *
 * Merge priority is the merge's rank (its line in merges.txt), not the merged token's id: in GPT-2's
 * own vocabulary the two orders coincide, in roberta-base's (ids by corpus frequency) they do not.
 */
import { ClapError } from '../errors.js';
import { toWellFormed, WHITE_SPACE_CLASS } from './unicode.js';

/**
 * GPT-2's printable stand-ins for bytes (`bytes_to_unicode`): bytes that are printable Latin-1 map to
 * their own character, the other 68 to U+0100… in byte order. vocab.json and merges.txt spell tokens
 * in this alphabet (`Ġ` = space).
 */
function byteAlphabet(): { charOfByte: string[]; byteOfChar: Map<string, number> } {
  const printable = (b: number): boolean => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  const charOfByte: string[] = [];
  let extra = 0;
  for (let b = 0; b < 256; b++) charOfByte.push(String.fromCodePoint(printable(b) ? b : 256 + extra++));
  return { charOfByte, byteOfChar: new Map(charOfByte.map((c, b) => [c, b])) };
}
const ALPHABET = byteAlphabet();

/** The 256 characters that stand for bytes 0…255 in vocab.json and merges.txt. */
export const BYTE_LEVEL_CHARS: readonly string[] = ALPHABET.charOfByte;

/** A token written in the byte alphabet → its bytes, or undefined if it has characters outside it. */
export function byteLevelDecode(token: string): Uint8Array | undefined {
  const out: number[] = [];
  for (const ch of token) {
    const b = ALPHABET.byteOfChar.get(ch);
    if (b === undefined) return undefined;
    out.push(b);
  }
  return Uint8Array.from(out);
}

/** Bytes → the token spelled in the byte alphabet (vocab.json's spelling; inverse of byteLevelDecode). */
export function byteLevelEncode(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += ALPHABET.charOfByte[b];
  return out;
}

/** Immutable byte-level BPE vocabulary: token bytes by id and the ranked merge table. */
export class ByteLevelBpe {
  /** Number of ids (the largest id + 1). */
  readonly size: number;
  /** byte value → id of the single-byte token. */
  readonly byteToId: Int32Array;
  /** All tokens' bytes back to back; token `id` is `bytes[offsets[id] .. offsets[id + 1])`. */
  private readonly bytes: Uint8Array;
  private readonly offsets: Int32Array;
  /** (left, right) → rank; rank → left, right, merged id. */
  private merges: PairTable;
  private readonly mergeLeft: number[] = [];
  private readonly mergeRight: number[] = [];
  private readonly mergeResult: number[] = [];
  /** merged id → the rank of the merge that creates it (−1: byte or special token). */
  private readonly rankOf: Int32Array;
  private scratch = new Int32Array(64);

  private constructor(bytes: Uint8Array, offsets: Int32Array, what: string) {
    this.bytes = bytes;
    this.offsets = offsets;
    this.size = offsets.length - 1;
    this.rankOf = new Int32Array(this.size).fill(-1);
    this.merges = new PairTable(1 << 10);
    this.byteToId = new Int32Array(256).fill(-1);
    for (let id = 0; id < this.size; id++) {
      if (this.tokenLength(id) === 1 && this.byteToId[bytes[offsets[id]!]!] === -1) this.byteToId[bytes[offsets[id]!]!] = id;
    }
    for (let byte = 0; byte < 256; byte++) {
      if (this.byteToId[byte] === -1) throw new ClapError(`${what} lacks a token for byte ${byte}`);
    }
  }

  /**
   * GPT-2's layout: token ids in merge order (bytes first, then merge i creates token 256 + i, specials
   * after), as tiktoken ships it — ranks only, no merge list. The list is rebuilt: token t's merge is the
   * two parts that BPE with the merges before t leaves of t's bytes. `mergeable` ids are [0, mergeable).
   */
  static fromRankedTokens(bytes: Uint8Array, offsets: Int32Array, mergeable: number, what: string): ByteLevelBpe {
    const bpe = new ByteLevelBpe(bytes, offsets, what);
    for (let id = 0; id < mergeable; id++) {
      const len = bpe.tokenLength(id);
      if (len === 1) continue;
      const w = bpe.scratchFor(len);
      const start = offsets[id]!;
      for (let i = 0; i < len; i++) w[i] = bpe.byteToId[bytes[start + i]!]!;
      if (bpe.bpeInPlace(w, len) !== 2) throw new ClapError(`${what}: token ${id} is not one merge of two earlier tokens`);
      bpe.addMerge(w[0]!, w[1]!, id);
    }
    return bpe;
  }

  /**
   * Hugging Face's files: `vocab` (vocab.json: token in the byte alphabet → id; tokens outside the
   * alphabet, such as `<s>`, are specials spelled as their UTF-8 text) and `merges` (merges.txt lines
   * or tokenizer.json pairs, in rank order). Every merge's parts and result must be in the vocabulary.
   */
  static fromVocabAndMerges(
    vocab: ReadonlyMap<string, number>,
    merges: ReadonlyArray<readonly [string, string]>,
    what: string,
  ): ByteLevelBpe {
    let size = 0;
    for (const [token, id] of vocab) {
      if (!Number.isInteger(id) || id < 0 || id > 10_000_000)
        throw new ClapError(`token ${JSON.stringify(token)} has id ${id}`, { subject: what });
      size = Math.max(size, id + 1);
    }
    const byId: Uint8Array[] = new Array(size);
    const utf8 = new TextEncoder();
    for (const [token, id] of vocab) {
      if (byId[id] !== undefined) throw new ClapError(`id ${id} is used by two tokens`, { subject: what });
      byId[id] = byteLevelDecode(token) ?? utf8.encode(token);
    }
    let total = 0;
    for (let id = 0; id < size; id++) total += byId[id]?.length ?? 0;
    const bytes = new Uint8Array(total);
    const offsets = new Int32Array(size + 1);
    let o = 0;
    for (let id = 0; id < size; id++) {
      offsets[id] = o;
      const b = byId[id];
      if (b) {
        bytes.set(b, o);
        o += b.length;
      }
    }
    offsets[size] = o;
    const bpe = new ByteLevelBpe(bytes, offsets, what);
    bpe.merges = new PairTable(PairTable.capacityFor(merges.length));
    merges.forEach(([a, b], rank) => {
      const left = vocab.get(a);
      const right = vocab.get(b);
      const result = vocab.get(a + b);
      if (left === undefined || right === undefined || result === undefined) {
        const missing = left === undefined ? a : right === undefined ? b : a + b;
        throw new ClapError(`merge ${rank + 1} (${a} ${b}): ${JSON.stringify(missing)} is not in the vocabulary`, { subject: what });
      }
      bpe.addMerge(left, right, result);
    });
    return bpe;
  }

  /** Number of merges. */
  get mergeCount(): number {
    return this.mergeLeft.length;
  }

  /** The bytes of token `id` (a view; do not modify). Special tokens give their UTF-8 text. */
  tokenBytes(id: number): Uint8Array {
    return this.bytes.subarray(this.offsets[id]!, this.offsets[id + 1]!);
  }

  tokenLength(id: number): number {
    return this.offsets[id + 1]! - this.offsets[id]!;
  }

  /** The merge that creates `id` as `[left, right]`, or undefined for byte and special tokens. */
  mergeOf(id: number): [number, number] | undefined {
    const rank = this.rankOf[id];
    return rank === undefined || rank < 0 ? undefined : [this.mergeLeft[rank]!, this.mergeRight[rank]!];
  }

  /** Token ids of one pre-token's UTF-8 bytes. */
  encodeBytes(bytes: Uint8Array): number[] {
    const n = bytes.length;
    const w = this.scratchFor(n);
    for (let i = 0; i < n; i++) w[i] = this.byteToId[bytes[i]!]!;
    const m = this.bpeInPlace(w, n);
    return Array.from(w.subarray(0, m));
  }

  private addMerge(left: number, right: number, result: number): void {
    const rank = this.mergeLeft.length;
    // A repeated merge line takes its last rank, as both Hugging Face tokenizers build their rank maps.
    if (this.merges.needsGrowth()) this.merges = this.merges.grown();
    this.merges.set(left, right, rank);
    this.mergeLeft.push(left);
    this.mergeRight.push(right);
    this.mergeResult.push(result);
    if (this.rankOf[result] === -1) this.rankOf[result] = rank;
  }

  private scratchFor(n: number): Int32Array {
    if (this.scratch.length < n) this.scratch = new Int32Array(Math.max(n, 2 * this.scratch.length));
    return this.scratch;
  }

  /**
   * Hugging Face's BPE on `w[0..n)`: repeatedly take the adjacent pair with the lowest merge rank and
   * merge all its occurrences left to right (non-overlapping), until no pair is a merge. In place;
   * returns the new length.
   */
  private bpeInPlace(w: Int32Array, n: number): number {
    while (n > 1) {
      let best = -1;
      for (let i = 0; i + 1 < n; i++) {
        const rank = this.merges.get(w[i]!, w[i + 1]!);
        if (rank >= 0 && (best === -1 || rank < best)) best = rank;
      }
      if (best === -1) break;
      const first = this.mergeLeft[best]!;
      const second = this.mergeRight[best]!;
      const merged = this.mergeResult[best]!;
      let o = 0;
      for (let i = 0; i < n; ) {
        if (i + 1 < n && w[i] === first && w[i + 1] === second) {
          w[o++] = merged;
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

  /** A power-of-two capacity that keeps `n` entries at most half full. */
  static capacityFor(n: number): number {
    let c = 1024;
    while (c < 2 * (n + 1)) c *= 2;
    return c;
  }

  constructor(capacity: number) {
    this.left = new Int32Array(capacity).fill(-1);
    this.right = new Int32Array(capacity);
    this.value = new Int32Array(capacity);
    this.mask = capacity - 1;
  }

  needsGrowth(): boolean {
    return 2 * (this.size + 1) > this.mask + 1;
  }

  /** A copy with twice the capacity. */
  grown(): PairTable {
    const t = new PairTable(2 * (this.mask + 1));
    for (let i = 0; i <= this.mask; i++) if (this.left[i] !== -1) t.set(this.left[i]!, this.right[i]!, this.value[i]!);
    return t;
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
    const i = this.slot(a, b);
    if (this.left[i] === -1) this.size++;
    this.left[i] = a;
    this.right[i] = b;
    this.value[i] = v;
  }
}

/**
 * GPT-2's pre-tokenizer (also RoBERTa's, `ByteLevel(add_prefix_space=False)`): contractions, letters,
 * numbers and other runs each with at most one leading space, then whitespace runs (a run before a
 * non-space leaves its last space to the next word).
 */
const PRE_TOKEN = new RegExp(
  [
    "'s|'t|'re|'ve|'m|'ll|'d",
    ' ?\\p{L}+',
    ' ?\\p{N}+',
    ` ?[^${WHITE_SPACE_CLASS}\\p{L}\\p{N}]+`,
    `[${WHITE_SPACE_CLASS}]+(?![^${WHITE_SPACE_CLASS}])`,
    `[${WHITE_SPACE_CLASS}]+`,
  ].join('|'),
  'gu',
);
const WORD_CACHE_LIMIT = 50_000;

/** Pre-tokenizer + BPE over one vocabulary, with a per-word cache (one per tokenizer instance). */
export class ByteLevelEncoder {
  private readonly wordCache = new Map<string, readonly number[]>();
  private readonly utf8 = new TextEncoder();

  constructor(private readonly vocab: () => ByteLevelBpe) {}

  /** Appends the ids of `text` (which holds no special tokens) to `out`. */
  encodeOrdinary(text: string, out: number[]): void {
    if (text.length === 0) return;
    const src = toWellFormed(text);
    PRE_TOKEN.lastIndex = 0;
    for (let m = PRE_TOKEN.exec(src); m !== null; m = PRE_TOKEN.exec(src)) {
      const word = m[0];
      let ids = this.wordCache.get(word);
      if (ids === undefined) {
        ids = this.vocab().encodeBytes(this.utf8.encode(word));
        if (this.wordCache.size >= WORD_CACHE_LIMIT) this.wordCache.clear();
        this.wordCache.set(word, ids);
      }
      for (const id of ids) out.push(id);
    }
  }
}
