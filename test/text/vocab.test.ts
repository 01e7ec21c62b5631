import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { ENDOFTEXT_ID, getGpt2Vocab, VOCAB_SIZE } from '../../src/text/index.js';

/** GPT-2's printable stand-ins for bytes (the alphabet of encoder.json / vocab.bpe), built per its definition. */
function byteAlphabet(): { order: number[]; char: Map<number, string> } {
  const order: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) order.push(b);
  for (let b = 0xa1; b <= 0xac; b++) order.push(b);
  for (let b = 0xae; b <= 0xff; b++) order.push(b);
  const codes = [...order];
  let extra = 0;
  for (let b = 0; b < 256; b++) {
    if (!order.includes(b)) {
      order.push(b);
      codes.push(256 + extra++);
    }
  }
  return { order, char: new Map(order.map((b, i) => [b, String.fromCodePoint(codes[i]!)])) };
}

test('vocabulary: 50257 ids, bytes first in GPT-2 order, <|endoftext|> last', () => {
  const vocab = getGpt2Vocab();
  const { order } = byteAlphabet();
  for (let id = 0; id < 256; id++) assert.deepEqual([...vocab.tokenBytes(id)], [order[id]]);
  assert.equal(new TextDecoder().decode(vocab.tokenBytes(ENDOFTEXT_ID)), '<|endoftext|>');
  assert.equal(vocab.tokenLength(VOCAB_SIZE - 1), 13);
  assert.equal(new TextDecoder().decode(vocab.tokenBytes(262)), ' the');
  assert.equal(vocab.mergeCount, 50000);
  assert.equal(vocab.mergeOf(65), undefined);
  assert.equal(vocab.mergeOf(ENDOFTEXT_ID), undefined);
});

test("rebuilt merge list is GPT-2's vocab.bpe byte for byte (sha256 pinned)", () => {
  // Hugging Face merges by this list, not by token rank; it is rebuilt from the ranks (vocab.ts) and must
  // equal OpenAI's published vocab.bpe, whose sha256 is 1ce16647…adc5 (also pinned by tiktoken).
  const vocab = getGpt2Vocab();
  const { char } = byteAlphabet();
  const show = (id: number): string => Array.from(vocab.tokenBytes(id), (b) => char.get(b)!).join('');
  const lines = ['#version: 0.2'];
  for (let id = 256; id < ENDOFTEXT_ID; id++) {
    const merge = vocab.mergeOf(id);
    assert.ok(merge, `token ${id} has a merge`);
    assert.ok(merge[0] < id && merge[1] < id);
    lines.push(`${show(merge[0])} ${show(merge[1])}`);
  }
  assert.equal(lines[1], 'Ġ t');
  assert.equal(lines[7], 'Ġt he');
  assert.equal(lines[50000], 'Ġg azed');
  const sha = createHash('sha256')
    .update(`${lines.join('\n')}\n`, 'utf8')
    .digest('hex');
  assert.equal(sha, '1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5');
});

test('vocabulary loads once and is shared', () => {
  assert.equal(getGpt2Vocab(), getGpt2Vocab());
});
