import { plural } from '../../errors.js';
import { Clap } from '../../tasks/clap.js';
import { DEFAULT_WORKERS_TEXT } from '../../tasks/pipeline.js';
// BullMQ is loaded by the commands that use the queue, not for every clap command.
import type { PathMap, QueueWorkerEvent } from '../../tasks/queue/worker.js';
import { defineCommand, UsageError } from '../command.js';
import { onInterrupt } from '../interrupt.js';
import { optionTable } from '../options.js';
import { MODEL_SETTINGS } from './shared.js';

export const QUEUE_OPTION = optionTable({
  queue: { kind: 'string', arg: 'URL', required: true, help: 'the Redis server: redis://HOST:PORT[/DB]' },
});

function pathMaps(given: readonly string[] = []): PathMap[] {
  return given.map((s) => {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) throw new UsageError(`--path-map must be FROM=TO (two folders), got '${s}'`);
    return { from: s.slice(0, eq).replace(/\/+$/, ''), to: s.slice(eq + 1).replace(/\/+$/, '') };
  });
}

function describe(e: QueueWorkerEvent): string | undefined {
  switch (e.type) {
    case 'ready':
      return `worker ${e.worker} ready (model ${e.model}); Ctrl-C stops it after the batches in hand`;
    case 'taken':
      return undefined; // the finished batch gets the line
    case 'batch':
      return (
        `batch ${e.batch}: ${plural(e.files, 'file')}${e.failed ? `, ${e.failed} failed` : ''}` +
        `${e.unchanged ? `, ${e.unchanged} unchanged` : ''} in ${e.seconds.toFixed(1)} s`
      );
    case 'refused':
      return `refused batch ${e.batch}: ${e.reason}`;
    case 'error':
      return `queue error: ${e.message}`;
  }
}

export const worker = defineCommand({
  path: ['worker'],
  usage: 'worker --queue URL --weights W',
  summary: 'Embed batches queued by `clap index add --queue` (on any number of machines)',
  details:
    'Files are read by the path the indexing machine queued (shared storage mounted at the same path), or rewritten by ' +
    '--path-map. Batches for another model (weights, config) are refused and left to other workers. Runs until Ctrl-C ' +
    'or SIGTERM, which finish the batches in hand first. docs/scale-out.md has the whole picture.',
  options: {
    ...QUEUE_OPTION,
    weights: { kind: 'path', arg: 'W', required: true, section: 'Model', help: 'CLAP weights: those the index was built with' },
    config: MODEL_SETTINGS.config,
    family: MODEL_SETTINGS.family,
    tokenizer: MODEL_SETTINGS.tokenizer,
    threads: { ...MODEL_SETTINGS.threads, help: 'encoder compute threads' },
    concurrency: { kind: 'integer', min: 1, default: 1, help: 'batches worked on at once (2 overlaps decoding and encoding)' },
    'decode-threads': { kind: 'integer', min: 1, help: 'decode worker threads', defaultText: DEFAULT_WORKERS_TEXT },
    'path-map': {
      kind: 'string',
      arg: 'FROM=TO',
      repeatable: true,
      help: 'read queued paths under FROM at TO instead (the index keeps the FROM paths)',
    },
  },
  json: 'one object per event: {"type":"ready"|"taken"|"batch"|"refused"|"error",...}',
  async run(ctx) {
    const v = ctx.values;
    const pathMap = pathMaps(v['path-map']);
    const { runQueueWorker } = await import('../../tasks/queue/worker.js');
    const clap = await Clap.load({ weights: v.weights, config: v.config, threads: v.threads, family: v.family, tokenizer: v.tokenizer });
    try {
      const summary = await onInterrupt(ctx.stderr, 'finishing the batches in hand, then stopping', (signal) =>
        runQueueWorker({
          url: v.queue,
          clap,
          concurrency: v.concurrency,
          decodeThreads: v['decode-threads'],
          pathMap,
          signal,
          onEvent: (e) => {
            const line = ctx.json ? JSON.stringify(e) : describe(e);
            if (line === undefined) return;
            (!ctx.json && (e.type === 'refused' || e.type === 'error') ? ctx.stderr : ctx.stdout).write(`${line}\n`);
          },
        }),
      );
      if (!ctx.json)
        ctx.stdout.write(
          `worker stopped: ${plural(summary.batches, 'batch', 'batches')}, ${plural(summary.files, 'file')} (${summary.failed} failed), ` +
            `${summary.refused} refused\n`,
        );
    } finally {
      await clap.release();
    }
  },
});
