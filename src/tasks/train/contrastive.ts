/**
 * `clap train contrastive`: CLAP's contrastive pre-training (paper §2.1, §3) on a manifest of audio files
 * and captions. One ONNX model per step (forward, backward, Adam/AdamW update); features computed in
 * worker threads ahead of the step; validation (retrieval R@1/R@10, zero-shot accuracy) each epoch on
 * the inference path (`Clap`) with the weights exported in the official layout; resumable checkpoints.
 *
 * RUN_DIR: config.json (model, loadable with --config), train.json (options), init.safetensors (the
 * starting weights, official layout), log.jsonl, checkpoint.safetensors (resume), best.pth (best
 * validation epoch), final.pth + final.safetensors (official layout: the best epoch when validating,
 * else the last step), summary.json.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ClapError } from '../../errors.js';
import { buildTrainStep, dependsOn, type HostTensor, isFloatDtype, type TrainStep } from '../../engine/index.js';
import { type ClapConfig, clapConfigToJson, randomClapStateDict } from '../../models/clap/index.js';
import type { StateDict } from '../../weights/index.js';
import { loadWeights, savePth, saveSafetensors, toStateDict } from '../../weights/index.js';
import { defaultTokenizer } from '../../text/index.js';
import { applyTemplate, Clap, DEFAULT_TEMPLATE } from '../clap.js';
import { loadCheckpoint, saveCheckpoint } from './checkpoint.js';
import { CROP_FRAMES, cropInto, FeatureStore, frameCountOf, MEL_BINS } from './features.js';
import { type ManifestItem, readManifest, splitItems } from './manifest.js';
import { cosineMatrix } from '../similarity.js';
import { retrieval, type RetrievalMetrics, zeroShotAccuracy } from './metrics.js';
import { buildContrastiveGraph, exportStateDict, paramGroup } from './model.js';
import { resolveTrainConfig } from './presets.js';
import { Rng } from '../rng.js';
import { mixupBatch, specAugment, type SpecAugmentOptions } from './augment.js';
import { endOfEpoch, initialScheduleState, learningRate, type ScheduleConfig, type ScheduleState } from './schedule.js';
import { finishRun, jsonlLogger, parameterCount, saveWeights, makeDir } from './outputs.js';
import { CONTRASTIVE_DEFAULTS } from './defaults.js';

export type FreezeGroup = 'audio' | 'text' | 'projection' | 'temperature';

export interface ContrastiveOptions {
  data: string;
  out: string;
  /** Initial weights (.pth/.safetensors, official layout); default: random (from scratch). */
  init?: string;
  /** Preset name (small, tiny, 2023) or config.json. Default 'small' from scratch, else read off --init. */
  config?: string;
  epochs?: number;
  /** Clips per micro-batch (the contrastive loss's negatives come from within one micro-batch). */
  batch?: number;
  /**
   * Gradient accumulation: micro-batches of `batch` clips per optimiser step (default 1); a step sees
   * batch × accumulate clips. Each micro-batch's loss has its own negatives, so this is not identical
   * to a batch accumulate times larger. Steps, checkpoints and schedules count optimiser steps.
   */
  accumulate?: number;
  maxMinutes?: number;
  lr?: number;
  optimizer?: 'adam' | 'adamw';
  weightDecay?: number;
  schedule?: 'plateau' | 'cosine' | 'constant';
  warmupSteps?: number;
  patience?: number;
  minLr?: number;
  freeze?: FreezeGroup[];
  /** Validation manifest; else `valFraction` of --data, split by clip or label. */
  val?: string;
  valFraction?: number;
  splitBy?: 'clip' | 'label';
  template?: string;
  seed?: number;
  checkpointEvery?: number;
  resume?: boolean;
  cacheDir?: string;
  workers?: number;
  threads?: number;
  textLen?: number;
  clipGrad?: number;
  /** Clips longer than this many seconds are cut before random 7 s crops; not a time limit. */
  maxClipSeconds?: number;
  /**
   * Which pairs in a batch are positives: 'caption' (default: identical caption texts) or 'label' (clips
   * sharing a label, whatever their captions — several paraphrases or per-clip descriptions of a class).
   */
  positives?: 'caption' | 'label';
  /**
   * Test manifest: evaluated (and logged as `test`) after every epoch like the validation split, but never
   * used for early stopping or for choosing the best epoch — an untouched held-out measurement.
   */
  test?: string;
  /** SpecAugment on every training crop (true: the defaults of `specAugment`). */
  specAugment?: boolean | SpecAugmentOptions;
  /** Mixup of the audio with λ ~ Beta(α, α) per batch (targets mixed alike); off when undefined or 0. */
  mixup?: number;
  /** Stop after this many epochs without a better validation score. */
  earlyStop?: number;
  /** Stop after this many steps in total (tests). */
  maxSteps?: number;
  /** Progress lines (a TTY gets a redrawn line). */
  progress?: NodeJS.WritableStream & { isTTY?: boolean };
}

