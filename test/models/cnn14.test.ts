/**
 * Cnn14 + msclap's audio Projection (msclap 2022's audio encoder) vs msclap2022-tiny-seed1: every stage of
 * every clip from the reference log-mel, and the whole path (file → 5 s window → log-mel → embedding)
 * for the batched call with its own crops.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Graph, type HostTensor, Session } from '../../src/engine/index.js';
import { loadAudio, logMel, MSCLAP_2022_FRONTEND, MSCLAP_2022_WINDOW } from '../../src/audio/index.js';
import { buildCnn14, CNN14_2022, CNN14_2022_FRAMES, inferCnn14Config } from '../../src/models/cnn14/index.js';
import { projection, projectionParams } from '../../src/models/clap/index.js';
import { loadWeights } from '../../src/weights/index.js';
import { ClapError } from '../../src/errors.js';
import { assertRelClose } from '../helpers/compare.js';
import { msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

const PREFIX = 'audio_encoder.base.';
const STAGES = [
  'bn0',
  'conv_block1',
  'conv_block2',
  'conv_block3',
  'conv_block4',
  'conv_block5',
  'conv_block6',
  'global_pool',
  'fc1_linear',
  'embedding',
  'clipwise',
  'audio_embed',
];
const manifest = JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as {
  audio: { name: string; file: string }[];
  audio_batch: { order: string[]; crop_offsets: Record<string, number> };
};
const f32 = (...p: string[]): Float32Array => readNpy(msclap2022Path('expected', ...p)).data as Float32Array;
let session: Session;

before(async () => {
  const sd = await loadWeights(msclap2022Path('clap.pth'));
  const json = JSON.parse(readFileSync(msclap2022Path('config.json'), 'utf8')) as { cnn14: { channels: number[]; out_emb: number } };
  const cfg = inferCnn14Config(sd, PREFIX);
  assert.deepEqual(cfg, { ...CNN14_2022, channels: json.cnn14.channels, outEmb: json.cnn14.out_emb });
  const g = new Graph('cnn14_test');
  const out = buildCnn14(g, g.input('logmel', 'float32', ['B', CNN14_2022_FRAMES, 64]), sd, cfg, PREFIX);
  for (const [name, v] of Object.entries(out.stages)) g.output(name, v);
  g.output('embedding', out.embedding);
  g.output('clipwise', out.clipwise);
  g.output('audio_embed', projection(projectionParams(g, sd, 'audio_encoder.projection.', { inDim: cfg.outEmb }), out.embedding));
  session = await Session.compile(g, { threads: 2 });
});
after(() => session?.release());

const batchOf = (mels: Float32Array[]): Record<string, HostTensor> => {
  const data = new Float32Array(mels.length * CNN14_2022_FRAMES * 64);
  mels.forEach((m, i) => data.set(m, i * m.length));
  return { logmel: { dtype: 'float32', shape: [mels.length, CNN14_2022_FRAMES, 64], data } };
};
const item = (t: HostTensor, i: number): Float32Array => {
  const n = t.data.length / t.shape[0];
  return (t.data as Float32Array).subarray(i * n, (i + 1) * n);
};

test('every clip, every stage from the reference log-mel (≤ 1e-4 × max)', async (t) => {
  const names = manifest.audio.map((a) => a.name);
  const out = await session.run(batchOf(names.map((n) => f32('audio', n, 'logmel.npy'))));
  names.forEach((name, i) => {
    for (const stage of STAGES) assertRelClose(t, `${name} ${stage}`, item(out[stage], i), f32('audio', name, `${stage}.npy`));
  });
  assert.ok(
    Array.from(out.embedding.data as Float32Array).every((v) => v >= 0),
    'the embedding is post-ReLU',
  );
});

test('file → 5 s window (the batch call’s crops) → log-mel → embedding: the batched reference', async (t) => {
  // The default FFT log-mel differs from torchlibrosa's float32 conv STFT in near-silent bins (≲ −90 dB),
  // which Cnn14's bn0 amplifies: measured 8.5e-5 × max for the chirp's embedding, 4e-5 for stereo, ≤ 2e-6
  // elsewhere. With the bit-exact 'reference' STFT every clip is within 2e-6.
  const b = manifest.audio_batch;
  const windows: Float32Array[] = [];
  for (const name of b.order) {
    const a = manifest.audio.find((x) => x.name === name)!;
    const loaded = await loadAudio(msclap2022Path(a.file), {
      channels: 'reference',
      cropOffset: b.crop_offsets[name],
      shape: MSCLAP_2022_WINDOW,
    });
    windows.push(loaded.windows[0]);
  }
  const want = f32('audio_batch', 'audio_embed.npy');
  const out = await session.run(batchOf(windows.map((w) => logMel(w, MSCLAP_2022_FRONTEND))));
  assertRelClose(t, 'audio_batch audio_embed, FFT log-mel', out.audio_embed.data as Float32Array, want);
  for (const name of ['chirp_exact5s_44k_f32', 'stereo_48k']) {
    const i = b.order.indexOf(name);
    const exact = await session.run(batchOf([logMel(windows[i], { ...MSCLAP_2022_FRONTEND, stft: 'reference' })]));
    assertRelClose(
      t,
      `${name} audio_embed, reference STFT`,
      exact.audio_embed.data as Float32Array,
      want.subarray(i * 64, (i + 1) * 64),
      1e-5,
    );
  }
});

test('the checkpoint’s shapes are checked: a wrong block names its key', () => {
  assert.throws(
    () => inferCnn14Config(new Map(), 'x.'),
    (e: Error) => e instanceof ClapError && /Cnn14 has 6 conv blocks, found 0/.test(e.message),
  );
});
