/**
 * The training loop every trainer plugs into (contrastive, fine-tuning, captioning, the linear probe):
 * epochs of shuffled batches, optimiser steps (with gradient accumulation), the learning-rate schedule,
 * checkpoints (every N steps, at each epoch end, and whenever the run stops early), resume, a deadline,
 * a step limit, early stopping, the best epoch, and Ctrl-C (an AbortSignal: the run stops at the next
 * step boundary, checkpointed).
 *
 * Reproducible resume: the data a step sees is a pure function of (seed, epoch, position), and each
 * micro-batch draws from its own stream (seed, step, micro-batch), so a run resumed from any checkpoint
 * repeats exactly what the uninterrupted run does.
 *
 * Everything the loop does is an event: one line of RUN/log.jsonl each, and `onEvent` (the CLI renders
 * them as progress; the library writes nothing to the terminal).
 *
 * RUN files: log.jsonl, checkpoint.safetensors (resume), best-checkpoint.safetensors (the best validated
 * epoch), summary.json, and what the trainer's `save` writes (the best validated epoch's weights when
 * there is one, else the last step's).
 */
import { copyFileSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import type { HostTensor, OptimizerState } from '../../engine/index.js';
import { Rng } from '../rng.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { jsonlLogger, type RunLogger } from './outputs.js';
import { makeDirs } from '../../files.js';
import { endOfEpoch, initialScheduleState, learningRate, type ScheduleConfig, type ScheduleState } from './schedule.js';

const LOG = 'log.jsonl';
const CHECKPOINT = 'checkpoint.safetensors';
const BEST = 'best-checkpoint.safetensors';

/** How a run ended. */
export type RunStatus = 'finished' | 'time_limit' | 'early_stop' | 'max_steps' | 'interrupted';

/** Options of the loop that every trainer takes (and every `clap train` command offers). */
export interface LoopOptions {
  /** Continue the run in the output folder from its checkpoint (a fresh run when there is none). */
  resume?: boolean;
  /** Also checkpoint every N optimiser steps (always at each epoch end and when the run stops early). */
  checkpointEvery?: number;
  /** Stop cleanly (checkpoint + final weights) after this many minutes of this process. */
  maxMinutes?: number;
  /** Stop after this many optimiser steps in total. */
  maxSteps?: number;
  /** Stop after this many epochs without a better score (held-out when there is a held-out split). */
  earlyStop?: number;
  /** Aborting it stops the run at the next step boundary, checkpointed, with status 'interrupted'. */
  signal?: AbortSignal;
  /** Every event of the run (also written to RUN/log.jsonl). */
  onEvent?: (event: TrainEvent) => void;
}

/**
 * One line of log.jsonl: `start`/`resume` (with the files left out as `skipped`), `step`, `epoch`,
 * `checkpoint`, `end` (with the summary); and, to `onEvent` only, `skip` (a file that cannot be read, left
 * out of the run: `path`, `reason`) before the run starts.
 */
export interface TrainEvent {
  type: 'start' | 'resume' | 'step' | 'epoch' | 'checkpoint' | 'end' | 'skip';
  step?: number;
  epoch?: number;
  [field: string]: unknown;
}

/** The optimiser the loop drives: a compiled TrainStep (engine/train.ts), or a host-side one (the probe). */
export interface Stepper<F> {
  /** One micro-batch; `updated` when the optimiser stepped (every `accumulate`-th call). */
  run(feeds: F, options: { lr: number }): Promise<{ loss: number; gradNorm?: number; updated: boolean }>;
  params(): Record<string, HostTensor>;
  loadParams(params: Record<string, HostTensor>): void;
  optimizerState(): OptimizerState;
  loadOptimizerState(state: OptimizerState): void;
}

/**
 * Held-out results of the current weights: `score` (higher is better) picks the best epoch, whose weights
 * are the run's result; without one the epoch is not validated (the score is −training loss). `fields`
 * go into the epoch event.
 */
export interface Evaluation {
  score?: number;
  fields: Record<string, unknown>;
}

/** One finished epoch, as the loop remembers it (in checkpoints too). */
export interface EpochRecord {
  epoch: number;
  step: number;
  train_loss: number;
  score: number;
  /** Whether `score` is a held-out score (else −training loss). */
  validated: boolean;
  /** The evaluation's fields. */
  evaluation?: Record<string, unknown>;
}

/** What a trainer gives the loop. */
export interface Trainer<F, S> {
  stepper: Stepper<F>;
  /** Training examples: each epoch visits them in a seeded order, `batch` × `accumulate` per step. */
  examples: number;
  batch: number;
  /** Micro-batches per optimiser step (default 1). */
  accumulate?: number;
  /**
   * Checkpoint at each epoch end (default true). Off for full-batch training (the probe: an epoch is one
   * step of a few milliseconds); its runs are still checkpointed every --checkpoint-every steps and when
   * they stop early.
   */
  checkpointEachEpoch?: boolean;
  /** Feeds of one micro-batch: the examples `indices`, `rng` the micro-batch's own random stream. */
  feeds(indices: readonly number[], rng: Rng): Promise<F> | F;
  /** After each epoch: held-out evaluation of the current weights. */
  evaluate?(): Promise<Evaluation>;
  /** Extra fields of each epoch event (e.g. the temperature). */
  epochFields?(): Record<string, unknown>;
  /** Fields of the start / resume event (data sizes, parameter count). */
  startFields?: Record<string, unknown>;
  /** Writes the trained weights (called with the best validated epoch's parameters loaded when there is one). */
  save(): Promise<string>;
  /** The trainer's summary (summary.json and the end event). */
  summary(result: LoopResult): Promise<S> | S;
}

export interface LoopResult {
  status: RunStatus;
  steps: number;
  epochs_completed: number;
  best_epoch: number | null;
  best_score: number | null;
  first_loss: number | null;
  last_loss: number | null;
  seconds: number;
  seconds_per_step: number | null;
  params_trainable?: number;
  /** Every finished epoch of the run (resumed sessions included). */
  epochs: EpochRecord[];
  /** The epoch whose weights `save` wrote (the best validated one), or null when they are the last step's. */
  saved_epoch: EpochRecord | null;
  /** The main file `save` wrote. */
  weights: string;
}

/** A run folder opened for a trainer: whether it resumes, and the clock its deadline counts from. */
export interface Run {
  out?: string;
  resuming: boolean;
  t0: number;
}

/**
 * Opens the run folder before anything slow happens: creates it, refuses to start a new run over an
 * existing one (without `resume`), and says whether there is a checkpoint to resume. Without a folder
 * (`out` undefined) nothing is written and nothing can be resumed.
 */
export function openRun(out: string | undefined, o: Pick<LoopOptions, 'resume' | 'checkpointEvery'> = {}): Run {
  const t0 = performance.now();
  if (out === undefined) {
    if (o.resume || o.checkpointEvery) throw new ClapError('--resume and --checkpoint-every need an output folder (--out)');
    return { resuming: false, t0 };
  }
  makeDirs(out, '--out');
  const has = existsSync(join(out, CHECKPOINT));
  if (has && !o.resume)
    throw new ClapError('already holds a training run: pass --resume to continue it, or choose another --out', { subject: out });
  return { out, resuming: has, t0 };
}

/** The run's random streams, each a pure function of the seed and a position (so a resumed run draws the same). */
export const streams = {
  /** The order of the examples in epoch `epoch`. */
  epochOrder: (seed: number, epoch: number, examples: number): number[] =>
    new Rng((seed * 1000003 + epoch * 7919 + 17) >>> 0).shuffle(Array.from({ length: examples }, (_, i) => i)),
  /** Micro-batch `micro` of the step after `stepsDone` completed steps: crops, captions, augmentation. */
  microBatch: (seed: number, stepsDone: number, micro: number): Rng =>
    new Rng((seed * 2654435761 + stepsDone * 40503 + 1 + micro * 0x9e3779b1) >>> 0),
};

/**
 * Unreadable audio files are left out of a run (FeatureStore.readable): each is a `skip` event, and the
 * list goes into the start event (`startFields.skipped`).
 */
export function skipped(o: Pick<LoopOptions, 'onEvent'>): {
  list: { path: string; reason: string }[];
  onSkip: (path: string, reason: string) => void;
} {
  const list: { path: string; reason: string }[] = [];
  return {
    list,
    onSkip: (path, reason) => {
      list.push({ path, reason });
      o.onEvent?.({ type: 'skip', path, reason });
    },
  };
}

/** The schedule of a trainer without one: the same rate every step. */
export function constantLr(lr: number): Omit<ScheduleConfig, 'totalSteps'> {
  return { kind: 'constant', lr, warmupSteps: 0, minLr: 0, patience: Infinity, factor: 1 };
}

interface LoopState {
  step: number;
  epoch: number;
  batchInEpoch: number;
  /** The run's shape, checked on resume (absent in checkpoints of older versions: accumulate 1). */
  accumulate?: number;
  batch?: number;
  examples?: number;
  schedule: ScheduleState;
  epochLossSum: number;
  epochSteps: number;
  bestScore: number | null;
  bestEpoch: number | null;
  sinceBest: number;
  firstLoss: number | null;
  lastLoss: number | null;
  elapsed: number;
  history?: EpochRecord[];
}

type LoopSettings = LoopOptions & { epochs: number; seed: number; schedule: Omit<ScheduleConfig, 'totalSteps'> };

/** Runs `trainer` for `epochs` epochs (or until a limit or Ctrl-C) and returns its summary. */
export async function runLoop<F, S extends object>(run: Run, trainer: Trainer<F, S>, o: LoopSettings): Promise<S> {
  const loop = new TrainingLoop(run, trainer, o);
  await loop.start();
  const status = await loop.train();
  return loop.finish(status);
}

/** One session of a run: its state (what a checkpoint holds), files, clock and event stream. */
class TrainingLoop<F, S extends object> {
  private readonly K: number;
  private readonly stepsPerEpoch: number;
  private readonly sched: ScheduleConfig;
  private readonly ckptFile?: string;
  private readonly bestFile?: string;
  private readonly logFile?: string;
  private st: LoopState;
  private log?: RunLogger;
  private elapsedBefore = 0;
  private readonly sessionStart = performance.now();
  private stepAtStart = 0;
  private readonly deadline: number;
  private orderEpoch = -1;
  private order: number[] = [];

  constructor(
    private readonly run: Run,
    private readonly trainer: Trainer<F, S>,
    private readonly o: LoopSettings,
  ) {
    this.K = trainer.accumulate ?? 1;
    const { batch, examples } = trainer;
    this.stepsPerEpoch = Math.floor(examples / (batch * this.K));
    if (this.stepsPerEpoch < 1) throw new ClapError(`${examples} training examples is fewer than one step of ${batch * this.K}`);
    // the schedule spans the epochs asked for; a limit (--max-steps, --max-minutes, Ctrl-C) stops the run, it does not reshape it
    this.sched = { ...o.schedule, totalSteps: this.stepsPerEpoch * o.epochs };
    if (run.out !== undefined) {
      this.ckptFile = join(run.out, CHECKPOINT);
      this.bestFile = join(run.out, BEST);
      this.logFile = join(run.out, LOG);
    }
    this.deadline = o.maxMinutes !== undefined ? run.t0 + o.maxMinutes * 60_000 : Infinity;
    this.st = {
      step: 0,
      epoch: 0,
      batchInEpoch: 0,
      ...(this.K > 1 ? { accumulate: this.K } : {}),
      batch,
      examples,
      schedule: initialScheduleState(),
      epochLossSum: 0,
      epochSteps: 0,
      bestScore: null,
      bestEpoch: null,
      sinceBest: 0,
      firstLoss: null,
      lastLoss: null,
      elapsed: 0,
      history: [],
    };
  }

  /** A fresh run's files, or the checkpoint's state loaded back; then the start / resume event. */
  async start(): Promise<void> {
    const { run, trainer } = this;
    if (run.resuming) {
      const ck = await loadCheckpoint<LoopState>(this.ckptFile!);
      checkSameRun(ck.state, { accumulate: this.K, batch: trainer.batch, examples: trainer.examples }, run.out!);
      trainer.stepper.loadParams(ck.params);
      trainer.stepper.loadOptimizerState(ck.optimizer);
      this.st = { ...ck.state, history: ck.state.history ?? [] };
      truncateLog(this.logFile!, this.st);
    } else if (this.bestFile) {
      rmSync(this.bestFile, { force: true });
    }
    if (this.logFile) this.log = jsonlLogger(this.logFile, run.resuming);
    this.elapsedBefore = this.st.elapsed;
    this.stepAtStart = this.st.step;
    this.emit({
      type: run.resuming ? 'resume' : 'start',
      step: this.st.step,
      epoch: this.st.epoch,
      epochs: this.o.epochs,
      steps_per_epoch: this.stepsPerEpoch,
      total_steps: Math.min(this.o.maxSteps ?? Infinity, this.sched.totalSteps),
      examples: trainer.examples,
      batch: trainer.batch,
      ...(this.K > 1 ? { accumulate: this.K } : {}),
      ...trainer.startFields,
    });
  }

  /** Epochs until the end, a limit, early stopping or Ctrl-C; checkpointed when it stops short. */
  async train(): Promise<RunStatus> {
    let status: RunStatus = 'finished';
    while (this.st.epoch < this.o.epochs) {
      const stop = this.stopReason() ?? (await this.trainEpoch());
      if (stop) {
        status = stop;
        break;
      }
      if (await this.endEpoch()) {
        status = 'early_stop';
        break;
      }
    }
    if (status !== 'finished' || this.trainer.checkpointEachEpoch === false) {
      if (this.st.step > this.stepAtStart || !this.run.resuming) await this.checkpoint();
    }
    return status;
  }

  /** The rest of the current epoch's steps; a reason to stop, or undefined at the epoch's end. */
  private async trainEpoch(): Promise<RunStatus | undefined> {
    const { st, K, stepsPerEpoch } = this;
    // K micro-batches, one optimiser update (after the last); the next micro-batch is prepared meanwhile.
    let pending = st.batchInEpoch < stepsPerEpoch ? this.prepare(st.batchInEpoch * K, st.step, 0) : undefined;
    pending?.catch(() => undefined); // awaited below; an early stop leaves it unawaited
    while (st.batchInEpoch < stepsPerEpoch) {
      const nextStep = st.step + 1;
      const lr = learningRate(this.sched, st.schedule, nextStep);
      let lossSum = 0;
      let gradNorm: number | undefined;
      let updated = false;
      for (let m = 0; m < K; m++) {
        // waiting for a step's first features (decoding can be slow) ends at once on Ctrl-C
        const feeds = m === 0 ? await unlessAborted(pending!, this.o.signal) : await pending!;
        if (feeds === ABORTED) return 'interrupted';
        const last = m + 1 === K;
        const nb = last ? st.batchInEpoch + 1 : st.batchInEpoch;
        pending = nb < stepsPerEpoch ? this.prepare(nb * K + (last ? 0 : m + 1), last ? nextStep : st.step, last ? 0 : m + 1) : undefined;
        pending?.catch(() => undefined);
        const r = await this.trainer.stepper.run(feeds, { lr });
        if (!Number.isFinite(r.loss)) throw new ClapError(`the loss became ${r.loss} at step ${nextStep}; lower --lr or set --clip-grad`);
        lossSum += r.loss;
        gradNorm = r.gradNorm;
        updated = r.updated;
      }
      if (!updated) throw new Error(`internal: no optimiser update after ${K} micro-batches`);
      this.stepDone(lossSum / K, lr, gradNorm);
      if (this.o.checkpointEvery && st.step % this.o.checkpointEvery === 0) await this.checkpoint();
      const stop = this.stopReason();
      if (stop) return stop;
    }
    return undefined;
  }

  private stepDone(loss: number, lr: number, gradNorm: number | undefined): void {
    const { st } = this;
    st.step++;
    st.batchInEpoch++;
    st.epochLossSum += loss;
    st.epochSteps++;
    st.firstLoss ??= loss;
    st.lastLoss = loss;
    const secondsPerStep = (performance.now() - this.sessionStart) / 1000 / (st.step - this.stepAtStart);
    this.emit({
      type: 'step',
      step: st.step,
      epoch: st.epoch,
      loss,
      lr,
      ...(gradNorm !== undefined ? { grad_norm: gradNorm } : {}),
      examples_per_s: (this.trainer.batch * this.K) / secondsPerStep,
      elapsed_s: this.elapsed(),
    });
  }

  /** Evaluates, remembers the best epoch, checkpoints; true when early stopping says stop. */
  private async endEpoch(): Promise<boolean> {
    const { st, trainer } = this;
    const trainLoss = st.epochLossSum / Math.max(1, st.epochSteps);
    const evaluation = await trainer.evaluate?.();
    const validated = evaluation?.score !== undefined;
    const score = evaluation?.score ?? -trainLoss;
    const improved = st.bestScore === null || score > st.bestScore;
    const lrReduced = endOfEpoch(this.sched, st.schedule, score);
    if (improved) {
      st.bestScore = score;
      st.bestEpoch = st.epoch + 1;
      st.sinceBest = 0;
    } else {
      st.sinceBest++;
    }
    const record: EpochRecord = { epoch: st.epoch + 1, step: st.step, train_loss: trainLoss, score, validated };
    if (evaluation) record.evaluation = evaluation.fields;
    st.history!.push(record);
    this.emit({
      type: 'epoch',
      epoch: record.epoch,
      epochs: this.o.epochs,
      step: st.step,
      train_loss: trainLoss,
      score,
      best: improved,
      lr_reduced: lrReduced,
      ...trainer.epochFields?.(),
      ...evaluation?.fields,
    });
    st.epoch++;
    st.batchInEpoch = 0;
    st.epochLossSum = 0;
    st.epochSteps = 0;
    if (trainer.checkpointEachEpoch !== false || (improved && validated)) await this.checkpoint();
    if (improved && validated && this.ckptFile) copyFileSync(this.ckptFile, this.bestFile!);
    return this.o.earlyStop !== undefined && st.sinceBest >= this.o.earlyStop;
  }

  /** Final weights (the best validated epoch's when there is one, else the last step's), summary, end event. */
  async finish(status: RunStatus): Promise<S> {
    const { st, trainer } = this;
    let savedEpoch: EpochRecord | null = null;
    if (this.bestFile && st.bestEpoch !== null && existsSync(this.bestFile)) {
      const best = st.history!.find((e) => e.epoch === st.bestEpoch && e.validated);
      if (best) {
        trainer.stepper.loadParams((await loadCheckpoint(this.bestFile)).params);
        savedEpoch = best;
      }
    }
    const weights = await trainer.save();
    const ran = st.step - this.stepAtStart;
    const summary = await trainer.summary({
      status,
      steps: st.step,
      epochs_completed: st.epoch,
      best_epoch: st.bestEpoch,
      best_score: st.bestScore,
      first_loss: st.firstLoss,
      last_loss: st.lastLoss,
      seconds: this.elapsed(),
      seconds_per_step: ran > 0 ? (performance.now() - this.sessionStart) / 1000 / ran : null,
      epochs: st.history!,
      saved_epoch: savedEpoch,
      weights,
    });
    this.emit({ type: 'end', ...summary });
    if (this.run.out !== undefined) writeFileSync(join(this.run.out, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
    return summary;
  }

  /** Feeds of micro-batch `micro` of the step after `stepsDone` steps, at micro-batch `b` of the current epoch. */
  private prepare(b: number, stepsDone: number, micro: number): Promise<F> {
    const { batch, examples } = this.trainer;
    if (this.orderEpoch !== this.st.epoch) {
      this.order = streams.epochOrder(this.o.seed, this.st.epoch, examples);
      this.orderEpoch = this.st.epoch;
    }
    const indices = this.order.slice(b * batch, (b + 1) * batch);
    return Promise.resolve(this.trainer.feeds(indices, streams.microBatch(this.o.seed, stepsDone, micro)));
  }

  private async checkpoint(): Promise<void> {
    this.st.elapsed = this.elapsed();
    if (!this.ckptFile) return;
    const { stepper } = this.trainer;
    await saveCheckpoint(this.ckptFile, { params: stepper.params(), optimizer: stepper.optimizerState(), state: this.st });
    this.emit({ type: 'checkpoint', step: this.st.step, epoch: this.st.epoch });
  }

  private stopReason(): RunStatus | undefined {
    if (this.o.signal?.aborted) return 'interrupted';
    if (this.o.maxSteps !== undefined && this.st.step >= this.o.maxSteps) return 'max_steps';
    if (performance.now() > this.deadline) return 'time_limit';
    return undefined;
  }

  private elapsed(): number {
    return this.elapsedBefore + (performance.now() - this.run.t0) / 1000;
  }

  private emit(e: TrainEvent): void {
    this.log?.(e);
    this.o.onEvent?.(e);
  }
}

const ABORTED = Symbol('aborted');

/** `p`, or ABORTED as soon as `signal` aborts (p is then left to settle on its own). */
async function unlessAborted<T>(p: Promise<T>, signal?: AbortSignal): Promise<T | typeof ABORTED> {
  if (!signal) return p;
  if (signal.aborted) return ABORTED;
  let onAbort = (): void => undefined;
  const abort = new Promise<typeof ABORTED>((resolve) => {
    onAbort = () => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([p, abort]);
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

/** A resumed run must have the shape it was started with (its data order and step count depend on it). */
function checkSameRun(saved: LoopState, now: { accumulate: number; batch: number; examples: number }, out: string): void {
  const was = { accumulate: saved.accumulate ?? 1, batch: saved.batch ?? now.batch, examples: saved.examples ?? now.examples };
  if (was.accumulate !== now.accumulate)
    throw new ClapError(`the run was started with --accumulate ${was.accumulate}; resume it with the same`, { subject: out });
  if (was.batch !== now.batch)
    throw new ClapError(`the run was started with --batch ${was.batch}; resume it with the same`, { subject: out });
  if (was.examples !== now.examples)
    throw new ClapError(
      `the run was started with ${was.examples} training examples, now there are ${now.examples}: resume it with the same data`,
      {
        subject: out,
      },
    );
}

/** Keeps the log lines up to the checkpoint being resumed (steps after it will be run again). */
function truncateLog(file: string, st: LoopState): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        const e = JSON.parse(l) as TrainEvent;
        if (e.type === 'step' || e.type === 'checkpoint') return (e.step ?? 0) <= st.step;
        if (e.type === 'epoch') return (e.epoch ?? 0) <= st.epoch;
        return e.type !== 'end';
      } catch {
        return false;
      }
    });
  writeFileSync(file, kept.length ? `${kept.join('\n')}\n` : '');
}
