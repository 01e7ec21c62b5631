import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fixturePath } from '../helpers/fixtures.js';
import { readNpy, type NpyArray } from '../helpers/npy.js';
import {
  CAPTION_STOP_ID,
  CLAP_TEXT_LEN,
  defaultTokenizer,
  ENDOFTEXT_ID,
  getGpt2Vocab,
  padBatch,
  PAD_ID,
  VOCAB_SIZE,
} from '../../src/text/index.js';
import { ClapError } from '../../src/errors.js';

interface ManifestText {
  text: string;
  ids: number[];
  eos_position: number;
  token_at_eos_position: number;
  eos_is_endoftext: boolean;
}
interface Beam {
  ids: number[];
  text: string;
  length: number;
}
interface CaptionResult {
  audio: string;
  caption: string;
  ranked_texts: string[];
  ranked_token_ids: number[][];
  beams_in_decode_order: Beam[];
  greedy_beam_size_1: { text: string; ids: number[] };
}
interface Manifest {
  texts: ManifestText[];
  long_text: { text: string; n_tokens: number; eos_position: number };
  captions: { stop_token_id: number; results: CaptionResult[] };
}

const manifest = (): Manifest => JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8')) as Manifest;
const tok = defaultTokenizer();
const ids64 = (a: ArrayLike<number>): bigint[] => Array.from(a, (x) => BigInt(x));
/** The int64 contents of an npy fixture array. */
const int64 = (a: NpyArray): bigint[] => {
  assert.ok(a.data instanceof BigInt64Array, `expected int64, got ${a.dtype}`);
  return Array.from(a.data);
};

test('every manifest text gives msclap’s exact ids and pooled position', () => {
  const m = manifest();
  const inputs = JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')) as { texts: string[]; long_text: string };
  assert.equal(m.texts.length, 13);
  for (const [i, t] of m.texts.entries()) {
    assert.equal(t.text, inputs.texts[i]);
    const r = tok.encodeForClap(t.text);
    assert.deepEqual(r.ids, t.ids, JSON.stringify(t.text));
    assert.equal(r.eosPosition, t.eos_position, JSON.stringify(t.text));
    assert.equal(r.ids[r.eosPosition], t.token_at_eos_position);
    // 'fixed' pools the appended <|endoftext|>; it agrees with the reference exactly when there is no '!'.
    const fixed = tok.encodeForClap(t.text, { mode: 'fixed' });
    assert.deepEqual(fixed.ids, t.ids);
    assert.equal(fixed.eosPosition, t.ids.length - 1);
    assert.equal(fixed.eosPosition === t.eos_position, t.eos_is_endoftext);
  }
  assert.equal(inputs.long_text, m.long_text.text);
  const long = tok.encodeForClap(m.long_text.text);
  assert.equal(long.ids.length, m.long_text.n_tokens); // 78 > 77: not truncated
  assert.equal(long.eosPosition, m.long_text.eos_position);
});

test('padded batch equals expected/text/{input_ids,attention_mask,eos_positions}.npy', () => {
  const m = manifest();
  const inputIds = readNpy(fixturePath('expected', 'text', 'input_ids.npy'));
  const mask = readNpy(fixturePath('expected', 'text', 'attention_mask.npy'));
  const eos = readNpy(fixturePath('expected', 'text', 'eos_positions.npy'));
  const batch = tok.encodeBatchForClap(
    m.texts.map((t) => t.text),
    { padTo: CLAP_TEXT_LEN },
  );
  assert.deepEqual([batch.batchSize, batch.seqLen], inputIds.shape);
  assert.deepEqual(Array.from(batch.ids), int64(inputIds));
  assert.deepEqual(Array.from(batch.attentionMask), int64(mask));
  assert.deepEqual(ids64(batch.eosPositions), int64(eos));

  const longIds = readNpy(fixturePath('expected', 'text_long', 'input_ids.npy'));
  const longMask = readNpy(fixturePath('expected', 'text_long', 'attention_mask.npy'));
  const longEos = readNpy(fixturePath('expected', 'text_long', 'eos_positions.npy'));
  const long = tok.encodeBatchForClap([m.long_text.text], { padTo: CLAP_TEXT_LEN });
  assert.deepEqual([long.batchSize, long.seqLen], longIds.shape); // [1, 78]
  assert.deepEqual(Array.from(long.ids), int64(longIds));
  assert.deepEqual(Array.from(long.attentionMask), int64(longMask));
  assert.deepEqual(ids64(long.eosPositions), int64(longEos));
});

