/**
 * Compiling a graph of a model ("a tower": CLAP's audio and text encoders, clapcap's mapper and decoder),
 * the one way every task gets a session: from the model cache when it holds the optimised graph (the
 * weights are then not read at all), else built from the weights at the requested precision, compiled, and
 * stored for next time.
 */
import { ClapError } from '../errors.js';
import type { Graph, RuntimeOptions, Session } from '../engine/index.js';
import { applyPrecision, exactInt8Weights, type Int8Weights, type Precision, precisionKey } from '../engine/quant.js';
import type { StateDict } from '../weights/index.js';
import type { ModelCache } from './model-cache.js';
import type { WeightsSource } from './weights-source.js';

/** A loaded model's weights, cache and compile settings: what every tower of it is compiled with. */
export interface TowerContext {
  weights: WeightsSource;
  cache: ModelCache;
  /** The model's key in the cache (weights + config), or undefined to compile without caching. */
  modelKey?: string;
  precision: Precision;
  /** 'int8': how the weights are stored — the encoding ORT multiplies exactly on this CPU (`int8WeightsFor`). */
  int8Weights?: Int8Weights;
  runtime: RuntimeOptions;
}

/** The context with `threads` intra-op threads (a calibration's choice), or as it is when undefined. */
export function withThreads(ctx: TowerContext, threads: number | undefined): TowerContext {
  return threads === undefined ? ctx : { ...ctx, runtime: { ...ctx.runtime, threads } };
}

/** The int8 weight encoding for a model loaded at `precision` (probed once per process; engine/quant.ts). */
export async function int8WeightsFor(precision: Precision): Promise<Int8Weights | undefined> {
  return precision === 'int8' ? exactInt8Weights() : undefined;
}

/** The cache key of graph `name` of the context's model, or undefined when it is not cached. */
export function towerKey(ctx: TowerContext, name: string, precision: Precision = ctx.precision): string | undefined {
  return (
    ctx.modelKey && ctx.cache.graphKey(ctx.modelKey, name, precisionKey(precision, ctx.int8Weights), ctx.runtime.optimization ?? 'all')
  );
}

/**
 * The session of graph `name`, built by `build` (which must make a graph of that name) when the cache
 * does not hold it. `precision` overrides the context's (e.g. fp32 for a graph precision does not apply to).
 */
export function compileTower(
  ctx: TowerContext,
  name: string,
  build: (sd: StateDict) => Graph,
  precision = ctx.precision,
): Promise<Session> {
  return ctx.cache.session(
    towerKey(ctx, name, precision),
    async () => towerGraph(await ctx.weights.tensors(), name, build, precision, ctx.int8Weights),
    ctx.runtime,
  );
}

/**
 * Graph `name` built from `sd` at `precision` (also what `exportOnnx` writes, with the portable uint8 int8
 * weights: exact with every ORT CPU kernel).
 */
export function towerGraph(
  sd: StateDict,
  name: string,
  build: (sd: StateDict) => Graph,
  precision: Precision,
  int8Weights: Int8Weights = 'uint8',
): Graph {
  const g = build(sd);
  if (g.name !== name) throw new ClapError(`internal: the builder for '${name}' made '${g.name}'`);
  applyPrecision(g, precision, { int8Weights });
  return g;
}
