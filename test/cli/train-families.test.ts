/**
 * `clap train contrastive --init` on every family through bin/clap.js (dist), and what it writes used by the
 * other commands with no extra flag: msclap 2022's checkpoint (bert-base-uncased/ beside it) → a .pth in 2022's
 * layout with config.json and the tokenizer beside it; Hugging Face CLAP folders (unfused, fused) → a model
 * folder; a grid config from scratch with --tokenizer. Each output: embed text / audio, classify, index + search,
 * more training from it (contrastive --init, finetune → classify --head).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type HostTensor, isFloatDtype } from '../../src/engine/index.js';
import { loadSafetensorsCheckpoint, loadWeights, type StateDict } from '../../src/weights/index.js';
import { clapCli } from '../helpers/cli.js';
import { hfclapPath, msclap2022Path } from '../helpers/fixtures.js';
import { writeToneDataset } from '../tasks/train-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'clap-train-families-'));
const cli = clapCli({ ...process.env, CLAP_THREADS: '1', CLAP_CACHE_DIR: join(dir, 'cache') });
const manifest = writeToneDataset(join(dir, 'data'), 4);
const tone = (name: string): string => join(dir, 'data', `${name}.wav`);
const QUICK = ['--data', manifest, '--batch', '4', '--threads', '1', '--workers', '1', '--template', 'a {} tone', '--seed', '3'];

interface Summary {
  status: string;
  steps: number;
  final_weights: string;
  config: string;
}

/** `clap train contrastive ARGS --json` → its summary. */
async function trainRun(...args: string[]): Promise<Summary> {
  const s = JSON.parse(await cli.ok('train', 'contrastive', ...QUICK, ...args, '--json')) as Summary;
  assert.equal(s.status, 'max_steps');
  return s;
}

const same = (a: HostTensor, b: HostTensor): boolean => a.data.length === b.data.length && a.data.every((v, i) => v === b.data[i]);

/** The trained weights keep the family's keys, dtypes and shapes; `moved` keys changed, `kept` did not. */
function assertLayout(trained: StateDict, init: StateDict, moved: string[], kept: string[] = []): void {
  assert.deepEqual([...trained.keys()].sort(), [...init.keys()].sort());
  for (const [k, t] of init) {
    const u = trained.get(k)!;
    assert.deepEqual([u.shape, isFloatDtype(u.dtype)], [t.shape, isFloatDtype(t.dtype)], k);
  }
  for (const k of moved) assert.ok(!same(trained.get(k)!, init.get(k)!), `${k} trained`);
  for (const k of kept) assert.ok(same(trained.get(k)!, init.get(k)!), `${k} kept`);
}

/**
 * Every command takes `weights` as it is: embed text / audio, classify, index + search, export onnx, contrastive --init,
 * probe and finetune + --head.
 */
async function useEverywhere(weights: string, dProj: number, name: string): Promise<void> {
  const W = ['--weights', weights];
  const text = JSON.parse(await cli.ok('embed', 'text', 'a low tone', ...W, '--json')) as { embedding: number[] }[];
  assert.equal(text[0].embedding.length, dProj);
  const audio = JSON.parse(await cli.ok('embed', 'audio', tone('low_0'), ...W, '--json')) as { embedding: number[] }[];
  assert.equal(audio[0].embedding.length, dProj);
  const c = JSON.parse(await cli.ok('classify', tone('high_1'), ...W, '--labels', 'low,high', '--json')) as {
    scores: Record<string, number>;
  }[];
  assert.ok(Math.abs(c[0].scores.low + c[0].scores.high - 1) < 1e-5);
  const db = join(dir, `db-${name}`);
  await cli.ok('index', 'add', join(dir, 'data'), '--db', db, ...W, '--json');
  assert.equal((JSON.parse(await cli.ok('search', 'a high tone', '--db', db, '--json')) as unknown[]).length, 10);
  const onnx = join(dir, `onnx-${name}`);
  await cli.ok('export', 'onnx', ...W, '--out', onnx, '--json');
  for (const f of ['audio_encoder.onnx', 'text_encoder.onnx', 'tokenizer.json', 'clap-export.json'])
    assert.ok(existsSync(join(onnx, f)), f);
  await trainRun('--init', weights, '--max-steps', '1', '--out', join(dir, `more-${name}`));
  await cli.ok('train', 'probe', ...QUICK.slice(0, 2), ...W, '--workers', '1', '--out', join(dir, `probe-${name}`), '--json');
  const ft = join(dir, `ft-${name}`);
  const f = JSON.parse(await cli.ok('train', 'finetune', ...QUICK.slice(0, 8), ...W, '--max-steps', '1', '--out', ft, '--json')) as {
    weights: string;
  };
  const head = ['--head', join(ft, 'classifier.safetensors')];
  const byHead = JSON.parse(await cli.ok('classify', tone('buzz_2'), '--weights', f.weights, ...head, '--json')) as {
    scores: Record<string, number>;
  }[];
  assert.deepEqual(Object.keys(byHead[0].scores).sort(), ['buzz', 'high', 'low', 'middle']);
}

