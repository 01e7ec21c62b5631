/**
 * `clap export onnx` for the other families, run in onnxruntime-node (msclap 2022's audio model in onnxruntime-web's
 * WASM backend too) from the exported files alone against the references' fixtures (≤ 1e-4 of each tensor's
 * magnitude; token ids identical):
 * - msclap 2022: the waveform model (Cnn14's torchlibrosa frontend in the graph) on msclap's 5 s window of every clip,
 *   the log-mel model (--logmel) on msclap's log-mel of every clip;
 *   tokenizer.json (written from vocab.txt) gives vocab.txt's ids; the text model (positions in the graph).
 * - Hugging Face CLAP: the audio model on ClapFeatureExtractor's recorded input_features (+ is_longer, fused,
 *   the fusion path included); the folder's tokenizer.json; clap-export.json describes the extractor.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { CLAP_EXPORT_FILE, type ClapExport, parseClapExport } from '../../src/tasks/clap-export.js';
import { bertTokenizerFromPath, robertaTokenizerFromPath } from '../../src/text/index.js';
import { clapCli } from '../helpers/cli.js';
import { assertRelClose } from '../helpers/compare.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import { readOnnx, structuralProblems } from '../helpers/onnx-structure.js';
import * as L from './eval/layouts.js';

const cli = clapCli({ ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: L.tempDir('export-families-cache') });

async function exportModel(...weights: string[]): Promise<{ dir: string; manifest: ClapExport }> {
  const dir = join(L.tempDir('export-families'), 'out');
  await cli.ok('export', 'onnx', ...weights, '--out', dir, '--json');
  const manifest = parseClapExport(JSON.parse(readFileSync(join(dir, CLAP_EXPORT_FILE), 'utf8')), CLAP_EXPORT_FILE);
  for (const spec of [manifest.audio.model, manifest.audio.logmel_model, manifest.text!.model].filter((m) => m !== undefined)) {
    const model = readOnnx(readFileSync(join(dir, spec.file)));
    assert.deepEqual(structuralProblems(model), [], spec.file);
  }
  return { dir, manifest };
}

type Feed = ort.Tensor;
async function run(path: string, feeds: Record<string, Feed>, output: string): Promise<Float32Array> {
  const s = await ort.InferenceSession.create(path, { intraOpNumThreads: 1 });
  try {
    return (await s.run(feeds))[output].data as Float32Array;
  } finally {
    await s.release();
  }
}

/** Rows of ids padded with `padId` on the right, with the attention mask, as onnxruntime tensors. */
function idFeeds(rows: number[][], padId: number): Record<string, Feed> {
  const T = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * T).fill(BigInt(padId));
  const mask = new BigInt64Array(rows.length * T);
  rows.forEach((r, b) =>
    r.forEach((id, i) => {
      ids[b * T + i] = BigInt(id);
      mask[b * T + i] = 1n;
    }),
  );
  return { input_ids: new ort.Tensor('int64', ids, [rows.length, T]), attention_mask: new ort.Tensor('int64', mask, [rows.length, T]) };
}

const f32 = (path: string): Float32Array => readNpy(path).data as Float32Array;
const concat = (xs: Float32Array[]): Float32Array => {
  const out = new Float32Array(xs.reduce((n, x) => n + x.length, 0));
  let o = 0;
  for (const x of xs) {
    out.set(x, o);
    o += x.length;
  }
  return out;
};

