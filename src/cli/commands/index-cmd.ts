import { readFileSync } from 'node:fs';
import { AUDIO_DEFAULTS } from '../../audio/index.js';
import { ClapError, plural } from '../../errors.js';
import { DEFAULT_ANN_THRESHOLD } from '../../store/lance.js';
import { ANN_KINDS } from '../../store/store.js';
import { Clap } from '../../tasks/clap.js';
import { DEFAULT_WORKERS_TEXT } from '../../tasks/pipeline.js';
import {
  ClapIndex,
  type AnnKind,
  INDEX_DEFAULTS,
  type IndexAudioOptions,
  type IndexProgress,
  type IndexReport,
  QUEUE_DEFAULTS,
} from '../../tasks/clap-index.js';
import { type CommandContext, defineCommand, UsageError } from '../command.js';
import { type OptionTable, optionTable, type Values } from '../options.js';
import { Interrupted, onInterrupt } from '../interrupt.js';
import { Progress } from '../progress.js';
import { MODEL_SETTINGS, modelSettings, windowOptions, windowSettings } from './shared.js';

export const DB_OPTION = optionTable({ db: { kind: 'path', arg: 'DIR', required: true, help: 'the index folder' } });

/** --db and the model options, whose defaults are what the index recorded. */
export const INDEX_MODEL_OPTIONS = optionTable({
  ...DB_OPTION,
  weights: { kind: 'path', arg: 'W', section: 'Model', help: 'CLAP weights', defaultText: 'the ones the index was built with' },
  ...MODEL_SETTINGS,
  config: { ...MODEL_SETTINGS.config, defaultText: 'the one the index was built with' },
  precision: { ...MODEL_SETTINGS.precision, help: 'accepted for symmetry; indexes are embedded at fp32' },
});

export const RUN_OPTIONS = optionTable({
  batch: {
    kind: 'integer',
    min: 1,
    default: INDEX_DEFAULTS.batchSize,
    field: 'batchSize',
    help: '7 s windows per store commit (the encoder runs at the batch calibrated for this CPU, or this one when smaller)',
  },
  'decode-threads': {
    kind: 'integer',
    min: 0,
    help: 'decode worker threads (0 = on the main thread)',
    defaultText: DEFAULT_WORKERS_TEXT,
  },
  'ann-index': {
    kind: 'enum',
    choices: ANN_KINDS,
    default: INDEX_DEFAULTS.ann,
    help: "vector index: 'auto' builds IVF-PQ once the library is large; 'ivf-pq' or 'hnsw' from 256 vectors on; 'none'",
  },
  'ann-threshold': {
    kind: 'integer',
    min: 1,
    default: DEFAULT_ANN_THRESHOLD,
    help: "vectors from which 'auto' builds the vector index",
  },
  queue: {
    kind: 'string',
    arg: 'URL',
    section: 'Distributed (docs/scale-out.md)',
    help:
      'embed on `clap worker`s through the Redis server at redis://HOST:PORT[/DB]: ' +
      'this command queues the files and commits what the workers return',
  },
  'job-files': {
    kind: 'integer',
    min: 1,
    needs: 'queue',
    section: 'Distributed (docs/scale-out.md)',
    help: 'with --queue: files per queued batch',
    default: QUEUE_DEFAULTS.filesPerJob,
  },
});

/** Every option of `table` under the help heading `section`. */
function inSection<T extends OptionTable>(table: T, section: string): T {
  return Object.fromEntries(Object.entries(table).map(([k, d]) => [k, { ...d, section }])) as unknown as T;
}

export const INDEX_AUDIO_OPTIONS = inSection(
  windowOptions('store every 7 s window, so hits point to a time in long files'),
  'Audio (a new index records these; later runs use the recorded ones)',
);

/** Only the audio options given on the command line (the index supplies the rest). */
export function explicitAudio(v: Values<typeof INDEX_AUDIO_OPTIONS>): Partial<IndexAudioOptions> {
  const { sliding, ...rest } = windowSettings(v);
  return sliding ? { ...rest, sliding: { hopS: sliding === true ? AUDIO_DEFAULTS.hopS : (sliding.hopS ?? AUDIO_DEFAULTS.hopS) } } : rest;
}

