/**
 * A queue worker (`clap worker`): takes batches of files from the embed queue, decodes and embeds them
 * with its model, and sends each batch's outcome to the index's results queue, where that index's
 * committer writes it. A batch for another model (weights, config or width) is refused and handed back
 * for other workers — the worker never mixes models. A file that cannot be read or decoded is an outcome
 * with its reason, not a retry. A worker killed mid-batch loses nothing: its lock expires and BullMQ's
 * stalled-job check gives the batch to another worker.
 */
import { stat } from 'node:fs/promises';
import { hostname } from 'node:os';
import { DelayedError, type Job, Queue, Worker } from 'bullmq';
import { identityMismatch, rowModelId } from '../../store/meta.js';
import type { Clap } from '../clap.js';
import { clapIdentity, embedDecoded, loadOptionsOf } from '../clap-index.js';
import { defaultWorkers, type FileFrontend, FrontendPool } from '../pipeline.js';
import {
  bullConnection,
  connect,
  EMBED_QUEUE,
  heartbeatInterval,
  keys,
  lockTimings,
  PREFIX,
  parseQueueUrl,
  processId,
  resultsQueue,
} from './connection.js';
import { type EmbedJob, type EmbedResult, encodeVectors, type FileOutcome, type WorkerStats } from './protocol.js';

export interface PathMap {
  from: string;
  to: string;
}

export interface QueueWorkerOptions {
  /** redis://HOST:PORT[/DB] */
  url: string;
  clap: Clap;
  /** Batches worked on at once (default 1; 2 overlaps one batch's decoding with another's encoding). */
  concurrency?: number;
  /** Decode worker threads (default: `defaultWorkers()`, half the cores, 1–4). */
  decodeThreads?: number;
  /** Where this machine sees the files: a queued path starting with `from` is read at `to` + the rest. */
  pathMap?: readonly PathMap[];
  /** Stops taking batches; the run ends when the batches in hand are done. */
  signal?: AbortSignal;
  onEvent?: (e: QueueWorkerEvent) => void;
}

export type QueueWorkerEvent =
  | { type: 'ready'; worker: string; model: string }
  | { type: 'taken'; batch: string; files: number }
  | { type: 'batch'; batch: string; files: number; failed: number; unchanged: number; seconds: number }
  | { type: 'refused'; batch: string; reason: string }
  | { type: 'error'; message: string };

export interface QueueWorkerSummary {
  batches: number;
  files: number;
  failed: number;
  refused: number;
}

/** A refused batch waits this long before another worker may take it; the refusing worker pauses longer. */
const REFUSED_DELAY_MS = 1_000;
const REFUSED_PAUSE_MS = [2_000, 30_000];
const RATE_WINDOW_MS = 60_000;

export function mapPath(path: string, map: readonly PathMap[] = []): string {
  for (const { from, to } of map)
    if (path === from || path.startsWith(from.endsWith('/') ? from : `${from}/`)) return to + path.slice(from.length);
  return path;
}

