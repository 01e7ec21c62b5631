import { readFileSync } from 'node:fs';
import { ClapError } from '../../errors.js';
import { Clap } from '../../tasks/clap.js';
import { ClapIndex, type AnnKind, type IndexAudioOptions, type IndexReport } from '../../tasks/clap-index.js';
import { type Command, type CommandContext, num, type OptionSpec, type ParsedValues, required, str, UsageError } from '../command.js';
import { Interrupted, onInterrupt } from '../interrupt.js';
import { Progress } from '../progress.js';
import { intOption, MODEL_OPTIONS, modelSettings, WINDOW_OPTIONS, windowHelp, windowOptions } from './shared.js';

export const DB_OPTION: OptionSpec = { db: { type: 'string' } };

export const INDEX_MODEL_HELP = [
  '  --db DIR           the index folder',
  '  --weights W        CLAP weights (default: the ones the index was built with)',
  '  --config C         config.json or preset (default: the one the index was built with)',
  '  --threads N        compute threads (default: all cores)',
].join('\n');

const RUN_OPTIONS: OptionSpec = {
  batch: { type: 'string' },
  'decode-threads': { type: 'string' },
};

const RUN_HELP = [
  '  --batch N          7 s windows per encoder run, and per store commit (default 8)',
  '  --decode-threads N decode worker threads (default: half the cores, 1-4; 0 = on the main thread)',
].join('\n');

const INTERRUPT_HELP = 'Ctrl-C stops after the batch in flight (exit status 130): committed files stay, the same command resumes.';

const AUDIO_HELP = [
  'Audio options (a new index records them; later runs use the recorded ones):',
  windowHelp('store every 7 s window, so hits point to a time in long files'),
].join('\n');

/** Only the audio options given on the command line (the index supplies the rest). */
function explicitAudio(v: ParsedValues): Partial<IndexAudioOptions> {
  const out: Partial<IndexAudioOptions> = windowOptions(v);
  const hop = num(v, 'hop');
  if (hop !== undefined && !(hop > 0)) throw new UsageError('--hop must be a positive number of seconds');
  if (v.sliding === true) out.sliding = { hopS: hop ?? 7 };
  else if (hop !== undefined) throw new UsageError('--hop needs --sliding');
  return out;
}

function annOption(v: ParsedValues): AnnKind | undefined {
  const a = str(v, 'ann-index');
  if (a === undefined) return undefined;
  if (a !== 'auto' && a !== 'none' && a !== 'ivf-pq' && a !== 'hnsw')
    throw new UsageError(`--ann-index must be auto, none, ivf-pq or hnsw, got '${a}'`);
  return a;
}

export function dbDir(v: ParsedValues): string {
  return required(v, 'db');
}

/**
 * Loads the model for an index: --weights/--config, or those the index recorded. Returns the model
 * (for release) and the opened index.
 */
export async function openWithModel(
  ctx: CommandContext,
  create: boolean,
  extra: {
    audio?: Partial<IndexAudioOptions>;
    ann?: AnnKind;
    annThreshold?: number;
  } = {},
): Promise<{ clap: Clap; index: ClapIndex }> {
  const v = ctx.values;
  const db = dbDir(v);
  let weights = str(v, 'weights');
  let config = str(v, 'config');
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
  const { threads, textPooling } = modelSettings(v);
  const clap = await Clap.load({ weights, config, threads, textPooling });
  try {
    const index = await ClapIndex.open(db, { clap, create, weightsPath: weights, configPath: config, ...extra });
    return { clap, index };
  } catch (e) {
    await clap.release();
    throw e;
  }
}

