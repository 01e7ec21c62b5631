/**
 * The model cache: everything the library keeps on disk to start fast, under one key scheme and one I/O
 * policy. Files in the cache directory (engine/cache.ts resolves it: $CLAP_CACHE_DIR, XDG, ~/.cache):
 *
 *   <model>.<kind>.json         small records about a model: its resolved config (`model`), ...
 *   <graph>.onnx (+ .onnx.json) an optimised ORT model of one graph (engine/cache.ts checks and stores it)
 *   <texts>.f32                 text embeddings of a label set seen before
 *   <file>.weights.json         the tensor hash of a weights file version
 *
 * Keys: a model = weights file fingerprint (path, size, mtime, sampled blocks) + explicit config + the
 * runtime (cache format, package and ORT versions, CPU) + MODEL_RECORD_VERSION; a graph = its model +
 * graph name and version (src/models/graph-versions.ts) + precision + ORT optimisation level; texts =
 * their graph's key + pooling + the texts. In-memory weights are not cached (no stable identity).
 *
 * I/O policy: the cache is an optimisation. A read that fails or finds damaged data is a miss (a damaged
 * optimised model is deleted and rebuilt), a write that fails is skipped; neither is an error. Every
 * write is atomic (temp file + rename), so concurrent processes never see a partial file.
 */
import { readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  atomicWrite,
  engineFingerprint,
  hashKey,
  lookupModel,
  readCacheJson,
  resolveCacheDir,
  writeCacheJson,
  type CacheOptions,
} from '../engine/cache.js';
import { type Graph, type RuntimeOptions, Session } from '../engine/index.js';
import { graphVersion } from '../models/graph-versions.js';
import { hashStateDict } from '../weights/index.js';
import type { WeightsSource } from './weights-source.js';
import { makeDirs } from '../files.js';

/** Bump when what a model record holds changes shape (e.g. a new config field the loaders rely on). */
export const MODEL_RECORD_VERSION = 2;

export class ModelCache {
  /** The cache directory, or undefined when caching is off. */
  readonly dir: string | undefined;

  constructor(options: CacheOptions = {}) {
    this.dir = resolveCacheDir(options.cacheDir);
  }

  /** The key of a model (weights + explicit config), or undefined when it cannot be cached. */
  modelKey(weights: WeightsSource, config: unknown): string | undefined {
    if (!this.dir) return undefined;
    const file = weights.fingerprint();
    return file === undefined
      ? undefined
      : hashKey(`model-v${MODEL_RECORD_VERSION}`, engineFingerprint(), file, JSON.stringify(config ?? null));
  }

  /** The key of graph `name` of a model, as compiled with `precision` and `optimization`. */
  graphKey(modelKey: string, name: string, precision: string, optimization: string): string {
    return hashKey(modelKey, name, `v${graphVersion(name)}`, precision, optimization);
  }

  /** A JSON record `kind` of `key`, or undefined. */
  record<T>(key: string | undefined, kind: string): T | undefined {
    return key ? readCacheJson<T>(this.dir, `${key}.${kind}.json`) : undefined;
  }

  setRecord(key: string | undefined, kind: string, value: unknown): void {
    if (key) writeCacheJson(this.dir, `${key}.${kind}.json`, value);
  }

  /** Whether the optimised model of `graphKey` is stored and intact. */
  hasGraph(graphKey: string | undefined): boolean {
    return graphKey !== undefined && lookupModel(this.dir, graphKey) !== undefined;
  }

  /** The session of `graphKey`: the stored optimised model, or `build()` compiled (and stored when `graphKey` is given). */
  async session(graphKey: string | undefined, build: () => Promise<Graph>, runtime: RuntimeOptions): Promise<Session> {
    return graphKey && this.dir ? Session.cached(graphKey, build, runtime) : Session.compile(await build(), runtime);
  }

  /** `count` vectors of `width` floats stored under `key`, or undefined. */
  vectors(key: string | undefined, count: number, width: number): Float32Array[] | undefined {
    if (!key || !this.dir) return undefined;
    try {
      const buf = readFileSync(join(this.dir, `${key}.f32`));
      if (buf.length !== count * width * 4) return undefined;
      const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.length));
      return Array.from({ length: count }, (_, i) => all.slice(i * width, (i + 1) * width));
    } catch {
      return undefined;
    }
  }

  setVectors(key: string | undefined, data: Float32Array): void {
    if (!key || !this.dir) return;
    try {
      makeDirs(this.dir);
      atomicWrite(join(this.dir, `${key}.f32`), new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    } catch {
      /* the cache is an optimisation */
    }
  }

  /**
   * The identity of a model's weights (sha256 of the tensors: names, dtypes, shapes, bytes), as indexes
   * and evaluation caches key on it; remembered per weights file version (path, size, mtime, inode), so a
   * file is hashed once, not on every run.
   */
  async weightsHash(weights: WeightsSource): Promise<string> {
    let key: string | undefined;
    if (weights.path !== undefined && this.dir) {
      try {
        const st = statSync(weights.path);
        key = hashKey('weights-hash', realpathSync(weights.path), String(st.size), String(st.mtimeMs), String(st.ino));
      } catch {
        /* unreadable: tensors() says why */
      }
    }
    const known = this.record<{ hash: string }>(key, 'weights');
    if (typeof known?.hash === 'string') return known.hash;
    const hash = hashStateDict(await weights.tensors());
    this.setRecord(key, 'weights', { hash });
    return hash;
  }
}
