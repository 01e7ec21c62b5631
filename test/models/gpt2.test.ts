import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Graph, type HostTensor, Session } from '../../src/engine/index.js';
import { buildTextEncoderGraph, CLAP_2023 } from '../../src/models/clap/index.js';
import {
  type Gpt2Config,
  gpt2ConfigFromJson,
  gpt2Embed,
  gpt2Params,
  gpt2Transformer,
  inferGpt2Config,
  type KeyValue,
} from '../../src/models/gpt2/index.js';
import { TextTower } from '../../src/tasks/text-tower.js';
import { TEXT_TUNING, Tuning } from '../../src/tasks/calibration.js';
import { ModelCache } from '../../src/tasks/model-cache.js';
import type { StateDict } from '../../src/weights/index.js';
import { loadWeights } from '../../src/weights/index.js';
import { type ClapPooling, defaultTokenizer } from '../../src/text/index.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { assertRelClose } from '../helpers/compare.js';
import { readFileSync } from 'node:fs';

interface TextFixture {
  ids: number[][];
  eos: number[];
  hidden: Float32Array; // [N, 77, n]
  eosHidden: Float32Array;
  embed: Float32Array;
}

function loadTexts(dir: 'text' | 'text_long', withHidden: boolean): TextFixture {
  const idsNpy = readNpy(fixturePath('expected', dir, 'input_ids.npy'));
  const mask = readNpy(fixturePath('expected', dir, 'attention_mask.npy'));
  const [N, L] = idsNpy.shape;
  const ids: number[][] = [];
  for (let r = 0; r < N; r++) {
    const row: number[] = [];
    for (let c = 0; c < L; c++) if (Number(mask.data[r * L + c]) === 1) row.push(Number(idsNpy.data[r * L + c]));
    ids.push(row);
  }
  return {
    ids,
    eos: Array.from(readNpy(fixturePath('expected', dir, 'eos_positions.npy')).data as BigInt64Array, Number),
    hidden: withHidden ? fixtureF32('expected', dir, 'last_hidden_state.npy') : new Float32Array(),
    eosHidden: fixtureF32('expected', dir, 'eos_hidden.npy'),
    embed: fixtureF32('expected', dir, 'text_embed.npy'),
  };
}

const fixtureConfig = () => gpt2ConfigFromJson(JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')).text_encoder);

/** The fixture text encoder (GPT-2 `text` under caption_encoder.) compiled and wrapped for batching. */
async function textTower(weights: StateDict, text: Gpt2Config, debugOutputs = false, pooling?: ClapPooling): Promise<TextTower> {
  const g = buildTextEncoderGraph(weights, { ...CLAP_2023, text: { type: 'gpt2', gpt2: text } }, { debugOutputs, pooling });
  const dProj = g.outputs.find((o) => o.name === 'text_embed')!.value.shape[1] as number;
  const tuning = new Tuning(TEXT_TUNING, new ModelCache({ cacheDir: false }), undefined, true);
  return new TextTower(await Session.compile(g, { threads: 1 }), { text: { type: 'gpt2', gpt2: text }, padId: 0 }, dProj, tuning);
}

let sdPromise: Promise<StateDict> | undefined;
const clapWeights = (): Promise<StateDict> => (sdPromise ??= loadWeights(fixturePath('clap.pth')));

const rows = (x: HostTensor, from: number, count: number): Float32Array => {
  const w = x.shape.slice(1).reduce((a, b) => a * b, 1);
  return (x.data as Float32Array).subarray(from * w, (from + count) * w);
};

/** Real-token rows of text b from a [B, T, n] hidden state → [len, n]. */
function hiddenRows(h: HostTensor, b: number, len: number): Float32Array {
  const [, T, n] = h.shape;
  return (h.data as Float32Array).subarray(b * T * n, (b * T + len) * n);
}

test('config inferred from clap.pth matches config.json', async () => {
  const sd = await clapWeights();
  assert.deepEqual(inferGpt2Config(sd, 'caption_encoder.base.', 2), fixtureConfig());
});

test('text encoder: every fixture text alone (unpadded) matches msclap', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const fx = loadTexts('text', true);
  const n = config.nEmbd;
  const enc = await textTower(sd, config, true);
  const worst = { hidden: 0, eos: 0, embed: 0 };
  for (let b = 0; b < fx.ids.length; b++) {
    const out = await enc.run([fx.ids[b]]);
    const len = fx.ids[b].length;
    assert.deepEqual(out.last_hidden_state.shape, [1, len, n]);
    worst.hidden = Math.max(
      worst.hidden,
      assertRelClose(
        t,
        `text ${b} last_hidden_state[:${len}]`,
        out.last_hidden_state.data as Float32Array,
        fx.hidden.subarray(b * 77 * n, (b * 77 + len) * n),
      ),
    );
    worst.eos = Math.max(
      worst.eos,
      assertRelClose(t, `text ${b} eos_hidden`, out.eos_hidden.data as Float32Array, fx.eosHidden.subarray(b * n, (b + 1) * n)),
    );
    const d = out.text_embed.shape[1];
    worst.embed = Math.max(
      worst.embed,
      assertRelClose(t, `text ${b} text_embed`, out.text_embed.data as Float32Array, fx.embed.subarray(b * d, (b + 1) * d)),
    );
  }
  t.diagnostic(
    `worst ratios over ${fx.ids.length} texts: last_hidden_state ${worst.hidden.toExponential(2)}, ` +
      `eos_hidden ${worst.eos.toExponential(2)}, text_embed ${worst.embed.toExponential(2)}`,
  );
  await enc.release();
});

