/**
 * Audio captioning (clapcap) against msclap's own results (fixtures: expected/caption/beams.json,
 * entry_length 20, beam 5, temperature 1): every beam's token ids, order, lengths and texts, the
 * generate_caption strings, greedy (beam_size=1) — with and without the KV cache — plus the KV cache's
 * logits against uncached runs, torch's topk tie order, and the sampling options.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import {
  ClapCapCache,
  type ClapCapSettings,
  argsortDescending,
  beamSearch,
  type CaptionLm,
  ClapCapDecoder,
  type LmState,
  rowLogProbs,
  sample,
  sampleToken,
  seededRandom,
  toFloat32,
  torchTopk,
} from '../../src/tasks/caption/index.js';
import { loadWeights } from '../../src/weights/index.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { cosine, maxAbs, maxAbsError } from '../helpers/compare.js';

interface RefResult {
  audio: string;
  caption: string;
  ranked_texts: string[];
  ranked_token_ids: number[][];
  beams_in_decode_order: { ids: number[]; text: string; length: number }[];
  gpt_forward_calls: number;
  greedy_beam_size_1: { text: string; ids: number[] };
}

let cached: Promise<{ dec: ClapCapDecoder; refs: RefResult[]; prefixes: Float32Array[]; entryLength: number }> | undefined;
function setup() {
  cached ??= (async () => {
    const sd = await loadWeights(fixturePath('clapcap.pth'));
    const settings = JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')).clapcap as ClapCapSettings;
    const beams = JSON.parse(readFileSync(fixturePath('expected', 'caption', 'beams.json'), 'utf8'));
    assert.equal(beams.beam_size, 5);
    assert.equal(beams.temperature, 1);
    assert.equal(beams.stop_token_id, 220);
    const refs = beams.results as RefResult[];
    const prefixes = refs.map((r) => fixtureF32('expected', 'caption', r.audio, 'prefix.npy'));
    return { dec: await ClapCapDecoder.load(sd, settings, { threads: 1 }), refs, prefixes, entryLength: beams.entry_length as number };
  })();
  return cached;
}

for (const kvCache of [true, false]) {
  test(`beam search reproduces msclap's beams and captions (${kvCache ? 'KV cache' : 'no cache'}, 3 files batched)`, async () => {
    const { dec, refs, prefixes, entryLength } = await setup();
    const results = await dec.caption(prefixes, { entryLength, kvCache });
    assert.equal(results.length, refs.length);
    results.forEach((r, i) => {
      const ref = refs[i];
      const beams = r.beams!;
      assert.deepEqual(
        beams.map((b) => b.tokens),
        ref.ranked_token_ids,
        `${ref.audio}: ranked token ids`,
      );
      assert.deepEqual(
        beams.map((b) => b.text),
        ref.ranked_texts,
        `${ref.audio}: ranked texts`,
      );
      // msclap's final tensor order (decode order) with each beam's length
      const decodeOrder = [...beams].sort((a, b) => a.beamIndex - b.beamIndex);
      assert.deepEqual(
        decodeOrder.map((b) => ({ ids: b.tokens, text: b.text, length: b.length })),
        ref.beams_in_decode_order,
        `${ref.audio}: decode order`,
      );
      assert.equal(r.caption, ref.caption, `${ref.audio}: caption`);
      assert.equal(r.text, ref.ranked_texts[0]);
      assert.deepEqual(r.tokens, ref.ranked_token_ids[0]);
      assert.equal(r.modelCalls, ref.gpt_forward_calls);
      // scores are ranked and a stopped beam ends with the stop token (its trailing space in the text)
      for (let b = 1; b < beams.length; b++) assert.ok(beams[b - 1].score >= beams[b].score);
      for (const b of beams) assert.equal(b.stopped, b.tokens[b.tokens.length - 1] === 220);
    });
  });
}

test('greedy (beam_size=1) reproduces msclap, including a caption that stops at its first token', async () => {
  const { dec, refs, prefixes, entryLength } = await setup();
  for (const kvCache of [true, false]) {
    const results = await dec.caption(prefixes, { entryLength, strategy: 'greedy', kvCache });
    results.forEach((r, i) => {
      assert.deepEqual(r.tokens, refs[i].greedy_beam_size_1.ids, `${refs[i].audio} greedy ids`);
      assert.equal(r.text, refs[i].greedy_beam_size_1.text);
      assert.equal(r.beams!.length, 1);
    });
    assert.deepEqual(results[2].tokens, [220]); // vowel_16k: stop token first → one GPT call
    assert.equal(results[2].modelCalls, 1);
    assert.equal(results[2].caption, ' ');
  }
  // same as an explicit beam size of 1
  const viaBeam = await dec.caption(prefixes, { entryLength, beamSize: 1 });
  assert.deepEqual(
    viaBeam.map((r) => r.tokens),
    refs.map((r) => r.greedy_beam_size_1.ids),
  );
});

test("int8 GPT-2 (opt-in --precision int8): logits close to fp32's, the default decoder untouched", async () => {
  const { dec, prefixes } = await setup();
  const sd = await loadWeights(fixturePath('clapcap.pth'));
  const settings = JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')).clapcap as ClapCapSettings;
  const q = await ClapCapDecoder.load(sd, settings, { threads: 1, precision: 'int8' });
  try {
    const P = dec.config.prefixLength;
    const [embeds] = await dec.prefixEmbeddings(prefixes.slice(0, 1)); // the mapper stays fp32
    const [a, b] = await Promise.all([dec, q].map((d) => d.model.forward(embeds, P)));
    assert.ok(cosine(a.logits, b.logits) > 0.999, `prefill logits cosine ${cosine(a.logits, b.logits)}`);
    assert.notDeepEqual(a.logits, b.logits, 'int8 weights are in use');
    const [fp32, int8] = await Promise.all([dec, q].map((d) => d.caption(prefixes.slice(0, 1), { entryLength: 8 })));
    assert.ok(int8[0].tokens.length > 0 && int8[0].modelCalls <= 8 && fp32[0].modelCalls <= 8);
  } finally {
    await q.release();
  }
});

test('captions do not depend on the file batch (batchSize 1 vs all files)', async () => {
  const { dec, refs, prefixes, entryLength } = await setup();
  const progress: number[] = [];
  const single = await dec.caption(prefixes, { entryLength, batchSize: 1, onProgress: (done, total) => progress.push(done / total) });
  assert.deepEqual(progress, [1 / 3, 2 / 3, 1]);
  assert.deepEqual(
    single.map((r) => r.caption),
    refs.map((r) => r.caption),
  );
  assert.deepEqual(
    single.map((r) => r.beams!.map((b) => b.tokens)),
    refs.map((r) => r.ranked_token_ids),
  );
});

test('KV-cached decoder logits equal uncached ones over several steps (beam reordering, a finished file)', async (t) => {
  const { dec, prefixes } = await setup();
  const model = dec.model;
  const V = model.config.gpt.vocabSize;
  const prefix = (await model.prefix(prefixes)).prefix; // [3, P, n]
  const cache = new ClapCapCache(model, 3, 4 + 2); // deliberately small: the pool has to grow
  const first = await cache.prefill(prefix);
  const ref0 = await model.runUncached(prefix, [0, 1, 2], [[], [], []]);
  for (let j = 0; j < ref0.logits.length; j++) assert.ok(Math.abs(first.logits[j] - ref0.logits[j]) <= 1e-5 * 122, `prefill logit ${j}`);
  // sequences: (file, tokens); each step reorders/duplicates rows within a file, like beam search
  let seqs: { row: number; tokens: number[] }[] = [0, 1, 2].map((row) => ({ row, tokens: [] }));
  const plan: { parents: number[]; tokens: number[] }[] = [
    { parents: [0, 0, 1, 1, 2, 2], tokens: [11681, 220, 25791, 40535, 0, 7] },
    { parents: [1, 0, 3, 3, 5, 4], tokens: [7112, 0, 35709, 9908, 1216, 19934] },
    { parents: [0, 0, 5, 4], tokens: [1, 2, 50256, 4] }, // file 1 finished: padded inside the cache
    { parents: [1, 1, 3, 2], tokens: [220, 7112, 6107, 6107] },
    { parents: [2, 2], tokens: [13, 14] }, // R changes to 2 rows, one file
  ];
  let worst = 0;
  for (const [i, s] of plan.entries()) {
    const out = await cache.step(s.parents, s.tokens);
    seqs = s.parents.map((p, r) => ({ row: seqs[p].row, tokens: [...seqs[p].tokens, s.tokens[r]] }));
    const ref = await model.runUncached(
      prefix,
      seqs.map((q) => q.row),
      seqs.map((q) => q.tokens),
    );
    assert.equal(out.logits.length, seqs.length * V);
    const err = maxAbsError(out.logits, ref.logits);
    const mag = maxAbs(ref.logits);
    for (let r = 0; r < seqs.length; r++) {
      assert.ok(Math.abs(out.stats.max[r] - ref.stats.max[r]) <= 1e-4 * mag);
      assert.ok(Math.abs(out.stats.sumExp[r] / ref.stats.sumExp[r] - 1) <= 1e-4);
    }
    t.diagnostic(
      `step ${i + 1} (${seqs.length} rows, length ${4 + seqs[0].tokens.length}): ` +
        `max abs err ${err.toExponential(2)}, max |logit| ${mag.toPrecision(4)}`,
    );
    assert.ok(err <= 1e-4 * mag, `step ${i + 1}: ${err} > 1e-4 × ${mag}`);
    worst = Math.max(worst, err / mag);
    assert.equal(cache.positions, 4 + i + 1);
  }
  t.diagnostic(`worst ratio ${worst.toExponential(2)}; pool grew to ${cache.pool.capacity} slots per file`);
  assert.ok(cache.pool.capacity > 6);
  await assert.rejects(cache.step([5], [1]), /parent 5 is not a row of the previous call/);
  const other = new ClapCapCache(model, 3, 8);
  await other.prefill(prefix);
  await assert.rejects(other.step([1, 0], [1, 2]), /grouped by file/);
  await assert.rejects(other.step([0, 0, 1], [1, 2, 3]), /same number of rows/);
});

test('entry length cap, option checks and token checks are ClapErrors', async () => {
  const { dec, prefixes } = await setup();
  // P + entryLength − 1 ≤ n_positions (1024), P = 4
  await assert.rejects(dec.caption(prefixes, { entryLength: 1022 }), /entryLength: must be an integer in 1\.\.1021/);
  await assert.rejects(dec.caption(prefixes, { beamSize: 0 }), /beamSize/);
  await assert.rejects(dec.caption(prefixes, { strategy: 'nucleus' as never }), /unknown strategy/);
  await assert.rejects(dec.caption(prefixes, { strategy: 'sample', topP: 0 }), /topP/);
  await assert.rejects(dec.captionPrefixEmbeddings([new Float32Array(5)]), /prefix embedding 0 has 5 values, expected 128/);
  assert.throws(() => dec.model.tokenEmbeddings([50257]), /outside the vocabulary/);
  assert.deepEqual(await dec.caption([]), []);
});

test('sampling: seeded, batch-independent, top-k 1 / temperature 0 = argmax, stops at 220, length cap', async () => {
  const { dec, refs, prefixes, entryLength } = await setup();
  const a = await dec.caption(prefixes, { strategy: 'sample', seed: 7, entryLength });
  const b = await dec.caption(prefixes, { strategy: 'sample', seed: 7, entryLength, batchSize: 1 });
  assert.deepEqual(
    a.map((r) => r.tokens),
    b.map((r) => r.tokens),
  );
  const c = await dec.caption(prefixes, { strategy: 'sample', seed: 8, entryLength });
  assert.notDeepEqual(
    a.map((r) => r.tokens),
    c.map((r) => r.tokens),
  );
  for (const r of a) {
    assert.ok(r.tokens.length >= 1 && r.tokens.length <= entryLength);
    assert.equal(r.stopped, r.tokens[r.tokens.length - 1] === 220);
    assert.equal(r.tokens.indexOf(220), r.stopped ? r.tokens.length - 1 : -1);
    assert.equal(r.beams, undefined);
  }
  // the greedy path of these fixtures is far from ties, so argmax sampling = msclap's beam_size=1
  for (const o of [{ temperature: 0 }, { topK: 1 }, { topP: 1e-6 }]) {
    const g = await dec.caption(prefixes, { strategy: 'sample', entryLength, ...o });
    assert.deepEqual(
      g.map((r) => r.tokens),
      refs.map((r) => r.greedy_beam_size_1.ids),
      JSON.stringify(o),
    );
  }
  const short = await dec.caption(prefixes, { strategy: 'sample', seed: 3, entryLength: 3, temperature: 2 });
  for (const r of short) assert.ok(r.tokens.length <= 3);
});

// ------------------------------------------------------------------------------------------ pure parts

/** Results of libstdc++ std::partial_sort with PyTorch's topk comparator (g++ 12), on tie-heavy inputs. */
const PARTIAL_SORT_GOLDEN: { k: number; values: string; indices: number[] }[] = [
  { k: 1, values: '-1121-2212112-21-1---12-1221-2-1-11--22212-2211221-22---211-1-22', indices: [3] },
  {
    k: 2,
    values:
      '2-1222222221-2211112--2211--2-11-212--121-221--21-1112-1122121-2-2--------111212-222111-121-122222-1-12-221-12-2-21-2--1--2-21-' +
      '-12--12-2-122-1-2222-22--11-2211112-2-',
    indices: [3, 0],
  },
  {
    k: 3,
    values:
      '--1111-1-22111112-21--2-1--21-----122---111-1-1111--11-22122--2111-111222-1--2212122--2111-2-21211-12211112--2212---2-2-2111221' +
      '2-12212--21-1-111112---11112122221-1-1111212122-11112-212122122--12--122-221-221212211-2-',
    indices: [16, 10, 9],
  },
  {
    k: 5,
    values:
      '3-4-34--3-1414124442-121--3311321-4-221-4311242-24-2321111313424123331-44-14-42-34423-3232-1-3211133-131334-44322-4444--4423212' +
      '231-33-23-1-31-34324144114313--3-41144413122321342232242141424-32213313-2-4241343343142-431-1243--322-1422211--112241-414143--4' +
      '133-1241---33-2133-2221233-13312-242423--32-43141421221424322-42442-4441-1424',
    indices: [11, 5, 13, 16, 2],
  },
  {
    k: 5,
    values:
      '33-4-11--4432224-2233231414-4-3224334342-323241-4-23--1-122223-432221124222--421-3-322-331-34--11-4-42344424241-4224-3-143-4321' +
      '1141414413311--211421---411313-12-231-234-224141434113122244434121--2423242-324-2321--212424324112-34434431423413-3311-33--2234' +
      '211214-24-3-343-1144333122-2124231-444-1423-32-33-331343-4412424--24441313-321-3434-1-1--23-2-1414221-4-44241--323',
    indices: [3, 9, 15, 24, 10],
  },
  {
    k: 7,
    values:
      '142-4441411-13412313n3n23143331-111-4241-112144131333-23-2n42124-41n31333234---43312314-434143-444--3-2-2-233341-4--1232n-134-2' +
      '212133-42-43-234-3--122143-21n-2213--2433-4433131212--4-323-3-433-1---4---332213411431231332-1224--332-4-44-4211412334431334323' +
      '114112223n2112223214421-24-43314-13-2444-43233333224112433-3123431242-23n3n-4441121242---11-n-2213-31321-322321321-22343-311242' +
      '12-1-14241233-11341n14-22344-31n-322-1--2414144n31121212-3-1114342323112----12112-223442413314-123-341',
    indices: [120, 67, 156, 263, 22, 58, 20],
  },
];

