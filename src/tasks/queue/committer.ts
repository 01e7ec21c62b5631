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
import type { Redis } from 'ioredis';
import { ClapError } from '../../errors.js';
import { rowModelId } from '../../store/meta.js';
import type { FoundFile } from '../../store/walk.js';
import { type EmbeddedFile, QUEUE_DEFAULTS, type QueueRunOptions, type RunContext, type RunOutcome } from '../clap-index.js';
import { bullConnection, connect, EMBED_QUEUE, keys, lockTimings, PREFIX, parseQueueUrl, resultsQueue } from './connection.js';
import { decodeVectors, type EmbedJob, type EmbedJobFile, type EmbedResult, type WorkerStats, workerAlive } from './protocol.js';

const ADD_CHUNK = 500;
/** Attempts per batch on the workers (errors other than per-file ones), with exponential backoff from 5 s. */
const ATTEMPTS = 3;
/** How long no live worker may be seen before the user is told to start one. */
const NO_WORKER_NOTICE_MS = 15_000;

/** One run's batches on the queue, and the Redis handles they live in. */
interface Batches {
  ctx: RunContext;
  redis: Redis;
  embedQueue: Queue<EmbedJob>;
  results: Queue<EmbedResult>;
  /** The Redis set of this index's batches in flight. */
  key: string;
  /** Batches queued and not yet committed or failed: id → files (kept to queue them again if Redis loses them). */
  outstanding: Map<string, EmbedJobFile[]>;
}

const queuedFiles = (b: Batches): number => [...b.outstanding.values()].reduce((s, fs) => s + fs.length, 0);

/** A previous committer's batches: their files are in flight already, unless Redis lost both the job and its result. */
async function takeBackBatches(b: Batches): Promise<void> {
  for (const id of await b.redis.smembers(b.key)) {
    const job = await b.embedQueue.getJob(id);
    const result = job ? undefined : await b.results.getJob(id);
    const files = (job?.data as EmbedJob | undefined)?.files ?? (result?.data as EmbedResult | undefined)?.files;
    if (files) b.outstanding.set(id, files);
    else await b.redis.srem(b.key, id); // lost: its files are queued again
  }
}

async function enqueue(b: Batches, batch: [string, EmbedJobFile[]][]): Promise<void> {
  const { ctx } = b;
  const data = (files: EmbedJobFile[]): EmbedJob => ({ index: ctx.key, model: ctx.model, files, batchSize: ctx.batchSize });
  const opts = (id: string) => ({
    jobId: id,
    attempts: ATTEMPTS,
    backoff: { type: 'exponential', delay: 5_000 },
    removeOnComplete: true,
    removeOnFail: { age: 7 * 24 * 3600 },
  });
  // The set first: a committer killed in between finds an id without a job, which counts as lost.
  await b.redis.sadd(b.key, ...batch.map(([id]) => id));
  await b.embedQueue.addBulk(batch.map(([id, files]) => ({ name: 'embed', data: data(files), opts: opts(id) })));
}

/** Queues the run's files that are not in flight yet, `filesPerJob` to a batch, until Ctrl-C. */
async function queueNewFiles(b: Batches, filesPerJob: number): Promise<void> {
  const { ctx } = b;
  const inFlight = new Set([...b.outstanding.values()].flatMap((fs) => fs.map((f) => f.path)));
  const fresh: EmbedJobFile[] = ctx.todo.filter((f) => !inFlight.has(f.path)).map((f) => ({ ...f, knownHash: ctx.knownHash(f) }));
  const run = Date.now().toString(36);
  const batches: [string, EmbedJobFile[]][] = [];
  for (let i = 0; i < fresh.length; i += filesPerJob)
    batches.push([`${ctx.key}-${run}-${i / filesPerJob}`, fresh.slice(i, i + filesPerJob)]);
  for (let i = 0; i < batches.length; i += ADD_CHUNK) {
    if (ctx.signal?.aborted) break;
    const chunk = batches.slice(i, i + ADD_CHUNK);
    await enqueue(b, chunk);
    for (const [id, files] of chunk) b.outstanding.set(id, files);
  }
}

/** Writes a worker's result through the run's commit; files embedded with another model are refused. */
async function commitResult(b: Batches, r: EmbedResult, modelId: string): Promise<void> {
  const { ctx } = b;
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
  b.outstanding.delete(r.batch);
  await b.redis.srem(b.key, r.batch);
  ctx.progress({ queued: queuedFiles(b) });
}

