/**
 * clapcap's prefix path against the msclap fixtures: projected audio embedding (`prefix.npy`) →
 * normalised → TransformerMapper's linear → prefix embeddings → GPT-2's first-step logits; plus the
 * config's checks against the checkpoint.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { buildClapCapPrefixGraph, type ClapCapSettings, clapCapConfig, inferMapperConfig } from '../../src/models/clapcap/index.js';
import { ClapCapModel } from '../../src/tasks/caption/index.js';
import { ClapError } from '../../src/errors.js';
import { loadWeights, type StateDict } from '../../src/weights/index.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { assertRelClose } from '../helpers/compare.js';

const CAPTIONED = ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'vowel_16k'];

const npy = (name: string, file: string): Float32Array => fixtureF32('expected', 'caption', name, `${file}.npy`);

let cached: Promise<{ sd: StateDict; settings: ClapCapSettings; model: ClapCapModel }> | undefined;
function fixtureModel() {
  cached ??= (async () => {
    const sd = await loadWeights(fixturePath('clapcap.pth'));
    const settings = JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')).clapcap as ClapCapSettings;
    return { sd, settings, model: await ClapCapModel.load(sd, settings, { threads: 1 }) };
  })();
  return cached;
}

test('mapper config from the checkpoint: 8 heads, mlp ×2, clip/prefix lengths, layers', async () => {
  const { sd, settings } = await fixtureModel();
  const m = inferMapperConfig(sd);
  assert.deepEqual(m, { dIn: 64, nEmbd: 32, clipLength: 4, prefixLength: 4, numLayers: 2, numHeads: 8, mlpHidden: 64, layerNormEps: 1e-5 });
  const cfg = clapCapConfig(sd, settings);
  assert.equal(cfg.gpt.nHead, 2);
  assert.equal(cfg.gpt.nLayer, 2);
  assert.equal(cfg.stopTokenId, 220);
  assert.equal(cfg.normalizePrefix, true);
});

test('clapcap settings that contradict the checkpoint are ClapErrors naming the setting', async () => {
  const { sd, settings } = await fixtureModel();
  assert.throws(
    () => clapCapConfig(sd, { ...settings, prefix_length: 40 }),
    (e: unknown) => e instanceof ClapError && /clapcap\.prefix_length: is 40 but the checkpoint has 4/.test(e.message),
  );
  assert.throws(() => clapCapConfig(sd, { ...settings, num_layers: 8 }), /clapcap\.num_layers/);
  assert.throws(() => clapCapConfig(sd, { ...settings, mapping_type: 'mlp' }), /not supported/);
  assert.throws(() => clapCapConfig(sd, { gpt2: { n_head: 3 } }), /not a multiple of n_head 3/);
  const noMapper = new Map([...(sd as Map<string, never>)].filter(([k]) => !k.startsWith('clap_project.')));
  assert.throws(() => clapCapConfig(noMapper, settings), /clap_project\.prefix_const: missing/);
});

test('prefix graph keeps only its own weights (mapper), none of GPT-2', async () => {
  const { sd, settings } = await fixtureModel();
  const g = buildClapCapPrefixGraph(sd, clapCapConfig(sd, settings));
  assert.ok([...g.params.keys()].every((k) => k.startsWith('clap_project.')));
});

for (const name of CAPTIONED) {
  test(`clapcap prefix path matches msclap: ${name}`, async (t) => {
    const { model } = await fixtureModel();
    const p = await model.prefix([npy(name, 'prefix')]);
    assert.equal(p.batch, 1);
    assertRelClose(t, 'prefix_normalized', p.normalized, npy(name, 'prefix_normalized'));
    assertRelClose(t, 'mapper_linear', p.linear, npy(name, 'mapper_linear'));
    assertRelClose(t, 'prefix_embed', p.prefix, npy(name, 'prefix_embed'));
    const first = await model.forward(p.prefix, 4);
    assertRelClose(t, 'first_step_logits', first.logits, npy(name, 'first_step_logits'));
    assert.equal(first.fresh.length, 4);
    assert.equal(first.fresh.keys[0].length, 1 * 2 * 4 * 16); // [B, n_head, P, head_dim]
  });
}

test('the prefix path is batched: three files in one call give the single-file results', async (t) => {
  const { model } = await fixtureModel();
  const p = await model.prefix(CAPTIONED.map((n) => npy(n, 'prefix')));
  assert.equal(p.batch, 3);
  const first = await model.forward(p.prefix, 4);
  CAPTIONED.forEach((name, i) => {
    assertRelClose(t, `${name} prefix_embed (batched)`, p.prefix.subarray(i * 128, (i + 1) * 128), npy(name, 'prefix_embed'));
    assertRelClose(
      t,
      `${name} first_step_logits (batched)`,
      first.logits.subarray(i * 50257, (i + 1) * 50257),
      npy(name, 'first_step_logits'),
    );
  });
});

test('prefix input errors are ClapErrors', async () => {
  const { model } = await fixtureModel();
  await assert.rejects(model.prefix([new Float32Array(63)]), /audio embedding 0 has 63 values, expected 64/);
  await assert.rejects(model.prefix([]), /no audio embeddings given/);
});