test("torchTopk reproduces torch's CPU topk tie order (libstdc++ partial_sort), NaN and -inf included", () => {
  for (const c of PARTIAL_SORT_GOLDEN) {
    const values = Array.from(c.values, (ch) => (ch === '-' ? -Infinity : ch === 'n' ? NaN : Number(ch)));
    assert.deepEqual(Array.from(torchTopk(values, c.k).indices), c.indices, `k=${c.k} n=${values.length}`);
  }
  // distinct values: plain descending order
  const v = Array.from({ length: 500 }, (_, i) => (Math.sin(i * 12.9898) * 43758.5453) % 1);
  const want = Array.from(v.keys())
    .sort((a, b) => v[b] - v[a])
    .slice(0, 5);
  assert.deepEqual(Array.from(torchTopk(v, 5).indices), want);
});

test('argsortDescending is stable for equal scores (torch sorts ≤ 16 elements by insertion)', () => {
  assert.deepEqual(argsortDescending([-1, -0.5, -1, -0.5, NaN, -Infinity]), [4, 1, 3, 0, 2, 5]);
});

test('log-probabilities: softmax then log in float32, underflow gives -inf (not log_softmax)', () => {
  const logits = Float32Array.from([0, -50, -120, 3]);
  const lp = rowLogProbs(logits, 0, 4, 1);
  const lse = 3 + Math.log(Math.exp(-3) + Math.exp(-53) + Math.exp(-123) + 1);
  assert.ok(Math.abs(lp[0] - (0 - lse)) < 1e-6 && Math.abs(lp[1] - (-50 - lse)) < 1e-5 && Math.abs(lp[3] - (3 - lse)) < 1e-6);
  assert.equal(lp[2], -Infinity); // exp(-123) underflows float32
  // temperature 0.001: (0.5 − 1)/t = −500 underflows; (0.9 − 1)/t ≈ −100 is a float32 denormal (kept,
  // with its reduced precision, as PyTorch does without flush-to-zero)
  const cold = rowLogProbs(Float32Array.from([1, 0.5, 0.9]), 0, 3, Math.fround(0.001));
  assert.equal(cold[0], 0);
  assert.equal(cold[1], -Infinity);
  assert.ok(cold[2] > -101 && cold[2] < -99, String(cold[2]));
  // float32 subnormals survive the runtime's flush-to-zero mode (which also applies to JS here)
  assert.equal(toFloat32(1e-40), 9.99994610111476e-41);
  assert.equal(toFloat32(3 * 2 ** -150), 2 ** -148); // 1.5 steps: ties to even
  assert.equal(toFloat32(2 ** -150), 0);
  assert.equal(toFloat32(-5 * 2 ** -150), -(2 ** -148)); // −2.5 steps → −2
  assert.equal(toFloat32(1.1), Math.fround(1.1));
});

