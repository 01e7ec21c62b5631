import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { robertaTokenizerFromPath } from '../../src/text/tokenizer-files.js';
import { defaultTokenizer } from '../../src/text/index.js';
import { ClapError } from '../../src/errors.js';
import { Rng } from '../../src/tasks/rng.js';
import { hfclapPath } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { randomText } from '../helpers/random-text.js';

interface Variant {
  texts: { text: string; ids: number[] }[];
  long_text: { n_tokens_untruncated: number; n_tokens: number };
}
interface Manifest {
  variants: Record<'unfused' | 'fused', Variant>;
}
const manifest = (): Manifest => JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')) as Manifest;
const inputs = (): { texts: string[]; long_text: string; zero_shot_classes: string[]; zero_shot_prompt: string } =>
  JSON.parse(readFileSync(hfclapPath('inputs', 'texts.json'), 'utf8'));
const npyIds = (...parts: string[]): bigint[] => Array.from(readNpy(hfclapPath(...parts)).data as BigInt64Array);
const folder = hfclapPath('model-unfused');
const fast = robertaTokenizerFromPath(folder);

test('both model folders: fixture ids from tokenizer.json and from vocab.json + merges.txt', () => {
  const m = manifest();
  for (const v of ['unfused', 'fused'] as const) {
    const dir = hfclapPath(`model-${v}`);
    const slow = robertaTokenizerFromPath(join(dir, 'vocab.json'));
    const json = robertaTokenizerFromPath(dir);
    assert.equal(m.variants[v].texts.length, 16);
    for (const t of m.variants[v].texts) {
      assert.deepEqual(json.encode(t.text), t.ids, `${v} ${JSON.stringify(t.text)}`);
      assert.deepEqual(slow.encode(t.text), t.ids, `${v} ${JSON.stringify(t.text)} (vocab.json)`);
    }
    assert.deepEqual([json.bosId, json.eosId, json.padId, json.maxLength], [0, 2, 1, 512]);
  }
});

test('padding=True batches: input_ids and attention_mask of the text and zero-shot calls', () => {
  const { texts, zero_shot_classes, zero_shot_prompt } = inputs();
  const batch = fast.encodeBatch(texts);
  assert.deepEqual(Array.from(batch.ids as BigInt64Array), npyIds('expected', 'unfused', 'text', 'input_ids.npy'));
  assert.deepEqual(Array.from(batch.attentionMask as BigInt64Array), npyIds('expected', 'unfused', 'text', 'attention_mask.npy'));
  const prompts = fast.encodeBatch(zero_shot_classes.map((c) => zero_shot_prompt.replace('{}', c)));
  assert.deepEqual(Array.from(prompts.ids as BigInt64Array), npyIds('expected', 'unfused', 'zeroshot', 'input_ids.npy'));
});

test('truncation=True: the 686-token text becomes 512 tokens ending in </s>', () => {
  const m = manifest().variants.unfused.long_text;
  const ids = fast.encode(inputs().long_text);
  assert.equal(ids.length, m.n_tokens);
  assert.deepEqual(ids.map(BigInt), npyIds('expected', 'unfused', 'text_long', 'input_ids.npy'));
  assert.equal(robertaTokenizerFromPath(folder, { maxLength: 1000 }).encode(inputs().long_text).length, m.n_tokens_untruncated);
});

test('special tokens: <mask> swallows the whitespace on its left, the others keep it', () => {
  const mask = fast.encode('a \t<mask>').slice(1, -1);
  assert.deepEqual(mask, [...fast.encode('a').slice(1, -1), 50264]);
  assert.deepEqual(fast.encode('a <s>').slice(1, -1), [...fast.encode('a ').slice(1, -1), 0]);
  assert.deepEqual(fast.encode('<s><pad></s><unk>').slice(1, -1), [0, 1, 2, 3]);
  assert.ok(!fast.encode('<S>').includes(0, 1)); // case-sensitive: `<S>` is plain text
});

test('tokenizer files: missing, broken or unsupported ones are one-line errors naming them', () => {
  const dir = mkdtempSync(join(tmpdir(), 'roberta-'));
  try {
    assert.throws(
      () => robertaTokenizerFromPath(dir),
      (e: Error) => e instanceof ClapError && e.message.includes(dir),
    );
    copyFileSync(join(folder, 'vocab.json'), join(dir, 'vocab.json'));
    assert.throws(() => robertaTokenizerFromPath(dir), /merges\.txt.*ENOENT|cannot read BPE merges/);
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nĠ t\nnot-a-merge\n');
    assert.throws(() => robertaTokenizerFromPath(dir), /line 3 is not a "left right" merge/);
    writeFileSync(join(dir, 'merges.txt'), '#version: 0.2\nĠ zzzzzz\n');
    assert.throws(() => robertaTokenizerFromPath(dir), /merge 1 .*"zzzzzz" is not in the vocabulary/);
    writeFileSync(join(dir, 'tokenizer.json'), '{"model": {"type": "WordPiece"}}');
    assert.throws(() => robertaTokenizerFromPath(dir), /a RoBERTa tokenizer is BPE/);
    writeFileSync(join(dir, 'tokenizer.json'), '{not json');
    assert.throws(() => robertaTokenizerFromPath(dir), /not valid JSON/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

const SPECIALS: [string, number][] = [
  ['<mask>', 50264],
  ['<pad>', 1],
  ['<unk>', 3],
  ['</s>', 2],
  ['<s>', 0],
];
const WHITE = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/u;

test('fuzz: 3000 random Unicode texts with added tokens mixed in give GPT-2 BPE ids + 4 between <s> and </s>', () => {
  // The fixture's vocab.json is GPT-2's with every id shifted by 4 and GPT-2's merges (README), so GPT-2's
  // tokenizer, whose vocabulary comes from independent data (tiktoken ranks, merge list pinned by hash),
  // is a reference for the byte-level BPE and pre-tokenizer; added tokens are cut out by a plain scan.
  const gpt2 = defaultTokenizer();
  const rng = new Rng(7);
  const reference = (text: string): number[] => {
    const out: number[] = [];
    let piece = '';
    const flush = (): void => {
      out.push(...gpt2.encode(piece).map((id) => id + 4));
      piece = '';
    };
    for (let i = 0; i < text.length; ) {
      const hit = SPECIALS.find(([s]) => text.startsWith(s, i));
      if (!hit) {
        piece += text[i++];
        continue;
      }
      if (hit[0] === '<mask>') piece = piece.replace(WHITE, '');
      flush();
      out.push(hit[1]);
      i += hit[0].length;
    }
    flush();
    return [0, ...out.slice(0, 510), 2];
  };
  for (let i = 0; i < 3000; i++) {
    let text = '';
    for (let k = rng.int(4); k >= 0; k--) {
      text += randomText(rng, i % 10 === 0 ? 200 : 12).replace(/<\|endoftext\|>/g, '');
      if (rng.int(2) === 0) text += SPECIALS[rng.int(SPECIALS.length)]![0];
    }
    assert.deepEqual(fast.encode(text), reference(text), JSON.stringify(text));
  }
});
