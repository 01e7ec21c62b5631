/**
 * `clap random-weights` writes each release's layout, and every command that takes that release loads it
 * with no extra flag: classify (both towers) for the CLAP models, caption for clapcap. Tiny sizes here; the
 * bench writes and loads the full-size 2023 checkpoint with the same code.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthWav } from '../../src/audio/index.js';
import { RANDOM_MODELS } from '../../src/tasks/random-weights.js';
import { clapCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'clap-random-weights-'));
test.after(() => rmSync(dir, { recursive: true, force: true }));
const cli = clapCli({ ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: join(dir, 'cache') });
const wav = join(dir, 'tone.wav');
writeFileSync(wav, synthWav(44100, 2));

for (const model of RANDOM_MODELS) {
  test(`random-weights --model ${model}: written in the release's layout, loaded by the command that takes it`, async () => {
    const out = join(dir, model, model.startsWith('laion') ? 'model' : 'weights.pth');
    const written = JSON.parse(
      await cli.ok('random-weights', '--model', model, '--size', 'tiny', '--out', out, '--seed', '3', '--json'),
    ) as {
      weights: string;
      files: string[];
      tensors: number;
    };
    assert.equal(written.weights, out);
    assert.ok(written.tensors > 50);
    for (const f of written.files) assert.ok(existsSync(f), f);
    if (model.startsWith('laion')) {
      assert.deepEqual(readdirSync(out).sort(), [
        'config.json',
        'merges.txt',
        'model.safetensors',
        'preprocessor_config.json',
        'vocab.json',
      ]);
    }
    if (model === '2022') assert.ok(existsSync(join(dir, model, 'tokenizer', 'vocab.txt')));
    if (model === 'clapcap') {
      const [r] = JSON.parse(await cli.ok('caption', wav, '--weights', out, '--beam', '2', '--max-tokens', '5', '--json')) as {
        caption: string;
        tokens: number[];
      }[];
      assert.equal(typeof r.caption, 'string');
      assert.ok(r.tokens.length > 0);
    } else {
      const [r] = JSON.parse(await cli.ok('classify', wav, '--weights', out, '--labels', 'a dog barking,rain', '--json')) as {
        scores: Record<string, number>;
      }[];
      assert.deepEqual(Object.keys(r.scores).sort(), ['a dog barking', 'rain']);
      assert.ok(Math.abs(r.scores['a dog barking'] + r.scores.rain - 1) < 1e-5);
    }
  });
}

test('random-weights: the same seed writes the same file; an existing output is refused in one line, untouched', async () => {
  const a = join(dir, 'seeded', 'a.pth');
  const b = join(dir, 'seeded', 'b.pth');
  await cli.ok('random-weights', '--model', '2023', '--size', 'tiny', '--out', a, '--seed', '7');
  await cli.ok('random-weights', '--model', '2023', '--size', 'tiny', '--out', b, '--seed', '7');
  assert.ok(readFileSync(a).equals(readFileSync(b)));
  const before = readFileSync(a);
  const again = await cli.run('random-weights', '--model', '2023', '--size', 'tiny', '--out', a);
  assert.notEqual(again.code, 0);
  assert.equal(again.err.trim().split('\n').length, 1, again.err);
  assert.match(again.err, /a\.pth.*already exists/);
  assert.ok(readFileSync(a).equals(before));
  const bad = await cli.run('random-weights', '--model', '2024', '--out', join(dir, 'x.pth'));
  assert.notEqual(bad.code, 0);
  assert.match(bad.err, /--model.*2023/);
});
