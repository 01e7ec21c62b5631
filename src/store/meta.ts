/**
 * An index's own description, `clap-index.json` in its folder: the model identity every vector was made
 * with, the audio options, the folders it covers. Written once at creation and when roots change, by
 * write-to-temporary + fsync + rename, so it is always either the old or the new file.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync, unlinkSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { ClapError } from '../errors.js';
import type { AnnKind } from './store.js';
import { makeDirs } from '../files.js';

export const META_FILE = 'clap-index.json';
export const META_VERSION = 1;

/** Audio options that change what is stored (decoding, channel handling, the 7 s window choice). */
export interface IndexAudioOptions {
  channels: 'mean' | 'reference';
  crop: 'start' | 'center' | 'random';
  cropOffset?: number;
  seed?: number;
  /** false, or the hop between windows (seconds). */
  sliding: false | { hopS: number };
}

/** What makes two embeddings comparable. */
export interface ModelIdentity {
  /** sha256 over this identity's other fields (the per-row model id is its first 16 hex digits). */
  id: string;
  /** sha256 of the weights' tensors (names, dtypes, shapes, bytes): the same for a .pth and its .safetensors. */
  weights: string;
  /** sha256 of the resolved model config. */
  config: string;
  /** Embedding width. */
  dim: number;
  audio: IndexAudioOptions;
}

export interface WeightsFingerprint {
  path: string;
  size: number;
  mtimeMs: number;
  /** ModelIdentity.weights of that file. */
  hash: string;
}

export interface IndexMeta {
  version: number;
  backend: string;
  model: ModelIdentity;
  /**
   * The model's family in words ("msclap 2022 (Cnn14 + BERT)"), for people (`index stats`); not part of the
   * identity. Indexes made before it was recorded get it when next opened with their model.
   */
  family?: string;
  /** Weights file last used, so later commands can omit --weights. */
  weightsPath?: string;
  /** The weights hash of a file with this path, size and mtime (saves re-reading the weights to check them). */
  weightsFile?: WeightsFingerprint;
  configPath?: string;
  /** Folders and files given to `add`, re-walked by `sync`. */
  roots: string[];
  /**
   * Paths under a root that `remove` took out: walks from the roots above them leave them out, until
   * `add` names them or a folder above them again.
   */
  excluded?: string[];
  ann: AnnKind;
  annThreshold?: number;
  /** Names this index's results queue when it is filled by queue workers (random, made on first use). */
  queueKey?: string;
  created: string;
}

function canonical(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v) ?? 'null';
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`)
    .join(',')}}`;
}

export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export function modelIdentity(fields: Omit<ModelIdentity, 'id'>): ModelIdentity {
  return { id: sha256Hex(canonical(fields)), ...fields };
}

export function hashConfig(config: unknown): string {
  return sha256Hex(canonical(config));
}

/** The short id stored on every row. */
export function rowModelId(identity: ModelIdentity): string {
  return identity.id.slice(0, 16);
}

export function describeAudio(a: IndexAudioOptions): string {
  const parts = [`channels ${a.channels}`];
  if (a.sliding) parts.push(`sliding (hop ${a.sliding.hopS} s)`);
  else
    parts.push(
      a.cropOffset !== undefined
        ? `crop offset ${a.cropOffset}`
        : `crop ${a.crop}${a.crop === 'random' ? ` seed ${a.seed ?? 'none'}` : ''}`,
    );
  return parts.join(', ');
}

/** Null when the identities agree, else a sentence saying what differs. */
export function identityMismatch(stored: ModelIdentity, given: ModelIdentity, what: 'model' | 'all' = 'all'): string | null {
  const diffs: string[] = [];
  if (stored.weights !== given.weights) diffs.push(`weights ${given.weights.slice(0, 12)}… ≠ indexed ${stored.weights.slice(0, 12)}…`);
  if (stored.config !== given.config) diffs.push(`config ${given.config.slice(0, 12)}… ≠ indexed ${stored.config.slice(0, 12)}…`);
  if (stored.dim !== given.dim) diffs.push(`embedding width ${given.dim} ≠ indexed ${stored.dim}`);
  if (what === 'all' && canonical(stored.audio) !== canonical(given.audio))
    diffs.push(`audio options (${describeAudio(given.audio)}) ≠ indexed (${describeAudio(stored.audio)})`);
  return diffs.length ? diffs.join('; ') : null;
}

export function readMeta(dir: string): IndexMeta | null {
  let text: string;
  try {
    text = readFileSync(join(dir, META_FILE), 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new ClapError(`cannot read ${META_FILE} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: dir });
  }
  let meta: IndexMeta;
  try {
    meta = JSON.parse(text) as IndexMeta;
  } catch (e) {
    throw new ClapError(`${META_FILE} is not valid JSON (${(e as Error).message})`, { subject: dir });
  }
  if (meta.version !== META_VERSION || !meta.model?.id)
    throw new ClapError(`${META_FILE} has an unknown format (version ${String(meta.version)})`, { subject: dir });
  return meta;
}

export function writeMeta(dir: string, meta: IndexMeta): void {
  makeDirs(dir);
  const tmp = join(dir, `${META_FILE}.${process.pid}.tmp`);
  const fd = openSync(tmp, 'w');
  try {
    writeSync(fd, `${JSON.stringify(meta, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, join(dir, META_FILE));
  try {
    const dfd = openSync(dir, 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch {
    /* directories cannot be fsynced everywhere */
  }
}

/**
 * One writer at a time: `index.lock` holds the writer's pid. A lock whose process is gone (killed) is
 * taken over. Returns the release function.
 */
export function acquireWriteLock(dir: string): () => void {
  makeDirs(dir);
  const path = join(dir, 'index.lock');
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => {
        try {
          unlinkSync(path);
        } catch {
          /* already gone */
        }
      };
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new ClapError(`cannot lock the index (${(e as NodeJS.ErrnoException).code})`, { subject: dir });
      let pid = NaN;
      try {
        pid = Number(readFileSync(path, 'utf8').trim());
      } catch {
        /* vanished meanwhile */
      }
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && alive(pid)) {
        throw new ClapError(`another clap process (pid ${pid}) is writing to this index; wait for it, or remove ${path} if it is stale`, {
          subject: dir,
        });
      }
      try {
        unlinkSync(path);
      } catch {
        /* raced */
      }
    }
  }
  throw new ClapError('cannot lock the index (lock file keeps reappearing)', { subject: dir });
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
