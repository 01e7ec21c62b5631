/**
 * The committer side of queue indexing (`clap index add … --queue`): queues a run's files in batches on
 * the embed queue, then consumes the index's results queue and writes each result through the run's
 * commit — the same atomic, idempotent per-batch commit as local indexing — until every queued file is
 * committed or failed.
 *
 * What survives what:
 * - The batches an index has in flight are a Redis set; a committer killed at any point is restarted
 *   with the same command: it takes those batches back (their files are not queued twice), and a result
 *   it was committing when killed is handed to it again by BullMQ's stalled-job check (the commit is an
 *   idempotent replace, so the index still holds each file once).
 * - Redis restarted: BullMQ and this process reconnect. Batches Redis lost (no job and no result any
 *   more, e.g. after a kill -9 between snapshots) are queued again from this process's memory; batches
 *   whose job failed for good are reported as failed (`clap queue retry-failed` runs them again).
 */
import { Queue, Worker } from 'bullmq';
import { ClapError } from '../../errors.js';
import { rowModelId } from '../../store/meta.js';
import type { FoundFile } from '../../store/walk.js';
import { type EmbeddedFile, QUEUE_DEFAULTS, type QueueRunOptions, type RunContext, type RunOutcome } from '../clap-index.js';
import { bullConnection, connect, EMBED_QUEUE, keys, lockTimings, PREFIX, parseQueueUrl, resultsQueue } from './connection.js';
import { decodeVectors, type EmbedJob, type EmbedJobFile, type EmbedResult, type WorkerStats, workerAlive } from './protocol.js';

const ADD_CHUNK = 500;
/** Attempts per batch on the workers (errors other than per-file ones), with exponential backoff from 5 s. */
const ATTEMPTS = 3;

