import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Graph, type HostTensor, Session } from '../../src/engine/index.js';
import { logitScaleExp, projection, projectionParams, similarity } from '../../src/models/clap/index.js';
import { scoreLabels } from '../../src/tasks/clap.js';
import { cosineMatrix } from '../../src/tasks/similarity.js';
import { loadWeights, type StateDict } from '../../src/weights/index.js';
import { fixturePath } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { assertRelClose } from '../helpers/compare.js';

let sdPromise: Promise<StateDict> | undefined;
const clapWeights = (): Promise<StateDict> => (sdPromise ??= loadWeights(fixturePath('clap.pth')));

const npy = (...p: string[]): HostTensor => {
  const a = readNpy(fixturePath(...p));
  return { dtype: 'float32', shape: a.shape, data: a.data as Float32Array };
};

/** compute_similarity on the host: exp(logit_scale) × cosine, rows of [N, d] tensors. */
function hostSimilarity(audio: HostTensor, text: HostTensor, scale: number): number[][] {
  const rows = (x: HostTensor): Float32Array[] => {
    const d = x.shape[1];
    return Array.from({ length: x.shape[0] }, (_, i) => (x.data as Float32Array).subarray(i * d, (i + 1) * d));
  };
  return cosineMatrix(rows(audio), rows(text)).map((r) => r.map((c) => scale * c));
}

const manifest = (): { audio_batch: { order: string[] }; logit_scale_exp: number } =>
  JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8'));

test('audio projection: every fixture latent → audio_embed', async (t) => {
  const sd = await clapWeights();
  const names = manifest().audio_batch.order;
  const g = new Graph('audio_projection');
  const p = projectionParams(g, sd, 'audio_encoder.projection.', { inDim: 128 });
  assert.equal(p.dOut, 64);
  g.output('embed', projection(p, g.input('latent', 'float32', ['B', 128])));
  const s = await Session.compile(g, { threads: 1 });
  const latents = names.map((name) => npy('expected', 'audio', name, 'latent.npy'));
  const data = new Float32Array(names.length * 128);
  latents.forEach((l, i) => data.set(l.data as Float32Array, i * 128));
  const out = (await s.run({ latent: { dtype: 'float32', shape: [names.length, 128], data } })).embed;
  assert.deepEqual(out.shape, [names.length, 64]);
  let worst = 0;
  names.forEach((name, i) => {
    const want = npy('expected', 'audio', name, 'audio_embed.npy').data as Float32Array;
    worst = Math.max(worst, assertRelClose(t, `${name} audio_embed`, (out.data as Float32Array).subarray(i * 64, (i + 1) * 64), want));
  });
  t.diagnostic(`worst audio_embed ratio ${worst.toExponential(2)}`);
  await s.release();
});

test('text projection: eos_hidden → text_embed', async (t) => {
  const sd = await clapWeights();
  const g = new Graph('text_projection');
  const p = projectionParams(g, sd, 'caption_encoder.projection.', { inDim: 32 });
  g.output('embed', projection(p, g.input('h', 'float32', ['B', 32])));
  const s = await Session.compile(g, { threads: 1 });
  const h = npy('expected', 'text', 'eos_hidden.npy');
  const out = (await s.run({ h })).embed;
  assertRelClose(t, 'text_embed from eos_hidden', out.data as Float32Array, npy('expected', 'text', 'text_embed.npy').data as Float32Array);
  await s.release();
});

test('projection rejects a mismatched encoder width and a missing key', async () => {
  const sd = await clapWeights();
  assert.throws(
    () => projectionParams(new Graph(), sd, 'audio_encoder.projection.', { inDim: 768 }),
    /audio_encoder\.projection\.linear1\.weight/,
  );
  assert.throws(() => projectionParams(new Graph(), sd, 'nope.projection.'), /nope\.projection\.linear1\.weight: missing/);
});

test('compute_similarity (host and graph) and zero-shot softmax match msclap', async (t) => {
  const sd = await clapWeights();
  const scale = logitScaleExp(sd);
  assert.equal(scale, Math.fround(manifest().logit_scale_exp));
  t.diagnostic(`exp(logit_scale) = ${scale}`);
  const audio = npy('expected', 'audio_batch', 'audio_embed.npy');
  const text = npy('expected', 'text', 'text_embed.npy');
  const want = npy('expected', 'similarity.npy');
  const host = hostSimilarity(audio, text, scale);
  assert.deepEqual([host.length, host[0].length], [6, 13]);
  assertRelClose(t, 'similarity (host)', host.flat(), want.data as Float32Array);

  const g = new Graph('similarity');
  const ls = sd.get('logit_scale')!;
  g.output('sim', similarity(g.input('audio', 'float32', ['A', 64]), g.input('text', 'float32', ['N', 64]), g.param('logit_scale', ls)));
  const s = await Session.compile(g, { threads: 1 });
  const graphSim = (await s.run({ audio, text })).sim;
  assert.deepEqual(graphSim.shape, [6, 13]);
  assertRelClose(t, 'similarity (graph)', graphSim.data as Float32Array, want.data as Float32Array);
  await s.release();

  // Zero-shot: the five prompts only, softmax over them.
  const prompts: HostTensor = { dtype: 'float32', shape: [5, 64], data: (text.data as Float32Array).subarray(0, 5 * 64) };
  const zs = hostSimilarity(audio, prompts, scale);
  assertRelClose(t, 'zeroshot_similarity', zs.flat(), npy('expected', 'zeroshot_similarity.npy').data as Float32Array);
  const probs = scoreLabels(zs, ['0', '1', '2', '3', '4'], false).flatMap((r) => Object.values(r));
  assertRelClose(t, 'zeroshot_probs', probs, npy('expected', 'zeroshot_probs.npy').data as Float32Array);
});
