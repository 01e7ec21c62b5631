/**
 * `clap export onnx` end to end: the real CLI writes the files; a runtime that knows only clap-export.json
 * and tokenizer.json gets `clap embed`'s embeddings from them, in onnxruntime-node and in onnxruntime-web
 * (its wasm backend, in Node); the files pass the official onnx checker where it is installed and the
 * structural check in TypeScript always.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ortNode from 'onnxruntime-node';
import * as ortWeb from 'onnxruntime-web';
import { loadAudio, logMel } from '../../src/audio/index.js';
import { CLAP_EXPORT_FILE, type ClapExport, parseClapExport } from '../../src/tasks/clap-export.js';
import { defaultTokenizer, gpt2TokenizerFromJson, padBatch } from '../../src/text/index.js';
import { Rng } from '../../src/tasks/rng.js';
import { clapCli } from '../helpers/cli.js';
import { assertRelClose } from '../helpers/compare.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { readOnnx, structuralProblems } from '../helpers/onnx-structure.js';
import { randomText } from '../helpers/random-text.js';

const W = ['--weights', fixturePath('clap.pth'), '--config', fixturePath('config.json')];
const MSCLAP_CLIPS = ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'bursts_long_44k', 'vowel_16k', 'stereo_48k', 'speech_22k'];
const AUDIO = MSCLAP_CLIPS.map((n) => fixturePath('inputs', 'audio', `${n}.wav`));
const TEXTS: string[] = (JSON.parse(readFileSync(fixturePath('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts;
/**
 * Exported models vs `clap embed`. Text: the same float32 math in another order. Audio: both frontends
 * compute the STFT in float64 (the library's FFT, the graph's ONNX STFT), so they differ by float32
 * rounding after it; each is within msclap's own float32 conv-STFT noise of msclap (≤ 1.1e-5 × max).
 */
const TEXT_TOL = 1e-5;
const AUDIO_TOL = 1e-4;

const clap = clapCli({ ...process.env, CLAP_THREADS: '1' });

async function clapJson<T>(...args: string[]): Promise<T> {
  return JSON.parse(await clap.ok(...args, '--json')) as T;
}

type Embedded = { input: string; embedding: number[] }[];

interface Export {
  dir: string;
  files: string[];
  manifest: ClapExport;
}

const root = mkdtempSync(join(tmpdir(), 'clap-export-'));
let latest: Export;
let opset17: Export;
let audioRef: Embedded;
const textRef: Record<string, Embedded> = {};

async function exportTo(name: string, ...args: string[]): Promise<Export> {
  const dir = join(root, name);
  const { files } = await clapJson<{ files: string[] }>('export', 'onnx', ...W, '--out', dir, ...args);
  return { dir, files, manifest: parseClapExport(JSON.parse(readFileSync(join(dir, CLAP_EXPORT_FILE), 'utf8')), CLAP_EXPORT_FILE) };
}

before(async () => {
  [latest, opset17, audioRef, textRef.reference, textRef.fixed] = await Promise.all([
    exportTo('latest'),
    exportTo('opset17', '--opset', '17', '--logmel', '--text-pooling', 'fixed'),
    clapJson<Embedded>('embed', 'audio', ...AUDIO, ...W),
    clapJson<Embedded>('embed', 'text', ...TEXTS, ...W),
    clapJson<Embedded>('embed', 'text', ...TEXTS, ...W, '--text-pooling', 'fixed'),
  ]);
});

after(() => rmSync(root, { recursive: true, force: true }));