test('text encoder: one batch of all texts (padded to the longest) matches msclap and single runs', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const fx = loadTexts('text', true);
  const n = config.nEmbd;
  const enc = await textTower(sd, config, true);
  // Without the 77-token text the batch pads to 23, far from msclap's 77.
  const short = fx.ids.filter((ids) => ids.length < 77);
  const T = Math.max(...short.map((ids) => ids.length));
  assert.ok(T < 30 && short.length === fx.ids.length - 1);
  const batch = await enc.run(short);
  assert.deepEqual(batch.last_hidden_state.shape, [short.length, T, n]);
  const d = batch.text_embed.shape[1];
  for (let b = 0; b < short.length; b++) {
    const len = short[b].length;
    const got = hiddenRows(batch.last_hidden_state, b, len);
    assertRelClose(t, `batch row ${b} last_hidden_state vs reference`, got, fx.hidden.subarray(b * 77 * n, (b * 77 + len) * n));
    const single = await enc.run([short[b]]);
    // Same math on the same rows; only GEMM blocking may differ with the batch size.
    assertRelClose(t, `batch row ${b} last_hidden_state vs single run`, got, single.last_hidden_state.data as Float32Array, 1e-5);
    assertRelClose(
      t,
      `batch row ${b} text_embed vs single run`,
      rows(batch.text_embed, b, 1),
      single.text_embed.data as Float32Array,
      1e-5,
    );
  }
  assertRelClose(t, 'batch eos_hidden', batch.eos_hidden.data as Float32Array, fx.eosHidden.subarray(0, short.length * n));
  assertRelClose(t, 'batch text_embed', batch.text_embed.data as Float32Array, fx.embed.subarray(0, short.length * d));

  // All 13 (the 77-token text included): the padded layout is msclap's own.
  const all = await enc.run(fx.ids);
  assert.deepEqual(all.last_hidden_state.shape, [fx.ids.length, 77, n]);
  for (let b = 0; b < fx.ids.length; b++) {
    const len = fx.ids[b].length;
    assertRelClose(
      t,
      `all-13 row ${b} last_hidden_state`,
      hiddenRows(all.last_hidden_state, b, len),
      fx.hidden.subarray(b * 77 * n, (b * 77 + len) * n),
    );
  }
  assertRelClose(t, 'all-13 eos_hidden', all.eos_hidden.data as Float32Array, fx.eosHidden);
  assertRelClose(t, 'all-13 text_embed', all.text_embed.data as Float32Array, fx.embed);
  await enc.release();
});

test('text encoder: the 78-token caption (no truncation) matches msclap', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const fx = loadTexts('text_long', false);
  assert.equal(fx.ids[0].length, 78);
  assert.equal(fx.eos[0], 77);
  const enc = await textTower(sd, config, true);
  const out = await enc.run([fx.ids[0]]);
  assertRelClose(t, 'text_long eos_hidden', out.eos_hidden.data as Float32Array, fx.eosHidden);
  assertRelClose(t, 'text_long text_embed', out.text_embed.data as Float32Array, fx.embed);
  await enc.release();
});

test('text encoder input validation', async () => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const enc = await textTower(sd, config);
  await assert.rejects(enc.embed([]), /no texts/);
  await assert.rejects(enc.embed([[]]), /text 0 has no tokens/);
  await assert.rejects(enc.embed([new Array(1025).fill(1)]), /at most 1024/);
  await assert.rejects(enc.embed([[1, 50257]]), /token id 50257 at 1 is outside/);
  assert.deepEqual((await enc.embed([[64, 220, 50256]])).shape, [1, 64]);
  await enc.release();
});

