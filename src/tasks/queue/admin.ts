/** What `clap queue stats` and `clap queue retry-failed` do: read the embed queue's state, re-run failed batches. */
import { Queue } from 'bullmq';
import { bullConnection, connect, EMBED_QUEUE, keys, PREFIX, parseQueueUrl } from './connection.js';
import { type EmbedJob, type WorkerStats, workerAlive } from './protocol.js';

/** Batches (jobs) by state, and the workers that reported in the last hour (`alive`: see workerAlive). */
export interface QueueStats {
  waiting: number;
  active: number;
  delayed: number;
  /** Batches completed since the queue was created (BullMQ's metrics). */
  done: number;
  failed: number;
  workers: (WorkerStats & { alive: boolean })[];
}

const FORGET_MS = 3_600_000;

async function withQueue<T>(url: string, f: (queue: Queue, redis: Awaited<ReturnType<typeof connect>>) => Promise<T>): Promise<T> {
  const target = parseQueueUrl(url);
  const redis = await connect(target);
  const queue = new Queue(EMBED_QUEUE, { connection: bullConnection(target), prefix: PREFIX });
  try {
    return await f(queue, redis);
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

export async function queueStats(url: string): Promise<QueueStats> {
  return withQueue(url, async (queue, redis) => {
    const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed');
    const done = (await queue.getMetrics('completed', 0, 0)).meta.count;
    const now = Date.now();
    const workers: QueueStats['workers'] = [];
    for (const [id, json] of Object.entries(await redis.hgetall(keys.workers))) {
      const w = JSON.parse(json) as WorkerStats;
      if (now - w.lastSeen > FORGET_MS) await redis.hdel(keys.workers, id);
      else workers.push({ ...w, alive: workerAlive(w, now) });
    }
    workers.sort((a, b) => a.id.localeCompare(b.id));
    return {
      waiting: counts.waiting + counts.prioritized,
      active: counts.active,
      delayed: counts.delayed,
      done,
      failed: counts.failed,
      workers,
    };
  });
}

/**
 * Moves every failed batch back to the queue; returns how many. Each counts as in flight for its index
 * again, so the next `clap index add/sync --queue` of that index commits its result instead of queueing
 * its files anew.
 */
export async function retryFailed(url: string): Promise<number> {
  return withQueue(url, async (queue, redis) => {
    // The failed set as it is now (a retried batch may fail again meanwhile: that is for the next call).
    const jobs = await queue.getFailed(0, -1);
    for (const job of jobs) {
      await redis.sadd(keys.batches((job.data as EmbedJob).index), String(job.id));
      await job.retry('failed');
    }
    return jobs.length;
  });
}
