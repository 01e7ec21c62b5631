/**
 * Full-size GPT-2 (124M, the official msclap text encoder's geometry) with random weights under the
 * real key names: session-creation time and the time to embed msclap's 10 ESC-style labels.
 * Slow (≈10 s, 0.5 GB), so it only runs with CLAP_PERF=1:
 *   CLAP_PERF=1 node --import tsx --test test/models/gpt2.perf.test.ts
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HostTensor } from '../../src/engine/index.js';
import { GPT2_BASE, type Gpt2Config, Gpt2TextEncoder, type TokenizedText } from '../../src/models/gpt2.js';

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

/**
 * `this is the sound of <class>` + ' <|endoftext|>' as msclap tokenizes it (ids from src/text's
 * encodeForClap; the prefix and "dog" agree with the fixture's "this is the sound of dog barking").
 */
const LABEL_IDS: Record<string, number[]> = {
  dog: [3290], rooster: [686, 6197], pig: [12967], cow: [9875], frog: [21264],
  cat: [3797], hen: [30963], insects: [19435], sheep: [15900], crow: [37593],
};
export const LABELS: TokenizedText[] = Object.values(LABEL_IDS).map((cls) => {
  const ids = [5661, 318, 262, 2128, 286, ...cls, 220, 50256];
  return { ids, eosPosition: ids.length - 1 };
});

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

test('full-size GPT-2 text encoder: session creation and 10-label embedding time', { skip: !process.env.CLAP_PERF }, async () => {
  let t0 = performance.now();
  const sd = randomTextEncoderWeights(GPT2_BASE, 1024);
  const tWeights = performance.now() - t0;
  t0 = performance.now();
  const enc = await Gpt2TextEncoder.create(sd, { config: GPT2_BASE });
  const tCreate = performance.now() - t0;
  const first = await enc.embed(LABELS);
  assert.deepEqual(first.shape, [10, 1024]);
  const times: number[] = [];
  for (let i = 0; i < 7; i++) {
    t0 = performance.now();
    await enc.embed(LABELS);
    times.push(performance.now() - t0);
  }
  await enc.release();
  const msg = `random weights ${tWeights.toFixed(0)} ms; session creation ${tCreate.toFixed(0)} ms; `
    + `10 labels median ${median(times).toFixed(1)} ms (min ${Math.min(...times).toFixed(1)}, runs ${times.map((t) => t.toFixed(0)).join(' ')})`;
  console.log(msg);
});
