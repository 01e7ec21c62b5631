import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bertNormalize, bertPreTokenize } from '../../src/text/bert.js';
import { bertTokenizerFromPath } from '../../src/text/tokenizer-files.js';
import { ClapError } from '../../src/errors.js';
import { Rng } from '../../src/tasks/rng.js';
import { msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { randomText } from '../helpers/random-text.js';

interface Manifest {
  texts: { text: string; ids: number[]; tokens: string[] }[];
  long_text: { text: string; n_tokens: number };
}
const manifest = (): Manifest => JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as Manifest;
const folder = msclap2022Path('bert-base-uncased');
const fromVocab = bertTokenizerFromPath(folder);
const ids64 = (xs: readonly number[]): bigint[] => xs.map((x) => BigInt(x));

test('msclap 2022 fixture texts: the reference ids, from vocab.txt and from tokenizer.json', () => {
  const m = manifest();
  const fromJson = bertTokenizerFromPath(join(folder, 'tokenizer.json'));
  assert.equal(m.texts.length, 14);
  for (const t of m.texts) {
    assert.deepEqual(fromVocab.encode(t.text), t.ids, JSON.stringify(t.text));
    assert.deepEqual(fromJson.encode(t.text), t.ids, `${JSON.stringify(t.text)} (tokenizer.json)`);
  }
  assert.deepEqual([fromVocab.clsId, fromVocab.sepId, fromVocab.padId, fromVocab.unkId], [101, 102, 0, 100]);
});

test('msclap 2022 batch: input_ids / attention_mask padded to text_len 100 as encode_plus does', () => {
  const m = manifest();
  const batch = fromVocab.encodeBatch(
    m.texts.map((t) => t.text),
    { padTo: 100 },
  );
  assert.deepEqual([batch.batchSize, batch.seqLen], [14, 100]);
  assert.deepEqual(
    Array.from(batch.ids as BigInt64Array),
    Array.from(readNpy(msclap2022Path('expected', 'text', 'input_ids.npy')).data as BigInt64Array),
  );
  assert.deepEqual(
    Array.from(batch.attentionMask as BigInt64Array),
    Array.from(readNpy(msclap2022Path('expected', 'text', 'attention_mask.npy')).data as BigInt64Array),
  );
  const long = fromVocab.encode(m.long_text.text);
  assert.equal(long.length, m.long_text.n_tokens); // 101: msclap does not truncate
  assert.deepEqual(ids64(long), Array.from(readNpy(msclap2022Path('expected', 'text_long', 'input_ids.npy')).data as BigInt64Array));
});

test('texts over 512 tokens are cut to 512 ending in [SEP] (the reference crashes there); maxLength overrides', () => {
  const text = 'dog '.repeat(600);
  const ids = fromVocab.encode(text);
  assert.equal(ids.length, 512);
  assert.equal(ids[0], fromVocab.clsId);
  assert.equal(ids[511], fromVocab.sepId);
  const short = bertTokenizerFromPath(folder, { maxLength: 5 });
  assert.deepEqual(short.encode('dog dog dog dog dog'), [101, ...fromVocab.encode('dog dog dog').slice(1, 4), 102]);
  assert.throws(() => bertTokenizerFromPath(folder, { maxLength: 1 }), ClapError);
});

test('tokenizer files: a folder or the file itself; missing or wrong files are one-line errors naming them', () => {
  assert.deepEqual(bertTokenizerFromPath(join(folder, 'vocab.txt')).encode('dog'), fromVocab.encode('dog'));
  const dir = mkdtempSync(join(tmpdir(), 'bert-'));
  try {
    assert.throws(
      () => bertTokenizerFromPath(dir),
      (e: Error) => e instanceof ClapError && e.message.includes(dir) && e.message.includes('vocab.txt'),
    );
    assert.throws(() => bertTokenizerFromPath(join(dir, 'nope')), /not found/);
    writeFileSync(join(dir, 'vocab.txt'), 'a\nb\n');
    assert.throws(() => bertTokenizerFromPath(dir), /\[UNK\] is not in the vocabulary/);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "BPE"}}');
    assert.throws(() => bertTokenizerFromPath(join(dir, 'tokenizer.json')), /WordPiece/);
    copyFileSync(join(folder, 'vocab.txt'), join(dir, 'vocab.txt'));
    writeFileSync(join(dir, 'tokenizer_config.json'), '{"do_lower_case": false}');
    const cased = bertTokenizerFromPath(dir);
    assert.deepEqual(cased.encode('Dog'), [101, 100, 102]); // 'Dog' is not in the uncased vocabulary
    assert.deepEqual(cased.encode('dog'), fromVocab.encode('dog'));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// ---------------------------------------------------------------------------------------------
// Fuzz: the optimised tokenizer against a plain, character-by-character statement of the rules
// (tokenizers' BertNormalizer + BertPreTokenizer + WordPiece, see src/text/bert.ts).

const cat = (c: string, p: string): boolean => new RegExp(`^\\p{${p}}$`, 'u').test(c);
const isWhite = (c: string): boolean => c === '\t' || c === '\n' || c === '\r' || /^\p{White_Space}$/u.test(c);
const isOther = (c: string): boolean => c !== '\t' && c !== '\n' && c !== '\r' && cat(c, 'C');
const isCjk = (cp: number): boolean =>
  (cp >= 0x4e00 && cp <= 0x9fff) ||
  (cp >= 0x3400 && cp <= 0x4dbf) ||
  (cp >= 0x20000 && cp <= 0x2a6df) ||
  (cp >= 0x2a700 && cp <= 0x2b73f) ||
  (cp >= 0x2b740 && cp <= 0x2b81f) ||
  (cp >= 0x2b920 && cp <= 0x2ceaf) ||
  (cp >= 0xf900 && cp <= 0xfaff) ||
  (cp >= 0x2f800 && cp <= 0x2fa1f);
const isPunct = (c: string): boolean => {
  const cp = c.codePointAt(0)!;
  return (cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126) || cat(c, 'P');
};

function referenceWords(text: string): string[] {
  let chars: string[] = [];
  for (const c of text) {
    const cp = c.codePointAt(0)!;
    if (cp === 0 || cp === 0xfffd || isOther(c)) continue;
    chars.push(isWhite(c) ? ' ' : c);
  }
  chars = chars.flatMap((c) => (isCjk(c.codePointAt(0)!) ? [' ', c, ' '] : [c]));
  chars = Array.from(chars.join('').normalize('NFD')).filter((c) => !cat(c, 'Mn'));
  chars = chars.flatMap((c) => Array.from(c.toLowerCase()));
  const words: string[] = [];
  let word = '';
  for (const c of chars) {
    if (isWhite(c) || isPunct(c)) {
      if (word) words.push(word);
      word = '';
      if (isPunct(c)) words.push(c);
    } else word += c;
  }
  if (word) words.push(word);
  return words;
}

function referenceIds(vocab: Map<string, number>, text: string): number[] {
  const out = [101];
  for (const word of referenceWords(text)) {
    const chars = Array.from(word);
    if (chars.length > 100) {
      out.push(100);
      continue;
    }
    const pieces: number[] = [];
    let start = 0;
    while (start < chars.length) {
      let end = chars.length;
      while (end > start && !vocab.has((start > 0 ? '##' : '') + chars.slice(start, end).join(''))) end--;
      if (end === start) break;
      pieces.push(vocab.get((start > 0 ? '##' : '') + chars.slice(start, end).join(''))!);
      start = end;
    }
    if (start < chars.length) out.push(100);
    else out.push(...pieces);
  }
  out.push(102);
  return out;
}

test('fuzz: 3000 random Unicode texts tokenize as the rules say', () => {
  const lines = readFileSync(join(folder, 'vocab.txt'), 'utf8').split('\n');
  const vocab = new Map(lines.map((t, i) => [t, i]));
  const rng = new Rng(13);
  for (let i = 0; i < 3000; i++) {
    const text = randomText(rng, i % 10 === 0 ? 140 : 24);
    assert.deepEqual(fromVocab.encode(text), referenceIds(vocab, text), JSON.stringify(text));
  }
});

test('normalisation corners', () => {
  assert.equal(bertNormalize('ΟΔΟΣ Σ'), 'οδοσ σ'); // per character: no final sigma
  assert.equal(bertNormalize('İ'), 'i');
  assert.equal(bertNormalize('Café\u200b e\u0301'), 'cafe e');
  assert.equal(bertNormalize('a\tb\u2028c\u0000d\u0085e'), 'a b cde');
  assert.equal(bertNormalize('日本ｶﾀ'), ' 日  本 ｶﾀ');
  assert.equal(bertNormalize('ﬁ Ａ'), 'ﬁ ａ'); // no NFKC
  assert.deepEqual(bertPreTokenize(' a,b..c$ d '), ['a', ',', 'b', '.', '.', 'c', '$', 'd']);
  assert.deepEqual(fromVocab.encode('[cls] [CLS]'), [101, ...fromVocab.encode('[cls]').slice(1, -1), 101, 102]);
  assert.deepEqual(fromVocab.encode('x'.repeat(101)), [101, 100, 102]);
});