test('default batch pads only to the longest text; int32 on request', () => {
  const m = manifest();
  const texts = m.texts.slice(0, 5).map((t) => t.text);
  const batch = tok.encodeBatchForClap(texts, { dtype: 'int32' });
  assert.ok(batch.ids instanceof Int32Array);
  assert.equal(batch.seqLen, 12);
  assert.deepEqual(Array.from(batch.lengths), [9, 12, 10, 11, 11]);
  assert.deepEqual(Array.from(batch.eosPositions), [8, 11, 9, 10, 10]);
  for (let b = 0; b < texts.length; b++) {
    const row = Array.from(batch.ids.subarray(b * 12, (b + 1) * 12));
    assert.deepEqual(row, [...m.texts[b]!.ids, ...new Array<number>(12 - m.texts[b]!.ids.length).fill(PAD_ID)]);
    const maskRow = Array.from(batch.attentionMask.subarray(b * 12, (b + 1) * 12));
    assert.deepEqual(
      maskRow,
      Array.from({ length: 12 }, (_, i) => (i < batch.lengths[b]! ? 1 : 0)),
    );
  }
});

test("'!' is a special token with id 0 that moves the reference pooled row left", () => {
  // Plain GPT-2 BPE merges "!!" into one token (3228) and keeps "!" as 0 only by coincidence of ids.
  assert.deepEqual(tok.encode('Hello!! world!'), [15496, 3228, 995, 0]);
  // msclap: '!' is split out before BPE ("!!" → 0, 0), spaces around it are kept (" world" stays one token).
  const r = tok.encodeForClap('Hello!! world!');
  assert.deepEqual(r.ids, [15496, 0, 0, 995, 0, 220, ENDOFTEXT_ID]);
  assert.equal(r.eosPosition, 3); // 4 non-zero ids − 1: pools " world", not <|endoftext|>
  assert.equal(tok.encodeForClap('Hello!! world!', { mode: 'fixed' }).eosPosition, 6);
  assert.deepEqual(tok.encodeForClap('Dog barking!'), { ids: [32942, 48961, 0, 220, ENDOFTEXT_ID], eosPosition: 3 });
  assert.deepEqual(tok.encodeForClap('!'), { ids: [0, 220, ENDOFTEXT_ID], eosPosition: 1 });
  assert.deepEqual(tok.encodeForClap(''), { ids: [220, ENDOFTEXT_ID], eosPosition: 1 });
  assert.throws(() => tok.encodeForClap('x', { mode: 'bogus' as 'fixed' }), ClapError);
});

test('a literal <|endoftext|> inside text is the special id 50256 (both encoders)', () => {
  assert.deepEqual(tok.encode('no<|endoftext|>yes'), [3919, ENDOFTEXT_ID, 8505]);
  assert.deepEqual(tok.encode('<|endoftext|>'), [ENDOFTEXT_ID]);
  assert.deepEqual(tok.encodeForClap('the end.<|endoftext|>'), {
    ids: [1169, 886, 13, ENDOFTEXT_ID, 220, ENDOFTEXT_ID],
    eosPosition: 5,
  });
  // An incomplete marker is ordinary text.
  assert.notDeepEqual(tok.encode('<|endoftext|').at(-1), ENDOFTEXT_ID);
  assert.equal(tok.decode(tok.encode('<|endoftext|')), '<|endoftext|');
});

test('pre-tokenizer uses Unicode White_Space for \\s (U+0085 yes, U+FEFF no), unlike JavaScript', () => {
  // Expected ids: Hugging Face's GPT-2 algorithm with Python `regex` and OpenAI's vocab.bpe.
  assert.deepEqual(tok.encode('a \u0085b'), [64, 220, 126, 227, 65]);
  assert.deepEqual(tok.encode('a \ufeffb'), [64, 27332, 119, 123, 65]);
  assert.deepEqual(tok.encode("it's 12,345 dogs' barks"), [270, 338, 1105, 11, 27712, 6844, 6, 2318, 591]);
  assert.deepEqual(tok.encode('  leading'), [220, 3756]);
  assert.deepEqual(tok.encode(''), []);
});

test('encode/decode round-trips arbitrary text (no clean-up)', () => {
  const samples = ['Café crème & naïve façade — 日本語 😀', ' a  b\t\n\r\nc ', "it's n't 're", 'x²½٣', '\u0000\u007f', '👍🏽!'];
  for (const s of samples) assert.equal(tok.decode(tok.encode(s), { cleanUpSpaces: false }), s);
  // A lone surrogate cannot be UTF-8: it becomes U+FFFD (as TextEncoder does).
  assert.equal(tok.decode(tok.encode('a\ud800b'), { cleanUpSpaces: false }), 'a\ufffdb');
});