test('export onnx writes the models, tokenizer.json and clap-export.json, which describes each file as written', () => {
  const names = (e: Export): string[] => e.files.map((f) => f.slice(e.dir.length + 1));
  assert.deepEqual(names(latest), ['audio_encoder.onnx', 'text_encoder.onnx', 'tokenizer.json', 'clap-export.json']);
  assert.deepEqual(names(opset17), [
    'audio_encoder.onnx',
    'audio_encoder_logmel.onnx',
    'text_encoder.onnx',
    'tokenizer.json',
    'clap-export.json',
  ]);
  const m = latest.manifest;
  assert.equal(m.family, 'msclap-2023');
  assert.deepEqual(m.onnx, { opset: 21, ir_version: 10, precision: 'fp32' });
  assert.deepEqual(opset17.manifest.onnx, { opset: 17, ir_version: 8, precision: 'fp32' });
  assert.equal(m.embedding_dim, 64);
  const io = (spec: { inputs: { name: string; dtype: string; shape: unknown[] }[] }) => spec.inputs.map((t) => [t.name, t.dtype, t.shape]);
  assert.deepEqual(io(m.audio.model), [['waveform', 'float32', ['B', 308700]]]);
  assert.deepEqual(io(opset17.manifest.audio.logmel_model!), [['logmel', 'float32', ['B', 965, 64]]]);
  assert.deepEqual(io(m.text!.model), [
    ['input_ids', 'int64', ['B', 'T']],
    ['attention_mask', 'int64', ['B', 'T']],
  ]);
  assert.deepEqual(
    m.text!.model.outputs.map((t) => [t.name, t.shape]),
    [['text_embed', ['B', 64]]],
  );
  assert.equal(m.audio.sample_rate, 44100);
  assert.equal(m.audio.window_samples, 308700);
  assert.equal(m.text!.tokenizer.append, ' <|endoftext|>');
  assert.deepEqual(m.text!.tokenizer.special_tokens, { '<|endoftext|>': 50256, '!': 0 });
  assert.equal(m.text!.template, 'this is the sound of {}');
  assert.equal(m.text!.pooling.mode, 'reference');
  assert.equal(opset17.manifest.text!.pooling.mode, 'fixed');
  const reference = JSON.parse(readFileSync(fixturePath('manifest.json'), 'utf8')) as { logit_scale_exp: number };
  assert.equal(m.logit_scale, reference.logit_scale_exp);
  for (const e of [latest, opset17]) {
    for (const spec of [e.manifest.audio.model, e.manifest.audio.logmel_model, e.manifest.text!.model]) {
      if (!spec) continue;
      const bytes = readFileSync(join(e.dir, spec.file));
      assert.equal(spec.bytes, bytes.length, spec.file);
      assert.equal(spec.sha256, createHash('sha256').update(bytes).digest('hex'), spec.file);
    }
  }
});

test('tokenizer.json gives the ids of the library tokenizer (fixture texts and 300 random ones)', () => {
  const fromFile = gpt2TokenizerFromJson(JSON.parse(readFileSync(join(latest.dir, 'tokenizer.json'), 'utf8')), 'tokenizer.json');
  const rng = new Rng(15);
  const texts = [...TEXTS, ...Array.from({ length: 300 }, () => randomText(rng, 40)), 'Dog barking!!', 'a ! b !', '<|endoftext|>!'];
  for (const t of texts) assert.deepEqual(fromFile.encodeForClap(t), defaultTokenizer().encodeForClap(t), JSON.stringify(t));
  assert.throws(() => gpt2TokenizerFromJson({ model: { type: 'WordPiece' } }, 'x.json'), /x\.json: model\.type is 'WordPiece'/);
  assert.throws(
    () => gpt2TokenizerFromJson({ model: { type: 'BPE' }, added_tokens: [] }, 'x.json'),
    /added_tokens must be <\|endoftext\|>/,
  );
});

/** The runtimes the exported models are run in, each as a way to make a session. */
const RUNTIMES = {
  'onnxruntime-node': (path: string) => ortNode.InferenceSession.create(path, { intraOpNumThreads: 1 }),
  'onnxruntime-web (wasm)': (path: string) => {
    ortWeb.env.wasm.numThreads = 1;
    return ortWeb.InferenceSession.create(path) as unknown as Promise<ortNode.InferenceSession>;
  },
};

async function runAll(
  session: ortNode.InferenceSession,
  feeds: Record<string, { type: 'float32' | 'int64'; data: Float32Array | BigInt64Array; dims: number[] }>,
  output: string,
  web: boolean,
): Promise<Float32Array> {
  const T = web ? ortWeb.Tensor : ortNode.Tensor;
  const tensors = Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, new T(v.type, v.data as never, v.dims)]));
  return (await session.run(tensors as never))[output].data as Float32Array;
}