/** Batches that failed for good are reported; batches Redis lost are queued again. */
async function reconcile(b: Batches): Promise<void> {
  const { ctx } = b;
  for (const [id, files] of [...b.outstanding]) {
    const state = await b.embedQueue.getJobState(id);
    if (state === 'failed') {
      if (await b.results.getJob(id)) continue;
      const job = await b.embedQueue.getJob(id);
      const reason =
        `its batch failed on the workers after ${job?.attemptsMade ?? ATTEMPTS} attempts (${job?.failedReason ?? 'no reason given'}); ` +
        '`clap queue retry-failed` runs it again';
      for (const f of files) ctx.fail(f.path, reason);
      b.outstanding.delete(id);
      await b.redis.srem(b.key, id);
    } else if (state === 'unknown' && !(await b.results.getJob(id)) && b.outstanding.has(id)) {
      await enqueue(b, [[id, files]]);
    }
  }
  ctx.progress({ queued: queuedFiles(b) });
}

/** Notes for the user about the workers: once when none has reported for a while (none started, or all gone), once per refusal. */
function workerNotices(b: Batches, queueUrl: string): { checkWorkers(): Promise<void>; reportRefusals(): Promise<void> } {
  let idleSince: number | undefined;
  let toldIdle = false;
  const refusals = new Set<string>();
  return {
    async checkWorkers() {
      const now = Date.now();
      const seen = Object.values(await b.redis.hgetall(keys.workers)).some((j) => workerAlive(JSON.parse(j) as WorkerStats, now));
      if (seen) idleSince = undefined;
      else idleSince ??= now;
      if (!toldIdle && idleSince !== undefined && now - idleSince > NO_WORKER_NOTICE_MS) {
        toldIdle = true;
        b.ctx.note(
          `no worker has reported for ${NO_WORKER_NOTICE_MS / 1000} s: ` +
            `start \`clap worker --queue ${queueUrl} --weights W\` where the files should be embedded`,
        );
      }
    },
    async reportRefusals() {
      for (const [who, reason] of Object.entries(await b.redis.hgetall(keys.refusals(b.ctx.key)))) {
        if (refusals.has(who)) continue;
        refusals.add(who);
        b.ctx.note(`worker refused this index's batches: ${reason}`);
      }
    },
  };
}

/** Resolves on `wake()`, on abort, or after `ms`, whichever comes first. */
class Wakeup {
  private wakeNow: (() => void) | undefined;

  wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', done);
        this.wakeNow = undefined;
        resolve();
      };
      const timer = setTimeout(done, ms);
      signal?.addEventListener('abort', done);
      this.wakeNow = done;
    });
  }

  wake(): void {
    this.wakeNow?.();
  }
}

export async function commitFromQueue(ctx: RunContext, options: QueueRunOptions): Promise<RunOutcome> {
  const target = parseQueueUrl(options.url);
  const filesPerJob = options.filesPerJob ?? QUEUE_DEFAULTS.filesPerJob;
  if (!Number.isInteger(filesPerJob) || filesPerJob < 1)
    throw new ClapError(`files per job must be a positive integer, got ${filesPerJob}`);
  const redis = await connect(target);
  const connection = bullConnection(target);
  const b: Batches = {
    ctx,
    redis,
    embedQueue: new Queue<EmbedJob>(EMBED_QUEUE, { connection, prefix: PREFIX }),
    results: new Queue<EmbedResult>(resultsQueue(ctx.key), { connection, prefix: PREFIX }),
    key: keys.batches(ctx.key),
    outstanding: new Map(),
  };
  const timings = lockTimings();
  const modelId = rowModelId(ctx.model);
  let worker: Worker<EmbedResult> | undefined;
  try {
    await takeBackBatches(b);
    await queueNewFiles(b, filesPerJob);

    let lastResult = Date.now();
    const wakeup = new Wakeup();
    const notices = workerNotices(b, options.url);
    const commit = async (r: EmbedResult): Promise<void> => {
      lastResult = Date.now();
      await commitResult(b, r, modelId);
      wakeup.wake();
    };
    worker = new Worker<EmbedResult>(resultsQueue(ctx.key), async (job) => commit(job.data), {
      connection,
      prefix: PREFIX,
      concurrency: 1,
      ...timings,
      maxStalledCount: 10,
    });
    worker.on('error', () => undefined); // connection trouble: ioredis reconnects
    const reconcileEvery = Math.max(5_000, 2 * (timings.lockDuration + timings.stalledInterval));
    let lastReconcile = Date.now();
    ctx.progress({ queued: queuedFiles(b) });
    while (b.outstanding.size > 0 && !ctx.signal?.aborted) {
      // Wake on a commit, on Ctrl-C, or after a second (refusals, reconciliation).
      await wakeup.wait(1_000, ctx.signal);
      await notices.reportRefusals().catch(() => undefined);
      await notices.checkWorkers().catch(() => undefined);
      const now = Date.now();
      if (now - lastResult > reconcileEvery && now - lastReconcile > reconcileEvery) {
        lastReconcile = now;
        await reconcile(b).catch(() => undefined);
      }
    }
    await worker.close();
    worker = undefined;
    return { interrupted: b.outstanding.size > 0, pending: ctx.remaining() };
  } finally {
    await worker?.close();
    await Promise.all([b.embedQueue.close(), b.results.close()]);
    redis.disconnect();
  }
}
