/**
 * Compiling a graph of a model ("a tower": CLAP's audio and text encoders, clapcap's mapper and decoder),
 * the one way every task gets a session: from the model cache when it holds the optimised graph (the
 * weights are then not read at all), else built from the weights at the requested precision, compiled, and
 * stored for next time.
 */
import { ClapError } from '../errors.js';
import type { Graph, RuntimeOptions, Session } from '../engine/index.js';
import { applyPrecision, type Precision } from '../engine/quant.js';
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
  runtime: RuntimeOptions;
}

/** The cache key of graph `name` of the context's model, or undefined when it is not cached. */
export function towerKey(ctx: TowerContext, name: string, precision: Precision = ctx.precision): string | undefined {
  return ctx.modelKey && ctx.cache.graphKey(ctx.modelKey, name, precision, ctx.runtime.optimization ?? 'all');
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
    async () => towerGraph(await ctx.weights.tensors(), name, build, precision),
    ctx.runtime,
  );
}

/** Graph `name` built from `sd` at `precision` (also what `exportOnnx` writes). */
export function towerGraph(sd: StateDict, name: string, build: (sd: StateDict) => Graph, precision: Precision): Graph {
  const g = build(sd);
  if (g.name !== name) throw new ClapError(`internal: the builder for '${name}' made '${g.name}'`);
  applyPrecision(g, precision);
  return g;
}
