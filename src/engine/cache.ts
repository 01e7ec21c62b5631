/**
 * On-disk cache of ORT-optimised models. A model is stored once optimised (ORT's
 * `optimizedModelFilePath`) under a key the caller derives from what determines it (weights,
 * config, engine version, precision); later sessions load it by path, skipping graph building,
 * emission and optimisation, and never holding the weights in JS memory.
 *
 * Safe for concurrent writers (each writes a private temp file, then an atomic rename) and against
 * damaged files (a file whose size or sampled blocks disagree with its record, or that ORT rejects, is
 * deleted and rebuilt).
 */
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readFileSync, readSync, renameSync, rmSync, statSync, writeFileSync, realpathSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { packageVersion } from '../version.js';
import { makeDirs } from '../files.js';

/** Bump when the emitted graphs or the cache layout change in a way the key does not capture. */
export const CACHE_FORMAT = 1;

export interface CacheOptions {
  /** Directory of the model cache; false disables it. Default: $CLAP_CACHE_DIR, else $XDG_CACHE_HOME/clap-ts, else ~/.cache/clap-ts. */
  cacheDir?: string | false;
}

/** The cache directory in effect, or undefined when caching is off (CLAP_CACHE_DIR=off or cacheDir: false). */
export function resolveCacheDir(option?: string | false): string | undefined {
  if (option === false) return undefined;
  if (option) return option;
  const env = process.env.CLAP_CACHE_DIR;
  if (env === 'off' || env === '0' || env === 'false') return undefined;
  if (env) return env;
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg || join(homedir(), '.cache'), 'clap-ts');
}

/**
 * What every cache key includes: cache format, package and ORT versions, and the CPU (optimised graphs are
 * CPU-specific). What the graph is comes from its caller: the model cache keys each graph on its version
 * (src/models/graph-versions.ts), not on source files.
 */
export function engineFingerprint(): string {
  return JSON.stringify([CACHE_FORMAT, packageVersion(), ort.env.versions?.common ?? '', process.arch, cpus()[0]?.model ?? '']);
}

export function hashKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\u0000');
  return h.digest('hex').slice(0, 40);
}

/**
 * A cheap identity of a (large) file: path, size, mtime (unless `identity` is false: content only) and the hash of its first and last MiB plus 16
 * evenly spaced 64 KiB blocks — a few MB read instead of the whole 700 MB checkpoint.
 */
export function fileFingerprint(path: string, identity = true): string {
  const fd = openSync(path, 'r');
  try {
    const st = fstatSync(fd);
    const h = createHash('sha256');
    h.update(identity ? `${realpathSync(path)}\u0000${st.size}\u0000${st.mtimeMs}\u0000` : `${st.size}\u0000`);
    const read = (pos: number, len: number): void => {
      const buf = Buffer.allocUnsafe(Math.max(0, Math.min(len, st.size - pos)));
      let off = 0;
      while (off < buf.length) {
        const n = readSync(fd, buf, off, buf.length - off, pos + off);
        if (n === 0) break;
        off += n;
      }
      h.update(buf.subarray(0, off));
    };
    read(0, 1 << 20);
    for (let i = 1; i <= 16; i++) read(Math.floor((st.size * i) / 17), 1 << 16);
    read(Math.max(0, st.size - (1 << 20)), 1 << 20);
    return h.digest('hex');
  } finally {
    closeSync(fd);
  }
}

/** Size + sampled-block hash of a cache file (detects truncation and most damage without reading 500 MB). */
function fileCheck(path: string): { size: number; sample: string } {
  const st = statSync(path);
  return { size: st.size, sample: fileFingerprint(path, false).slice(0, 16) };
}

/** Writes `data` to `path` atomically (temp file in the same directory, then rename). */
export function atomicWrite(path: string, data: string | Uint8Array): void {
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`;
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}

/** A small JSON record in the cache, or undefined (missing, unreadable or not JSON). */
export function readCacheJson<T>(dir: string | undefined, name: string): T | undefined {
  if (!dir) return undefined;
  try {
    return JSON.parse(readFileSync(join(dir, name), 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Stores a small JSON record; failures (read-only disk, …) are ignored: the cache is an optimisation. */
export function writeCacheJson(dir: string | undefined, name: string, value: unknown): void {
  if (!dir) return;
  try {
    makeDirs(dir);
    atomicWrite(join(dir, name), JSON.stringify(value));
  } catch {
    /* best effort */
  }
}

export interface CachedModel {
  /** The optimised model file, when valid. */
  path: string;
}

/** The cached model for `key`, if present and intact per its record. */
export function lookupModel(dir: string | undefined, key: string): CachedModel | undefined {
  if (!dir) return undefined;
  const path = join(dir, `${key}.onnx`);
  const rec = readCacheJson<{ size: number; sample: string }>(dir, `${key}.onnx.json`);
  if (!rec) return undefined;
  try {
    const now = fileCheck(path);
    if (now.size === rec.size && now.sample === rec.sample) return { path };
  } catch {
    /* missing */
  }
  evictModel(dir, key);
  return undefined;
}

export function evictModel(dir: string, key: string): void {
  rmSync(join(dir, `${key}.onnx.json`), { force: true });
  rmSync(join(dir, `${key}.onnx`), { force: true });
}

/**
 * Temp paths for building `key`: the raw model is written to `raw`, ORT writes the optimised model
 * to `optimized`; `commit` moves it into place and records it.
 */
export function modelBuildPaths(dir: string, key: string): { raw: string; optimized: string; commit: () => void; cleanup: () => void } {
  makeDirs(dir);
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const raw = join(dir, `${key}.raw-${tag}.onnx`);
  const optimized = join(dir, `${key}.opt-${tag}.onnx`);
  const final = join(dir, `${key}.onnx`);
  return {
    raw,
    optimized,
    commit() {
      const rec = fileCheck(optimized);
      renameSync(optimized, final);
      atomicWrite(`${final}.json`, JSON.stringify(rec));
    },
    cleanup() {
      rmSync(raw, { force: true });
      rmSync(optimized, { force: true });
    },
  };
}
