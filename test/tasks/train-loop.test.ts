/** The shared training loop (src/tasks/train/loop.ts) with a tiny host-side model: resume, limits, best epoch, Ctrl-C, events. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HostTensor, OptimizerState } from '../../src/engine/index.js';
import {
  type Evaluation,
  loadCheckpoint,
  type LoopOptions,
  type LoopResult,
  openRun,
  runLoop,
  type Stepper,
  type TrainEvent,
} from '../../src/tasks/train/index.js';
import type { Rng } from '../../src/tasks/rng.js';

const tmp = (): string => mkdtempSync(join(tmpdir(), 'clap-loop-'));

/** y = w·x fitted by momentum SGD to targets 3x: a model whose every step depends on the data order and the random draws. */
class Line implements Stepper<number[]> {
  w = 0;
  velocity = 0;
  steps = 0;

  async run(xs: number[], { lr }: { lr: number }): Promise<{ loss: number; updated: boolean }> {
    let loss = 0;
    let grad = 0;
    for (const x of xs) {
      const e = this.w * x - 3 * x;
      loss += (e * e) / xs.length;
      grad += (2 * e * x) / xs.length;
    }
    this.velocity = 0.9 * this.velocity + grad;
    this.w -= lr * this.velocity;
    this.steps++;
    return { loss, updated: true };
  }
  params(): Record<string, HostTensor> {
    return { w: { dtype: 'float64', shape: [1], data: Float64Array.of(this.w) } };
  }
  loadParams(p: Record<string, HostTensor>): void {
    this.w = Number(p.w.data[0]);
  }
  optimizerState(): OptimizerState {
    return { step: this.steps, slots: { w: { v: { dtype: 'float64', shape: [1], data: Float64Array.of(this.velocity) } } } };
  }
  loadOptimizerState(s: OptimizerState): void {
    this.steps = s.step;
    this.velocity = Number(s.slots.w.v.data[0]);
  }
}

const DATA = Array.from({ length: 12 }, (_, i) => (i + 1) / 6);

interface Run {
  result: LoopResult;
  saved: number;
  events: TrainEvent[];
}

/** Runs the loop on DATA (batch 3: 4 steps per epoch) with a jitter drawn from each micro-batch's stream. */
async function fit(
  out: string | undefined,
  o: LoopOptions & { epochs?: number; evaluate?: (w: number, epoch: number) => Evaluation },
): Promise<Run> {
  const run = openRun(out, o);
  const line = new Line();
  const events: TrainEvent[] = [];
  let saved = Number.NaN;
  let epoch = 0;
  const result = await runLoop(
    run,
    {
      stepper: line,
      examples: DATA.length,
      batch: 3,
      feeds: (idx: readonly number[], rng: Rng) => idx.map((i) => DATA[i] * (0.9 + 0.2 * rng.next())),
      ...(o.evaluate ? { evaluate: async () => o.evaluate!(line.w, ++epoch) } : {}),
      save: async () => {
        saved = line.w;
        return 'weights';
      },
      summary: (r) => r,
    },
    {
      ...o,
      onEvent: (e) => events.push(e),
      epochs: o.epochs ?? 4,
      seed: 7,
      schedule: { kind: 'cosine', lr: 0.05, warmupSteps: 2, minLr: 0, patience: 1, factor: 0.1 },
    },
  );
  return { result, saved, events };
}

