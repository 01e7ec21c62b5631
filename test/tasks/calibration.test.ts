/**
 * Batch and threads calibration (src/engine/calibrate.ts, src/tasks/calibration.ts): picking by measured
 * numbers (a fake clock advanced by a cost table), the record kept in the model cache (written, reused,
 * invalidated, ignored when damaged), and the overrides.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BatchProbe, bestBatch, type Clock, costMetric, type CostMetric, probeBatches } from '../../src/engine/calibrate.js';
import type { Session } from '../../src/engine/index.js';
import { AUDIO_TUNING, calibrationKey, envBatch, TEXT_TUNING, Tuning, type TuningSpec } from '../../src/tasks/calibration.js';
import { Clap } from '../../src/tasks/clap.js';
import { ModelCache } from '../../src/tasks/model-cache.js';
import { fixturePath } from '../helpers/fixtures.js';
import { relativeError } from '../helpers/compare.js';

const dirs: string[] = [];
const tempDir = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'clap-calibration-'));
  dirs.push(d);
  return d;
};
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Seconds per item by batch, per session ('all' = ORT's default threads, 'one' = 1 thread). */
type Costs = Record<string, Record<number, { wall: number; cpu: number }>>;

/** A clock that only moves when `run` says so, and a run that advances it by the cost table. */
function fakeMachine(costs: Costs) {
  const now = { wall: 0, cpu: 0 };
  const ran: string[] = [];
  const clock: Clock = () => ({ ...now });
  const session = (name: string): Session => ({ name, release: async () => void ran.push(`release ${name}`) }) as unknown as Session;
  const run = async (s: Session, batch: number): Promise<void> => {
    const name = (s as unknown as { name: string }).name;
    const c = costs[name][batch];
    now.wall += c.wall * batch;
    now.cpu += c.cpu * batch;
    ran.push(`${name} b${batch}`);
  };
  return { clock, session, run, ran };
}

const flat = (perItem: Record<number, number>, cpuFactor = 1.5) =>
  Object.fromEntries(Object.entries(perItem).map(([b, w]) => [b, { wall: w, cpu: w * cpuFactor }]));

test('probeBatches + bestBatch pick the lowest measured cost per item, by wall or CPU seconds', async () => {
  const m = fakeMachine({
    all: { 1: { wall: 0.2, cpu: 0.3 }, 2: { wall: 0.15, cpu: 0.35 }, 4: { wall: 0.16, cpu: 0.28 }, 8: { wall: 0.19, cpu: 0.4 } },
  });
  const s = m.session('all');
  const probes = await probeBatches((b) => m.run(s, b), { batches: [1, 2, 4, 8], metric: 'wall', clock: m.clock });
  assert.deepEqual(
    probes.map((p) => [p.batch, p.items]),
    [
      [1, 1],
      [2, 2],
      [4, 4],
      [8, 8],
    ],
  );
  assert.equal(bestBatch(probes, 'wall'), 2);
  assert.equal(bestBatch(probes, 'cpu'), 4);
});

test('bestBatch: a smaller batch within 3% wins; probing stops once a batch costs 25% more than the best', async () => {
  const p = (batch: number, perItem: number): BatchProbe => ({ batch, items: batch, wall: perItem * batch, cpu: perItem * batch });
  assert.equal(bestBatch([p(1, 1.0), p(2, 0.99), p(4, 0.985)], 'wall'), 1);
  assert.equal(bestBatch([p(1, 1.0), p(2, 0.9), p(4, 0.8)], 'wall'), 4);
  const m = fakeMachine({ all: flat({ 1: 0.1, 2: 0.13, 4: 0.09, 8: 0.05 }) });
  const s = m.session('all');
  const probes = await probeBatches((b) => m.run(s, b), { batches: [1, 2, 4, 8], metric: 'wall', clock: m.clock });
  assert.deepEqual(
    probes.map((q) => q.batch),
    [1, 2],
    'batch 2 cost 30% more than batch 1: 4 and 8 are not tried',
  );
});

test('costMetric: wall seconds on an idle machine, CPU seconds once the load average exceeds the cores', () => {
  assert.equal(costMetric(1.5, 2), 'wall');
  assert.equal(costMetric(2.5, 2), 'cpu');
});