export async function commitFromQueue(ctx: RunContext, options: QueueRunOptions): Promise<RunOutcome> {
  const target = parseQueueUrl(options.url);
  const filesPerJob = options.filesPerJob ?? QUEUE_DEFAULTS.filesPerJob;
  if (!Number.isInteger(filesPerJob) || filesPerJob < 1)
    throw new ClapError(`files per job must be a positive integer, got ${filesPerJob}`);
  const redis = await connect(target);
  const connection = bullConnection(target);
  const embedQueue = new Queue<EmbedJob>(EMBED_QUEUE, { connection, prefix: PREFIX });
  const results = new Queue<EmbedResult>(resultsQueue(ctx.key), { connection, prefix: PREFIX });
  const batchesKey = keys.batches(ctx.key);
  const timings = lockTimings();
  const modelId = rowModelId(ctx.model);
  /** Batches queued and not yet committed or failed: id → files (kept to queue them again if Redis loses them). */
  const outstanding = new Map<string, EmbedJobFile[]>();
  let worker: Worker<EmbedResult> | undefined;
  try {
    // A previous committer's batches: their files are in flight already.
    for (const id of await redis.smembers(batchesKey)) {
      const job = await embedQueue.getJob(id);
      const result = job ? undefined : await results.getJob(id);
      const files = (job?.data as EmbedJob | undefined)?.files ?? (result?.data as EmbedResult | undefined)?.files;
      if (files) outstanding.set(id, files);
      else await redis.srem(batchesKey, id); // lost: its files are queued again below
    }
    const inFlight = new Set([...outstanding.values()].flatMap((fs) => fs.map((f) => f.path)));
    const fresh: EmbedJobFile[] = ctx.todo.filter((f) => !inFlight.has(f.path)).map((f) => ({ ...f, knownHash: ctx.knownHash(f) }));
    const run = Date.now().toString(36);
    const jobOf = (files: EmbedJobFile[]): EmbedJob => ({ index: ctx.key, model: ctx.model, files, batchSize: ctx.batchSize });
    const jobOptions = (id: string) => ({
      jobId: id,
      attempts: ATTEMPTS,
      backoff: { type: 'exponential', delay: 5_000 },
      removeOnComplete: true,
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    const enqueue = async (batch: [string, EmbedJobFile[]][]): Promise<void> => {
      // The set first: a committer killed in between finds an id without a job, which counts as lost.
      await redis.sadd(batchesKey, ...batch.map(([id]) => id));
      await embedQueue.addBulk(batch.map(([id, files]) => ({ name: 'embed', data: jobOf(files), opts: jobOptions(id) })));
    };
    const batches: [string, EmbedJobFile[]][] = [];
    for (let i = 0; i < fresh.length; i += filesPerJob)
      batches.push([`${ctx.key}-${run}-${i / filesPerJob}`, fresh.slice(i, i + filesPerJob)]);
    for (let i = 0; i < batches.length; i += ADD_CHUNK) {
      if (ctx.signal?.aborted) break;
      const chunk = batches.slice(i, i + ADD_CHUNK);
      await enqueue(chunk);
      for (const [id, files] of chunk) outstanding.set(id, files);
    }

    const queuedFiles = (): number => [...outstanding.values()].reduce((s, fs) => s + fs.length, 0);
    let lastResult = Date.now();
    let wake: (() => void) | undefined;
    const commitResult = async (r: EmbedResult): Promise<void> => {
      lastResult = Date.now();
      const embedded: { file: FoundFile; embedded: EmbeddedFile }[] = [];
      const touched: FoundFile[] = [];
      for (const o of r.files) {
        if (!ctx.wanted(o.path)) continue; // removed since it was queued
        const file = { path: o.path, size: o.size, mtimeMs: o.mtimeMs };
        if (!o.ok) ctx.fail(o.path, o.error);
        else if (r.model !== modelId) ctx.fail(o.path, `embedded by ${r.worker} with another model (${r.model}); not stored`);
        else if (o.unchanged) touched.push(file);
        else {
          const { vectors, ...facts } = o;
          embedded.push({ file, embedded: { ...facts, vectors: decodeVectors(vectors, ctx.model.dim) } });
        }
      }
      await ctx.commit(embedded, touched);
      outstanding.delete(r.batch);
      await redis.srem(batchesKey, r.batch);
      ctx.progress({ queued: queuedFiles() });
      wake?.();
    };

    /** Batches that failed for good are reported; batches Redis lost are queued again. */
    const reconcile = async (): Promise<void> => {
      for (const [id, files] of [...outstanding]) {
        const state = await embedQueue.getJobState(id);
        if (state === 'failed') {
          if (await results.getJob(id)) continue;
          const job = await embedQueue.getJob(id);
          const reason =
            `its batch failed on the workers after ${job?.attemptsMade ?? ATTEMPTS} attempts (${job?.failedReason ?? 'no reason given'}); ` +
            '`clap queue retry-failed` runs it again';
          for (const f of files) ctx.fail(f.path, reason);
          outstanding.delete(id);
          await redis.srem(batchesKey, id);
        } else if (state === 'unknown' && !(await results.getJob(id)) && outstanding.has(id)) {
          await enqueue([[id, files]]);
        }
      }
      ctx.progress({ queued: queuedFiles() });
    };

    let idleSince: number | undefined;
    let toldIdle = false;
    /** Says so once when no worker has reported for a while (none started, or all gone). */
    const checkWorkers = async (): Promise<void> => {
      const now = Date.now();
      const seen = Object.values(await redis.hgetall(keys.workers)).some((j) => workerAlive(JSON.parse(j) as WorkerStats, now));
      if (seen) idleSince = undefined;
      else idleSince ??= now;
      if (!toldIdle && idleSince !== undefined && now - idleSince > 15_000) {
        toldIdle = true;
        ctx.note(
          `no worker has reported for 15 s: start \`clap worker --queue ${options.url} --weights W\` where the files should be embedded`,
        );
      }
    };
    const refusals = new Set<string>();
    const reportRefusals = async (): Promise<void> => {
      for (const [who, reason] of Object.entries(await redis.hgetall(keys.refusals(ctx.key)))) {
        if (refusals.has(who)) continue;
        refusals.add(who);
        ctx.note(`worker refused this index's batches: ${reason}`);
      }
    };

    worker = new Worker<EmbedResult>(resultsQueue(ctx.key), async (job) => commitResult(job.data), {
      connection,
      prefix: PREFIX,
      concurrency: 1,
      ...timings,
      maxStalledCount: 10,
    });
    worker.on('error', () => undefined); // connection trouble: ioredis reconnects
    const reconcileEvery = Math.max(5_000, 2 * (timings.lockDuration + timings.stalledInterval));
    let lastReconcile = Date.now();
    ctx.progress({ queued: queuedFiles() });
    while (outstanding.size > 0 && !ctx.signal?.aborted) {
      // Wake on a commit, on Ctrl-C, or after a second (refusals, reconciliation).
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          ctx.signal?.removeEventListener('abort', done);
          wake = undefined;
          resolve();
        };
        const timer = setTimeout(done, 1_000);
        ctx.signal?.addEventListener('abort', done);
        wake = done;
      });
      await reportRefusals().catch(() => undefined);
      await checkWorkers().catch(() => undefined);
      const now = Date.now();
      if (now - lastResult > reconcileEvery && now - lastReconcile > reconcileEvery) {
        lastReconcile = now;
        await reconcile().catch(() => undefined);
      }
    }
    await worker.close();
    worker = undefined;
    return { interrupted: outstanding.size > 0, pending: ctx.remaining() };
  } finally {
    await worker?.close();
    await Promise.all([embedQueue.close(), results.close()]);
    redis.disconnect();
  }
}
