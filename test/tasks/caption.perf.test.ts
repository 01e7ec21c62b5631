/**
 * Full-size captioning speed (official 2023 shapes: GPT-2 124M, d_proj 1024, prefix/clip 40, 8 mapper
 * layers; random weights under clapcap.pth's key names): seconds per caption with beam 5 and
 * entry_length 67, with the KV cache (1 file, and 4 files batched) and without it (msclap's way).
 * Slow (≈1.5 GB, a minute or more without the cache), so it only runs with CLAP_PERF=1:
 *   CLAP_PERF=1 node --import tsx --test test/tasks/caption.perf.test.ts
 * CLAP_PERF_UNCACHED=0 skips the uncached run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { beamSearch, type CaptionLm, ClapCapDecoder, randomClapCapWeights } from '../../src/tasks/caption/index.js';

const perf = { skip: !process.env.CLAP_PERF && 'set CLAP_PERF=1' };
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wraps a model to time its calls (the rest of a search is the JS side: candidates, topk). */
function timed(inner: CaptionLm): { lm: CaptionLm; calls: number[] } {
  const calls: number[] = [];
  const time = async <T>(f: () => Promise<T>): Promise<T> => {
    const t0 = performance.now();
    const r = await f();
    calls.push(performance.now() - t0);
    return r;
  };
  return {
    calls,
    lm: { vocabSize: inner.vocabSize, start: (c) => time(() => inner.start(c)), next: (s, p, t) => time(() => inner.next(s, p, t)) },
  };
}

test('full-size clapcap: seconds per caption (beam 5, 67 steps) with and without the KV cache', perf, async (t) => {
  let t0 = performance.now();
  const sd = randomClapCapWeights();
  t.diagnostic(`random weights: ${(performance.now() - t0).toFixed(0)} ms`);
  t0 = performance.now();
  const dec = await ClapCapDecoder.load(sd);
  dec.tokenizer.warmUp();
  t.diagnostic(`ClapCapDecoder.load (mapper + GPT-2 sessions): ${(performance.now() - t0).toFixed(0)} ms`);
  const embeds = [0, 1, 2, 3].map((k) => Float32Array.from({ length: 1024 }, (_, i) => Math.sin(i * (1.3 + k))));
  const opts = { beamSize: 5, entryLength: 67 };

  // one file, end to end (mapper + beam search + decoding), several runs
  const runs: number[] = [];
  let calls = 0;
  for (let k = 0; k < 4; k++) {
    t0 = performance.now();
    const [r] = await dec.caption(embeds.slice(0, 1), opts);
    runs.push((performance.now() - t0) / 1000);
    calls = r.modelCalls;
  }
  t.diagnostic(`KV cache, 1 file: median ${median(runs.slice(1)).toFixed(2)} s/caption, min ${Math.min(...runs.slice(1)).toFixed(2)} s (first ${runs[0].toFixed(2)} s), ${calls} GPT-2 calls`);

  // where a cached caption's time goes: model calls vs the search's own work
  const [prefix] = await dec.prefixEmbeddings(embeds.slice(0, 1));
  const w = timed(dec.lm(prefix, { slots: 40 + 5 * 66 }));
  t0 = performance.now();
  await beamSearch(w.lm, 1, { ...opts, temperature: 1, stopToken: 220 });
  const total = performance.now() - t0;
  const model = w.calls.reduce((a, b) => a + b, 0);
  t.diagnostic(`  model ${(model / 1000).toFixed(2)} s (prefill ${w.calls[0].toFixed(0)} ms, steps median ${median(w.calls.slice(1)).toFixed(0)} ms, last ${w.calls[w.calls.length - 1].toFixed(0)} ms), search ${((total - model) / 1000).toFixed(2)} s`);

  // four files in one batch (20 rows per GPT-2 step)
  t0 = performance.now();
  const four = await dec.caption(embeds, opts);
  const perFile = (performance.now() - t0) / 1000 / 4;
  t.diagnostic(`KV cache, 4 files batched: ${perFile.toFixed(2)} s/caption`);
  assert.equal(four.length, 4);

  if (process.env.CLAP_PERF_UNCACHED !== '0') {
    t0 = performance.now();
    const [u] = await dec.caption(embeds.slice(0, 1), { ...opts, kvCache: false });
    t.diagnostic(`no cache (msclap's way), 1 file: ${((performance.now() - t0) / 1000).toFixed(1)} s/caption, ${u.modelCalls} GPT-2 calls`);
    const [c] = await dec.caption(embeds.slice(0, 1), opts);
    t.diagnostic(`cached and uncached captions ${JSON.stringify(c.tokens) === JSON.stringify(u.tokens) ? 'agree' : 'DIFFER (random weights: near-ties possible)'}`);
  }
  await dec.release();
});