test('sampleToken: temperature 0 = argmax, top-k keeps the k likeliest, top-p the smallest nucleus', () => {
  const logits = Float32Array.from([0.5, 0.3, 0.15, 0.05].map(Math.log));
  const at = (u: number) => () => u;
  const opts = { temperature: 1, topK: 0, topP: 1 };
  assert.equal(sampleToken(logits, 0, 4, { ...opts, temperature: 0 }, at(0.99)), 0);
  assert.equal(sampleToken(logits, 0, 4, opts, at(0.999)), 3);
  assert.equal(sampleToken(logits, 0, 4, opts, at(0.6)), 1);
  assert.equal(sampleToken(logits, 0, 4, { ...opts, topK: 3 }, at(0.999)), 2);
  assert.equal(sampleToken(logits, 0, 4, { ...opts, topP: 0.7 }, at(0.999)), 1); // nucleus {0, 1}: 0.5 < 0.7 ≤ 0.8
  assert.equal(sampleToken(logits, 0, 4, { ...opts, topP: 0.7 }, at(0.5)), 0);
  assert.equal(sampleToken(logits, 0, 4, { ...opts, topP: 0.4 }, at(0.999)), 0);
  // seeded streams are reproducible and distinct
  const r1 = seededRandom(5, 0);
  const r2 = seededRandom(5, 0);
  const r3 = seededRandom(5, 1);
  const a = [r1(), r1()];
  assert.deepEqual(a, [r2(), r2()]);
  assert.notDeepEqual(a, [r3(), r3()]);
  assert.ok(a.every((x) => x >= 0 && x < 1));
});