export interface EpochMetrics extends Partial<RetrievalMetrics> {
  zero_shot_acc?: number;
  zero_shot_classes?: number;
  zero_shot_chance?: number;
  val_clips: number;
  val_captions: number;
}

export interface TrainSummary {
  run_dir: string;
  status: 'finished' | 'time_limit' | 'early_stop' | 'max_steps';
  steps: number;
  epochs_completed: number;
  best_epoch: number | null;
  best_score: number | null;
  final_weights: string;
  config: string;
  params_trainable: number;
  first_loss: number | null;
  last_loss: number | null;
  seconds: number;
  seconds_per_step: number | null;
  val: EpochMetrics | null;
}

interface RunState {
  step: number;
  /** Micro-batches per step the run was started with (absent: 1); a resume must use the same. */
  accumulate?: number;
  epoch: number;
  batchInEpoch: number;
  rng: number;
  schedule: ScheduleState;
  epochLossSum: number;
  epochSteps: number;
  bestScore: number | null;
  bestEpoch: number | null;
  sinceBest: number;
  firstLoss: number | null;
  lastLoss: number | null;
  elapsed: number;
}

const LOG = 'log.jsonl';
const CKPT = 'checkpoint.safetensors';

export async function trainContrastive(o: ContrastiveOptions): Promise<TrainSummary> {
  const t0 = performance.now();
  const out = o.out;
  makeDir(out);
  const ckptFile = join(out, CKPT);
  const resuming = o.resume === true && existsSync(ckptFile);
  if (!o.resume && existsSync(ckptFile))
    throw new ClapError('already holds a training run: pass --resume to continue it, or choose another --out', { subject: out });

  const D = CONTRASTIVE_DEFAULTS;
  const seed = o.seed ?? D.seed;
  const batch = o.batch ?? D.batch;
  const epochs = o.epochs ?? D.epochs;
  if (!Number.isInteger(batch) || batch < 2) throw new ClapError('batch size must be an integer ≥ 2 (contrastive loss)');
  const accumulate = o.accumulate ?? D.accumulate;
  if (!Number.isInteger(accumulate) || accumulate < 1) throw new ClapError('accumulate must be an integer ≥ 1');
  const template = o.template ?? DEFAULT_TEMPLATE;

  // ---- data
  const items = readManifest(o.data, { template });
  let train: ManifestItem[];
  let val: ManifestItem[];
  if (o.val) {
    train = items;
    val = readManifest(o.val, { template });
  } else {
    const r = new Rng(seed ^ 0x5eed);
    ({ train, val } = splitItems(items, { fraction: o.valFraction ?? D.valFraction, by: o.splitBy ?? D.splitBy, seed }, () => r.next()));
  }
  if (train.length < batch * accumulate) {
    const what = accumulate > 1 ? `one step of ${accumulate} micro-batches of ${batch}` : `one batch of ${batch}`;
    throw new ClapError(`${train.length} training clips is fewer than ${what}`, { subject: o.data });
  }
  const testItems = o.test ? readManifest(o.test, { template }) : [];

  // ---- model config and starting weights: checked before any worker thread starts
  let loaded: StateDict | undefined;
  let cfg: ClapConfig;
  if (resuming) {
    loaded = await loadWeights(join(out, 'init.safetensors'));
    cfg = resolveTrainConfig(join(out, 'config.json'));
  } else {
    cfg = resolveTrainConfig(o.config, o.init && !o.config ? '2023' : D.config);
    if (o.init) loaded = await loadWeights(o.init);
  }
  const store = new FeatureStore({ maxClipSeconds: o.maxClipSeconds ?? D.maxClipSeconds, cacheDir: o.cacheDir, workers: o.workers });
  let owned: TrainStep | undefined;
  try {
    store.prefetch(train.map((it) => it.path));
    store.prefetch(val.map((it) => it.path));
    store.prefetch(testItems.map((it) => it.path));
    let base: StateDict;
    if (resuming) base = loaded!;
    else {
      if (loaded) base = loaded;
      else {
        const sd = randomClapStateDict(cfg, seed + 1);
        await setBn0Stats(sd, cfg, train, store);
        base = sd;
      }
      writeFileSync(join(out, 'config.json'), `${JSON.stringify(clapConfigToJson(cfg), null, 2)}\n`);
      await saveSafetensors(join(out, 'init.safetensors'), base);
      writeFileSync(
        join(out, 'train.json'),
        `${JSON.stringify({ ...o, progress: undefined, train_clips: train.length, val_clips: val.length }, null, 2)}\n`,
      );
    }
    const textLen = Math.min(o.textLen ?? Math.min(cfg.text.nPositions, D.textLen), cfg.text.nPositions);
    const cg = buildContrastiveGraph(base, cfg, batch, textLen);
    const frozen = new Set(o.freeze ?? []);
    const all = [...cg.graph.params.values()].map((p) => p.value).filter((v) => isFloatDtype(v.dtype));
    const used = dependsOn(cg.loss, all);
    const trainable = all.filter((v, i) => {
      if (!used[i]) return false;
      const grp = paramGroup(v.name, cfg);
      if (grp === 'audio_projection' || grp === 'text_projection') return !frozen.has('projection');
      return !frozen.has(grp);
    });
    if (trainable.length === 0) throw new ClapError('everything is frozen: nothing to train');
    const rank = new Map(trainable.map((v) => [v.name, v.rank]));
    const step = await buildTrainStep(cg.loss, {
      optimizer: {
        kind: o.optimizer ?? D.optimizer,
        ...(o.weightDecay !== undefined ? { weightDecay: o.weightDecay } : {}),
        decay: (n) => (rank.get(n) ?? 0) >= 2,
      },
      params: trainable,
      clipGradNorm: o.clipGrad,
      lr: o.lr ?? D.lr,
      accumulate,
      runtime: { threads: o.threads },
    });
    owned = step;
    const nTrainable = parameterCount(trainable);

    const stepsPerEpoch = Math.floor(train.length / (batch * accumulate));
    const sched: ScheduleConfig = {
      kind: o.schedule ?? D.schedule,
      lr: o.lr ?? D.lr,
      warmupSteps: o.warmupSteps ?? D.warmupSteps,
      totalSteps: Math.min(o.maxSteps ?? Infinity, stepsPerEpoch * epochs),
      minLr: o.minLr ?? D.minLr,
      patience: o.patience ?? D.patience,
      factor: 0.1,
    };

    let st: RunState = {
      step: 0,
      ...(accumulate > 1 ? { accumulate } : {}),
      epoch: 0,
      batchInEpoch: 0,
      rng: seed >>> 0,
      schedule: initialScheduleState(),
      epochLossSum: 0,
      epochSteps: 0,
      bestScore: null,
      bestEpoch: null,
      sinceBest: 0,
      firstLoss: null,
      lastLoss: null,
      elapsed: 0,
    };
    const logFile = join(out, LOG);
    if (resuming) {
      const ck = await loadCheckpoint<RunState>(ckptFile);
      if ((ck.state.accumulate ?? 1) !== accumulate) {
        throw new ClapError(`the run was started with --accumulate ${ck.state.accumulate ?? 1}; resume it with the same`, { subject: out });
      }
      step.loadParams(ck.params);
      step.loadOptimizerState(ck.optimizer);
      st = ck.state;
      truncateLog(logFile, st);
    } else {
      writeFileSync(logFile, '');
    }
    const log = jsonlLogger(logFile, true);
    const elapsedBefore = st.elapsed;
    log({
      type: resuming ? 'resume' : 'start',
      step: st.step,
      epoch: st.epoch,
      train_clips: train.length,
      val_clips: val.length,
      params_trainable: nTrainable,
      batch,
      ...(accumulate > 1 ? { accumulate } : {}),
      steps_per_epoch: stepsPerEpoch,
    });

    // ---- text
    const tok = defaultTokenizer();
    const tokCache = new Map<string, { ids: number[]; eos: number }>();
    const tokenize = (text: string): { ids: number[]; eos: number } => {
      let t = tokCache.get(text);
      if (!t) {
        const e = tok.encodeForClap(text);
        let ids = e.ids;
        let eos = e.eosPosition;
        if (ids.length > textLen) {
          ids = [...ids.slice(0, textLen - 1), ids[ids.length - 1]];
          eos = textLen - 1;
        }
        t = { ids, eos };
        tokCache.set(text, t);
      }
      return t;
    };

    // ---- batches: a pure function of (seed, epoch, batch index, step, micro-batch) so a resumed run sees
    // the same data; `b` counts micro-batches in the epoch (step index × accumulate + micro).
    const epochOrder = (epoch: number): number[] => new Rng((seed * 1000003 + epoch * 7919 + 17) >>> 0).shuffle(train.map((_, i) => i));
    let orderEpoch = -1;
    let order: number[] = [];
    const prepare = async (epoch: number, b: number, globalStep: number, micro = 0): Promise<Record<string, HostTensor>> => {
      if (orderEpoch !== epoch) {
        order = epochOrder(epoch);
        orderEpoch = epoch;
      }
      const idx = order.slice(b * batch, (b + 1) * batch);
      const rng = new Rng((seed * 2654435761 + globalStep * 40503 + 1 + micro * 0x9e3779b1) >>> 0);
      const feats = await Promise.all(idx.map((i) => store.get(train[i].path)));
      const logmel = new Float32Array(batch * CROP_FRAMES * MEL_BINS);
      const ids = new BigInt64Array(batch * textLen);
      const pool = new BigInt64Array(batch);
      const captions: string[] = [];
      const keys: string[] = [];
      idx.forEach((i, k) => {
        const f = feats[k];
        cropInto(f, rng.int(frameCountOf(f) - CROP_FRAMES + 1), logmel, k * CROP_FRAMES * MEL_BINS);
        const caps = train[i].captions;
        const cap = caps[rng.int(caps.length)];
        captions.push(cap);
        keys.push(
          (o.positives ?? D.positives) === 'label' && train[i].label !== undefined ? `label\0${train[i].label}` : `caption\0${cap}`,
        );
        const t = tokenize(cap);
        t.ids.forEach((id, j) => {
          ids[k * textLen + j] = BigInt(id);
        });
        pool[k] = BigInt(k * textLen + t.eos);
      });
      const targets = new Float32Array(batch * batch);
      for (let r = 0; r < batch; r++) {
        const same = keys.map((c, j) => (c === keys[r] ? j : -1)).filter((j) => j >= 0);
        for (const j of same) targets[r * batch + j] = 1 / same.length;
      }
      if (o.specAugment) {
        const sa = o.specAugment === true ? {} : o.specAugment;
        for (let k = 0; k < batch; k++) specAugment(logmel, k * CROP_FRAMES * MEL_BINS, CROP_FRAMES, MEL_BINS, rng, sa);
      }
      if (o.mixup && o.mixup > 0) mixupBatch(logmel, targets, batch, rng, o.mixup);
      return {
        logmel: { dtype: 'float32', shape: [batch, CROP_FRAMES, MEL_BINS], data: logmel },
        input_ids: { dtype: 'int64', shape: [batch, textLen], data: ids },
        pool_index: { dtype: 'int64', shape: [batch], data: pool },
        targets: { dtype: 'float32', shape: [batch, batch], data: targets },
      };
    };

    const saveCk = async (): Promise<void> => {
      st.elapsed = elapsedBefore + (performance.now() - t0) / 1000;
      await saveCheckpoint(ckptFile, { params: step.params(), optimizer: step.optimizerState(), state: st });
      log({ type: 'checkpoint', step: st.step, epoch: st.epoch });
    };

    const evaluate = async (): Promise<EpochMetrics | null> => {
      if (val.length === 0) return null;
      return evaluateSplit(exportStateDict(base, step.params()), cfg, val, store, template, o.threads);
    };

    // ---- loop
    const progress = o.progress;
    const tty = progress?.isTTY === true;
    let status: TrainSummary['status'] = 'finished';
    let lastVal: EpochMetrics | null = null;
    const runStart = performance.now();
    const stepAtStart = st.step;
    let lastProgress = 0;
    const deadline = o.maxMinutes !== undefined ? t0 + o.maxMinutes * 60_000 : Infinity;
    {
      outer: while (st.epoch < epochs) {
        const K = accumulate;
        let pending = st.batchInEpoch < stepsPerEpoch ? prepare(st.epoch, st.batchInEpoch * K, st.step) : undefined;
        while (st.batchInEpoch < stepsPerEpoch) {
          const nextStep = st.step + 1;
          const lr = learningRate(sched, st.schedule, nextStep);
          // K micro-batches, one optimiser update (after the last); the next micro-batch is prepared meanwhile.
          let lossSum = 0;
          let gradNorm: number | undefined;
          let updated = false;
          for (let m = 0; m < K; m++) {
            const feeds = await pending!;
            const last = m + 1 === K;
            const nb = last ? st.batchInEpoch + 1 : st.batchInEpoch;
            pending =
              nb < stepsPerEpoch ? prepare(st.epoch, nb * K + (last ? 0 : m + 1), last ? nextStep : st.step, last ? 0 : m + 1) : undefined;
            const micro = await step.run(feeds, { lr });
            if (!Number.isFinite(micro.loss))
              throw new ClapError(`the loss became ${micro.loss} at step ${nextStep}; lower --lr or set --clip-grad`);
            lossSum += micro.loss;
            gradNorm = micro.gradNorm;
            updated = micro.updated;
          }
          if (!updated) throw new Error(`internal: no optimiser update after ${K} micro-batches`);
          const r = { loss: lossSum / K, gradNorm };
          st.step = nextStep;
          st.batchInEpoch++;
          st.epochLossSum += r.loss;
          st.epochSteps++;
          st.firstLoss ??= r.loss;
          st.lastLoss = r.loss;
          st.rng = (seed * 2654435761 + nextStep * 40503 + 1) >>> 0;
          const now = performance.now();
          const done = st.step - stepAtStart;
          const sps = (now - runStart) / 1000 / done;
          log({
            type: 'step',
            step: st.step,
            epoch: st.epoch,
            loss: r.loss,
            lr,
            ...(r.gradNorm !== undefined ? { grad_norm: r.gradNorm } : {}),
            clips_per_s: (batch * K) / sps,
            elapsed_s: elapsedBefore + (now - t0) / 1000,
          });
          if (progress && (tty ? now - lastProgress > 200 : now - lastProgress > 10_000 || st.step === 1)) {
            lastProgress = now;
            const total = sched.totalSteps;
            const eta = (total - st.step) * sps;
            const line = `step ${st.step}/${total} epoch ${st.epoch + 1}/${epochs} loss ${r.loss.toFixed(4)} lr ${lr.toExponential(2)} ${((batch * K) / sps).toFixed(1)} clips/s ETA ${fmt(eta)}`;
            progress.write(tty ? `\r${line}\x1b[K` : `${line}\n`);
          }
          if (o.checkpointEvery && st.step % o.checkpointEvery === 0) await saveCk();
          if (o.maxSteps !== undefined && st.step >= o.maxSteps) {
            status = 'max_steps';
            break outer;
          }
          if (performance.now() > deadline) {
            status = 'time_limit';
            break outer;
          }
        }
        // ---- end of epoch
        const trainLoss = st.epochLossSum / Math.max(1, st.epochSteps);
        lastVal = await evaluate();
        const testVal =
          testItems.length > 0
            ? await evaluateSplit(exportStateDict(base, step.params()), cfg, testItems, store, template, o.threads)
            : undefined;
        const score = lastVal ? (lastVal.zero_shot_acc ?? (lastVal.a2t_r10! + lastVal.t2a_r10!) / 2) : -trainLoss;
        const improved = st.bestScore === null || score > st.bestScore;
        const reduced = endOfEpoch(sched, st.schedule, score);
        if (improved) {
          st.bestScore = score;
          st.bestEpoch = st.epoch + 1;
          st.sinceBest = 0;
          if (lastVal) await savePth(join(out, 'best.pth'), exportStateDict(base, step.params()));
        } else {
          st.sinceBest++;
        }
        log({
          type: 'epoch',
          epoch: st.epoch + 1,
          step: st.step,
          train_loss: trainLoss,
          score,
          best: improved,
          lr_reduced: reduced,
          logit_scale: Number(step.param('logit_scale').data[0]),
          ...(lastVal ? { val: lastVal } : {}),
          ...(testVal ? { test: testVal } : {}),
        });
        if (progress)
          progress.write(
            `${tty ? '\r\x1b[K' : ''}epoch ${st.epoch + 1}/${epochs}: train loss ${trainLoss.toFixed(4)}${lastVal ? ` ${describeVal(lastVal)}` : ''}${improved ? ' (best)' : ''}\n`,
          );
        st.epoch++;
        st.batchInEpoch = 0;
        st.epochLossSum = 0;
        st.epochSteps = 0;
        await saveCk();
        if (o.earlyStop !== undefined && st.sinceBest >= o.earlyStop) {
          status = 'early_stop';
          break;
        }
        if (performance.now() > deadline) {
          status = 'time_limit';
          break;
        }
      }
      if (status === 'time_limit' || status === 'max_steps') await saveCk();
      if (progress && tty) progress.write('\r\x1b[K');

      // ---- final weights: the best validation epoch when there is one, else the last step
      const finalPth = join(out, 'final.pth');
      const last = exportStateDict(base, step.params());
      let finalSd: StateDict = last;
      if (val.length > 0 && st.bestEpoch !== null && existsSync(join(out, 'best.pth'))) finalSd = await loadWeights(join(out, 'best.pth'));
      await saveWeights(out, 'final', finalSd);
      const seconds = elapsedBefore + (performance.now() - t0) / 1000;
      const ran = st.step - stepAtStart;
      const summary: TrainSummary = {
        run_dir: out,
        status,
        steps: st.step,
        epochs_completed: st.epoch,
        best_epoch: st.bestEpoch,
        best_score: st.bestScore,
        final_weights: finalPth,
        config: join(out, 'config.json'),
        params_trainable: nTrainable,
        first_loss: st.firstLoss,
        last_loss: st.lastLoss,
        seconds,
        seconds_per_step: ran > 0 ? (performance.now() - runStart) / 1000 / ran : null,
        val: lastVal,
      };
      return finishRun(out, log, summary);
    }
  } finally {
    await owned?.release();
    await store.close();
  }
}

