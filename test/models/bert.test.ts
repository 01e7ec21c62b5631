/**
 * BertModel (msclap 2022's text encoder) vs msclap2022-tiny-seed1: every text padded to 100 as msclap
 * feeds it, the >100-token caption alone, each stage within 1e-4 of its max magnitude.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Graph, type HostTensor, Session } from '../../src/engine/index.js';
import {
  BERT_BASE,
  bertConfigFromJson,
  bertModel,
  bertParams,
  bertPooler,
  bertPositionIds,
  type BertPositions,
  firstToken,
  inferBertConfig,
} from '../../src/models/bert/index.js';
import { projection, projectionParams } from '../../src/models/clap/index.js';
import { loadWeights, type StateDict } from '../../src/weights/index.js';
import { ClapError } from '../../src/errors.js';
import { assertRelClose } from '../helpers/compare.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { readNpy } from '../helpers/npy.js';

const PREFIX = 'caption_encoder.base.';
const npy = (...p: string[]) => readNpy(msclap2022Path('expected', ...p));
const f32 = (...p: string[]): Float32Array => npy(...p).data as Float32Array;
let sd: StateDict;
let session: Session;

before(async () => {
  sd = await loadWeights(msclap2022Path('clap.pth'));
  const json = JSON.parse(readFileSync(msclap2022Path('bert-base-uncased', 'config.json'), 'utf8')) as Record<string, unknown>;
  const cfg = bertConfigFromJson(json);
  assert.deepEqual(inferBertConfig(sd, PREFIX, cfg), cfg, 'the sizes in the weights agree with the folder’s config.json');
  const g = new Graph('bert_test');
  const p = bertParams(g, sd, PREFIX, cfg, { pooler: true });
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const hidden = bertModel(p, ids, g.input('attention_mask', 'int64', ['B', 'T']), bertPositionIds(ids, 'absolute', 0));
  const cls = firstToken(hidden);
  g.output('last_hidden_state', hidden);
  g.output('cls_hidden', cls);
  g.output('pooler', bertPooler(p, hidden));
  g.output('text_embed', projection(projectionParams(g, sd, 'caption_encoder.projection.', { inDim: cfg.hiddenSize }), cls));
  session = await Session.compile(g, { threads: 1 });
});
after(() => session?.release());

function feeds(dir: 'text' | 'text_long'): Record<string, HostTensor> {
  const ids = npy(dir, 'input_ids.npy');
  const [B, T] = ids.shape;
  return {
    input_ids: { dtype: 'int64', shape: [B, T], data: ids.data as BigInt64Array },
    attention_mask: { dtype: 'int64', shape: [B, T], data: npy(dir, 'attention_mask.npy').data as BigInt64Array },
  };
}

test('every fixture text padded to 100: last_hidden_state, CLS row, pooler, projection', async (t) => {
  const out = await session.run(feeds('text'));
  assertRelClose(t, 'last_hidden_state', out.last_hidden_state.data as Float32Array, f32('text', 'last_hidden_state.npy'));
  assertRelClose(t, 'cls_hidden', out.cls_hidden.data as Float32Array, f32('text', 'cls_hidden.npy'));
  assertRelClose(t, 'pooler (unused by msclap)', out.pooler.data as Float32Array, f32('text', 'bert_pooler_output_unused.npy'));
  assertRelClose(t, 'text_embed', out.text_embed.data as Float32Array, f32('text', 'text_embed.npy'));
});

test('the 101-token caption alone (msclap does not truncate)', async (t) => {
  const out = await session.run(feeds('text_long'));
  assert.deepEqual(out.last_hidden_state.shape, [1, 101, 32]);
  assertRelClose(t, 'text_long last_hidden_state', out.last_hidden_state.data as Float32Array, f32('text_long', 'last_hidden_state.npy'));
  assertRelClose(t, 'text_long text_embed', out.text_embed.data as Float32Array, f32('text_long', 'text_embed.npy'));
});

test('padding does not reach real rows: each text unpadded gives its padded run’s rows', async () => {
  const full = await session.run(feeds('text'));
  const ids = npy('text', 'input_ids.npy').data as BigInt64Array;
  const mask = npy('text', 'attention_mask.npy').data as BigInt64Array;
  for (const b of [0, 8, 13]) {
    let len = 0;
    while (len < 100 && mask[b * 100 + len] === 1n) len++;
    const row = ids.slice(b * 100, b * 100 + len);
    const one = await session.run({
      input_ids: { dtype: 'int64', shape: [1, len], data: row },
      attention_mask: { dtype: 'int64', shape: [1, len], data: new BigInt64Array(len).fill(1n) },
    });
    const want = (full.text_embed.data as Float32Array).subarray(b * 64, (b + 1) * 64);
    assertRelClose(undefined, `text ${b} unpadded`, one.text_embed.data as Float32Array, want, 1e-5);
  }
});

/** The position_ids the graph computes for an id batch of `shape`. */
async function positionsOf(ids: BigInt64Array, shape: number[], positions: BertPositions, padId: number): Promise<number[]> {
  const g = new Graph('positions_test');
  g.output('positions', bertPositionIds(g.input('input_ids', 'int64', ['B', 'T']), positions, padId));
  const s = await Session.compile(g, { threads: 1 });
  try {
    const out = await s.run({ input_ids: { dtype: 'int64', shape, data: ids } });
    return Array.from(out.positions.data as BigInt64Array, Number);
  } finally {
    await s.release();
  }
}

test('positions in the graph: BERT 0…T−1; RoBERTa from pad id + 1 over non-pad ids, a literal <pad> keeps the pad position', async () => {
  const ids = BigInt64Array.from([0n, 5n, 1n, 7n, 2n, 1n, 1n, 0n, 1n, 4n, 4n, 2n, 1n, 1n]);
  assert.deepEqual(await positionsOf(ids, [2, 7], 'roberta', 1), [2, 3, 1, 4, 5, 1, 1, 2, 1, 3, 4, 5, 1, 1]);
  assert.deepEqual(await positionsOf(ids.subarray(0, 7), [1, 7], 'absolute', 1), [0, 1, 2, 3, 4, 5, 6]);
  const hf = readNpy(hfclapPath('expected', 'unfused', 'text', 'input_ids.npy'));
  const want = readNpy(hfclapPath('expected', 'unfused', 'text', 'position_ids.npy')).data as BigInt64Array;
  assert.deepEqual(
    await positionsOf(hf.data as BigInt64Array, hf.shape, 'roberta', 1),
    Array.from(want, Number),
    "the Hugging Face set's batch",
  );
});

test('config checks name the key', () => {
  assert.throws(
    () => bertConfigFromJson({ hidden_act: 'relu' }),
    (e: Error) => e instanceof ClapError && /hidden_act "relu"/.test(e.message),
  );
  assert.throws(() => bertConfigFromJson({ hidden_size: 30 }), /not a multiple of num_attention_heads 12/);
  assert.throws(() => inferBertConfig(new Map(), 'x.', BERT_BASE), /x\.embeddings\.word_embeddings\.weight: missing/);
});