/** Runs a worker until `signal` aborts; returns what it did. */
export async function runQueueWorker(options: QueueWorkerOptions): Promise<QueueWorkerSummary> {
  const target = parseQueueUrl(options.url);
  const redis = await connect(target);
  const connection = bullConnection(target);
  const me = processId();
  const pool = new FrontendPool(options.decodeThreads ?? defaultWorkers());
  const results = new Map<string, Queue>();
  const summary: QueueWorkerSummary = { batches: 0, files: 0, failed: 0, refused: 0 };
  const recent: { t: number; files: number }[] = [];
  const { clap } = options;
  const modelName = (await clap.weightsHash()).slice(0, 16);
  const started = new Date().toISOString();
  const emit = (e: QueueWorkerEvent): void => options.onEvent?.(e);

  const heartbeatMs = heartbeatInterval();
  const publish = async (): Promise<void> => {
    const now = Date.now();
    while (recent.length && recent[0].t < now - RATE_WINDOW_MS) recent.shift();
    const stats: WorkerStats = {
      id: me,
      host: hostname(),
      pid: process.pid,
      model: modelName,
      started,
      lastSeen: now,
      heartbeatMs,
      ...summary,
      filesPerSecond: recent.reduce((s, r) => s + r.files, 0) / (RATE_WINDOW_MS / 1000),
    };
    await redis.hset(keys.workers, me, JSON.stringify(stats));
  };
  const heartbeat = setInterval(() => void publish().catch(() => undefined), heartbeatMs);
  heartbeat.unref();

  let pauses = 0;
  let worker: Worker | undefined;
  const refuse = async (job: Job<EmbedJob>, token: string | undefined, reason: string): Promise<never> => {
    summary.refused++;
    await redis.hset(keys.refusals(job.data.index), me, reason);
    emit({ type: 'refused', batch: String(job.id), reason });
    await job.moveToDelayed(Date.now() + REFUSED_DELAY_MS, token);
    // Step aside for a while, so the workers with the right model get the batches.
    const pauseMs = Math.min(REFUSED_PAUSE_MS[1], REFUSED_PAUSE_MS[0] * 2 ** pauses++);
    void worker?.pause(true).then(() => setTimeout(() => worker?.resume(), pauseMs).unref());
    throw new DelayedError();
  };

  const processBatch = async (job: Job<EmbedJob>, token?: string): Promise<{ files: number; failed: number }> => {
    const t0 = performance.now();
    const data = job.data;
    const { identity } = await clapIdentity(clap, data.model.audio);
    const diff = identityMismatch(data.model, identity, 'model');
    if (diff) return refuse(job, token, `${me} has another model (${diff}); it never mixes models`);
    pauses = 0;
    emit({ type: 'taken', batch: String(job.id), files: data.files.length });
    const audio = loadOptionsOf(data.model.audio, clap.config.frontend);
    const frontends = await Promise.all(
      data.files.map(async (f): Promise<FileFrontend> => {
        const local = mapPath(f.path, options.pathMap);
        try {
          const st = await stat(local);
          if (st.size !== f.size)
            return { ok: false, error: `changed since it was queued (${f.size} bytes then, ${st.size} now); the next run takes it again` };
        } catch {
          /* fileFrontend says why it cannot be read */
        }
        const r = await pool.processFile(local, audio, f.knownHash);
        if (!r.ok && local !== f.path) return { ok: false, error: `${r.error} (read as ${local})` };
        return r;
      }),
    );
    const decoded = frontends.flatMap((r) => (r.ok && !r.unchanged ? [r] : []));
    const embedded = await embedDecoded(clap, decoded, data.batchSize);
    let k = 0;
    const files: FileOutcome[] = data.files.map((f, i) => {
      const r = frontends[i];
      const file = { path: f.path, size: f.size, mtimeMs: f.mtimeMs };
      if (!r.ok) return { ...file, ok: false, error: r.error };
      if (r.unchanged) return { ...file, ok: true, unchanged: true, hash: r.hash };
      const { vectors, ...facts } = embedded[k++];
      return { ...file, ok: true, unchanged: false, ...facts, vectors: encodeVectors(vectors) };
    });
    const result: EmbedResult = { batch: String(job.id), worker: me, model: rowModelId(identity), files };
    let q = results.get(data.index);
    if (!q) {
      q = new Queue(resultsQueue(data.index), { connection, prefix: PREFIX });
      results.set(data.index, q);
    }
    // Same id as the batch: a batch run twice (stalled, then redone) is delivered once while its result waits.
    await q.add('result', result, { jobId: String(job.id), removeOnComplete: true, removeOnFail: true });
    const failed = files.filter((f) => !f.ok).length;
    summary.batches++;
    summary.files += files.length;
    summary.failed += failed;
    recent.push({ t: Date.now(), files: files.length });
    void publish().catch(() => undefined);
    emit({
      type: 'batch',
      batch: String(job.id),
      files: files.length,
      failed,
      unchanged: files.filter((f) => f.ok && f.unchanged).length,
      seconds: (performance.now() - t0) / 1000,
    });
    return { files: files.length, failed };
  };

  try {
    worker = new Worker<EmbedJob>(EMBED_QUEUE, processBatch, {
      connection,
      prefix: PREFIX,
      concurrency: options.concurrency ?? 1,
      ...lockTimings(),
      maxStalledCount: 3,
      metrics: { maxDataPoints: 24 * 60 },
      autorun: false,
    });
    worker.on('error', (e) => emit({ type: 'error', message: e.message }));
    const running = worker.run();
    await worker.waitUntilReady();
    await publish();
    emit({ type: 'ready', worker: me, model: modelName });
    await new Promise<void>((resolve) => {
      if (options.signal?.aborted) resolve();
      options.signal?.addEventListener('abort', () => resolve(), { once: true });
    });
    await worker.close();
    await running;
    return summary;
  } finally {
    clearInterval(heartbeat);
    await redis.hdel(keys.workers, me).catch(() => undefined);
    await Promise.all([...results.values()].map((q) => q.close()));
    await pool.close();
    redis.disconnect();
  }
}