function describeVal(v: EpochMetrics): string {
  const parts: string[] = [];
  if (v.a2t_r10 !== undefined) parts.push(`R@1 ${pct(v.a2t_r1!)} R@10 ${pct(v.a2t_r10)} (a→t)`);
  if (v.zero_shot_acc !== undefined) parts.push(`zero-shot ${pct(v.zero_shot_acc)} of ${v.zero_shot_classes} classes`);
  return parts.join(', ');
}

const pct = (x: number): string => `${(100 * x).toFixed(1)}%`;

function fmt(s: number): string {
  if (!Number.isFinite(s)) return '--:--';
  const m = Math.floor(s / 60);
  return m >= 60 ? `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m` : `${m}:${String(Math.round(s % 60)).padStart(2, '0')}`;
}

/** Keeps the log lines up to the checkpoint being resumed (steps after it will be run again). */
function truncateLog(file: string, st: RunState): void {
  if (!existsSync(file)) return;
  const kept = readFileSync(file, 'utf8')
    .split('\n')
    .filter((l) => {
      if (!l.trim()) return false;
      try {
        const e = JSON.parse(l) as { type?: string; step?: number; epoch?: number };
        if (e.type === 'step' || e.type === 'checkpoint') return (e.step ?? 0) <= st.step;
        if (e.type === 'epoch') return (e.epoch ?? 0) <= st.epoch;
        return e.type !== 'end';
      } catch {
        return false;
      }
    });
  writeFileSync(file, kept.length ? `${kept.join('\n')}\n` : '');
}