test('GPT-2 with a KV cache: prefix then step equals one full run', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const { nHead, nEmbd, nLayer } = config;
  const hd = nEmbd / nHead;
  const ids = [5661, 318, 262, 2128, 286, 3290, 48961, 220, 50256];
  const P = 5;
  const B = 2; // two rows, to check the cache layout per row
  const idsOf = (from: number, to: number): HostTensor => {
    const data = new BigInt64Array(B * (to - from));
    for (let b = 0; b < B; b++)
      for (let i = from; i < to; i++) data[b * (to - from) + i - from] = BigInt(b === 0 ? ids[i] : ids[ids.length - 1 - i]);
    return { dtype: 'int64', shape: [B, to - from], data };
  };
  const range = (from: number, to: number): HostTensor => ({
    dtype: 'int64',
    shape: [to - from],
    data: BigInt64Array.from({ length: to - from }, (_, i) => BigInt(from + i)),
  });

  // Full run, with presents (the cache the prefix run produces has the same graph).
  const gFull = new Graph('full');
  const pFull = gpt2Params(gFull, sd, 'caption_encoder.base.', config);
  const posF = gFull.input('position_ids', 'int64', ['T']);
  const full = gpt2Transformer(pFull, gpt2Embed(pFull, gFull.input('input_ids', 'int64', ['B', 'T']), posF), {
    positionIds: posF,
    presents: true,
  });
  gFull.output('hidden', full.hidden);
  full.presents!.forEach((kv, i) => {
    gFull.output(`present_key_${i}`, kv.key);
    gFull.output(`present_value_${i}`, kv.value);
  });
  const sFull = await Session.compile(gFull, { threads: 1 });

  // Step graph: new tokens at positions P.., cached keys/values of positions 0..P−1.
  const gStep = new Graph('step');
  const pStep = gpt2Params(gStep, sd, 'caption_encoder.base.', config);
  const pos = gStep.input('position_ids', 'int64', ['T']);
  const keyPos = gStep.input('key_positions', 'int64', ['S']);
  const past: KeyValue[] = [];
  for (let i = 0; i < nLayer; i++) {
    past.push({
      key: gStep.input(`past_key_${i}`, 'float32', ['B', nHead, 'P', hd]),
      value: gStep.input(`past_value_${i}`, 'float32', ['B', nHead, 'P', hd]),
    });
  }
  const step = gpt2Transformer(pStep, gpt2Embed(pStep, gStep.input('input_ids', 'int64', ['B', 'T']), pos), {
    positionIds: pos,
    past: { kv: past, keyPositions: keyPos, totalDim: 'S' },
    presents: true,
  });
  gStep.output('hidden', step.hidden);
  step.presents!.forEach((kv, i) => {
    gStep.output(`present_key_${i}`, kv.key);
  });
  const sStep = await Session.compile(gStep, { threads: 1 });

  const ref = await sFull.run({ input_ids: idsOf(0, ids.length), position_ids: range(0, ids.length) });
  const pre = await sFull.run({ input_ids: idsOf(0, P), position_ids: range(0, P) });
  const feeds: Record<string, HostTensor> = {
    input_ids: idsOf(P, ids.length),
    position_ids: range(P, ids.length),
    key_positions: range(0, ids.length),
  };
  for (let i = 0; i < nLayer; i++) {
    feeds[`past_key_${i}`] = pre[`present_key_${i}`];
    feeds[`past_value_${i}`] = pre[`present_value_${i}`];
  }
  const out = await sStep.run(feeds);
  assert.deepEqual(out.hidden.shape, [B, ids.length - P, nEmbd]);
  assert.deepEqual(out.present_key_0.shape, [B, nHead, ids.length, hd]);
  const T = ids.length;
  for (let b = 0; b < B; b++) {
    const want = (ref.hidden.data as Float32Array).subarray((b * T + P) * nEmbd, (b + 1) * T * nEmbd);
    const got = (out.hidden.data as Float32Array).subarray(b * (T - P) * nEmbd, (b + 1) * (T - P) * nEmbd);
    assertRelClose(t, `row ${b} cached-step hidden vs full`, got, want, 1e-5);
  }
  assertRelClose(t, 'present_key_1 vs full run', out.present_key_1.data as Float32Array, ref.present_key_1.data as Float32Array, 1e-5);
  await sFull.release();
  await sStep.release();
});

test("the graph pools msclap's row ('reference': each '!' moves it left) or the last token ('fixed'), per row of a padded batch", async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const fx = loadTexts('text', false);
  // Rows with '!' (id 0) inside, where the two rules differ, batched with rows without, padded to the longest.
  const withBang = fx.ids.filter((ids) => ids.includes(0));
  const plain = fx.ids.filter((ids) => !ids.includes(0) && ids.length < 77);
  assert.ok(withBang.length >= 2 && plain.length >= 2, 'fixture texts with and without "!"');
  const batch = [plain[0], withBang[0], plain[1], withBang[1]];
  for (const pooling of ['reference', 'fixed'] as const) {
    const enc = await textTower(sd, config, true, pooling);
    const out = await enc.run(batch);
    const [, T, n] = out.last_hidden_state.shape as number[];
    batch.forEach((ids, b) => {
      const row = pooling === 'fixed' ? ids.length - 1 : ids.filter((id) => id !== 0).length - 1;
      const want = (out.last_hidden_state.data as Float32Array).subarray((b * T + row) * n, (b * T + row + 1) * n);
      assertRelClose(t, `${pooling} row ${b}`, rows(out.eos_hidden, b, 1), want, 0);
    });
    await enc.release();
  }
});

