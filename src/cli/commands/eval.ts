import { basename, extname } from 'node:path';
import { ClapError } from '../../errors.js';
import { DEFAULT_TEMPLATE } from '../../tasks/clap.js';
import {
  ADAPTERS,
  type AdapterOptions,
  EmbeddingCache,
  type EvalDataset,
  evaluateCaptions,
  evaluateDataset,
  type EvalResult,
  findAdapter,
  loadDataset,
  loadManifest,
  MANIFEST_LAYOUT,
  PAPER_2023,
  readCsv,
  writeReport,
} from '../../tasks/eval/index.js';
import { readJson, readText } from '../../tasks/eval/table.js';
import { type Command, type CommandContext, num, type ParsedValues, required, str, UsageError } from '../command.js';
import { AUDIO_HELP, AUDIO_OPTIONS, audioOptions, intOption, loadModel, MODEL_HELP, MODEL_OPTIONS } from './shared.js';

function templatesOf(values: ParsedValues): string[] | undefined {
  const t = values.template;
  const inline = (Array.isArray(t) ? t : t === undefined ? [] : [t]).filter((x): x is string => typeof x === 'string');
  const file = str(values, 'templates-file');
  const fromFile =
    file === undefined
      ? []
      : readText(file, 'templates')
          .split(/\r?\n/)
          .filter((l) => l.trim() !== '');
  if (file !== undefined && fromFile.length === 0) throw new UsageError(`no templates in ${file}`);
  const all = [...inline, ...fromFile];
  return all.length ? all : undefined;
}

function adapterOptions(values: ParsedValues): AdapterOptions {
  return {
    fold: intOption(values, 'fold'),
    split: str(values, 'split'),
    limit: intOption(values, 'limit'),
    allowMissing: values['allow-missing'] === true,
    labelColumn: str(values, 'label-column'),
    captionColumn: str(values, 'caption-column'),
    pathColumn: str(values, 'path-column'),
    multiLabel: values['multi-label'] === true,
    labelSeparator: str(values, 'label-separator'),
  };
}

/** Generated captions: CSV (file_name + caption_predicted or caption) or JSON ([{file_name|input|path|id, caption}] or {name: caption}). */
function readPredictions(file: string): Map<string, string> {
  const map = new Map<string, string>();
  const add = (k: string, v: string): void => {
    map.set(k, v);
    map.set(basename(k), v);
  };
  if (extname(file).toLowerCase() === '.json') {
    const data = readJson(file, 'predictions');
    if (Array.isArray(data)) {
      for (const d of data as Record<string, unknown>[]) {
        const key = d.file_name ?? d.input ?? d.path ?? d.id;
        const cap = d.caption ?? d.caption_predicted ?? (Array.isArray(d.captions) ? d.captions[0] : undefined);
        if (typeof key === 'string' && typeof cap === 'string') add(key, cap);
      }
    } else if (data && typeof data === 'object') {
      for (const [k, v] of Object.entries(data)) if (typeof v === 'string') add(k, v);
    }
  } else {
    const { columns, rows } = readCsv(file, ['file_name']);
    const col = ['caption_predicted', 'caption'].find((c) => columns.includes(c));
    if (!col) throw new ClapError('no caption_predicted or caption column', { subject: file });
    for (const r of rows) add(r.file_name, r[col]);
  }
  if (map.size === 0) throw new ClapError('no predictions found', { subject: file });
  return map;
}