/**
 * Loads the model for an index: --weights/--config, or those the index recorded. Returns the model
 * (for release) and the opened index.
 */
export async function openWithModel(
  ctx: CommandContext<typeof INDEX_MODEL_OPTIONS>,
  create: boolean,
  extra: {
    audio?: Partial<IndexAudioOptions>;
    ann?: AnnKind;
    annThreshold?: number;
  } = {},
): Promise<{ clap: Clap; index: ClapIndex }> {
  const v = ctx.values;
  const db = v.db;
  let weights = v.weights;
  let config = v.config;
  if (weights === undefined) {
    // The index remembers the weights it was built with.
    const existing = await ClapIndex.open(db).catch((e: unknown) => {
      if (create) return null;
      throw e;
    });
    const rec = existing?.recorded;
    await existing?.close();
    if (!rec?.weightsPath) throw new UsageError('--weights is required');
    weights = rec.weightsPath;
    config ??= rec.configPath;
  }
  // --precision is accepted (MODEL_OPTIONS) but indexes are embedded at fp32.
  const { threads, textPooling, family, tokenizer } = modelSettings(v);
  const clap = await Clap.load({ weights, config, threads, textPooling, family, tokenizer });
  try {
    const index = await ClapIndex.open(db, { clap, create, weightsPath: weights, configPath: config, ...extra });
    return { clap, index };
  } catch (e) {
    await clap.release();
    throw e;
  }
}

function progressReporter(ctx: CommandContext): { onProgress: (p: IndexProgress) => void; stop: () => void } {
  let bar: Progress | undefined;
  let shown = 0;
  return {
    onProgress: ({ done, total, queued }) => {
      if (ctx.json && !ctx.stderr.isTTY) return;
      if (!bar) {
        if (total === 0) return;
        bar = new Progress(total, 'indexing files', ctx.stderr, true);
      }
      // With a queue, also the files still out on the workers.
      if (done > shown || (queued !== undefined && done < total)) {
        bar.tick(done - shown, queued !== undefined ? `(${queued} queued)` : '');
        shown = done;
      }
    },
    stop: () => bar?.stop(),
  };
}

function printReport(ctx: CommandContext, db: string, r: IndexReport): void {
  if (ctx.json) {
    ctx.stdout.write(
      `${JSON.stringify({
        added: r.added,
        updated: r.updated,
        unchanged: r.unchanged,
        removed: r.removed,
        skipped: r.skipped,
        ignored: r.ignored,
        files: r.files,
        seconds: r.seconds,
        ...(r.interrupted ? { interrupted: true, pending: r.pending } : {}),
      })}\n`,
    );
    return;
  }
  const embedded = r.added + r.updated;
  const rate = embedded > 0 ? `, ${(embedded / Math.max(r.seconds, 1e-9)).toFixed(2)} files/s` : '';
  ctx.stdout.write(
    `${db}: ${r.added} added, ${r.updated} updated, ${r.unchanged} unchanged, ${r.removed} removed, ${r.skipped.length} skipped` +
      `${r.ignored ? `, ${r.ignored} non-audio ignored` : ''} — ${plural(r.files, 'file')} indexed (${r.seconds.toFixed(1)} s${rate})` +
      `${r.vectorIndex ? `; vector index ${r.vectorIndex.kind}` : ''}\n`,
  );
}

const INDEX_RUN_OPTIONS = optionTable({ ...INDEX_MODEL_OPTIONS, ...RUN_OPTIONS });
const INDEX_ADD_OPTIONS = optionTable({ ...INDEX_RUN_OPTIONS, ...INDEX_AUDIO_OPTIONS });

const REPORT_JSON =
  '{"added","updated","unchanged","removed","skipped":[{"path","reason"}],"ignored","files","seconds"} ' +
  '(stopped by Ctrl-C: also "interrupted": true, "pending": files left)';