test('msclap 2022: waveform and log-mel models = msclap, tokenizer.json = vocab.txt, text model = get_text_embeddings', async (t) => {
  const { dir, manifest } = await exportModel('--weights', msclap2022Path('clap.pth'), '--logmel');
  assert.equal(manifest.family, 'msclap-2022');
  assert.deepEqual([manifest.audio.sample_rate, manifest.audio.window_samples], [44100, 220500]);
  assert.deepEqual(
    manifest.audio.model.inputs.map((i) => [i.name, i.shape]),
    [['waveform', ['B', 220500]]],
  );
  assert.equal(manifest.audio.frontend.type === 'torchlibrosa-logmel' && manifest.audio.frontend.frames, 690);
  assert.equal(manifest.text!.template, 'this is the sound of {}');
  // Every clip in one batch, each compared against its own magnitude. The full-scale float chirp is the hard one:
  // msclap's float32 conv STFT leaves rounding noise in its near-silent bins that the graph's float64 STFT
  // does not reproduce — 9.3e-5 here, ≤ 4e-5 for the others (the library's own frontend gives the same).
  const expected = (...p: string[]): string => msclap2022Path('expected', ...p);
  const names = (JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as { audio: { name: string }[] }).audio.map(
    (a) => a.name,
  );
  assert.equal(names.length, 6);
  // In onnxruntime-web too: its WASM convolution sums in another order than onnxruntime-node's (a float32 conv STFT
  // was 1.5e-4 from msclap there on the chirp, 8e-7 in Node).
  const waves = concat(names.map((n) => f32(expected('audio', n, 'waveform.npy'))));
  const path = join(dir, manifest.audio.model.file);
  const inNode = await run(path, { waveform: new ort.Tensor('float32', waves, [names.length, 220500]) }, 'audio_embed');
  ortWeb.env.wasm.numThreads = 1;
  const web = await ortWeb.InferenceSession.create(path);
  const inWeb = (await web.run({ waveform: new ortWeb.Tensor('float32', waves, [names.length, 220500]) })).audio_embed.data as Float32Array;
  await web.release();
  const perClip = (what: string, audio: Float32Array): void => {
    const D = audio.length / names.length;
    names.forEach((n, i) =>
      assertRelClose(t, `${what}: ${n} audio_embed`, audio.subarray(i * D, (i + 1) * D), f32(expected('audio', n, 'audio_embed.npy'))),
    );
  };
  perClip('onnxruntime-node', inNode);
  perClip('onnxruntime-web', inWeb);
  // audio_encoder_logmel.onnx (--logmel) on msclap's own log-mel: Cnn14 and the projection alone.
  const mels = new ort.Tensor('float32', concat(names.map((n) => f32(expected('audio', n, 'logmel.npy')))), [names.length, 690, 64]);
  perClip('log-mel model', await run(join(dir, manifest.audio.logmel_model!.file), { logmel: mels }, 'audio_embed'));

  const texts = (JSON.parse(readFileSync(msclap2022Path('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts.slice(0, 13);
  const fromVocab = bertTokenizerFromPath(msclap2022Path('bert-base-uncased', 'vocab.txt'));
  const fromExport = bertTokenizerFromPath(join(dir, manifest.text!.tokenizer.file));
  const ids = texts.map((x) => fromExport.encode(x));
  assert.deepEqual(
    ids,
    texts.map((x) => fromVocab.encode(x)),
  );
  const text = await run(join(dir, manifest.text!.model.file), idFeeds(ids, manifest.text!.tokenizer.pad_id), 'text_embed');
  const want = readNpy(expected('text', 'text_embed.npy'));
  assertRelClose(t, 'text_embed', text, (want.data as Float32Array).subarray(0, texts.length * want.shape[1]));
});

for (const v of ['unfused', 'fused'] as const) {
  test(`Hugging Face CLAP ${v}: audio model on the extractor's input_features, the folder's tokenizer, text model = get_text_features`, async (t) => {
    const { dir, manifest } = await exportModel('--weights', hfclapPath(`model-${v}`));
    assert.equal(manifest.family, 'hf-clap');
    const fe = manifest.audio.frontend;
    assert.equal(fe.type, 'clap-feature-extractor');
    assert.deepEqual(
      fe.type === 'clap-feature-extractor' ? [fe.truncation, fe.padding, fe.channels, fe.frames, fe.mel_scale] : [],
      v === 'fused' ? ['fusion', 'repeatpad', 4, 1001, 'htk'] : ['rand_trunc', 'repeatpad', 1, 1001, 'slaney'],
    );
    assert.deepEqual([manifest.audio.shorter, manifest.audio.longer], ['repeatpad', v === 'fused' ? 'fusion' : 'rand_trunc']);
    assert.equal(manifest.text!.template, 'This is a sound of {}.');
    const expected = (...p: string[]): string => hfclapPath('expected', v, ...p);
    // bursts_long_48k: the fusion path (is_longer) in the fused model; short_48k: the padded clip.
    const names = ['bursts_long_48k', 'short_48k'];
    const features = concat(names.map((n) => f32(expected('audio', n, 'input_features.npy'))));
    const ch = fe.type === 'clap-feature-extractor' ? fe.channels : 0;
    const feeds: Record<string, Feed> = { input_features: new ort.Tensor('float32', features, [2, ch, 1001, 64]) };
    if (v === 'fused') {
      const longer = names.map((n) => (readNpy(expected('audio', n, 'is_longer.npy')).data as Uint8Array)[0] === 1);
      feeds.is_longer = new ort.Tensor('bool', Uint8Array.from(longer, Number), [2]);
    }
    const audio = await run(join(dir, manifest.audio.model.file), feeds, 'audio_embed');
    assertRelClose(t, 'audio_embed', audio, concat(names.map((n) => f32(expected('audio', n, 'audio_projection.npy')))));

    const texts = (JSON.parse(readFileSync(hfclapPath('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts.slice(0, 15);
    const tok = robertaTokenizerFromPath(join(dir, manifest.text!.tokenizer.file));
    const ids = texts.map((x) => tok.encode(x));
    const wantIds = readNpy(expected('text', 'input_ids.npy'));
    const T = wantIds.shape[1];
    ids.forEach((row, b) =>
      assert.deepEqual(row, Array.from((wantIds.data as BigInt64Array).subarray(b * T, b * T + row.length), Number), texts[b]),
    );
    const text = await run(join(dir, manifest.text!.model.file), idFeeds(ids, manifest.text!.tokenizer.pad_id), 'text_embed');
    const want = readNpy(expected('text', 'text_projection.npy'));
    assertRelClose(t, 'text_embed', text, (want.data as Float32Array).subarray(0, texts.length * want.shape[1]));
  });
}

test('--logmel on a Hugging Face model is one line saying why', async () => {
  const r = await cli.run('export', 'onnx', '--weights', hfclapPath('model-unfused'), '--out', L.tempDir('export-logmel'), '--logmel');
  assert.equal(r.code, 1);
  assert.match(r.err, /^clap: a Hugging Face CLAP model's audio_encoder\.onnx already takes ClapFeatureExtractor's log-mel.*\n$/);
});