function printTable(ctx: CommandContext, result: EvalResult, dataset: EvalDataset, report?: { markdown: string; png?: string }): void {
  const paper = PAPER_2023[result.task] ?? {};
  ctx.stdout.write(
    `${dataset.title} (${result.task}, ${dataset.split}): ${result.n} clips${result.classes ? `, ${result.classes} classes` : ''}\n`,
  );
  const rows = Object.entries(result.metrics);
  const w = Math.max(...rows.map(([k]) => k.length), 6);
  const pct = (k: string, v: number | undefined): string =>
    v === undefined ? '' : ['cider_d', 'spider', 'spice'].includes(k) ? v.toFixed(3) : `${(100 * v).toFixed(1)}%`;
  ctx.stdout.write(`  ${'metric'.padEnd(w)}  ${'ours'.padStart(7)}  ${'paper'.padStart(7)}\n`);
  for (const [k, v] of rows) ctx.stdout.write(`  ${k.padEnd(w)}  ${pct(k, v).padStart(7)}  ${pct(k, paper[k]).padStart(7)}\n`);
  const d = result.details;
  if (d.missing.length) ctx.stdout.write(`  (${d.missing.length} clips without audio left out)\n`);
  if (d.skipped.length) ctx.stdout.write(`  (${d.skipped.length} undecodable clips left out)\n`);
  if (report) ctx.stdout.write(`report: ${report.markdown}${report.png ? ` (+ ${basename(report.png)})` : ''}\n`);
}

