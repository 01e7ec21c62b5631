import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Graph, type HostTensor, Session } from '../../src/engine/index.js';
import { ClapError } from '../../src/errors.js';
import {
  buildHtsat,
  HTSAT_2023,
  type HtsatConfig,
  htsatConfigFromJson,
  htsatNumFeatures,
  inferHtsatConfig,
  randomHtsatStateDict,
} from '../../src/models/htsat/index.js';
import { loadWeights } from '../../src/weights/index.js';
import { fixtureF32, fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/compare.js';

const PREFIX = 'audio_encoder.base.htsat.';
const AUDIOS = ['tone_noise_short_44k', 'chirp_exact7s_44k_f32', 'bursts_long_44k', 'vowel_16k', 'stereo_48k', 'speech_22k'];
const STAGES = ['bn0', 'wav2img', 'patch_embed', 'stage0', 'stage1', 'stage2', 'stage3', 'final_norm', 'tscam_conv', 'latent', 'clipwise'];
/** Max abs error allowed, relative to the stage's max magnitude (fixtures README). */
const REL_TOL = 1e-4;

/** max |a − b| / max |b| over item `item` of a batched output (b is one item's worth). */
const relErr = (got: HostTensor, item: number, want: Float32Array): number =>
  relativeError((got.data as Float32Array).subarray(item * want.length, (item + 1) * want.length), want);

const logmelOf = (name: string): Float32Array => fixtureF32('expected', 'audio', name, 'logmel.npy');
const expected = (name: string, stage: string): Float32Array => fixtureF32('expected', 'audio', name, `${stage}.npy`);

function batchFeed(names: string[]): Record<string, HostTensor> {
  const data = new Float32Array(names.length * 965 * 64);
  names.forEach((n, i) => data.set(logmelOf(n), i * 965 * 64));
  return { logmel: { dtype: 'float32', shape: [names.length, 965, 64], data } };
}

describe('HTSAT vs msclap fixtures (msclap-tiny-seed1)', () => {
  let session: Session;
  let hardSession: Session;
  let cfg: HtsatConfig;
  const single = new Map<string, Record<string, HostTensor>>();

  before(async () => {
    const sd = await loadWeights(fixturePath('clap.pth'));
    const json = JSON.parse(readFileSync(fixturePath('config.json'), 'utf8')) as { htsat: Record<string, unknown> };
    cfg = htsatConfigFromJson(json.htsat);
    assert.deepEqual(inferHtsatConfig(sd, PREFIX, cfg), cfg, 'sizes read off the checkpoint agree with config.json');
    assert.equal(htsatNumFeatures(cfg), json.htsat.num_features);
    const build = (shiftMask: 'reference' | 'hard'): Graph => {
      const g = new Graph('htsat_test');
      const x = g.input('logmel', 'float32', ['B', 965, 64]);
      const out = buildHtsat(g, x, sd, cfg, PREFIX, { shiftMask });
      for (const s of STAGES.slice(0, -2)) g.output(s, out.stages[s]);
      g.output('latent', out.latent);
      g.output('clipwise', out.clipwise);
      return g;
    };
    session = await Session.compile(build('reference'), { threads: 2 });
    hardSession = await Session.compile(build('hard'), { threads: 2 });
  });
  after(async () => {
    await session?.release();
    await hardSession?.release();
  });

  for (const name of AUDIOS) {
    test(`${name}: every stage within ${REL_TOL} × max magnitude`, async () => {
      const out = await session.run(batchFeed([name]));
      single.set(name, out);
      const errs: string[] = [];
      for (const stage of STAGES) {
        const e = relErr(out[stage], 0, expected(name, stage));
        errs.push(`${stage} ${e.toExponential(1)}`);
        assert.ok(e <= REL_TOL, `${name} ${stage}: relative max error ${e}`);
      }
      console.log(`  ${name}: ${errs.join(', ')}`);
    });
  }

  test('a batch of all six equals the single runs', async () => {
    const out = await session.run(batchFeed(AUDIOS));
    assert.deepEqual(out.latent.shape, [AUDIOS.length, htsatNumFeatures(cfg)]);
    assert.deepEqual(out.clipwise.shape, [AUDIOS.length, cfg.numClasses]);
    let worst = 0;
    AUDIOS.forEach((name, i) => {
      const one = single.get(name) ?? assert.fail(`single run of ${name} missing`);
      for (const stage of STAGES) {
        const e = relErr(out[stage], i, one[stage].data as Float32Array);
        worst = Math.max(worst, e);
        assert.ok(e <= 1e-5, `${name} ${stage}: batched vs single ${e}`);
        assert.ok(relErr(out[stage], i, expected(name, stage)) <= REL_TOL, `${name} ${stage} batched vs fixture`);
      }
    });
    console.log(`  batch of ${AUDIOS.length} vs single runs: max relative difference ${worst.toExponential(1)}`);
  });

  test("shiftMask 'hard' matches the fixtures too", async () => {
    const out = await hardSession.run(batchFeed(AUDIOS));
    AUDIOS.forEach((name, i) => {
      for (const stage of STAGES) assert.ok(relErr(out[stage], i, expected(name, stage)) <= REL_TOL, `${name} ${stage}`);
    });
  });

  test('clapcap checkpoint: same builder with its prefix', async () => {
    const sd = await loadWeights(fixturePath('clapcap.pth'));
    const prefix = 'clap.base.htsat.';
    assert.deepEqual(inferHtsatConfig(sd, prefix, cfg), cfg);
    const g = new Graph('clapcap_htsat');
    const out = buildHtsat(g, g.input('logmel', 'float32', ['B', 965, 64]), sd, cfg, prefix);
    assert.deepEqual(out.latent.shape, ['B', htsatNumFeatures(cfg)]);
  });
});

describe('HTSAT weights are checked against the config', () => {
  const tiny: HtsatConfig = { ...HTSAT_2023, embedDim: 8, depths: [2, 2, 2, 2], numHeads: [1, 2, 2, 4], numClasses: 5 };
  const buildWith = (sd: Map<string, HostTensor>, cfg = tiny): void => {
    const g = new Graph('t');
    buildHtsat(g, g.input('logmel', 'float32', ['B', 965, 64]), sd, cfg, 'enc.');
  };

  test('random weights with the reference names build, and sizes are inferred back', () => {
    const sd = randomHtsatStateDict(tiny, 'enc.');
    buildWith(sd);
    assert.deepEqual(inferHtsatConfig(sd, 'enc.'), tiny);
  });

  test('official 2023 key names and shapes (random values): graph shapes', () => {
    const sd = randomHtsatStateDict(HTSAT_2023, PREFIX, { withHead: true });
    assert.deepEqual(inferHtsatConfig(sd, PREFIX), { ...HTSAT_2023 });
    assert.deepEqual([...sd.get(`${PREFIX}layers.2.blocks.5.attn_mask`)!.shape], [4, 64, 64]);
    assert.equal(sd.has(`${PREFIX}layers.3.blocks.1.attn_mask`), false, 'the 8×8 stage is not shifted');
    const g = new Graph('full');
    const out = buildHtsat(g, g.input('logmel', 'float32', ['B', 965, 64]), sd, HTSAT_2023, PREFIX);
    assert.deepEqual(out.latent.shape, ['B', 768]);
    assert.deepEqual(out.clipwise.shape, ['B', 527]);
    assert.deepEqual(out.stages.stage2.shape, ['B', 64, 768]);
    assert.deepEqual(out.stages.tscam_conv.shape, ['B', 527, 1, 32]);
  });

  test('a missing tensor is an error naming its key', () => {
    const sd = randomHtsatStateDict(tiny, 'enc.');
    sd.delete('enc.layers.1.blocks.0.mlp.fc2.bias');
    assert.throws(
      () => buildWith(sd),
      (e: Error) => e instanceof ClapError && e.message.includes('enc.layers.1.blocks.0.mlp.fc2.bias'),
    );
  });

  test('a wrong shape is an error naming the key and both shapes', () => {
    const sd = randomHtsatStateDict(tiny, 'enc.');
    assert.throws(
      () => buildWith(sd, { ...tiny, numHeads: [1, 2, 4, 4] }),
      (e: Error) =>
        e instanceof ClapError && /enc\.layers\.2\.blocks\.0\.attn\.relative_position_bias_table.*\[225, 2\].*\[225, 4\]/.test(e.message),
    );
    sd.set('enc.layers.0.downsample.reduction.weight', { dtype: 'float32', shape: [16, 31], data: new Float32Array(16 * 31) });
    assert.throws(
      () => buildWith(sd),
      (e: Error) => e instanceof ClapError && e.message.includes('enc.layers.0.downsample.reduction.weight'),
    );
  });

  test('input frames beyond 1024 are refused with a clear message', () => {
    const sd = randomHtsatStateDict(tiny, 'enc.');
    const g = new Graph('t');
    assert.throws(() => buildHtsat(g, g.input('logmel', 'float32', ['B', 1100, 64]), sd, tiny, 'enc.'), /1100 frames/);
  });
});
