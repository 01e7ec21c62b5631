/**
 * Choosing a batch size by measurement: the best batch differs by CPU (on an AVX2 EPYC batch 8 falls out
 * of cache and costs more per item than batch 1; AVX-512 machines gain from it). `probeBatches` times a
 * run function at candidate batches and `bestBatch` picks the lowest cost per item. What runs, and where
 * the choice is kept, is the caller's (tasks/calibration.ts).
 */
import { availableParallelism, loadavg } from 'node:os';

/** Seconds so far: wall clock, and CPU time of this process (all threads). Injectable for tests. */
export type Clock = () => { wall: number; cpu: number };

export const processClock: Clock = () => {
  const c = process.cpuUsage();
  return { wall: performance.now() / 1000, cpu: (c.user + c.system) / 1e6 };
};

/**
 * What a batch is judged by: wall seconds per item on an idle machine; CPU seconds per item on a busy one
 * (load average above the core count), where other processes make wall time swing but hardly CPU time.
 */
export type CostMetric = 'wall' | 'cpu';

export function costMetric(load = loadavg()[0], cores = availableParallelism()): CostMetric {
  return load > cores ? 'cpu' : 'wall';
}

/** The measured runs at one batch size: items processed, and their total wall and CPU seconds. */
export interface BatchProbe {
  batch: number;
  items: number;
  wall: number;
  cpu: number;
}

export function costPerItem(p: BatchProbe, metric: CostMetric): number {
  return (metric === 'wall' ? p.wall : p.cpu) / p.items;
}

export interface ProbeOptions {
  /** Candidate batch sizes, ascending. */
  batches: readonly number[];
  metric: CostMetric;
  /** Candidates stop once one costs more per item than this factor × the best so far (larger ones only fall further out of cache). Default 1.25. */
  stopAbove?: number;
  clock?: Clock;
}

/**
 * Times one run of `run(batch)` at each candidate batch (the caller warms the session up first), after the
 * probes already made (`done`); returns them all.
 */
export async function probeBatches(
  run: (batch: number) => Promise<unknown>,
  options: ProbeOptions,
  done: readonly BatchProbe[] = [],
): Promise<BatchProbe[]> {
  const clock = options.clock ?? processClock;
  const probes = [...done];
  for (const batch of options.batches) {
    const probe = await probeBatch(run, batch, 1, clock);
    probes.push(probe);
    const best = Math.min(...probes.map((p) => costPerItem(p, options.metric)));
    if (costPerItem(probe, options.metric) > best * (options.stopAbove ?? 1.25)) break;
  }
  return probes;
}

/** `runs` runs of `run(batch)`, timed together. */
export async function probeBatch(
  run: (batch: number) => Promise<unknown>,
  batch: number,
  runs: number,
  clock = processClock,
): Promise<BatchProbe> {
  const t0 = clock();
  for (let i = 0; i < runs; i++) await run(batch);
  const t1 = clock();
  return { batch, items: batch * runs, wall: t1.wall - t0.wall, cpu: t1.cpu - t0.cpu };
}

/**
 * The batch with the lowest cost per item; a smaller batch within `tolerance` of it wins (less latency and
 * memory for the same throughput, and measurement noise is not a reason to batch more).
 */
export function bestBatch(probes: readonly BatchProbe[], metric: CostMetric, tolerance = 0.03): number {
  if (probes.length === 0) throw new Error('no batch probes');
  const best = Math.min(...probes.map((p) => costPerItem(p, metric)));
  return [...probes].sort((a, b) => a.batch - b.batch).find((p) => costPerItem(p, metric) <= best * (1 + tolerance))!.batch;
}
