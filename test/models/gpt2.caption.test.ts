/**
 * clapcap's decoder GPT-2 on the engine: GPT2LMHeadModel (`gpt.` keys, lm_head tied to wte) fed the
 * fixture's mapper output (`prefix_embed.npy`) as inputs_embeds, first-step logits vs msclap's.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Graph, type HostTensor, ops, Session } from '../../src/engine/index.js';
import { gpt2AddPositions, gpt2ConfigFromJson, gpt2LmHead, gpt2Params, gpt2Transformer } from '../../src/models/gpt2/index.js';
import { loadWeights } from '../../src/weights/index.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { assertRelClose } from '../helpers/compare.js';

test('clapcap GPT-2: prefix embeddings → first-step logits match msclap', async (t) => {
  const sd = await loadWeights(fixturePath('clapcap.pth'));
  const cfg = JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')).clapcap;
  const gptConfig = gpt2ConfigFromJson(cfg.gpt2);
  const n = gptConfig.nEmbd;
  // lm_head is tied: the checkpoint holds both keys with the same values; the head uses wte.
  assert.deepEqual(sd.get('gpt.lm_head.weight')!.data, sd.get('gpt.transformer.wte.weight')!.data);

  const P = cfg.prefix_length as number;
  const g = new Graph('clapcap_first_step');
  const gpt = gpt2Params(g, sd, 'gpt.transformer.', gptConfig);
  const embeds = g.input('inputs_embeds', 'float32', ['B', P, n]);
  const pos = g.input('position_ids', 'int64', [P]);
  const { hidden } = gpt2Transformer(gpt, gpt2AddPositions(gpt, embeds, pos), { positionIds: pos });
  g.output('last_logits', gpt2LmHead(gpt, ops.slice(hidden, 1, P - 1, P)));
  const s = await Session.compile(g, { threads: 1 });

  const names = ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'vowel_16k'];
  const batch = new Float32Array(names.length * P * n);
  names.forEach((name, i) => batch.set(fixtureF32('expected', 'caption', name, 'prefix_embed.npy'), i * P * n));
  const positions: HostTensor = { dtype: 'int64', shape: [P], data: BigInt64Array.from({ length: P }, (_, i) => BigInt(i)) };
  const out = await s.run({ inputs_embeds: { dtype: 'float32', shape: [names.length, P, n], data: batch }, position_ids: positions });
  assert.deepEqual(out.last_logits.shape, [names.length, 1, gptConfig.vocabSize]);
  const V = gptConfig.vocabSize;
  const argmax = (a: ArrayLike<number>): number => {
    let m = 0;
    for (let j = 1; j < a.length; j++) if (a[j] > a[m]) m = j;
    return m;
  };
  names.forEach((name, i) => {
    const logits = (out.last_logits.data as Float32Array).subarray(i * V, (i + 1) * V);
    const want = fixtureF32('expected', 'caption', name, 'first_step_logits.npy');
    assertRelClose(t, `${name} first_step_logits`, logits, want);
    assert.equal(argmax(logits), argmax(want), `${name}: greedy first token`);
  });
  await s.release();
});
