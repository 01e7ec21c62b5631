/**
 * The batch size a tower runs at on this CPU (and for the audio encoder, 1 intra-op thread or ORT's
 * default), chosen in this order: the caller's batch (`--batch`, `batchSize`), the environment (CLAP_BATCH
 * for audio windows, CLAP_TEXT_BATCH for texts), the calibration kept in the model cache beside the
 * optimised graph, or a calibration measured now on synthetic input (engine/calibrate.ts) and kept.
 *
 * A calibration is keyed on the graph's cache key (weights, config, graph version, precision, ORT and
 * package versions, CPU model) plus the instruction-set level, the core count and the threads asked for:
 * any of these changing measures again. A kept record that is unreadable or malformed is measured again
 * and overwritten. Without a model cache (in-memory weights, CLAP_CACHE_DIR=off) the batch is measured
 * once per loaded model, and threads stay ORT's default (trying 1 thread would compile the graph again).
 */
import { availableParallelism } from 'node:os';
import { ClapError } from '../errors.js';
import { hashKey } from '../engine/cache.js';
import {
  type BatchProbe,
  bestBatch,
  type Clock,
  type CostMetric,
  costMetric,
  costPerItem,
  probeBatch,
  probeBatches,
  processClock,
} from '../engine/calibrate.js';
import { cpuInfo } from '../engine/cpu.js';
import { configuredThreads, type Session } from '../engine/index.js';
import type { ModelCache } from './model-cache.js';
import { type TowerContext, towerKey } from './towers.js';

/** Bump when the record's meaning changes (older records are then measured again). */
export const CALIBRATION_VERSION = 1;

/** A batch (and threads) choice as kept in the model cache. */
export interface Calibration {
  version: number;
  batch: number;
  /** 1 when one intra-op thread measured faster than ORT's default, else null (ORT's default: all cores). */
  threads: 1 | null;
  metric: CostMetric;
  /** The model is so small that batching hardly matters: the default batch is kept without probing. */
  small: boolean;
  probes: BatchProbe[];
  /** ORT's default threads and 1 thread at batch 1, when compared. */
  threadProbes?: { default: BatchProbe; one: BatchProbe };
  /** The CPU it was measured on (for people reading the file; the key already holds it). */
  cpu: string;
}

/** What a tower calibrates: its candidate batches and overrides. */
export interface TuningSpec {
  /** The environment variable that sets the batch. */
  env: string;
  /** The batch without calibration (small models, CLAP_CALIBRATE=off). */
  defaultBatch: number;
  /** Candidates, ascending, each timed over one run (batch 1 first when it is one: it also tells a small model). */
  batches: readonly number[];
  /** Whether 1 intra-op thread is compared with ORT's default. */
  threads: boolean;
}

/** Audio windows per encoder run: 1–8 (a 7 s HTSAT window is ≈ 2 MB of activations per layer; 8 falls out of cache on some CPUs). */
export const AUDIO_TUNING: TuningSpec = { env: 'CLAP_BATCH', defaultBatch: 4, batches: [1, 2, 4, 8], threads: true };

/** Texts per text-encoder run (measured on 12-token texts). */
export const TEXT_TUNING: TuningSpec = { env: 'CLAP_TEXT_BATCH', defaultBatch: 64, batches: [16, 32, 64], threads: false };

/**
 * CPU seconds per item at batch 1 under which a model counts as small: the test fixtures' tiny HTSAT takes
 * 0.01–0.03 s per 7 s window, full-size models 0.1–0.35 s (AVX-512 to a loaded AVX2 machine).
 */
export const SMALL_ITEM_CPU_S = 0.05;

/** A positive integer from environment variable `name`, or undefined when unset; anything else is an error naming it. */
export function envBatch(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1) throw new ClapError(`${name} must be a positive integer, got '${raw}'`);
  return n;
}

/** Whether calibration is on (CLAP_CALIBRATE=off keeps every tower at its default batch and threads). */
export function calibrationEnabled(): boolean {
  return !['off', '0', 'false'].includes(process.env.CLAP_CALIBRATE ?? '');
}

/** The cache key of a calibration of graph `graphKey` with `threads` asked for (undefined: ORT's default). */
export function calibrationKey(graphKey: string | undefined, threads: number | undefined, isa = cpuInfo().isa): string | undefined {
  return (
    graphKey && hashKey(graphKey, `calibration-v${CALIBRATION_VERSION}`, isa, String(availableParallelism()), String(threads ?? 'default'))
  );
}