test('decode of every beam in beams.json gives the reference strings', () => {
  const beams = JSON.parse(readFileSync(fixturePath('expected', 'caption', 'beams.json'), 'utf8')) as Manifest['captions'];
  assert.equal(beams.stop_token_id, CAPTION_STOP_ID);
  assert.deepEqual(tok.encode(' <|endoftext|>'), [CAPTION_STOP_ID, ENDOFTEXT_ID]); // msclap's stop_token_index
  let checked = 0;
  for (const r of beams.results) {
    for (const b of r.beams_in_decode_order) {
      assert.equal(tok.decode(b.ids.slice(0, b.length)), b.text); // _generate_beam: decode(tokens[:length])
      checked++;
    }
    r.ranked_token_ids.forEach((ids, i) => assert.equal(tok.decode(ids), r.ranked_texts[i]));
    assert.equal(tok.decode(r.greedy_beam_size_1.ids), r.greedy_beam_size_1.text);
    assert.equal(tok.decodeCaption(r.ranked_token_ids[0]!), r.caption); // generate_caption: .capitalize()
  }
  assert.equal(checked, 15);
  assert.deepEqual(
    manifest().captions.results.map((r) => r.caption),
    beams.results.map((r) => r.caption),
  );
});

test('decodeCaption: generate_caption capitalisation', () => {
  const saur = [46197, 7112, 7112]; // " Saur" "RI" "RI"
  assert.equal(tok.decode(saur), ' SaurRIRI');
  assert.equal(tok.decodeCaption(saur), ' saurriri'); // leading space: no capital, rest lower-cased
  const atel = [25791, 7112]; // "atel" "RI"
  assert.equal(tok.decodeCaption(atel), 'Atelri');
  assert.equal(tok.decodeCaption(tok.encode('DOG barks. LOUDLY')), 'Dog barks. loudly');
  assert.equal(tok.decodeCaption([]), '');
  assert.equal(tok.decodeCaption(tok.encode('a dog . ')), 'A dog. '); // clean-up keeps the trailing stop space
});

test('decode: invalid UTF-8 from byte tokens becomes U+FFFD (Python errors="replace")', () => {
  const vocab = getGpt2Vocab();
  const byteId = (b: number): number => {
    for (let id = 0; id < 256; id++) if (vocab.tokenBytes(id)[0] === b) return id;
    throw new Error(`no byte token ${b}`);
  };
  // "日" is E6 97 A5: the fixture tokenizes " 日" as [10545 ("Ġæ"), 245 (0x97), 98 (0xA5)].
  assert.equal(tok.decode([10545, 245, 98]), ' 日');
  assert.equal(tok.decode([10545, 245]), ' \ufffd'); // truncated sequence: one U+FFFD
  assert.equal(tok.decode([10545, 245, 64]), ' \ufffda');
  assert.equal(tok.decode([byteId(0xc0), byteId(0xaf), byteId(0x41)]), '\ufffd\ufffdA');
  assert.equal(tok.decode([byteId(0xed), byteId(0xa0), byteId(0x80)]), '\ufffd\ufffd\ufffd');
  assert.equal(tok.decode([byteId(0xff)]), '\ufffd');
  // Bigint ids (model outputs) are accepted; out-of-range ids are an error.
  assert.equal(tok.decode(BigInt64Array.from([15496n, 995n])), 'Hello world');
  assert.throws(() => tok.decode([50257]), ClapError);
  assert.throws(() => tok.decode([-1]), ClapError);
  assert.throws(() => tok.decode([1.5]), ClapError);
});

test('decode applies clean_up_tokenization by default, as msclap’s tokenizer.decode', () => {
  const ids = tok.encode("a dog barks , it 's loud !");
  assert.equal(tok.decode(ids), "a dog barks, it's loud!");
  assert.equal(tok.decode(ids, { cleanUpSpaces: false }), "a dog barks , it 's loud !");
  assert.equal(tok.decode([ENDOFTEXT_ID, PAD_ID]), '<|endoftext|>!');
});

test('padBatch: shapes, dtypes, padTo, validation', () => {
  const b64 = padBatch([[5, 6, 7], [8]]);
  assert.ok(b64.ids instanceof BigInt64Array);
  assert.deepEqual([b64.batchSize, b64.seqLen], [2, 3]);
  assert.deepEqual(Array.from(b64.ids), [5n, 6n, 7n, 8n, 0n, 0n]);
  assert.deepEqual(Array.from(b64.attentionMask), [1n, 1n, 1n, 1n, 0n, 0n]);
  assert.deepEqual(Array.from(b64.lengths), [3, 1]);
  const b32 = padBatch([[5, 6, 7], [8]], { padTo: 5, dtype: 'int32' });
  assert.ok(b32.ids instanceof Int32Array);
  assert.deepEqual(Array.from(b32.ids), [5, 6, 7, 0, 0, 8, 0, 0, 0, 0]);
  assert.equal(padBatch([[1, 2, 3]], { padTo: 2 }).seqLen, 3); // never truncates
  assert.throws(() => padBatch([]), ClapError);
  assert.throws(() => padBatch([[1]], { padTo: -1 }), ClapError);
  assert.throws(() => padBatch([[VOCAB_SIZE]]), ClapError);
});
