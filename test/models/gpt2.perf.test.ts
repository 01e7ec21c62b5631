/**
 * Full-size GPT-2 (124M, the official msclap text encoder's geometry) with random weights under the
 * real key names: session-creation time and the time to embed msclap's 10 ESC-style labels.
 * Slow (≈10 s, 0.5 GB), so it only runs with CLAP_PERF=1:
 *   CLAP_PERF=1 node --import tsx --test test/models/gpt2.perf.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { emitOnnx, type HostTensor, Session } from '../../src/engine/index.js';
import {
  buildTextEncoderGraph, GPT2_BASE, type Gpt2Config, Gpt2TextEncoder, textEncoderFeeds, type TokenizedText,
} from '../../src/models/gpt2.js';
import { defaultTokenizer } from '../../src/text/index.js';

/** Deterministic N(0, std)-ish weights (uniform with that std), fast enough for 124M values. */
function randomTensor(shape: number[], std: number, seed: number, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  const k = std * Math.sqrt(3) / 2 ** 31;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = offset + (s - 2 ** 31) * k;
  }
  return { dtype: 'float32', shape, data };
}

/** A clap.pth-like state dict for the text side: `caption_encoder.base.*` + `caption_encoder.projection.*`. */
export function randomTextEncoderWeights(c: Gpt2Config, dProj: number, prefix = 'caption_encoder.'): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  let seed = 1;
  const put = (key: string, shape: number[], std: number, offset = 0): void => { sd.set(key, randomTensor(shape, std, seed++, offset)); };
  const n = c.nEmbd;
  const b = `${prefix}base.`;
  put(`${b}wte.weight`, [c.vocabSize, n], 0.02);
  put(`${b}wpe.weight`, [c.nPositions, n], 0.01);
  for (let i = 0; i < c.nLayer; i++) {
    const h = `${b}h.${i}.`;
    put(`${h}ln_1.weight`, [n], 0.02, 1);
    put(`${h}ln_1.bias`, [n], 0.02);
    put(`${h}attn.c_attn.weight`, [n, 3 * n], 0.02);
    put(`${h}attn.c_attn.bias`, [3 * n], 0.02);
    put(`${h}attn.c_proj.weight`, [n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}attn.c_proj.bias`, [n], 0.02);
    put(`${h}ln_2.weight`, [n], 0.02, 1);
    put(`${h}ln_2.bias`, [n], 0.02);
    put(`${h}mlp.c_fc.weight`, [n, 4 * n], 0.02);
    put(`${h}mlp.c_fc.bias`, [4 * n], 0.02);
    put(`${h}mlp.c_proj.weight`, [4 * n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}mlp.c_proj.bias`, [n], 0.02);
  }
  put(`${b}ln_f.weight`, [n], 0.02, 1);
  put(`${b}ln_f.bias`, [n], 0.02);
  const p = `${prefix}projection.`;
  put(`${p}linear1.weight`, [dProj, n], 1 / Math.sqrt(n));
  put(`${p}linear2.weight`, [dProj, dProj], 1 / Math.sqrt(dProj));
  put(`${p}layer_norm.weight`, [dProj], 0.02, 1);
  put(`${p}layer_norm.bias`, [dProj], 0.02);
  return sd;
}

/** msclap's ESC-50-style zero-shot labels, tokenized as msclap does (text + ' <|endoftext|>'). */
export const LABEL_TEXTS = ['dog', 'rooster', 'pig', 'cow', 'frog', 'cat', 'hen', 'insects', 'sheep', 'crow'].map((c) => `this is the sound of ${c}`);
export const LABELS: TokenizedText[] = LABEL_TEXTS.map((text) => defaultTokenizer().encodeForClap(text));

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timeRuns(run: () => Promise<unknown>, n = 9): Promise<string> {
  await run(); // warm-up
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await run();
    times.push(performance.now() - t0);
  }
  return `median ${median(times).toFixed(1)} ms, min ${Math.min(...times).toFixed(1)} ms`;
}

const perf = { skip: !process.env.CLAP_PERF && 'set CLAP_PERF=1' };

