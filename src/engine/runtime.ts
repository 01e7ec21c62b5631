import { writeFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import type { Graph } from './graph.js';
import { emitOnnx, type EmitOptions } from './onnx/emit.js';
import type { DType, HostTensor } from './tensor.js';
import { lookupModel, evictModel, modelBuildPaths, resolveCacheDir, type CacheOptions } from './cache.js';

// onnxruntime-node 1.30's Linux build starts Microsoft's telemetry client with its first session (events for an
// Internet collector, a session file and a debug log left in TMPDIR) unless this is set. A tool that reads people's
// sound libraries sends nothing anywhere: off unless the user has set it. Read when the first session is created.
process.env.ORT_DISABLE_TELEMETRY ??= '1';

export interface RuntimeOptions extends CacheOptions {
  /** Intra-op threads; default: the CLAP_THREADS environment variable, else ORT's default (all cores). */
  threads?: number;
  /** ORT graph optimisation level. */
  optimization?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Spin-waiting threads are faster on an idle machine and slower on a busy one. */
  spinning?: boolean;
  /** Write ORT's optimised model here (for inspection or cache). */
  optimizedModelPath?: string;
}

const ORT_TYPE: Partial<Record<DType, ort.Tensor.Type>> = {
  float32: 'float32',
  float64: 'float64',
  int64: 'int64',
  int32: 'int32',
  int8: 'int8',
  uint8: 'uint8',
  bool: 'bool',
  float16: 'float16',
};

/** A HostTensor as an ORT tensor over the same memory (no copy). */
export function toOrt(t: HostTensor): ort.Tensor {
  const type = ORT_TYPE[t.dtype];
  if (!type) throw new Error(`dtype ${t.dtype} cannot be fed to the runtime`);
  return new ort.Tensor(type, t.data as never, t.shape);
}

/** An ORT tensor as a HostTensor over the same memory (no copy). */
export function fromOrt(t: ort.Tensor): HostTensor {
  return { dtype: t.type as DType, shape: [...t.dims], data: t.data as HostTensor['data'] };
}

/** The intra-op threads asked for (the option, else CLAP_THREADS), or undefined for ORT's default (all cores). */
export function configuredThreads(options: Pick<RuntimeOptions, 'threads'>): number | undefined {
  const envThreads = Number(process.env.CLAP_THREADS);
  return options.threads ?? (Number.isInteger(envThreads) && envThreads > 0 ? envThreads : undefined);
}

/** A compiled graph: one ORT InferenceSession, reused for every call. */
export class Session {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {}

  static async fromBytes(model: Uint8Array, options: RuntimeOptions = {}): Promise<Session> {
    return Session.create(model, options);
  }

  /** A session from a model file (ORT reads it itself: lower peak memory than from bytes). */
  static async fromPath(path: string, options: RuntimeOptions = {}): Promise<Session> {
    return Session.create(path, options);
  }

  /**
   * A session for the model `key` from the on-disk cache (see cache.ts), or built with `build` (a graph,
   * or its ONNX bytes) and stored optimised for next time. Without a cache directory, compiles directly.
   */
  static async cached(
    key: string,
    build: () => Graph | Uint8Array | Promise<Graph | Uint8Array>,
    options: RuntimeOptions & EmitOptions = {},
  ): Promise<Session> {
    const dir = resolveCacheDir(options.cacheDir);
    const hit = lookupModel(dir, key);
    if (hit) {
      try {
        return await Session.create(hit.path, { ...options, optimizedModelPath: undefined });
      } catch {
        evictModel(dir!, key); // damaged: rebuild
      }
    }
    const built = await build();
    let bytes: Uint8Array | undefined = built instanceof Uint8Array ? built : emitOnnx(built, options);
    if (!dir) return Session.fromBytes(bytes, options);
    let paths: ReturnType<typeof modelBuildPaths>;
    try {
      paths = modelBuildPaths(dir, key);
      writeFileSync(paths.raw, bytes);
    } catch {
      return Session.fromBytes(bytes, options); // cache not writable
    }
    bytes = undefined; // ORT reads the file: the JS copy can go
    try {
      const session = await Session.create(paths.raw, { ...options, optimizedModelPath: paths.optimized, quiet: true });
      try {
        paths.commit();
      } catch {
        /* another writer or a full disk: the session is fine */
      }
      return session;
    } finally {
      paths.cleanup();
    }
  }

  private static async create(model: Uint8Array | string, options: RuntimeOptions & { quiet?: boolean }): Promise<Session> {
    const threads = configuredThreads(options);
    const session = await ort.InferenceSession.create(model as Uint8Array, {
      // Warnings only when asked (the optimised-model writer warns that the file is CPU-specific: the cache key says so).
      ...(options.quiet ? { logSeverityLevel: 3 as const } : {}),
      executionProviders: ['cpu'],
      graphOptimizationLevel: options.optimization ?? 'all',
      executionMode: 'sequential',
      ...(threads ? { intraOpNumThreads: threads, interOpNumThreads: 1 } : {}),
      ...(options.optimizedModelPath ? { optimizedModelFilePath: options.optimizedModelPath } : {}),
      // Not ORT's set_denormal_as_zero: it sets flush-to-zero on the calling thread, which silently changes
      // JavaScript float arithmetic too. Graphs that make subnormals (HTSAT's masked softmax) flush them in-graph.
      extra: { session: { intra_op: { allow_spinning: options.spinning ? '1' : '0' } } },
    });
    return new Session(session, session.inputNames, session.outputNames);
  }

  static async compile(graph: Graph, options: RuntimeOptions & EmitOptions = {}): Promise<Session> {
    return Session.fromBytes(emitOnnx(graph, options), options);
  }

  async run(feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
    const ortFeeds: Record<string, ort.Tensor> = {};
    for (const name of this.inputNames) {
      const t = feeds[name];
      if (!t) throw new Error(`missing graph input ${name}`);
      ortFeeds[name] = toOrt(t);
    }
    const result = await this.session.run(ortFeeds);
    const out: Record<string, HostTensor> = {};
    for (const name of this.outputNames) out[name] = fromOrt(result[name]);
    return out;
  }

  /**
   * Low-level run on ORT tensors, with no conversion. `fetches` names the outputs to compute; an
   * ort.Tensor there is a pre-allocated buffer ORT writes the output into, null lets ORT allocate.
   */
  async runOrt(feeds: Record<string, ort.Tensor>, fetches?: Record<string, ort.Tensor | null>): Promise<Record<string, ort.Tensor>> {
    return (fetches ? this.session.run(feeds, fetches) : this.session.run(feeds)) as Promise<Record<string, ort.Tensor>>;
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}