const INTERRUPT_HELP = 'Ctrl-C stops after the batch in flight (exit status 130): committed files stay, the same command resumes.';

async function runIndex(
  ctx: CommandContext<typeof INDEX_RUN_OPTIONS>,
  mode: 'add' | 'sync',
  audio: Partial<IndexAudioOptions> = {},
): Promise<void> {
  const v = ctx.values;
  if (mode === 'add' && ctx.positionals.length === 0) throw new UsageError('give at least one file or folder to index');
  if (mode === 'sync' && ctx.positionals.length > 0)
    throw new UsageError('clap index sync takes no paths (it re-walks those added before)');
  const ann = v['ann-index'];
  const annThreshold = v['ann-threshold'];
  const queueUrl = v.queue;
  const { clap, index } = await openWithModel(ctx, mode === 'add', { audio, ann, annThreshold });
  const progress = progressReporter(ctx);
  try {
    const options = {
      batchSize: v.batch,
      decodeThreads: v['decode-threads'],
      ann,
      annThreshold,
      onProgress: progress.onProgress,
      onSkip: (s: { path: string; reason: string }) => {
        if (!ctx.json) ctx.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
      },
      onNote: (message: string) => ctx.stderr.write(`note: ${message}\n`),
      queue: queueUrl === undefined ? undefined : { url: queueUrl, filesPerJob: v['job-files'] },
    };
    const removedBefore = index.excluded;
    const report = await onInterrupt(ctx.stderr, 'finishing the batch in flight, then stopping', (signal) =>
      mode === 'add' ? index.add(ctx.positionals, { ...options, signal }) : index.sync({ ...options, signal }),
    );
    progress.stop();
    for (const p of removedBefore)
      if (!index.excluded.includes(p) && !ctx.json) ctx.stderr.write(`included again (removed before, added now): ${p}\n`);
    printReport(ctx, index.dir, report);
    if (report.interrupted) {
      throw new Interrupted(
        `interrupted: ${plural(report.added + report.updated, 'file')} committed by this run (${report.files} in the index)` +
          `${report.pending ? `, ${report.pending} left` : ''}; run the same command again to index the rest (committed files are not redone` +
          `${queueUrl ? '; queued batches stay queued and are committed by that run' : ''})`,
      );
    }
  } finally {
    await index.close();
    await clap.release();
  }
}

export const indexAdd = defineCommand({
  path: ['index', 'add'],
  usage: 'index add PATH... --db DIR --weights W',
  summary: 'Index audio files and folders for search (resumable)',
  details:
    'Folders are walked recursively; files already indexed and unchanged are skipped. Adding a path removed before ' +
    `(\`index remove\`), or a folder above it, includes it again.\n\n${INTERRUPT_HELP}`,
  options: INDEX_ADD_OPTIONS,
  json: REPORT_JSON,
  run: (ctx) => runIndex(ctx, 'add', explicitAudio(ctx.values)),
});

export const indexSync = defineCommand({
  path: ['index', 'sync'],
  usage: 'index sync --db DIR',
  summary: 'Bring an index up to date with its folders',
  details: `Adds new files, re-embeds changed ones, drops deleted ones. Paths removed with \`index remove\` stay out.\n\n${INTERRUPT_HELP}`,
  options: INDEX_RUN_OPTIONS,
  json: REPORT_JSON,
  run: (ctx) => runIndex(ctx, 'sync'),
});

