import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ClapError } from '../../src/errors.js';
import { synthWav } from '../../src/audio/index.js';
import { Clap } from '../../src/tasks/clap.js';
import { defaultWorkers, FrontendPool, frontendStream } from '../../src/tasks/pipeline.js';
import { fixturePath } from '../helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'clap-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

let clapPromise: Promise<Clap> | undefined;
const clap = (): Promise<Clap> =>
  (clapPromise ??= Clap.load({ weights: fixturePath('clap.pth'), config: fixturePath('config.json'), threads: 1, cacheDir: false }));
after(async () => {
  if (clapPromise) await (await clapPromise).release();
});

function files(): string[] {
  const out: string[] = [];
  [44100, 48000, 16000, 22050, 32000, 8000].forEach((sr, i) => {
    const p = join(dir, `clip${i}.wav`);
    writeFileSync(p, synthWav(sr, 3 + i * 1.5, 1 + (i % 2)));
    out.push(p);
  });
  const fixtures = readdirSync(fixturePath('inputs', 'audio'))
    .sort()
    .map((f) => fixturePath('inputs', 'audio', f));
  return [...out, ...fixtures];
}

test('the worker pipeline gives the same embeddings, in order, as the sequential frontend', async () => {
  const c = await clap();
  const inputs = files();
  for (const sliding of [false, true]) {
    const seq = await c.embedAudio(inputs, { workers: 0, batchSize: 3, sliding });
    const par = await c.embedAudio(inputs, { workers: 2, batchSize: 3, sliding });
    assert.equal(par.length, inputs.length);
    par.forEach((r, i) => {
      assert.equal(r.input, inputs[i]);
      assert.deepEqual(r.embedding, seq[i].embedding);
      assert.deepEqual(
        r.windows?.map((w) => [w.start, w.end]),
        seq[i].windows?.map((w) => [w.start, w.end]),
      );
    });
  }
});

test('a bad file in the middle fails with one ClapError naming it', async () => {
  const c = await clap();
  const inputs = files();
  const bad = join(dir, 'broken.wav');
  writeFileSync(bad, Buffer.from('RIFF\u0010\u0000\u0000\u0000WAVEnot really'));
  const missing = join(dir, 'missing.wav');
  for (const name of [bad, missing]) {
    const list = [...inputs.slice(0, 3), name, ...inputs.slice(3)];
    for (const workers of [0, 1, 2]) {
      await assert.rejects(c.embedAudio(list, { workers }), (e: unknown) => {
        assert.ok(e instanceof ClapError, `not a ClapError: ${String(e)}`);
        assert.ok((e as Error).message.includes(name), (e as Error).message);
        assert.equal((e as Error).message.split(name).length, 2, `named once: ${(e as Error).message}`);
        return true;
      });
    }
  }
  // The model still works after a failed run (the pool recovered).
  const ok = await c.embedAudio(inputs.slice(0, 3), { workers: 2 });
  assert.equal(ok.length, 3);
});

test('frontend workers by default: half the cores, 1 to 4 (one rule for embedAudio, indexes, queue workers and training)', () => {
  assert.deepEqual(
    [1, 2, 3, 4, 6, 8, 16, 64].map((cores) => defaultWorkers(cores)),
    [1, 1, 1, 2, 3, 4, 4, 4],
  );
});

test('frontendStream keeps at most `ahead` inputs in flight', async () => {
  const pool = new FrontendPool(2);
  try {
    const inputs = Array.from({ length: 12 }, () => synthWav(16000, 1));
    let maxInFlight = 0;
    let started = 0;
    const orig = pool.process.bind(pool);
    let done = 0;
    pool.process = (input, options) => {
      started++;
      maxInFlight = Math.max(maxInFlight, started - done);
      return orig(input, options);
    };
    let n = 0;
    for await (const item of frontendStream(inputs, { pool, ahead: 3, optionsFor: () => ({}) })) {
      assert.equal(item.index, n++);
      assert.ok('result' in item);
      assert.equal(item.result.logmels.length, 1);
      done++;
    }
    assert.equal(n, 12);
    // `ahead` queued plus the one the consumer holds.
    assert.ok(maxInFlight <= 4, `max in flight ${maxInFlight}`);
  } finally {
    await pool.close();
  }
});