test("msclap 2022: --init CLAP_weights_2022.pth's layout → a .pth in that layout that every command loads with no flag", async () => {
  const init = msclap2022Path('clap.pth');
  const run = join(dir, 'run-2022');
  const s = await trainRun('--init', init, '--max-steps', '2', '--val-fraction', '0.25', '--out', run);
  assert.equal(s.final_weights, join(run, 'final.pth'));
  for (const f of ['config.json', 'final.safetensors', join('tokenizer', 'vocab.txt')]) assert.ok(existsSync(join(run, f)), f);
  const before = await loadWeights(init);
  const after = await loadWeights(s.final_weights);
  const P = 'audio_encoder.base.';
  assertLayout(
    after,
    before,
    [
      `${P}conv_block1.conv1.weight`,
      `${P}bn0.running_mean`,
      `${P}conv_block3.bn2.running_var`,
      'caption_encoder.base.encoder.layer.0.output.dense.weight',
      'logit_scale',
    ],
    // fc_audioset (the AudioSet head) and BERT's pooler are not on the loss's path
    [`${P}fc_audioset.weight`, 'caption_encoder.base.pooler.dense.weight'],
  );
  // BatchNorm in training mode counts its batches, as PyTorch's does
  assert.equal(after.get(`${P}bn0.num_batches_tracked`)!.data[0], BigInt(before.get(`${P}bn0.num_batches_tracked`)!.data[0]) + 2n);
  await useEverywhere(s.final_weights, before.get('audio_encoder.projection.linear2.weight')!.shape[0], '2022');
});

describe('Hugging Face CLAP: --init a model folder → a model folder that every command loads with no flag', () => {
  for (const kind of ['unfused', 'fused']) {
    test(kind, async () => {
      const init = hfclapPath(`model-${kind}`);
      const run = join(dir, `run-hf-${kind}`);
      const s = await trainRun('--init', init, '--max-steps', '2', '--val-fraction', '0.25', '--out', run);
      assert.equal(s.final_weights, join(run, 'final'));
      assert.equal(s.config, join(run, 'final', 'config.json'));
      for (const f of ['config.json', 'preprocessor_config.json', 'model.safetensors', 'tokenizer.json', 'vocab.json', 'merges.txt'])
        assert.ok(existsSync(join(run, 'final', f)), f);
      const ck = await loadSafetensorsCheckpoint(join(run, 'final', 'model.safetensors'));
      assert.equal(ck.metadata.format, 'pt', "transformers' safetensors metadata");
      const before = await loadWeights(join(init, 'model.safetensors'));
      const moved = [
        'audio_model.audio_encoder.layers.0.blocks.0.attention.self.query.weight',
        'text_model.encoder.layer.0.output.dense.weight',
      ];
      moved.push('audio_projection.linear1.bias', 'text_projection.linear2.weight', 'logit_scale_a', 'logit_scale_t');
      if (kind === 'fused') moved.push('audio_model.audio_encoder.patch_embed.fusion_model.local_att.0.weight');
      assertLayout(ck.tensors, before, moved, ['text_model.embeddings.position_ids', 'audio_model.audio_encoder.batch_norm.running_mean']);
      await useEverywhere(s.final_weights, before.get('audio_projection.linear2.weight')!.shape[0], `hf-${kind}`);
    });
  }
});

test('from scratch: a grid config (tiny-cnn14-roberta) with --tokenizer → final.pth loads with no flag; without it, one line', async () => {
  const missing = await cli.run('train', 'contrastive', ...QUICK, '--config', 'tiny-cnn14-roberta', '--out', join(dir, 'no-tok'));
  assert.equal(missing.code, 1);
  assert.match(missing.err, /^clap: msclap layout \(Cnn14 \+ RoBERTa\) needs its tokenizer: pass --tokenizer PATH .*\n$/);
  const run = join(dir, 'run-grid');
  const s = await trainRun('--config', 'tiny-cnn14-roberta', '--tokenizer', hfclapPath('model-unfused'), '--max-steps', '2', '--out', run);
  assert.equal(s.final_weights, join(run, 'final.pth'));
  const e = JSON.parse(await cli.ok('embed', 'text', 'a low tone', '--weights', s.final_weights, '--json')) as { embedding: number[] }[];
  assert.equal(e[0].embedding.length, 32);
});
