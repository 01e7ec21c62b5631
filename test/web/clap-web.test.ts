/**
 * clap-ts/web's Clap run in Node (onnxruntime-web's WASM backend, the export's files as File objects): the
 * answers of the Node library, the files checked against clap-export.json, one-line errors for bad input.
 * The same library in Chromium is tested by demo.test.ts.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { decodeAudio } from '../../src/audio/index.js';
import { Clap } from '../../src/web/index.js';
import { assertRelClose } from '../helpers/compare.js';
import { AUDIO, LABELS, type Reference, reference, scoreDiff, TEXTS, TOL } from './helpers.js';

let ref: Reference;
let clap: Clap;
const progress: string[] = [];

const fileOf = (path: string, name = basename(path)): File => new File([readFileSync(path)], name);
const exportFiles = (skip: string[] = []): File[] => ref.files.filter((f) => !skip.includes(f)).map((f) => fileOf(join(ref.dir, f)));

before(async () => {
  ref = await reference();
  clap = await Clap.load({
    model: exportFiles(),
    threads: 1,
    onProgress: (p) => progress.push(`${p.file} ${p.source} ${p.loaded}/${p.total}`),
  });
});

after(async () => {
  await clap?.release();
  if (ref) rmSync(dirname(ref.dir), { recursive: true, force: true });
});

test('load reads clap-export.json and the files it names, reporting each', () => {
  assert.equal(clap.backend, 'wasm');
  assert.equal(clap.dim, 64);
  for (const f of ['clap-export.json', 'audio_encoder.onnx', 'text_encoder.onnx', 'tokenizer.json']) {
    assert.ok(
      progress.some((p) => p.startsWith(`${f} file `)),
      `${f} reported: ${progress.join('; ')}`,
    );
  }
});

test('classify: the files decoded and resampled in TypeScript give clap classify --json to 1e-4', async (t) => {
  const results = await clap.classify(
    AUDIO.map((p) => fileOf(p)),
    LABELS,
  );
  assert.deepEqual(
    results.map((r) => r.input),
    AUDIO.map((p) => basename(p)),
  );
  for (const r of results) {
    const d = scoreDiff(r.scores, ref.scores.get(r.input)!);
    t.diagnostic(`${r.input}: max |p − p_node| ${d.toExponential(2)}`);
    assert.ok(d <= TOL, `${r.input}: ${d}`);
  }
});

/** A Sun .au file of 16-bit samples (encoding 3, big-endian), interleaved from `channels`. */
function au16(channels: Float32Array[], sampleRate: number): Uint8Array<ArrayBuffer> {
  const frames = channels[0].length;
  const out = new Uint8Array(24 + frames * channels.length * 2);
  const dv = new DataView(out.buffer);
  [0x2e736e64, 24, frames * channels.length * 2, 3, sampleRate, channels.length].forEach((v, i) => dv.setUint32(i * 4, v));
  for (let f = 0; f < frames; f++) channels.forEach((c, ch) => dv.setInt16(24 + (f * channels.length + ch) * 2, Math.round(c[f] * 32768)));
  return out;
}

test('embedAudio takes raw samples (several channels, any rate) and Sun .au bytes as the WAV file they came from', async () => {
  const decoded = await decodeAudio(AUDIO[4]);
  const [fromFile, fromSamples, fromAu] = await clap.embedAudio([
    fileOf(AUDIO[4]),
    { samples: decoded.channels, sampleRate: decoded.sampleRate, name: 'pcm' },
    new File([au16(decoded.channels, decoded.sampleRate)], 'stereo_48k.au'),
  ]);
  assert.equal(fromSamples.input, 'pcm');
  assert.deepEqual(Array.from(fromSamples.embedding), Array.from(fromFile.embedding));
  assert.equal(fromAu.input, 'stereo_48k.au');
  assert.deepEqual(Array.from(fromAu.embedding), Array.from(fromFile.embedding));
});

test('embedText gives clap embed text --json (a padded batch, every row)', async (t) => {
  const got = await clap.embedText(TEXTS);
  got.forEach((e, i) => assertRelClose(i === 0 ? t : undefined, `text ${i} ${JSON.stringify(TEXTS[i])}`, e, ref.text[i], TOL));
});

test('classifyEmbeddings scores embedded audio against a new label set without embedding it again', async () => {
  const audio = await clap.embedAudio([fileOf(AUDIO[3])]);
  const [again] = await clap.classifyEmbeddings(audio, LABELS);
  const [direct] = await clap.classify([fileOf(AUDIO[3])], LABELS);
  assert.deepEqual(again, direct);
});

test('bad input: one clear error naming the input', async () => {
  await assert.rejects(clap.embedAudio([new File(['not audio at all'], 'notes.txt')]), /^ClapError: notes\.txt: unrecognised audio format/);
  await assert.rejects(clap.embedAudio([]), /no audio given/);
  await assert.rejects(clap.classify([fileOf(AUDIO[0])], ['rain', 'rain']), /label 'rain' is given twice/);
  await assert.rejects(
    clap.embedAudio([{ samples: new Float32Array(0), sampleRate: 16000, name: 'empty' }]),
    /empty: audio has zero samples/,
  );
});

test('a missing or foreign model file is refused by name', async () => {
  await assert.rejects(
    Clap.load({ model: exportFiles(['tokenizer.json']) }),
    /tokenizer\.json is missing: give every file clap export onnx wrote/,
  );
  const bytes = readFileSync(join(ref.dir, 'text_encoder.onnx'));
  bytes[bytes.length - 1] ^= 1;
  const foreign = [...exportFiles(['text_encoder.onnx']), new File([bytes], 'text_encoder.onnx')];
  await assert.rejects(
    Clap.load({ model: foreign }),
    /text_encoder\.onnx: not the file clap-export\.json describes \(another export\?\): sha256/,
  );
  // clap-export.json edited: a tokenizer type not known here, a pad id that is not the tokenizer's.
  const edited = (edit: (tokenizer: Record<string, unknown>) => void): File[] => {
    const manifest = JSON.parse(readFileSync(join(ref.dir, 'clap-export.json'), 'utf8'));
    edit(manifest.text.tokenizer);
    const tmp = join(ref.dir, '..', 'clap-export.json');
    writeFileSync(tmp, JSON.stringify(manifest));
    return [...exportFiles(['clap-export.json']), fileOf(tmp)];
  };
  await assert.rejects(
    Clap.load({ model: edited((t) => (t.type = 'sentencepiece')) }),
    /tokenizer type 'sentencepiece' is not supported by this clap-ts \(known: gpt2-bpe, bert-wordpiece, roberta-bpe\)/,
  );
  await assert.rejects(Clap.load({ model: edited((t) => (t.pad_id = 5)) }), /tokenizer\.json: pad_id 5 is not the tokenizer's \(0\)/);
  await assert.rejects(
    Clap.load({ model: 'http://127.0.0.1:9/nowhere/' }),
    /^ClapError: http:\/\/127\.0\.0\.1:9\/nowhere\/clap-export\.json: cannot be fetched/,
  );
});