export const indexStats = defineCommand({
  path: ['index', 'stats'],
  usage: 'index stats --db DIR',
  summary: 'What an index holds: files, windows, model, size',
  options: DB_OPTION,
  json: '{"files","windows","model":{...},"family","bytes"}',
  async run(ctx) {
    const index = await ClapIndex.open(ctx.values.db);
    try {
      const s = await index.stats();
      if (ctx.json) {
        ctx.stdout.write(`${JSON.stringify({ files: s.files, windows: s.windows, model: s.model, family: s.family, bytes: s.bytes })}\n`);
        return;
      }
      const a = s.model.audio;
      ctx.stdout.write(
        `${[
          `index    ${index.dir}`,
          `files    ${s.files}`,
          `windows  ${s.windows}${a.sliding ? ` (sliding, hop ${a.sliding.hopS} s)` : ''}`,
          `captions ${s.captions}`,
          `family   ${s.family ?? 'not recorded (made before families were; recorded when next opened with its model)'}`,
          `model    ${s.model.id.slice(0, 16)} (weights ${s.model.weights.slice(0, 16)}, config ${s.model.config.slice(0, 16)}, ` +
            `dim ${s.model.dim}, channels ${a.channels})`,
          `vectors  ${s.vectorIndex ? `${s.vectorIndex.kind} index (${s.vectorIndex.unindexed} not yet indexed)` : 'exact search (no ANN index)'}`,
          `bytes    ${s.bytes}`,
          `roots    ${s.roots.join(', ') || '-'}`,
          ...(index.excluded.length ? [`removed  ${index.excluded.join(', ')} (left out of walks until added again)`] : []),
        ].join('\n')}\n`,
      );
    } finally {
      await index.close();
    }
  },
});

export const indexCaptions = defineCommand({
  path: ['index', 'captions'],
  usage: 'index captions FILE.txt --db DIR',
  summary: 'Add captions for audio→text ranking',
  details: 'One caption per line; rank them for a sound with clap search --audio FILE --captions.',
  options: { ...INDEX_MODEL_OPTIONS, replace: { kind: 'boolean', help: 'drop the captions added before' } },
  json: '{"captions": N}',
  async run(ctx) {
    if (ctx.positionals.length !== 1) throw new UsageError('give one text file of captions (one per line)');
    const file = ctx.positionals[0];
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      throw new ClapError(`cannot read captions (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: file });
    }
    const lines = text
      .split(/\r?\n/)
      .map((l) => l.trim())
      .filter((l) => l.length > 0);
    if (lines.length === 0) throw new UsageError(`no captions in ${file}`);
    const { clap, index } = await openWithModel(ctx, false);
    try {
      const n = await index.addCaptions(lines, { replace: ctx.values.replace });
      if (ctx.json) ctx.stdout.write(`${JSON.stringify({ captions: n })}\n`);
      else ctx.stdout.write(`${index.dir}: ${plural(n, 'caption')}\n`);
    } finally {
      await index.close();
      await clap.release();
    }
  },
});

export const indexRemove = defineCommand({
  path: ['index', 'remove'],
  usage: 'index remove PATH... --db DIR',
  summary: 'Drop files or folders from an index',
  details:
    'A removed file or folder stays out: `index sync` leaves it out, until `index add` names it, or a folder above it, again. ' +
    'Removing a folder given to `index add` stops walking it. A path that is not in the index (nothing indexed at or under it, ' +
    'and inside no indexed folder) is reported, exit status 1.',
  options: DB_OPTION,
  json: '{"removed": N}',
  async run(ctx) {
    if (ctx.positionals.length === 0) throw new UsageError('give at least one file or folder to remove');
    const index = await ClapIndex.open(ctx.values.db);
    const notIndexed: { path: string; reason: string }[] = [];
    try {
      const n = await index.remove(ctx.positionals, { onNotIndexed: (s) => notIndexed.push(s) });
      if (ctx.json) ctx.stdout.write(`${JSON.stringify({ removed: n })}\n`);
      else ctx.stdout.write(`${index.dir}: ${plural(n, 'file')} removed\n`);
    } finally {
      await index.close();
    }
    if (notIndexed.length === 1) throw new ClapError(notIndexed[0].reason, { subject: notIndexed[0].path });
    if (notIndexed.length > 1)
      throw new ClapError(
        `${notIndexed.length} paths are not in the index: ${notIndexed.map((s) => `${s.path} (${s.reason})`).join(', ')}`,
      );
  },
});

export const indexCommands = [indexAdd, indexSync, indexStats, indexCaptions, indexRemove];