/** The batch (and threads) choice of graph `name` of a loaded model. */
export function towerTuning(ctx: TowerContext, name: string, spec: TuningSpec): Tuning {
  const threads = configuredThreads(ctx.runtime);
  return new Tuning(spec, ctx.cache, calibrationKey(towerKey(ctx, name), threads), threads !== undefined);
}

function validCalibration(r: unknown, spec: TuningSpec): r is Calibration {
  const c = r as Partial<Calibration> | undefined;
  return (
    typeof c === 'object' &&
    c !== null &&
    c.version === CALIBRATION_VERSION &&
    Number.isInteger(c.batch) &&
    (c.batch as number) >= 1 &&
    (c.threads === null || (c.threads === 1 && spec.threads)) &&
    Array.isArray(c.probes)
  );
}

/** One tower's batch choice: overrides, the kept calibration, or a new one. */
export class Tuning {
  private keptRecord?: Calibration | null;

  constructor(
    readonly spec: TuningSpec,
    private readonly cache: ModelCache,
    /** calibrationKey(...), or undefined without a model cache. */
    private readonly key: string | undefined,
    /** Whether the caller fixed the threads (then only the batch is calibrated). */
    private readonly threadsFixed: boolean,
    /** How time is read and which cost counts (tests inject both). */
    private readonly measure: { clock: Clock; metric: () => CostMetric } = { clock: processClock, metric: costMetric },
  ) {}

  /** The batch set by the environment, if any. */
  override(): number | undefined {
    return envBatch(this.spec.env);
  }

  /** The calibration kept in the cache (read once), if valid. */
  kept(): Calibration | undefined {
    if (this.keptRecord === undefined) {
      const r = this.cache.record<unknown>(this.key, 'calibration');
      this.keptRecord = validCalibration(r, this.spec) ? r : null;
    }
    return this.keptRecord ?? undefined;
  }

  /** The batch without measuring: the environment's, else the kept one; undefined when a calibration is due. */
  known(): number | undefined {
    const set = this.override() ?? this.kept()?.batch;
    return set ?? (calibrationEnabled() ? undefined : this.spec.defaultBatch);
  }

  /**
   * Measures `run(session, batch)` once per candidate batch after a warm-up: a model whose first item costs
   * under SMALL_ITEM_CPU_S keeps the default batch. When threads are free, the machine is not busy and there is
   * a cache to keep the answer, 1 thread (`oneThread()` compiles it) is timed against ORT's default at batch
   * 1 first, where parallelism pays least: it is kept only when at least as fast, and the batches are then
   * probed with it. Keeps the result; returns it with the session to use (the other one is released).
   */
  async calibrate(
    session: Session,
    run: (session: Session, batch: number) => Promise<unknown>,
    oneThread: () => Promise<Session>,
  ): Promise<{ calibration: Calibration; session: Session }> {
    const { spec } = this;
    const { clock } = this.measure;
    const metric = this.measure.metric();
    const base = { version: CALIBRATION_VERSION, threads: null, metric, cpu: `${cpuInfo().model} (${cpuInfo().isa})` } as const;
    const first = spec.batches[0];
    await run(session, first); // warm-up
    let probe = await probeBatch((b) => run(session, b), first, 1, clock);
    if (first === 1 && probe.cpu < SMALL_ITEM_CPU_S) {
      return this.keep({ ...base, batch: spec.defaultBatch, small: true, probes: [probe] }, session);
    }
    let chosen = session;
    let threadProbes: Calibration['threadProbes'];
    if (spec.threads && first === 1 && !this.threadsFixed && this.key && metric === 'wall' && availableParallelism() > 1) {
      const single = await oneThread();
      await run(single, 1); // warm-up
      const one = await probeBatch((b) => run(single, b), 1, 1, clock);
      const dflt = await probeBatch((b) => run(session, b), 1, 1, clock);
      threadProbes = { default: dflt, one };
      const oneWins = costPerItem(one, 'wall') <= costPerItem(dflt, 'wall');
      [chosen, probe] = oneWins ? [single, one] : [session, dflt];
      await (oneWins ? session : single).release();
    }
    const probes = await probeBatches((b) => run(chosen, b), { batches: spec.batches.slice(1), metric, clock }, [probe]);
    const calibration: Calibration = {
      ...base,
      batch: bestBatch(probes, metric),
      threads: chosen === session ? null : 1,
      small: false,
      probes,
      ...(threadProbes ? { threadProbes } : {}),
    };
    return this.keep(calibration, chosen);
  }

  private keep(calibration: Calibration, session: Session): { calibration: Calibration; session: Session } {
    this.cache.setRecord(this.key, 'calibration', calibration);
    this.keptRecord = calibration;
    return { calibration, session };
  }
}
