/**
 * What travels through the queue. An embed job is a batch of files of one index, with the model identity
 * the index was built with; its result (a job on the index's results queue, with the same id) holds each
 * file's outcome: its embedding, "unchanged" (same content hash as indexed), or why it failed. Vectors
 * travel as base64 of their float32 bytes, so the index receives exactly what the worker computed.
 */
import type { ModelIdentity } from '../../store/meta.js';
import type { FoundFile } from '../../store/walk.js';
import type { EmbeddedFile } from '../clap-index.js';

export interface EmbedJobFile extends FoundFile {
  /** Content hash of the indexed version: the worker skips decoding when the file still has it. */
  knownHash?: string;
}

export interface EmbedJob {
  /** The index's queue key: the worker sends its result to that index's results queue. */
  index: string;
  model: ModelIdentity;
  files: EmbedJobFile[];
  /** 7 s windows per encoder run. */
  batchSize: number;
}

/** A file's outcome; `size` and `mtimeMs` are the queued file's (what the index records and later runs compare). */
export type FileOutcome = FoundFile &
  (
    | ({ ok: true; unchanged: false } & Omit<EmbeddedFile, 'vectors'> & { vectors: string })
    | { ok: true; unchanged: true; hash: string }
    | { ok: false; error: string }
  );

export interface EmbedResult {
  /** The embed job's id. */
  batch: string;
  /** Worker id (host:pid) and its model id, for reports. */
  worker: string;
  model: string;
  files: FileOutcome[];
}

export function encodeVectors(vs: readonly Float32Array[]): string {
  const dim = vs[0]?.length ?? 0;
  const all = new Float32Array(vs.length * dim);
  vs.forEach((v, i) => all.set(v, i * dim));
  return Buffer.from(all.buffer, all.byteOffset, all.byteLength).toString('base64');
}

export function decodeVectors(b64: string, dim: number): Float32Array[] {
  const bytes = Buffer.from(b64, 'base64');
  if (bytes.length % (4 * dim) !== 0) throw new Error(`vector payload of ${bytes.length} bytes is not a multiple of ${dim} float32s`);
  const all = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  return Array.from({ length: all.length / dim }, (_, i) => all.subarray(i * dim, (i + 1) * dim));
}

/** A worker's figures as `clap queue stats` shows them (kept in Redis, refreshed every few seconds). */
export interface WorkerStats {
  id: string;
  host: string;
  pid: number;
  model: string;
  started: string;
  lastSeen: number;
  /** How often it reports: it counts as gone after three reports missed. */
  heartbeatMs: number;
  batches: number;
  files: number;
  failed: number;
  refused: number;
  /** Files per second over the last minute. */
  filesPerSecond: number;
}

/** A worker is alive while it reports: gone once three of its heartbeats are missed (a kill -9 says nothing). */
export function workerAlive(w: Pick<WorkerStats, 'lastSeen' | 'heartbeatMs'>, now: number): boolean {
  return now - w.lastSeen <= 3 * w.heartbeatMs;
}