export const evalCommand: Command = {
  path: ['eval'],
  usage: 'eval TASK --data DIR --weights W',
  summary: "Zero-shot benchmark on a local dataset in its official layout (the paper's tasks), or a manifest",
  options: {
    ...MODEL_OPTIONS,
    ...AUDIO_OPTIONS,
    data: { type: 'string' },
    out: { type: 'string' },
    template: { type: 'string', multiple: true },
    'templates-file': { type: 'string' },
    fold: { type: 'string' },
    split: { type: 'string' },
    limit: { type: 'string' },
    'allow-missing': { type: 'boolean' },
    'skip-errors': { type: 'boolean' },
    threshold: { type: 'string' },
    cache: { type: 'string' },
    'no-cache': { type: 'boolean' },
    'label-column': { type: 'string' },
    'caption-column': { type: 'string' },
    'path-column': { type: 'string' },
    'multi-label': { type: 'boolean' },
    'label-separator': { type: 'string' },
    predictions: { type: 'string' },
    spice: { type: 'string' },
  },
  help: [
    `  TASK               ${ADAPTERS.map((a) => a.task).join(', ')}, manifest; 'clap eval list' shows each layout`,
    '  --data DIR         the dataset folder as distributed (or a .csv/.jsonl file for manifest)',
    "  --out report.md    write a Markdown report with the paper's numbers, report.json and (single-label",
    '                     classification) report.confusion.png',
    `  --template T       prompt ('{}' = class text, else appended; default '${DEFAULT_TEMPLATE}'); repeat for a`,
    '                     prompt ensemble (mean of the normalised text embeddings)',
    '  --templates-file F templates, one per line (adds to --template)',
    '  --fold N           one fold only (esc50, us8k, tut2017 development)',
    '  --split S          another split (e.g. fsd50k dev, speech-commands validation, clotho validation)',
    '  --limit N          an evenly spaced sample of N clips (quick checks)',
    '  --allow-missing    leave out metadata entries without an audio file (AudioCaps/AudioSet downloads)',
    '  --skip-errors      leave out clips that fail to decode (listed in the report)',
    '  --threshold X      multi-label F1 decisions: probability > X (default 0.5)',
    '  --cache DIR        embedding cache folder (default $CLAP_CACHE_DIR or ~/.cache/clap-ts/eval)',
    '  --no-cache         do not read or write the cache',
    'manifest:',
    '  --label-column COL distinct values = the zero-shot classes',
    '  --caption-column C captions for text↔audio retrieval',
    '  --path-column COL  the audio path column (default: path, file, filename, file_name, audio)',
    "  --multi-label      labels split on --label-separator (default ';'), sigmoid scoring, mAP and F1",
    'captioning tasks (audiocaps-captions, clotho-captions):',
    '  --predictions F    generated captions: CSV file_name,caption_predicted or JSON [{file_name, caption}]',
    '  --spice X          corpus SPICE score computed elsewhere → SPIDEr = (CIDEr-D + SPICE) / 2',
    MODEL_HELP,
    AUDIO_HELP,
    '  --json             {"task", "n", "classes", "metrics": {...}}',
  ].join('\n'),
  async run(ctx) {
    const task = ctx.positionals[0];
    if (task === undefined)
      throw new UsageError(`give a task: clap eval TASK --data DIR (tasks: ${ADAPTERS.map((a) => a.task).join(', ')}, manifest)`);
    if (ctx.positionals.length > 1) throw new UsageError(`one task at a time (got ${ctx.positionals.join(' ')})`);
    if (task === 'list') {
      const rows = [
        ...ADAPTERS.map((a) => ({ task: a.task, kind: a.kind, title: a.title, layout: a.layout, paper: PAPER_2023[a.task] ?? null })),
        { task: 'manifest', kind: 'multi-class', title: 'CSV/JSONL manifest', layout: MANIFEST_LAYOUT, paper: null },
      ];
      if (ctx.json) ctx.stdout.write(`${JSON.stringify(rows)}\n`);
      else for (const r of rows) ctx.stdout.write(`${r.task.padEnd(20)} ${r.kind.padEnd(12)} ${r.layout}\n`);
      return;
    }
    const adapter = task === 'manifest' ? undefined : findAdapter(task);
    if (task !== 'manifest' && !adapter)
      throw new UsageError(`unknown task '${task}' (tasks: ${ADAPTERS.map((a) => a.task).join(', ')}, manifest)`);
    const data = required(ctx.values, 'data');
    const options = adapterOptions(ctx.values);
    if (task === 'manifest') {
      if (options.labelColumn === undefined && options.captionColumn === undefined)
        throw new UsageError('manifest needs --label-column (and/or --caption-column)');
    } else {
      for (const o of ['label-column', 'caption-column', 'path-column', 'multi-label', 'label-separator'] as const) {
        if (ctx.values[o] !== undefined) throw new UsageError(`--${o} is for 'clap eval manifest'`);
      }
    }
    const threshold = num(ctx.values, 'threshold');
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) throw new UsageError('--threshold must be within [0, 1]');
    const spice = num(ctx.values, 'spice');
    const templates = templatesOf(ctx.values);
    const dataset = task === 'manifest' ? loadManifest(data, options) : loadDataset(task, data, options);
    const out = str(ctx.values, 'out');
    const weights = str(ctx.values, 'weights');
    const reportCtx = { model: weights, command: `clap eval ${task} --data ${data}` };
    let result: EvalResult;
    if (dataset.captioning) {
      const predictions = str(ctx.values, 'predictions');
      if (predictions === undefined)
        throw new UsageError(`${task} scores generated captions: give --predictions FILE (CSV file_name,caption_predicted or JSON)`);
      result = evaluateCaptions(dataset, readPredictions(predictions), spice);
    } else {
      if (ctx.values.predictions !== undefined || spice !== undefined)
        throw new UsageError('--predictions and --spice are for the captioning tasks (audiocaps-captions, clotho-captions)');
      if (ctx.values.cache !== undefined && ctx.values['no-cache'] === true)
        throw new UsageError('give --cache DIR or --no-cache, not both');
      const cache = ctx.values['no-cache'] === true ? undefined : new EmbeddingCache(str(ctx.values, 'cache'));
      const { onProgress, ...audio } = audioOptions(ctx, dataset.items.length);
      const clap = await loadModel(ctx.values);
      try {
        result = await evaluateDataset(clap, dataset, {
          templates,
          audio,
          cache,
          threshold,
          skipErrors: ctx.values['skip-errors'] === true,
          onProgress: onProgress ? (d) => onProgress(d, dataset.items.length) : undefined,
        });
      } finally {
        await clap.release();
      }
    }
    const report = out !== undefined ? writeReport(result, out, reportCtx) : undefined;
    if (ctx.json)
      ctx.stdout.write(`${JSON.stringify({ task: result.task, n: result.n, classes: result.classes, metrics: result.metrics })}\n`);
    else printTable(ctx, result, dataset, report);
  },
};