/**
 * bn0's running statistics from the training data (per mel bin over the first 7 s of up to 256 clips),
 * weight 1 and bias 0: from scratch, the log-mel enters the Swin normalised. (bn0 runs in eval mode
 * during training: these statistics stay fixed.)
 */
async function setBn0Stats(sd: Map<string, HostTensor>, cfg: ClapConfig, train: ManifestItem[], store: FeatureStore): Promise<void> {
  const M = cfg.htsat.melBins;
  const P = `${cfg.audioPrefix}base.htsat.bn0.`;
  const sum = new Float64Array(M);
  const sq = new Float64Array(M);
  let n = 0;
  const sample = train.slice(0, 256);
  const buf = new Float32Array(CROP_FRAMES * MEL_BINS);
  for (const it of sample) {
    cropInto(await store.get(it.path), 0, buf, 0);
    for (let f = 0; f < CROP_FRAMES; f++) {
      for (let m = 0; m < M; m++) {
        const v = buf[f * M + m];
        sum[m] += v;
        sq[m] += v * v;
      }
    }
    n += CROP_FRAMES;
  }
  const mean = Float32Array.from(sum, (s) => s / n);
  const variance = Float32Array.from(sq, (s, m) => Math.max(1e-3, s / n - mean[m] * mean[m]));
  sd.set(`${P}running_mean`, { dtype: 'float32', shape: [M], data: mean });
  sd.set(`${P}running_var`, { dtype: 'float32', shape: [M], data: variance });
  sd.set(`${P}weight`, { dtype: 'float32', shape: [M], data: new Float32Array(M).fill(1) });
  sd.set(`${P}bias`, { dtype: 'float32', shape: [M], data: new Float32Array(M) });
}

