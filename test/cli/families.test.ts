/**
 * End-to-end per model family: bin/clap.js (→ dist) on msclap 2022's checkpoint (CLAP_weights_2022.pth's
 * layout, bert-base-uncased/ beside it) and on Hugging Face CLAP model folders (`--weights DIR`), as the
 * issue's contract drives them: embed audio / text --json, classify, index add + search, eval. Numbers are
 * the references' (≤ 1e-4 of each tensor's magnitude); the reference's random choices are replayed with
 * `--channels reference`, `--crop-offset N` (samples at the model's rate) and `--crop random --seed S`.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, symlinkSync } from 'node:fs';
import { join } from 'node:path';
import { clapCli } from '../helpers/cli.js';
import { relativeError } from '../helpers/compare.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';
import * as L from '../tasks/eval/layouts.js';

const cli = clapCli({ ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: L.tempDir('families-cache') });

type Embedded = { input: string; embedding: number[] }[];
type Classified = { input: string; scores: Record<string, number> }[];

/** Row `i` of a [N, D] float32 fixture array. */
function row(path: string, i: number): Float32Array {
  const a = readNpy(path);
  const d = a.shape[1];
  return (a.data as Float32Array).subarray(i * d, (i + 1) * d);
}

function assertClose(got: ArrayLike<number>, want: ArrayLike<number>, what: string): void {
  const e = relativeError(got, want);
  assert.ok(e <= 1e-4, `${what}: relative error ${e}`);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += a[i] * b[i];
    aa += a[i] * a[i];
    bb += b[i] * b[i];
  }
  return ab / Math.sqrt(aa * bb);
}

/** `clap index add` of `folder` (`index stats` names `family`), then `clap search TEXT --exact --json`: path → score. */
async function indexAndSearch(weights: string[], folder: string, text: string, family: string): Promise<Map<string, number>> {
  const db = join(L.tempDir('families-index'), 'db');
  await cli.ok('index', 'add', folder, '--db', db, ...weights, '--json');
  assert.equal((JSON.parse(await cli.ok('index', 'stats', '--db', db, '--json')) as { family: string }).family, family);
  assert.match(await cli.ok('index', 'stats', '--db', db), new RegExp(`^family   ${family.replace(/[()+]/g, '\\$&')}$`, 'm'));
  const hits = JSON.parse(await cli.ok('search', text, '--db', db, '--exact', '--top', '20', '--json')) as {
    path: string;
    score: number;
  }[];
  return new Map(hits.map((h) => [h.path, h.score]));
}

/**
 * `clap eval esc50` on a miniature ESC-50: the JSON contract, the report names the model's family, and neither
 * the report nor the table shows the paper's numbers (msclap 2023's).
 */
async function evalEsc50(weights: string[], family: RegExp): Promise<void> {
  const root = L.makeEsc50();
  const out = join(root, 'reports', 'esc50.md');
  const res = JSON.parse(await cli.ok('eval', 'esc50', '--data', root, ...weights, '--out', out, '--json')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(res), ['task', 'n', 'classes', 'metrics']);
  assert.deepEqual([res.task, res.n, res.classes], ['esc50', 6, 3]);
  const md = readFileSync(out, 'utf8');
  assert.match(md, family);
  assert.doesNotMatch(md, /paper \(CLAP 2023\)|93\.9/);
  assert.match(md, /^\| accuracy \| [\d.]+ \|$/m);
  assert.equal((JSON.parse(readFileSync(out.replace(/\.md$/, '.json'), 'utf8')) as { paper: unknown }).paper, null);
  const table = await cli.ok('eval', 'esc50', '--data', root, ...weights);
  assert.match(table, /^ {2}metric +ours$/m);
  assert.doesNotMatch(table, /paper/);
}