function progressReporter(ctx: CommandContext): { onProgress: (p: { done: number; total: number }) => void; stop: () => void } {
  let bar: Progress | undefined;
  let shown = 0;
  return {
    onProgress: ({ done, total }) => {
      if (ctx.json && !ctx.stderr.isTTY) return;
      if (!bar) {
        if (total === 0) return;
        bar = new Progress(total, 'indexing files', ctx.stderr, true);
      }
      if (done > shown) {
        bar.tick(done - shown);
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
      `${r.ignored ? `, ${r.ignored} non-audio ignored` : ''} — ${r.files} files indexed (${r.seconds.toFixed(1)} s${rate})` +
      `${r.vectorIndex ? `; vector index ${r.vectorIndex.kind}` : ''}\n`,
  );
}

async function runIndex(ctx: CommandContext, mode: 'add' | 'sync'): Promise<void> {
  const v = ctx.values;
  if (mode === 'add' && ctx.positionals.length === 0) throw new UsageError('give at least one file or folder to index');
  if (mode === 'sync' && ctx.positionals.length > 0)
    throw new UsageError('clap index sync takes no paths (it re-walks those added before)');
  const batchSize = intOption(v, 'batch');
  const decodeThreads = intOption(v, 'decode-threads', 0);
  const annThreshold = intOption(v, 'ann-threshold');
  const { clap, index } = await openWithModel(ctx, mode === 'add', { audio: explicitAudio(v), ann: annOption(v), annThreshold });
  const progress = progressReporter(ctx);
  try {
    const options = {
      batchSize,
      decodeThreads,
      ann: annOption(v),
      annThreshold,
      onProgress: progress.onProgress,
      onSkip: (s: { path: string; reason: string }) => {
        if (!ctx.json) ctx.stderr.write(`skipped ${s.path}: ${s.reason}\n`);
      },
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
      const committed = report.added + report.updated;
      throw new Interrupted(
        `interrupted: ${committed} file${committed === 1 ? '' : 's'} committed by this run (${report.files} in the index)` +
          `${report.pending ? `, ${report.pending} left` : ''}; run the same command again to index the rest (committed files are not redone)`,
      );
    }
  } finally {
    await index.close();
    await clap.release();
  }
}

export const indexAdd: Command = {
  path: ['index', 'add'],
  usage: 'index add PATH... --db DIR --weights W',
  summary: 'Index audio files and folders (recursively) for search; incremental, resumable',
  options: {
    ...MODEL_OPTIONS,
    ...DB_OPTION,
    ...WINDOW_OPTIONS,
    ...RUN_OPTIONS,
    'ann-index': { type: 'string' },
    'ann-threshold': { type: 'string' },
  },
  help: [
    INDEX_MODEL_HELP,
    RUN_HELP,
    "  --ann-index K      vector index: 'auto' (default: IVF-PQ once the library is large), 'ivf-pq' or 'hnsw' (from 256 vectors on), 'none'",
    '  --ann-threshold N  vectors from which auto builds the index (default 20000)',
    AUDIO_HELP,
    '  --json             {"added","updated","unchanged","removed","skipped":[{"path","reason"}],"ignored","files","seconds"}',
    '                     (stopped by Ctrl-C: also "interrupted": true, "pending": files left)',
    '',
    'Adding a path removed before (`index remove`), or a folder above it, includes it again.',
    INTERRUPT_HELP,
  ].join('\n'),
  run: (ctx) => runIndex(ctx, 'add'),
};

export const indexSync: Command = {
  path: ['index', 'sync'],
  usage: 'index sync --db DIR',
  summary: 'Bring an index up to date: add new files, re-embed changed ones, drop deleted ones',
  options: { ...MODEL_OPTIONS, ...DB_OPTION, ...RUN_OPTIONS, 'ann-index': { type: 'string' }, 'ann-threshold': { type: 'string' } },
  help: [
    INDEX_MODEL_HELP,
    RUN_HELP,
    '  --ann-index K, --ann-threshold N   as for index add',
    '  --json             as for index add',
    '',
    'Paths removed with `index remove` stay out.',
    INTERRUPT_HELP,
  ].join('\n'),
  run: (ctx) => runIndex(ctx, 'sync'),
};

export const indexStats: Command = {
  path: ['index', 'stats'],
  usage: 'index stats --db DIR',
  summary: 'What an index holds: files, windows, model, size on disk',
  options: { ...DB_OPTION },
  help: ['  --db DIR           the index folder', '  --json             {"files","windows","model":{...},"bytes"}'].join('\n'),
  async run(ctx) {
    const index = await ClapIndex.open(dbDir(ctx.values));
    try {
      const s = await index.stats();
      if (ctx.json) {
        ctx.stdout.write(`${JSON.stringify({ files: s.files, windows: s.windows, model: s.model, bytes: s.bytes })}\n`);
        return;
      }
      const a = s.model.audio;
      ctx.stdout.write(
        `${[
          `index    ${index.dir}`,
          `files    ${s.files}`,
          `windows  ${s.windows}${a.sliding ? ` (sliding, hop ${a.sliding.hopS} s)` : ''}`,
          `captions ${s.captions}`,
          `model    ${s.model.id.slice(0, 16)} (weights ${s.model.weights.slice(0, 16)}, config ${s.model.config.slice(0, 16)}, dim ${s.model.dim}, channels ${a.channels})`,
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
};

export const indexCaptions: Command = {
  path: ['index', 'captions'],
  usage: 'index captions FILE.txt --db DIR',
  summary: 'Add captions (one per line) for audio→text ranking (clap search --audio FILE --captions)',
  options: { ...MODEL_OPTIONS, ...DB_OPTION, replace: { type: 'boolean' } },
  help: [INDEX_MODEL_HELP, '  --replace          drop the captions added before', '  --json             {"captions": N}'].join('\n'),
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
      const n = await index.addCaptions(lines, { replace: ctx.values.replace === true });
      if (ctx.json) ctx.stdout.write(`${JSON.stringify({ captions: n })}\n`);
      else ctx.stdout.write(`${index.dir}: ${n} captions\n`);
    } finally {
      await index.close();
      await clap.release();
    }
  },
};

export const indexRemove: Command = {
  path: ['index', 'remove'],
  usage: 'index remove PATH... --db DIR',
  summary: 'Drop files or folders from an index (and from what sync re-walks)',
  options: { ...DB_OPTION },
  help: [
    '  --db DIR           the index folder',
    '  --json             {"removed": N}',
    '',
    'A removed file or folder stays out: `index sync` leaves it out, until `index add` names it, or a',
    'folder above it, again. Removing a folder given to `index add` stops walking it. A path that is not',
    'in the index (nothing indexed at or under it, and inside no indexed folder) is reported, exit status 1.',
  ].join('\n'),
  async run(ctx) {
    if (ctx.positionals.length === 0) throw new UsageError('give at least one file or folder to remove');
    const index = await ClapIndex.open(dbDir(ctx.values));
    const notIndexed: { path: string; reason: string }[] = [];
    try {
      const n = await index.remove(ctx.positionals, { onNotIndexed: (s) => notIndexed.push(s) });
      if (ctx.json) ctx.stdout.write(`${JSON.stringify({ removed: n })}\n`);
      else ctx.stdout.write(`${index.dir}: ${n} file${n === 1 ? '' : 's'} removed\n`);
    } finally {
      await index.close();
    }
    if (notIndexed.length === 1) throw new ClapError(notIndexed[0].reason, { subject: notIndexed[0].path });
    if (notIndexed.length > 1)
      throw new ClapError(
        `${notIndexed.length} paths are not in the index: ${notIndexed.map((s) => `${s.path} (${s.reason})`).join(', ')}`,
      );
  },
};

export const indexCommands: Command[] = [indexAdd, indexSync, indexStats, indexCaptions, indexRemove];
