import { basename, extname } from 'node:path';
import { ClapError, plural } from '../../errors.js';
import type { ClapFamily } from '../../models/clap/index.js';
import { DEFAULT_TEMPLATE } from '../../tasks/clap.js';
import {
  ADAPTERS,
  type AdapterOptions,
  EmbeddingCache,
  EVAL_DEFAULTS,
  type EvalDataset,
  evaluateCaptions,
  evaluateDataset,
  type EvalResult,
  findAdapter,
  loadDataset,
  loadManifest,
  MANIFEST_DEFAULTS,
  MANIFEST_LAYOUT,
  PAPER_2023,
  paperNumbers,
  PATH_COLUMNS,
  readCsv,
  type ReportContext,
  writeReport,
} from '../../tasks/eval/index.js';
import { readJson, readText } from '../../tasks/eval/table.js';
import { type CommandContext, defineCommand, UsageError } from '../command.js';
import { optionTable, type Values } from '../options.js';
import { AUDIO_OPTIONS, embedOptions, loadModel, MODEL_OPTIONS } from './shared.js';

const TASKS = `${ADAPTERS.map((a) => a.task).join(', ')}, manifest`;

const MANIFEST_OPTIONS = optionTable({
  'label-column': { kind: 'string', arg: 'COL', section: 'manifest', help: 'distinct values = the zero-shot classes' },
  'caption-column': { kind: 'string', arg: 'COL', section: 'manifest', help: 'captions for text↔audio retrieval' },
  'path-column': {
    kind: 'string',
    arg: 'COL',
    section: 'manifest',
    help: 'the audio path column',
    defaultText: `the first of ${PATH_COLUMNS.join(', ')}`,
  },
  'multi-label': { kind: 'boolean', section: 'manifest', help: 'labels split on --label-separator, sigmoid scoring, mAP and F1' },
  'label-separator': {
    kind: 'string',
    arg: 'S',
    section: 'manifest',
    default: MANIFEST_DEFAULTS.labelSeparator,
    help: 'between labels with --multi-label',
  },
});

const ADAPTER_OPTIONS = optionTable({
  fold: { kind: 'integer', min: 1, help: 'one fold only (esc50, us8k, tut2017 development)' },
  split: { kind: 'string', arg: 'S', help: 'another split (e.g. fsd50k dev, speech-commands validation, clotho validation)' },
  limit: { kind: 'integer', min: 1, help: 'an evenly spaced sample of N clips (quick checks)' },
  'allow-missing': { kind: 'boolean', help: 'leave out metadata entries without an audio file (AudioCaps/AudioSet downloads)' },
  ...MANIFEST_OPTIONS,
});

