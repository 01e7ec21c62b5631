import { plural } from '../../errors.js';
import { defineCommand } from '../command.js';
import { QUEUE_OPTION } from './worker.js';

// BullMQ (tasks/queue/admin.ts) is loaded when a queue command runs, not for every clap command.
export const queueStatsCommand = defineCommand({
  path: ['queue', 'stats'],
  usage: 'queue stats --queue URL',
  summary: 'Batches waiting, active, done and failed on the embedding queue, and each worker’s rate',
  details: 'Counts are in batches (queued jobs of files); rates in files per second over the last minute.',
  options: QUEUE_OPTION,
  json:
    '{"waiting","active","delayed","done","failed","workers":[{"id","host","pid","model","started","lastSeen","heartbeatMs","batches",' +
    '"files","failed","refused","filesPerSecond","alive"}]}',
  async run(ctx) {
    const { queueStats } = await import('../../tasks/queue/admin.js');
    const s = await queueStats(ctx.values.queue);
    if (ctx.json) {
      ctx.stdout.write(`${JSON.stringify(s)}\n`);
      return;
    }
    const alive = s.workers.filter((w) => w.alive);
    const rate = alive.reduce((t, w) => t + w.filesPerSecond, 0);
    const secondsSince = (ms: number): number => Math.round((Date.now() - ms) / 1000);
    const lines = [
      `waiting  ${s.waiting}${s.delayed ? ` (+${s.delayed} delayed)` : ''}`,
      `active   ${s.active}`,
      `done     ${s.done}`,
      `failed   ${s.failed}${s.failed ? ' (clap queue retry-failed runs them again)' : ''}`,
      `workers  ${alive.length} alive, ${rate.toFixed(2)} files/s together`,
      ...s.workers.map(
        (w) =>
          `  ${w.id}  ${w.alive ? `${w.filesPerSecond.toFixed(2)} files/s` : `gone (last seen ${secondsSince(w.lastSeen)} s ago)`}` +
          `, ${plural(w.files, 'file')} in ${plural(w.batches, 'batch', 'batches')} (${w.failed} failed), ${w.refused} refused, model ${w.model}`,
      ),
    ];
    ctx.stdout.write(`${lines.join('\n')}\n`);
  },
});

export const queueRetryFailedCommand = defineCommand({
  path: ['queue', 'retry-failed'],
  usage: 'queue retry-failed --queue URL',
  summary: 'Put the batches that failed on the workers back on the queue',
  details: 'Their results are committed by the next `clap index add/sync --queue` of their index.',
  options: QUEUE_OPTION,
  json: '{"retried": N}',
  async run(ctx) {
    const { retryFailed } = await import('../../tasks/queue/admin.js');
    const n = await retryFailed(ctx.values.queue);
    if (ctx.json) ctx.stdout.write(`${JSON.stringify({ retried: n })}\n`);
    else ctx.stdout.write(`${plural(n, 'failed batch', 'failed batches')} queued again\n`);
  },
});