const losses = (events: TrainEvent[]): number[] => events.filter((e) => e.type === 'step').map((e) => e.loss as number);
const logged = (out: string): TrainEvent[] =>
  readFileSync(join(out, 'log.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as TrainEvent);

test('loop: stopped by --max-steps at any step and resumed, the run is the uninterrupted one step for step', async () => {
  const ref = await fit(undefined, {});
  assert.equal(ref.result.status, 'finished');
  assert.equal(ref.result.steps, 16);
  assert.ok(ref.result.last_loss! < ref.result.first_loss! / 2, `loss ${ref.result.first_loss} → ${ref.result.last_loss}`);
  for (const stopAt of [1, 5, 8]) {
    const out = tmp();
    const part = await fit(out, { maxSteps: stopAt });
    assert.equal(part.result.status, 'max_steps');
    assert.equal(part.result.steps, stopAt);
    const rest = await fit(out, { resume: true });
    assert.equal(rest.result.status, 'finished');
    assert.equal(rest.saved, ref.saved, `stopped at ${stopAt}: final weights`);
    assert.deepEqual(
      logged(out)
        .filter((e) => e.type === 'step')
        .map((e) => e.loss),
      losses(ref.events),
    );
    assert.deepEqual(rest.result.epochs, ref.result.epochs);
  }
});

test('loop: the written weights are the best held-out epoch; early stop; a new run over an old one needs --resume', async () => {
  const out = tmp();
  // held-out score peaks at epoch 2, then falls: epochs 3 and 4 do not improve, early stop after 2 of them
  const r = await fit(out, {
    epochs: 10,
    earlyStop: 2,
    evaluate: (_w, epoch) => ({ score: -Math.abs(epoch - 2), fields: { val: { epoch } } }),
  });
  assert.equal(r.result.status, 'early_stop');
  assert.equal(r.result.epochs_completed, 4);
  assert.equal(r.result.best_epoch, 2);
  assert.equal(r.result.saved_epoch?.epoch, 2);
  const epochs = r.events.filter((e) => e.type === 'epoch');
  assert.deepEqual(
    epochs.map((e) => e.best),
    [true, true, false, false],
  );
  assert.deepEqual(epochs[1].val, { epoch: 2 });
  // the saved weights are epoch 2's (kept in best-checkpoint), not the last step's
  assert.equal(r.saved, Number((await loadCheckpoint(join(out, 'best-checkpoint.safetensors'))).params.w.data[0]));
  assert.notEqual(r.saved, Number((await loadCheckpoint(join(out, 'checkpoint.safetensors'))).params.w.data[0]));
  assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).best_epoch, 2);
  assert.throws(() => openRun(out, {}), /already holds a training run: pass --resume/);
});

test('loop: an aborted signal stops at a step boundary, checkpointed; a deadline stops too; a changed batch cannot resume', async () => {
  const out = tmp();
  const controller = new AbortController();
  const run = openRun(out, {});
  const line = new Line();
  const result = await runLoop(
    run,
    {
      stepper: line,
      examples: DATA.length,
      batch: 3,
      feeds: (idx: readonly number[]) => {
        if (line.steps === 5) controller.abort(); // Ctrl-C while step 6's features are prepared
        return idx.map((i) => DATA[i]);
      },
      save: async () => 'w',
      summary: (r) => r,
    },
    {
      epochs: 4,
      seed: 1,
      schedule: { kind: 'constant', lr: 0.01, warmupSteps: 0, minLr: 0, patience: 1, factor: 1 },
      signal: controller.signal,
    },
  );
  assert.equal(result.status, 'interrupted');
  assert.equal(result.steps, 6, 'the step in flight finishes');
  const log = logged(out);
  assert.deepEqual(log.at(-2), { type: 'checkpoint', step: 6, epoch: 1 });
  assert.equal(log.at(-1)!.type, 'end');

  const late = await fit(undefined, { maxMinutes: 1e-9 });
  assert.equal(late.result.status, 'time_limit');
  assert.equal(late.result.steps, 0);

  writeFileSync(join(out, 'note'), '');
  const again = openRun(out, { resume: true });
  await assert.rejects(
    runLoop(
      again,
      { stepper: new Line(), examples: DATA.length, batch: 4, feeds: () => [], save: async () => '', summary: (r) => r },
      {
        epochs: 4,
        seed: 1,
        schedule: { kind: 'constant', lr: 0.01, warmupSteps: 0, minLr: 0, patience: 1, factor: 1 },
      },
    ),
    /started with --batch 3; resume it with the same/,
  );
});
