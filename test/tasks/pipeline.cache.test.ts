import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Clap } from '../../src/tasks/clap.js';
import type { TowerContext } from '../../src/tasks/towers.js';
import { fixturePath } from '../helpers/fixtures.js';

const cacheDir = mkdtempSync(join(tmpdir(), 'clap-model-cache-'));
after(() => rmSync(cacheDir, { recursive: true, force: true }));

test('a warm model cache gives identical results without reading the weights; label sets are cached', async () => {
  const clips = readdirSync(fixturePath('inputs', 'audio'))
    .sort()
    .slice(0, 3)
    .map((f) => fixturePath('inputs', 'audio', f));
  const texts = ['this is the sound of dog', 'this is the sound of cat!'];
  const load = (): Promise<Clap> =>
    Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir });
  const ref = await Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir: false });
  const want = { audio: await ref.embedAudio(clips), text: await ref.embedText(texts) };
  await ref.release();
  for (const round of ['empty cache', 'warm cache', 'warm again']) {
    const c = await load();
    const weights = (c as unknown as { ctx: TowerContext }).ctx.weights;
    if (round !== 'empty cache') assert.equal(weights.loaded, false, `${round}: weights read at load`);
    assert.deepEqual(await c.embedText(texts), want.text, round);
    assert.deepEqual(
      (await c.embedAudio(clips)).map((r) => r.embedding),
      want.audio.map((r) => r.embedding),
      round,
    );
    assert.equal(weights.loaded, false, `${round}: weights let go`);
    assert.equal(c.logitScale, ref.logitScale);
    assert.deepEqual(c.config, ref.config);
    // The state dict is still there on demand.
    assert.ok((await weights.tensors()).size > 10);
    await c.release();
  }
  assert.ok(
    readdirSync(cacheDir).some((f) => f.endsWith('.f32')),
    'text embeddings cached',
  );
});