function tuning(dir: string | false, costs: Costs, options: { metric?: CostMetric; key?: string; threadsFixed?: boolean } = {}) {
  const m = fakeMachine(costs);
  const cache = new ModelCache({ cacheDir: dir });
  const key = options.key ?? calibrationKey(dir ? 'graph-key' : undefined, undefined, 'AVX2');
  const t = new Tuning(AUDIO_TUNING, cache, key, options.threadsFixed ?? false, {
    clock: m.clock,
    metric: () => options.metric ?? 'wall',
  });
  const calibrate = () => t.calibrate(m.session('all'), m.run, async () => m.session('one'));
  return { t, m, calibrate };
}

const TWO_CORES: Costs = {
  all: flat({ 1: 0.12, 2: 0.11, 4: 0.115, 8: 0.16 }),
  one: flat({ 1: 0.2, 2: 0.19, 4: 0.19, 8: 0.22 }, 1),
};

test('calibration is kept in the model cache beside the graph, reused by later loads, and measured again when damaged', async () => {
  const dir = tempDir();
  const a = tuning(dir, TWO_CORES);
  assert.equal(a.t.known(), undefined, 'nothing kept yet: a calibration is due');
  const { calibration, session } = await a.calibrate();
  assert.equal(calibration.batch, 2);
  assert.equal(calibration.threads, null, 'ORT default threads beat 1 thread at batch 1');
  assert.equal((session as unknown as { name: string }).name, 'all');
  assert.ok(a.m.ran.includes('release one'), 'the losing session is released');
  assert.deepEqual(calibration.threadProbes && [calibration.threadProbes.one.wall, calibration.threadProbes.default.wall], [0.2, 0.12]);
  const files = readdirSync(dir).filter((f) => f.endsWith('.calibration.json'));
  assert.equal(files.length, 1);

  const b = tuning(dir, TWO_CORES);
  assert.equal(b.t.known(), 2, 'a later load reuses the kept choice without measuring');
  assert.equal(b.m.ran.length, 0);

  writeFileSync(join(dir, files[0]), '{"version": 1, "batch": "eight"');
  const c = tuning(dir, TWO_CORES);
  assert.equal(c.t.known(), undefined, 'a damaged record is ignored');
  assert.equal((await c.calibrate()).calibration.batch, 2);
  assert.equal(JSON.parse(readFileSync(join(dir, files[0]), 'utf8')).batch, 2, 'and rewritten');

  writeFileSync(join(dir, files[0]), JSON.stringify({ ...calibration, version: 0 }));
  assert.equal(tuning(dir, TWO_CORES).t.known(), undefined, 'a record of another calibration version is measured again');
});

test('calibration key: another graph, instruction set or threads setting measures again', () => {
  const k = calibrationKey('graph', undefined, 'AVX2');
  assert.notEqual(k, calibrationKey('graph-2', undefined, 'AVX2'));
  assert.notEqual(k, calibrationKey('graph', undefined, 'AVX-512 + VNNI'));
  assert.notEqual(k, calibrationKey('graph', 1, 'AVX2'));
  assert.equal(calibrationKey(undefined, undefined, 'AVX2'), undefined, 'no model cache, nothing kept');
});

test('calibration: 1 thread kept when it is as fast at batch 1, batches then probed with it; busy machine: CPU seconds, threads left', async () => {
  const costs: Costs = { all: flat({ 1: 0.3, 2: 0.3, 4: 0.3, 8: 0.3 }), one: flat({ 1: 0.25, 2: 0.2, 4: 0.24, 8: 0.3 }, 1) };
  const idle = await tuning(tempDir(), costs).calibrate();
  assert.equal(idle.calibration.threads, 1);
  assert.equal((idle.session as unknown as { name: string }).name, 'one');
  assert.equal(idle.calibration.batch, 2);

  const busy = tuning(tempDir(), costs, { metric: 'cpu' });
  const r = await busy.calibrate();
  assert.equal(r.calibration.metric, 'cpu');
  assert.equal(r.calibration.threads, null);
  assert.ok(!busy.m.ran.some((x) => x.startsWith('one')), 'no 1-thread session on a busy machine');

  const fixed = tuning(tempDir(), costs, { threadsFixed: true });
  await fixed.calibrate();
  assert.ok(!fixed.m.ran.some((x) => x.startsWith('one')), 'threads given by the user: batch only');
  const uncached = tuning(false, costs);
  assert.equal((await uncached.calibrate()).calibration.threads, null, 'without a cache nothing keeps the answer: no second compile');
});

test('calibration: a small model keeps the default batch after one timed run', async () => {
  const t = tuning(tempDir(), { all: flat({ 1: 0.001, 2: 0.001, 4: 0.001, 8: 0.001 }) });
  const { calibration } = await t.calibrate();
  assert.deepEqual([calibration.small, calibration.batch, calibration.probes.length], [true, AUDIO_TUNING.defaultBatch, 1]);
  assert.deepEqual(t.m.ran, ['all b1', 'all b1']);
});