test('the text encoder graph names its inputs and keeps T symbolic', async () => {
  const sd = await clapWeights();
  const g = buildTextEncoderGraph(sd, { ...CLAP_2023, text: { type: 'gpt2', gpt2: fixtureConfig() } });
  assert.deepEqual(
    g.inputs.map((v) => `${v.name}${JSON.stringify(v.shape)}`),
    ['input_ids["B","T"]', 'attention_mask["B","T"]'],
  );
  assert.deepEqual(
    g.outputs.map((o) => `${o.name}${JSON.stringify(o.value.shape)}`),
    ['text_embed["B",64]'],
  );
});

test('text → encodeForClap → text encoder: fixture texts end to end', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const fx = loadTexts('text', false);
  const long = loadTexts('text_long', false);
  const manifest = JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8'));
  const texts: string[] = [...manifest.texts.map((x: { text: string }) => x.text), manifest.long_text.text];
  const tok = defaultTokenizer();
  const encoded = texts.map((x) => tok.encodeForClap(x));
  encoded.forEach((e, i) => {
    const want = i < fx.ids.length ? { ids: fx.ids[i], eos: fx.eos[i] } : { ids: long.ids[0], eos: long.eos[0] };
    assert.deepEqual(e.ids, want.ids, `text ${i} ids`);
    assert.equal(e.eosPosition, want.eos, `text ${i} eosPosition`);
  });
  const enc = await textTower(sd, config);
  // msclap cannot batch the 78-token text with shorter ones (default_collate); we can.
  const ids = encoded.map((e) => e.ids);
  const out = await enc.embed(ids);
  const d = out.shape[1];
  assertRelClose(t, 'end-to-end text_embed (13 texts)', (out.data as Float32Array).subarray(0, fx.ids.length * d), fx.embed);
  assertRelClose(
    t,
    'end-to-end text_embed (78-token text, same batch)',
    (out.data as Float32Array).subarray(fx.ids.length * d),
    long.embed,
  );
  // Sorted by length into runs of 4: same rows, input order.
  const grouped = await enc.embedAll(ids, { maxBatch: 4 });
  assert.deepEqual(grouped.shape, out.shape);
  assertRelClose(t, 'embedAll (maxBatch 4) vs one batch', grouped.data as Float32Array, out.data as Float32Array, 1e-5);
  await assert.rejects(enc.embedAll(ids, { maxBatch: 0 }), /maxBatch/);
  await enc.release();
});

test('old-transformers attn.bias / attn.masked_bias buffers are tolerated; missing keys are named', async (t) => {
  const sd = await clapWeights();
  const config = fixtureConfig();
  const withBuffers = new Map(sd);
  for (let i = 0; i < config.nLayer; i++) {
    const mask = new Uint8Array(1024 * 1024);
    for (let r = 0; r < 1024; r++) mask.fill(1, r * 1024, r * 1024 + r + 1);
    withBuffers.set(`caption_encoder.base.h.${i}.attn.bias`, { dtype: 'bool', shape: [1, 1, 1024, 1024], data: mask });
    withBuffers.set(`caption_encoder.base.h.${i}.attn.masked_bias`, { dtype: 'float32', shape: [], data: Float32Array.of(-1e4) });
  }
  const a = await textTower(withBuffers, config);
  const b = await textTower(sd, config);
  const text = [[32942, 48961, 0, 220, 50256]];
  assertRelClose(t, 'with buffers vs without', (await a.embed(text)).data as Float32Array, (await b.embed(text)).data as Float32Array, 0);
  await a.release();
  await b.release();

  const missing = new Map(sd);
  missing.delete('caption_encoder.base.h.1.mlp.c_fc.bias');
  assert.throws(
    () => buildTextEncoderGraph(missing, { ...CLAP_2023, text: { type: 'gpt2', gpt2: config } }),
    /caption_encoder\.base\.h\.1\.mlp\.c_fc\.bias: missing from the checkpoint/,
  );
  assert.throws(
    () => buildTextEncoderGraph(sd, { ...CLAP_2023, text: { type: 'gpt2', gpt2: { ...config, nEmbd: 48 } } }),
    /caption_encoder\.base\.h\.0\.ln_1\.weight: has shape \[32\], expected \[48\]/,
  );
});