describe('msclap 2022: CLAP_weights_2022.pth layout with bert-base-uncased/ beside it', () => {
  const W = ['--weights', msclap2022Path('clap.pth')];
  const audio = (name: string): string => msclap2022Path('inputs', 'audio', `${name}.wav`);
  const expected = (...p: string[]): string => msclap2022Path('expected', ...p);
  const texts = (JSON.parse(readFileSync(msclap2022Path('inputs', 'texts.json'), 'utf8')) as { texts: string[] }).texts;

  test('embed text finds the tokenizer beside the weights; embed audio replays msclap (stereo concatenated, cropped at 55197)', async () => {
    const text = JSON.parse(await cli.ok('embed', 'text', texts[0], texts[9], ...W, '--json')) as Embedded;
    assert.deepEqual(
      text.map((t) => t.input),
      [texts[0], texts[9]],
    );
    assertClose(text[0].embedding, row(expected('text', 'text_embed.npy'), 0), texts[0]);
    assertClose(text[1].embedding, row(expected('text', 'text_embed.npy'), 9), texts[9]);
    const clips = ['vowel_16k', 'stereo_48k'];
    const args = [...clips.map(audio), ...W, '--channels', 'reference', '--crop-offset', '55197', '--json'];
    const out = JSON.parse(await cli.ok('embed', 'audio', ...args)) as Embedded;
    for (const [i, name] of clips.entries()) {
      assertClose(out[i].embedding, readNpy(expected('audio', name, 'audio_embed.npy')).data as Float32Array, name);
    }
  });

  const tokenizerTest =
    '--tokenizer takes vocab.txt (file or folder); without one, a vocab.txt beside the weights is found, else one line says what to pass';
  test(tokenizerTest, async () => {
    const bare = L.tempDir('msclap2022-bare');
    symlinkSync(msclap2022Path('clap.pth'), join(bare, 'clap.pth'));
    symlinkSync(msclap2022Path('config.json'), join(bare, 'config.json'));
    const w = ['--weights', join(bare, 'clap.pth')];
    const missing = await cli.run('embed', 'text', 'a dog', ...w);
    assert.equal(missing.code, 1);
    assert.match(missing.err, /^clap: .*needs its tokenizer: pass --tokenizer PATH.*\n$/);
    const want = row(expected('text', 'text_embed.npy'), 0);
    for (const tok of [msclap2022Path('bert-base-uncased', 'vocab.txt'), msclap2022Path('bert-base-uncased')]) {
      const [e] = JSON.parse(await cli.ok('embed', 'text', texts[0], ...w, '--tokenizer', tok, '--json')) as Embedded;
      assertClose(e.embedding, want, `--tokenizer ${tok}`);
    }
    symlinkSync(msclap2022Path('bert-base-uncased', 'vocab.txt'), join(bare, 'vocab.txt'));
    const [beside] = JSON.parse(await cli.ok('embed', 'text', texts[0], ...w, '--json')) as Embedded;
    assertClose(beside.embedding, want, 'vocab.txt beside the weights');
  });

  test("classify gives msclap's zero-shot probabilities", async () => {
    const t = JSON.parse(readFileSync(msclap2022Path('inputs', 'texts.json'), 'utf8')) as { zero_shot_classes: string[] };
    const order = (JSON.parse(readFileSync(msclap2022Path('manifest.json'), 'utf8')) as { audio_batch: { order: string[] } }).audio_batch
      .order;
    const [c] = JSON.parse(
      await cli.ok('classify', audio('vowel_16k'), ...W, '--labels', t.zero_shot_classes.join(','), '--json'),
    ) as Classified;
    assertClose(
      t.zero_shot_classes.map((l) => c.scores[l]),
      row(expected('zeroshot_probs.npy'), order.indexOf('vowel_16k')),
      'zero-shot probabilities',
    );
  });

  test('index add + search rank files by the family’s embeddings', async () => {
    const scores = await indexAndSearch(W, msclap2022Path('inputs', 'audio'), texts[0], 'msclap 2022 (Cnn14 + BERT)');
    assert.equal(scores.size, 6);
    const text = row(expected('text', 'text_embed.npy'), 0);
    for (const name of ['tone_noise_short_44k', 'vowel_16k', 'speech_22k']) {
      const want = cosine(readNpy(expected('audio', name, 'audio_embed.npy')).data as Float32Array, text);
      assert.ok(Math.abs(scores.get(audio(name))! - want) <= 1e-4, `${name}: ${scores.get(audio(name))} vs ${want}`);
    }
  });

  test('eval runs on the 2022 model', () => evalEsc50(W, /msclap 2022 \(Cnn14 \+ BERT\)/));
});