/** Mono windows as `clap embed` cuts them (default options), batched. */
async function audioBatch(): Promise<Float32Array[]> {
  return Promise.all(AUDIO.map(async (f) => (await loadAudio(f)).windows[0]));
}

for (const [runtime, create] of Object.entries(RUNTIMES)) {
  const web = runtime.startsWith('onnxruntime-web');

  test(`${runtime}: the audio models (waveform in; log-mel in) give clap embed's embeddings`, async (t) => {
    const windows = await audioBatch();
    const want = audioRef.map((r) => Float32Array.from(r.embedding));
    const flat = (xs: Float32Array[]): Float32Array => {
      const out = new Float32Array(xs.length * xs[0].length);
      xs.forEach((x, i) => out.set(x, i * x.length));
      return out;
    };
    for (const e of [latest, opset17]) {
      const s = await create(join(e.dir, e.manifest.audio.model.file));
      const got = await runAll(
        s,
        { waveform: { type: 'float32', data: flat(windows), dims: [windows.length, 308700] } },
        'audio_embed',
        web,
      );
      assertRelClose(t, `opset ${e.manifest.onnx.opset} waveform model, ${windows.length} clips in one batch`, got, flat(want), AUDIO_TOL);
      await s.release();
    }
    // msclap's own window of every clip (fixture waveforms) through the waveform model: msclap's embeddings, each
    // within 2e-5 of its magnitude in both runtimes (measured ≤ 1.1e-5: the float chirp, whose near-silent bins
    // carry msclap's float32 conv-STFT rounding noise; ≤ 4e-6 for the others).
    const names = MSCLAP_CLIPS;
    const s0 = await create(join(latest.dir, latest.manifest.audio.model.file));
    const msclap = await runAll(
      s0,
      {
        waveform: {
          type: 'float32',
          data: flat(names.map((n) => fixtureF32('expected', 'audio', n, 'waveform.npy'))),
          dims: [names.length, 308700],
        },
      },
      'audio_embed',
      web,
    );
    const D = msclap.length / names.length;
    names.forEach((n, i) =>
      assertRelClose(
        t,
        `waveform model vs msclap (its window of ${n})`,
        msclap.subarray(i * D, (i + 1) * D),
        fixtureF32('expected', 'audio', n, 'audio_embed.npy'),
        2e-5,
      ),
    );
    await s0.release();
    const logmelSpec = opset17.manifest.audio.logmel_model!;
    const s = await create(join(opset17.dir, logmelSpec.file));
    const mels = windows.map((w) => logMel(w));
    const got = await runAll(s, { logmel: { type: 'float32', data: flat(mels), dims: [mels.length, 965, 64] } }, 'audio_embed', web);
    assertRelClose(t, 'log-mel model', got, flat(want), AUDIO_TOL);
    await s.release();
  });

  const pooledInGraph = "the text model pools in the graph — a padded batch gives clap embed's embedding on every row, both pooling rules";
  test(`${runtime}: ${pooledInGraph}`, async (t) => {
    for (const e of [latest, opset17]) {
      const spec = e.manifest.text!;
      const tok = gpt2TokenizerFromJson(JSON.parse(readFileSync(join(e.dir, spec.tokenizer.file), 'utf8')), spec.tokenizer.file);
      const batch = padBatch(
        TEXTS.map((x) => tok.encodeForClap(x).ids),
        { padId: spec.tokenizer.pad_id },
      );
      const s = await create(join(e.dir, spec.model.file));
      const dims = [batch.batchSize, batch.seqLen];
      const got = await runAll(
        s,
        { input_ids: { type: 'int64', data: batch.ids, dims }, attention_mask: { type: 'int64', data: batch.attentionMask, dims } },
        'text_embed',
        web,
      );
      const want = textRef[spec.pooling.mode];
      const d = e.manifest.embedding_dim;
      const worst = Math.max(
        ...want.map((r, i) =>
          assertRelClose(
            undefined,
            `${spec.pooling.mode} row ${i} ${JSON.stringify(r.input)}`,
            got.subarray(i * d, (i + 1) * d),
            r.embedding,
            TEXT_TOL,
          ),
        ),
      );
      t.diagnostic(`${spec.pooling.mode} pooling, ${want.length} texts in one padded batch: worst row ${worst.toExponential(2)} × max`);
      await s.release();
    }
  });
}