/**
 * A synthetic model (vocab 320) that records what it is fed: the prefix prefers the stop token 220
 * slightly over 5; after 5 it prefers 6. Checks msclap's stop semantics: a stopped beam keeps being fed
 * token 0, its length and score freeze, its text ends at the stop token.
 */
test('beam search: stopped beams are fed token 0, keep their length and score (synthetic model)', async () => {
  const V = 320;
  const fed: number[][] = [];
  const logitsAfter = (last: number | undefined): Float32Array => {
    const l = new Float32Array(V);
    if (last === undefined) {
      l[220] = 10;
      l[5] = 9.9;
    } else if (last === 5) l[6] = 10;
    else l[7] = 4;
    return l;
  };
  interface S extends LmState {
    last: (number | undefined)[];
  }
  const lm: CaptionLm<S> = {
    vocabSize: V,
    start: async (count) => ({
      rows: count,
      last: new Array(count).fill(undefined),
      logits: stack(new Array(count).fill(undefined).map(logitsAfter)),
    }),
    next: async (state, parents, tokens) => {
      fed.push(Array.from(tokens));
      assert.ok(Array.from(parents).every((p) => p < state.rows));
      const last = Array.from(tokens);
      return { rows: last.length, last, logits: stack(last.map(logitsAfter)) };
    },
  };
  const [r] = await beamSearch(lm, 1, { beamSize: 2, entryLength: 4, temperature: 1, stopToken: 220 });
  const lp0 = rowLogProbs(logitsAfter(undefined), 0, V, 1);
  const byTokens = new Map(r.beams.map((b) => [b.tokens.join(), b]));
  const stopped = byTokens.get('220')!;
  assert.ok(stopped, JSON.stringify(r.beams));
  assert.equal(stopped.length, 1);
  assert.equal(stopped.score, lp0[220]);
  assert.ok(stopped.stopped);
  assert.equal(r.modelCalls, 4);
  // the stopped beam is fed token 0 at every later step
  assert.ok(
    fed.slice(1).every((step) => step.includes(0)),
    JSON.stringify(fed),
  );
  // greedy runs with a single beam stop at once
  const [g] = await beamSearch(lm, 1, { beamSize: 1, entryLength: 4, temperature: 1, stopToken: 220 });
  assert.deepEqual(g.beams[0].tokens, [220]);
  assert.equal(g.modelCalls, 1);
  // sampling stops at the stop token too; temperature 0 = argmax
  const [s] = await sample(lm, 1, { entryLength: 4, temperature: 0, topK: 0, topP: 1, seed: 1, stopToken: 220 });
  assert.deepEqual(s.beams[0].tokens, [220]);
});

function stack(rows: Float32Array[]): Float32Array {
  const out = new Float32Array(rows.reduce((a, r) => a + r.length, 0));
  let o = 0;
  for (const r of rows) {
    out.set(r, o);
    o += r.length;
  }
  return out;
}