describe('Hugging Face CLAP model folders (--weights DIR)', () => {
  const audio = (name: string): string => hfclapPath('inputs', 'audio', `${name}.wav`);
  const expected = (...p: string[]): string => hfclapPath('expected', ...p);
  const inputs = JSON.parse(readFileSync(hfclapPath('inputs', 'texts.json'), 'utf8')) as {
    texts: string[];
    zero_shot_classes: string[];
    zero_shot_prompt: string;
  };
  const manifest = JSON.parse(readFileSync(hfclapPath('manifest.json'), 'utf8')) as {
    variants: Record<string, { pipeline: { np_random_seed: number; result: { label: string; score: number }[] } }>;
  };
  const labels = ['--labels', inputs.zero_shot_classes.join(',')];
  const pipelineScores = (v: string, c: Classified[number]): [number[], number[]] => {
    const result = manifest.variants[v].pipeline.result;
    return [result.map((r) => c.scores[r.label]), result.map((r) => r.score)];
  };

  test('unfused: texts embed as ClapModel does; a long clip cropped at --crop-offset (48 kHz samples) as rand_trunc did', async () => {
    const W = ['--weights', hfclapPath('model-unfused')];
    const picks = [0, 11];
    const text = JSON.parse(await cli.ok('embed', 'text', ...picks.map((i) => inputs.texts[i]), ...W, '--json')) as Embedded;
    for (const [k, i] of picks.entries())
      assertClose(text[k].embedding, row(expected('unfused', 'text', 'text_projection.npy'), i), inputs.texts[i]);
    const [long] = JSON.parse(
      await cli.ok('embed', 'audio', audio('bursts_long_48k'), ...W, '--crop-offset', '90215', '--json'),
    ) as Embedded;
    assertClose(
      long.embedding,
      readNpy(expected('unfused', 'audio', 'bursts_long_48k', 'audio_projection.npy')).data as Float32Array,
      'crop',
    );
  });

  test("unfused: classify is transformers' zero-shot pipeline (its template by default)", async () => {
    const [c] = JSON.parse(
      await cli.ok('classify', audio('short_48k'), '--weights', hfclapPath('model-unfused'), ...labels, '--json'),
    ) as Classified;
    const [got, want] = pipelineScores('unfused', c);
    assertClose(got, want, 'pipeline scores');
  });

  const fusedTest =
    'fused: a long clip takes the fusion path; --crop random --seed replays the extractor’s draws (chunks, and the pipeline’s is_longer mark)';
  test(fusedTest, async () => {
    const W = ['--weights', hfclapPath('model-fused')];
    const [long] = JSON.parse(
      await cli.ok('embed', 'audio', audio('bursts_long_48k'), ...W, '--crop', 'random', '--seed', '1002', '--json'),
    ) as Embedded;
    assertClose(
      long.embedding,
      readNpy(expected('fused', 'audio', 'bursts_long_48k', 'audio_projection.npy')).data as Float32Array,
      'fused',
    );
    const seed = String(manifest.variants.fused.pipeline.np_random_seed);
    const [c] = JSON.parse(
      await cli.ok('classify', audio('short_48k'), ...W, ...labels, '--crop', 'random', '--seed', seed, '--json'),
    ) as Classified;
    const [got, want] = pipelineScores('fused', c);
    assertClose(got, want, 'pipeline scores');
  });

  test('index add + search and eval on a model folder', async () => {
    const W = ['--weights', hfclapPath('model-unfused')];
    const scores = await indexAndSearch(W, hfclapPath('inputs', 'audio'), inputs.texts[0], 'Hugging Face CLAP (HTSAT + RoBERTa, unfused)');
    assert.equal(scores.size, 8);
    const text = row(expected('unfused', 'text', 'text_projection.npy'), 0);
    for (const name of ['short_48k', 'vowel_16k', 'chirp_exact10s_48k_f32']) {
      const want = cosine(readNpy(expected('unfused', 'audio', name, 'audio_projection.npy')).data as Float32Array, text);
      assert.ok(Math.abs(scores.get(audio(name))! - want) <= 1e-4, `${name}: ${scores.get(audio(name))} vs ${want}`);
    }
    await evalEsc50(W, /Hugging Face CLAP \(HTSAT \+ RoBERTa, unfused\)/);
  });

  test('--family that does not match the folder is one line naming it', async () => {
    const r = await cli.run('embed', 'text', 'a dog', '--weights', hfclapPath('model-fused'), '--family', 'msclap-2022');
    assert.equal(r.code, 1);
    assert.equal(r.err, `clap: ${hfclapPath('model-fused')}: holds a Hugging Face CLAP model, not msclap-2022\n`);
  });
});