/**
 * Retrieval and zero-shot metrics of weights `sd` on `items` through the inference path (`Clap`): the
 * first 7 s of each clip; every caption of every clip; classes = the distinct labels, prompted with the
 * template.
 */
export async function evaluateSplit(
  sd: StateDict,
  cfg: ClapConfig,
  items: readonly ManifestItem[],
  store: FeatureStore,
  template: string,
  threads?: number,
): Promise<EpochMetrics> {
  const clap = await Clap.load({ weights: toStateDict(sd), config: cfg, threads });
  try {
    const mels: Float32Array[] = [];
    for (const it of items) {
      const m = new Float32Array(CROP_FRAMES * MEL_BINS);
      cropInto(await store.get(it.path), 0, m, 0);
      mels.push(m);
    }
    const audio = await clap.embedLogMels(mels, 16);
    const captions: string[] = [];
    const captionClip: number[] = [];
    items.forEach((it, i) =>
      it.captions.forEach((c) => {
        captions.push(c);
        captionClip.push(i);
      }),
    );
    const unique = [...new Set(captions)];
    const uEmb = await embedTexts(clap, unique);
    const byText = new Map(unique.map((c, i) => [c, uEmb[i]]));
    const sim = cosineMatrix(
      audio,
      captions.map((c) => byText.get(c)!),
    );
    const metrics: EpochMetrics = { ...retrieval(sim, captionClip, captions), val_clips: items.length, val_captions: captions.length };
    metrics.val_texts = unique.length;
    const labels = [...new Set(items.map((it) => it.label).filter((l): l is string => l !== undefined))].sort();
    if (labels.length >= 2) {
      const labelled = items.map((it, i) => [it, i] as const).filter(([it]) => it.label !== undefined);
      const prompts = await embedTexts(
        clap,
        labels.map((l) => applyTemplate(template, l)),
      );
      const zs = cosineMatrix(
        labelled.map(([, i]) => audio[i]),
        prompts,
      );
      metrics.zero_shot_acc = zeroShotAccuracy(
        zs,
        labelled.map(([it]) => labels.indexOf(it.label!)),
      );
      metrics.zero_shot_classes = labels.length;
      metrics.zero_shot_chance = 1 / labels.length;
    }
    return metrics;
  } finally {
    await clap.release();
  }
}

async function embedTexts(clap: Clap, texts: string[]): Promise<Float32Array[]> {
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += 64) out.push(...(await clap.embedText(texts.slice(i, i + 64))));
  return out;
}