function withEnv(vars: Record<string, string | undefined>, fn: () => Promise<void> | void): Promise<void> {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  const set = (v: Record<string, string | undefined>): void => {
    for (const [k, x] of Object.entries(v)) {
      if (x === undefined) delete process.env[k];
      else process.env[k] = x;
    }
  };
  set(vars);
  return Promise.resolve(fn()).finally(() => set(saved));
}

test('overrides: CLAP_BATCH wins over a kept calibration; CLAP_CALIBRATE=off keeps the default; a bad value names the variable', async () => {
  const dir = tempDir();
  await tuning(dir, TWO_CORES).calibrate();
  await withEnv({ CLAP_BATCH: '3' }, () => assert.equal(tuning(dir, TWO_CORES).t.known(), 3));
  await withEnv({ CLAP_CALIBRATE: 'off' }, () => assert.equal(tuning(tempDir(), TWO_CORES).t.known(), AUDIO_TUNING.defaultBatch));
  await withEnv({ CLAP_BATCH: 'eight' }, () =>
    assert.throws(() => envBatch('CLAP_BATCH'), /CLAP_BATCH must be a positive integer, got 'eight'/),
  );
  const spec: TuningSpec = { ...AUDIO_TUNING, env: 'CLAP_TEST_BATCH' };
  await withEnv({ CLAP_TEST_BATCH: '0' }, () =>
    assert.throws(() => new Tuning(spec, new ModelCache({ cacheDir: false }), undefined, false).known()),
  );
});

test('Clap: the audio batch is calibrated once per model and CPU, kept beside the optimised graph; the caller and CLAP_BATCH win', async () => {
  const cacheDir = tempDir();
  const load = () => Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir });
  const wav = fixturePath('inputs', 'audio', readdirSync(fixturePath('inputs', 'audio'))[0]);
  const first = await load();
  try {
    const batch = await first.audioBatch();
    assert.ok(AUDIO_TUNING.batches.includes(batch), `batch ${batch}`);
    assert.equal(first.audioCalibration?.batch, batch);
  } finally {
    await first.release();
  }
  const record = readdirSync(cacheDir).find((f) => f.endsWith('.calibration.json'))!;
  assert.ok(record, 'kept in the model cache');
  writeFileSync(join(cacheDir, record), JSON.stringify({ ...JSON.parse(readFileSync(join(cacheDir, record), 'utf8')), batch: 3 }));
  const second = await load();
  try {
    assert.equal(await second.audioBatch(), 3, 'a later load uses the kept batch');
    await withEnv({ CLAP_BATCH: '5' }, async () => assert.equal(await second.audioBatch(), 5));
    const [e] = await second.embedAudio([wav], { batchSize: 2 });
    assert.equal(e.embedding.length, second.config.dProj);
    await withEnv({ CLAP_BATCH: 'x' }, () => assert.rejects(second.embedAudio([wav]), /CLAP_BATCH must be a positive integer/));
  } finally {
    await second.release();
  }
});

test('Clap: the text batch is calibrated on a call long enough to pay for it (≥ 128 texts), kept, and CLAP_TEXT_BATCH wins', async () => {
  const cacheDir = tempDir();
  const c = await Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir });
  try {
    const records = (): string[] => readdirSync(cacheDir).filter((f) => f.endsWith('.calibration.json'));
    const texts = Array.from({ length: 130 }, (_, i) => `sound number ${i}`);
    const few = await c.embedText(texts.slice(0, 10));
    assert.equal(records().length, 0, 'ten texts: the default batch, nothing measured');
    const all = await c.embedText(texts);
    const [record] = records();
    const kept = JSON.parse(readFileSync(join(cacheDir, record), 'utf8'));
    assert.ok(TEXT_TUNING.batches.includes(kept.batch), `text batch ${kept.batch}`);
    few.forEach((e, i) => assert.ok(relativeError(all[i], e) <= 1e-5, 'the batch does not change the embeddings'));
    const fresh = (k: number) => texts.map((t) => `${t} (${k})`).slice(0, 20); // not in the label cache
    await withEnv({ CLAP_TEXT_BATCH: '7' }, async () => assert.equal((await c.embedText(fresh(1))).length, 20));
    await withEnv({ CLAP_TEXT_BATCH: 'zero' }, () => assert.rejects(c.embedText(fresh(2)), /CLAP_TEXT_BATCH must be a positive integer/));
  } finally {
    await c.release();
  }
});
