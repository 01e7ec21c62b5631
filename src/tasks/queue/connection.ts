/**
 * Where the embedding queue lives: a Redis server named by a redis://HOST:PORT[/DB] URL, and the names
 * of what clap keeps there. BullMQ holds the jobs (queue `embed`, shared by every index and worker; one
 * results queue per index, named by the index's queue key); a few plain keys hold worker statistics,
 * refusals and each index's batches in flight.
 */
import { hostname } from 'node:os';
import { Redis } from 'ioredis';
import { ClapError } from '../../errors.js';

/** BullMQ's key prefix for clap's queues. */
export const PREFIX = 'clap';
export const EMBED_QUEUE = 'embed';

export function resultsQueue(indexKey: string): string {
  return `results-${indexKey}`;
}

/** Redis keys outside BullMQ's queues. */
export const keys = {
  /** Hash: worker id → JSON WorkerStats. */
  workers: `${PREFIX}:workers`,
  /** Set: an index's batch ids queued and not yet committed or failed. */
  batches: (indexKey: string) => `${PREFIX}:batches:${indexKey}`,
  /** Hash: worker id → why it refused an index's batches. */
  refusals: (indexKey: string) => `${PREFIX}:refusals:${indexKey}`,
};

export interface QueueTarget {
  url: string;
  host: string;
  port: number;
  db: number;
}

/** Parses redis://[USER:PASSWORD@]HOST[:PORT][/DB]; anything else is a one-line error naming the URL. */
export function parseQueueUrl(url: string): QueueTarget {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new ClapError('not a queue URL (expected redis://HOST:PORT[/DB])', { subject: url });
  }
  if (u.protocol !== 'redis:' || !u.hostname) throw new ClapError('not a queue URL (expected redis://HOST:PORT[/DB])', { subject: url });
  const port = u.port ? Number(u.port) : 6379;
  const dbPart = u.pathname.replace(/^\//, '');
  const db = dbPart === '' ? 0 : Number(dbPart);
  if (!Number.isInteger(db) || db < 0)
    throw new ClapError(`the database number must be a non-negative integer, got '${dbPart}'`, { subject: url });
  return { url, host: u.hostname, port, db };
}

/** Timings of job locks and the stalled-job check (a killed worker's batch goes back to the queue within lock + interval). */
export interface LockTimings {
  lockDuration: number;
  stalledInterval: number;
}

/** 30 s locks, checked every 15 s; CLAP_QUEUE_LOCK_MS shortens both (tests), in milliseconds. */
export function lockTimings(): LockTimings {
  const env = Number(process.env.CLAP_QUEUE_LOCK_MS);
  const lockDuration = Number.isFinite(env) && env >= 500 ? env : 30_000;
  return { lockDuration, stalledInterval: Math.max(250, Math.round(lockDuration / 2)) };
}

/** Workers report every 5 s; CLAP_QUEUE_HEARTBEAT_MS changes it (tests), in milliseconds. */
export function heartbeatInterval(): number {
  const env = Number(process.env.CLAP_QUEUE_HEARTBEAT_MS);
  return Number.isFinite(env) && env >= 100 ? env : 5_000;
}

/** Connection options for BullMQ (its blocking workers need unlimited retries per request). */
export function bullConnection(target: QueueTarget): { url: string; maxRetriesPerRequest: null } {
  return { url: target.url, maxRetriesPerRequest: null };
}

/** A plain client for clap's own keys; `connected` rejects with a one-line error when nothing answers. */
export async function connect(target: QueueTarget): Promise<Redis> {
  const client = new Redis(target.url, { maxRetriesPerRequest: null, lazyConnect: true });
  // Reconnection after a Redis restart is ioredis's job; only the first connection must succeed.
  let lastError: Error | undefined;
  client.on('error', (e: Error) => {
    lastError = e;
  });
  try {
    await Promise.race([
      client.connect(),
      new Promise((_, reject) => setTimeout(() => reject(new Error('no answer within 10 s')), 10_000).unref()),
    ]);
  } catch (e) {
    client.disconnect();
    const why = (lastError as NodeJS.ErrnoException | undefined)?.code ?? (lastError ?? (e as Error)).message;
    throw new ClapError(`cannot reach the queue's Redis server (${why})`, { subject: target.url });
  }
  return client;
}

/** This process, as worker statistics and refusals name it. */
export function processId(): string {
  return `${hostname()}:${process.pid}`;
}