function templatesOf(values: { template?: string[]; 'templates-file'?: string }): string[] | undefined {
  const inline = values.template ?? [];
  const file = values['templates-file'];
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

function adapterOptions(v: Values<typeof ADAPTER_OPTIONS>): AdapterOptions {
  return {
    fold: v.fold,
    split: v.split,
    limit: v.limit,
    allowMissing: v['allow-missing'],
    labelColumn: v['label-column'],
    captionColumn: v['caption-column'],
    pathColumn: v['path-column'],
    multiLabel: v['multi-label'],
    labelSeparator: v['label-separator'],
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

function printTable(
  ctx: CommandContext,
  result: EvalResult,
  dataset: EvalDataset,
  family: ClapFamily | undefined,
  report?: { markdown: string; png?: string },
): void {
  // The paper's numbers are msclap 2023's: other families get no paper column.
  const paper = family === undefined || family === 'msclap-2023' ? (paperNumbers(result.task) ?? {}) : undefined;
  ctx.stdout.write(
    `${dataset.title} (${result.task}, ${dataset.split}): ${plural(result.n, 'clip')}` +
      `${result.classes ? `, ${plural(result.classes, 'class', 'classes')}` : ''}\n`,
  );
  const rows = Object.entries(result.metrics);
  const w = Math.max(...rows.map(([k]) => k.length), 6);
  const pct = (k: string, v: number | undefined): string =>
    v === undefined ? '' : ['cider_d', 'spider', 'spice'].includes(k) ? v.toFixed(3) : `${(100 * v).toFixed(1)}%`;
  const paperCell = (k: string): string => (paper ? `  ${pct(k, paper[k]).padStart(7)}` : '');
  ctx.stdout.write(`  ${'metric'.padEnd(w)}  ${'ours'.padStart(7)}${paper ? `  ${'paper'.padStart(7)}` : ''}\n`);
  for (const [k, v] of rows) ctx.stdout.write(`  ${k.padEnd(w)}  ${pct(k, v).padStart(7)}${paperCell(k)}\n`);
  const d = result.details;
  if (d.missing.length) ctx.stdout.write(`  (${plural(d.missing.length, 'clip')} without audio left out)\n`);
  if (d.skipped.length) ctx.stdout.write(`  (${plural(d.skipped.length, 'undecodable clip')} left out)\n`);
  if (report) ctx.stdout.write(`report: ${report.markdown}${report.png ? ` (+ ${basename(report.png)})` : ''}\n`);
}

export const evalCommand = defineCommand({
  path: ['eval'],
  usage: 'eval TASK --data DIR --weights W',
  summary: "Zero-shot benchmarks on local datasets (the paper's tasks)",
  details: `A dataset in its official layout, or a CSV/JSONL manifest. TASK is one of ${TASKS}; 'clap eval list' shows each dataset's layout.`,
  options: {
    data: { kind: 'path', arg: 'DIR', help: 'the dataset folder as distributed (or a .csv/.jsonl file for manifest)' },
    out: {
      kind: 'path',
      arg: 'report.md',
      output: 'file',
      help: "write a Markdown report with the paper's numbers, report.json and (single-label classification) report.confusion.png",
    },
    template: {
      kind: 'string',
      arg: 'T',
      repeatable: true,
      default: DEFAULT_TEMPLATE,
      help: "prompt ('{}' = class text, else appended); several make a prompt ensemble (mean of the normalised text embeddings)",
    },
    'templates-file': { kind: 'path', arg: 'F', help: 'templates, one per line (adds to --template)' },
    ...ADAPTER_OPTIONS,
    'skip-errors': { kind: 'boolean', help: 'leave out clips that fail to decode (listed in the report)' },
    threshold: { kind: 'number', min: 0, max: 1, default: EVAL_DEFAULTS.threshold, help: 'multi-label F1 decisions: probability > X' },
    cache: { kind: 'path', arg: 'DIR', help: 'embedding cache folder', defaultText: '$CLAP_CACHE_DIR/eval, else ~/.cache/clap-ts/eval' },
    'no-cache': { kind: 'boolean', help: 'do not read or write the cache' },
    predictions: {
      kind: 'path',
      arg: 'F',
      section: 'captioning tasks (audiocaps-captions, clotho-captions)',
      help: 'generated captions: CSV file_name,caption_predicted or JSON [{file_name, caption}]',
    },
    spice: {
      kind: 'number',
      min: 0,
      section: 'captioning tasks (audiocaps-captions, clotho-captions)',
      help: 'corpus SPICE score computed elsewhere → SPIDEr = (CIDEr-D + SPICE) / 2',
    },
    ...MODEL_OPTIONS,
    weights: { ...MODEL_OPTIONS.weights, required: undefined },
    ...AUDIO_OPTIONS,
  },
  json: '{"task", "n", "classes", "metrics": {...}}',
  async run(ctx) {
    const task = ctx.positionals[0];
    if (task === undefined) throw new UsageError(`give a task: clap eval TASK --data DIR (tasks: ${TASKS})`);
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
    if (task !== 'manifest' && !adapter) throw new UsageError(`unknown task '${task}' (tasks: ${TASKS})`);
    const v = ctx.values;
    const data = v.data;
    if (data === undefined) throw new UsageError('--data is required');
    const options = adapterOptions(v);
    if (task === 'manifest') {
      if (options.labelColumn === undefined && options.captionColumn === undefined)
        throw new UsageError('manifest needs --label-column (and/or --caption-column)');
    } else {
      const manifestOnly = Object.keys(MANIFEST_OPTIONS).find((o) => ctx.given.has(o));
      if (manifestOnly) throw new UsageError(`--${manifestOnly} is for 'clap eval manifest'`);
    }
    const { threshold, spice, out, weights } = v;
    const templates = templatesOf(v);
    const dataset = task === 'manifest' ? loadManifest(data, options) : loadDataset(task, data, options);
    const reportCtx: ReportContext = { model: weights, command: `clap eval ${task} --data ${data}` };
    let result: EvalResult;
    if (dataset.captioning) {
      const predictions = v.predictions;
      if (predictions === undefined)
        throw new UsageError(`${task} scores generated captions: give --predictions FILE (CSV file_name,caption_predicted or JSON)`);
      result = evaluateCaptions(dataset, readPredictions(predictions), spice);
    } else {
      if (v.predictions !== undefined || spice !== undefined)
        throw new UsageError('--predictions and --spice are for the captioning tasks (audiocaps-captions, clotho-captions)');
      if (v.cache !== undefined && v['no-cache']) throw new UsageError('give --cache DIR or --no-cache, not both');
      if (v.weights === undefined) throw new UsageError('--weights is required');
      const cache = v['no-cache'] ? undefined : new EmbeddingCache(v.cache);
      const { onProgress, ...audio } = embedOptions(ctx, dataset.items.length);
      const clap = await loadModel({ ...v, weights: v.weights });
      reportCtx.model = `${v.weights} (${clap.description})`;
      reportCtx.family = clap.family;
      try {
        result = await evaluateDataset(clap, dataset, {
          templates,
          audio,
          cache,
          threshold,
          skipErrors: v['skip-errors'],
          onProgress: (d) => onProgress?.(d, dataset.items.length),
        });
      } finally {
        await clap.release();
      }
    }
    const report = out !== undefined ? writeReport(result, out, reportCtx) : undefined;
    if (ctx.json)
      ctx.stdout.write(`${JSON.stringify({ task: result.task, n: result.n, classes: result.classes, metrics: result.metrics })}\n`);
    else printTable(ctx, result, dataset, reportCtx.family, report);
  },
});