test('the two pooling rules differ exactly on texts with "!" (so --text-pooling fixed changes the export)', () => {
  TEXTS.forEach((text, i) => {
    const same = assertSame(textRef.reference[i].embedding, textRef.fixed[i].embedding);
    assert.equal(same, !defaultTokenizer().encodeForClap(text).ids.includes(0), JSON.stringify(text));
  });
});

function assertSame(a: number[], b: number[]): boolean {
  return a.every((x, i) => x === b[i]);
}

test('every exported model is structurally sound ONNX for its opset (TypeScript check, always runs)', () => {
  for (const e of [latest, opset17]) {
    for (const spec of [e.manifest.audio.model, e.manifest.audio.logmel_model, e.manifest.text!.model]) {
      if (!spec) continue;
      const model = readOnnx(readFileSync(join(e.dir, spec.file)));
      assert.deepEqual(structuralProblems(model), [], `${spec.file} (opset ${e.manifest.onnx.opset})`);
      assert.deepEqual(
        model.graph.inputs.map((v) => [v.name, v.shape]),
        spec.inputs.map((v) => [v.name, v.shape]),
      );
    }
  }
  // The check itself: an opset-17 model with opset-18 reductions and a Gelu is refused.
  const model = readOnnx(readFileSync(join(latest.dir, latest.manifest.audio.model.file)));
  model.opsets.set('', 17);
  model.irVersion = 8;
  const problems = structuralProblems(model).join('\n');
  assert.match(problems, /\(Gelu\): needs opset 20, the model declares 17/);
  assert.match(problems, /\(ReduceMean\): axes as an input at opset 17/);
});

/** A Python with the official onnx package (Debian's python3-onnx), or why there is none. */
function officialChecker(): { python: string; maxOpset: number } | { missing: string } {
  for (const python of ['/usr/bin/python3', 'python3']) {
    const r = spawnSync(python, ['-c', 'import onnx, onnx.defs; print(onnx.defs.onnx_opset_version())'], { encoding: 'utf8' });
    if (r.status === 0) return { python, maxOpset: Number(r.stdout.trim()) };
  }
  return { missing: 'no python3 with the onnx package (apt-get install python3-onnx)' };
}

test('every exported model passes the official onnx.checker (full check) where the installed onnx knows its opset', (t) => {
  const checker = officialChecker();
  if ('missing' in checker) {
    t.diagnostic(`official checker skipped: ${checker.missing}`);
    t.skip(checker.missing);
    return;
  }
  const { python, maxOpset } = checker;
  let checked = 0;
  for (const e of [latest, opset17]) {
    const { opset } = e.manifest.onnx;
    if (opset > maxOpset) {
      t.diagnostic(`opset ${opset} export not checked: the installed onnx knows opsets up to ${maxOpset}`);
      continue;
    }
    for (const spec of [e.manifest.audio.model, e.manifest.audio.logmel_model, e.manifest.text!.model]) {
      if (!spec) continue;
      const path = join(e.dir, spec.file);
      const r = spawnSync(python, ['-c', 'import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)', path], {
        encoding: 'utf8',
      });
      assert.equal(r.status, 0, `${spec.file} (opset ${opset}): ${r.stderr.trim().split('\n').at(-1)}`);
      checked++;
    }
  }
  assert.ok(checked >= 3, 'the opset-17 export (every model) was checked');
});

test('export onnx refuses an opset outside 17…21 with the range named', async () => {
  const r = await clap.run('export', 'onnx', ...W, '--out', join(root, 'bad'), '--opset', '16');
  assert.equal(r.code, 2, r.err);
  assert.match(r.err, /--opset.*17.*21/);
});