test('full-size GPT-2 text encoder: session creation and 10-label embedding time', perf, async (t) => {
  let t0 = performance.now();
  const sd = randomTextEncoderWeights(GPT2_BASE, 1024);
  t.diagnostic(`random weights: ${(performance.now() - t0).toFixed(0)} ms`);

  // Gpt2TextEncoder.create = build graph + emit ONNX + ORT session; timed as a whole and by part.
  t0 = performance.now();
  const enc = await Gpt2TextEncoder.create(sd, { config: GPT2_BASE });
  t.diagnostic(`Gpt2TextEncoder.create: ${(performance.now() - t0).toFixed(0)} ms`);
  t0 = performance.now();
  const graph = buildTextEncoderGraph(sd, { config: GPT2_BASE });
  const tBuild = performance.now() - t0;
  t0 = performance.now();
  const bytes = emitOnnx(graph);
  const tEmit = performance.now() - t0;
  t0 = performance.now();
  const session = await Session.fromBytes(bytes);
  const tOrt = performance.now() - t0;
  t.diagnostic(`  by part: build ${tBuild.toFixed(0)} ms, emitOnnx ${tEmit.toFixed(0)} ms (${(bytes.length / 1e6).toFixed(0)} MB), ORT session ${tOrt.toFixed(0)} ms`);
  await session.release();

  const first = await enc.embed(LABELS);
  assert.deepEqual(first.shape, [10, 1024]);
  t.diagnostic(`10 labels (B=10, T=${Math.max(...LABELS.map((l) => l.ids.length))}): ${await timeRuns(() => enc.embed(LABELS))}`);
  t.diagnostic(`1 label: ${await timeRuns(() => enc.embed(LABELS.slice(0, 1)))}`);
  const tok = defaultTokenizer();
  t.diagnostic(`10 label texts, tokenize + embed: ${await timeRuns(() => enc.embed(LABEL_TEXTS.map((x) => tok.encodeForClap(x))))}`);
  await enc.release();
});

/**
 * Session-creation alternative measured for the record: ORT's own format saved once
 * (optimizedModelFilePath + save_model_format=ORT), then created from its bytes with
 * use_ort_model_bytes_directly / use_ort_model_bytes_for_initializers (no protobuf parse, no copy of
 * the initializers). The engine's Session does not expose these session options yet.
 */
test('full-size GPT-2: ORT-format cache vs ONNX bytes (session creation)', perf, async (t) => {
  const sd = randomTextEncoderWeights(GPT2_BASE, 1024);
  const bytes = emitOnnx(buildTextEncoderGraph(sd, { config: GPT2_BASE }));
  const dir = mkdtempSync(join(tmpdir(), 'clap-gpt2-'));
  const ortPath = join(dir, 'text.ort');
  const base = { intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential' as const, graphOptimizationLevel: 'all' as const };
  try {
    let t0 = performance.now();
    const s0 = await ort.InferenceSession.create(bytes, { ...base, optimizedModelFilePath: ortPath, extra: { session: { save_model_format: 'ORT', intra_op: { allow_spinning: '0' } } } });
    t.diagnostic(`create from ONNX bytes + save .ort: ${(performance.now() - t0).toFixed(0)} ms`);
    await s0.release();
    t0 = performance.now();
    const s1 = await ort.InferenceSession.create(bytes, { ...base, extra: { session: { intra_op: { allow_spinning: '0' } } } });
    t.diagnostic(`create from ONNX bytes: ${(performance.now() - t0).toFixed(0)} ms`);
    t0 = performance.now();
    const ortBytes = readFileSync(ortPath);
    const tRead = performance.now() - t0;
    t0 = performance.now();
    const s2 = await ort.InferenceSession.create(ortBytes, {
      ...base, extra: { session: { use_ort_model_bytes_directly: '1', use_ort_model_bytes_for_initializers: '1', intra_op: { allow_spinning: '0' } } },
    });
    t.diagnostic(`read .ort ${tRead.toFixed(0)} ms + create from .ort bytes ${(performance.now() - t0).toFixed(0)} ms`);
    const feeds = textEncoderFeeds(LABELS);
    const of = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new ort.Tensor('int64', v.data as BigInt64Array, v.shape)]));
    const a = (await s1.run(of)).text_embed.data as Float32Array;
    const b = (await s2.run(of)).text_embed.data as Float32Array;
    assert.deepEqual(Array.from(b), Array.from(a));
    t.diagnostic(`10 labels, ONNX-bytes session: ${await timeRuns(() => s1.run(of))}; .ort session: ${await timeRuns(() => s2.run(of))}`);
    await s1.release();
    await s2.release();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
