/**
 * Reports: the published numbers of the official 2023 weights (arXiv 2309.05767, Table 2) beside
 * ours, as Markdown and JSON, plus the confusion matrix PNG of single-label classification tasks.
 */
import { writeFileSync } from 'node:fs';
import { basename, dirname, extname, join } from 'node:path';
import { plural } from '../../errors.js';
import type { ClapFamily } from '../../models/clap/index.js';
import type { EvalResult } from './evaluate.js';
import { renderConfusionMatrix } from './png.js';
import { makeDirs } from '../../files.js';

/** Table 2 of arXiv 2309.05767 for the released CLAP 2023 weights, as fractions. */
export const PAPER_2023: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  esc50: { accuracy: 0.939 },
  us8k: { accuracy: 0.823 },
  fsd50k: { mAP: 0.485 },
  'gtzan-genres': { accuracy: 0.584 },
  'gtzan-music-speech': { accuracy: 0.992 },
  vocalsound: { accuracy: 0.8 },
  tut2017: { accuracy: 0.538 },
  'crema-d': { accuracy: 0.3 },
  ravdess: { accuracy: 0.315 },
  'speech-commands': { accuracy: 0.164 },
  libricount: { accuracy: 0.246 },
  audiocaps: { 'a2t_R@1': 0.425, 't2a_R@1': 0.356 },
  clotho: { 'a2t_R@1': 0.229, 't2a_R@1': 0.157 },
};

export const PAPER_SOURCE =
  'Elizalde et al., "Natural Language Supervision for General-Purpose Audio Representations", arXiv 2309.05767, Table 2';

const METRIC_NAMES: Record<string, string> = {
  accuracy: 'accuracy',
  mAP: 'mAP (macro)',
  f1: 'F1 (DCASE2017 T4, instance-based)',
  precision: 'precision',
  recall: 'recall',
  'a2t_R@1': 'audio→text R@1',
  'a2t_R@5': 'audio→text R@5',
  'a2t_R@10': 'audio→text R@10',
  'a2t_mAP@10': 'audio→text mAP@10',
  't2a_R@1': 'text→audio R@1',
  't2a_R@5': 'text→audio R@5',
  't2a_R@10': 'text→audio R@10',
  't2a_mAP@10': 'text→audio mAP@10',
  cider_d: 'CIDEr-D',
  spice: 'SPICE (supplied)',
  spider: 'SPIDEr',
};

/** Metrics shown as percentages (CIDEr-D and SPIDEr are not). */
function isPercent(metric: string): boolean {
  return !['cider_d', 'spider', 'spice'].includes(metric);
}

function fmt(metric: string, v: number | undefined): string {
  if (v === undefined || !Number.isFinite(v)) return '–';
  return isPercent(metric) ? (100 * v).toFixed(1) : v.toFixed(3);
}

function esc(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export interface ReportContext {
  /** Weights file (or other model description) for the header. */
  model?: string;
  /**
   * The model's family: the paper's numbers are those of the released msclap 2023 weights, so they are shown
   * (a `paper` column, `paper` in the JSON) only for 'msclap-2023' — the default when no family is given.
   */
  family?: ClapFamily;
  /** File name of the confusion matrix image next to the report, if written. */
  confusionPng?: string;
  /** Command line or other provenance. */
  command?: string;
  date?: Date;
}

/** The paper's numbers for `task` when they apply to a model of `family` (msclap 2023's; default), else undefined. */
export function paperNumbers(task: string, family: ClapFamily = 'msclap-2023'): Readonly<Record<string, number>> | undefined {
  return family === 'msclap-2023' ? PAPER_2023[task] : undefined;
}

/** The report's JSON: the result plus the paper's numbers (msclap 2023 models only). */
export function reportJson(result: EvalResult, ctx: ReportContext = {}): Record<string, unknown> {
  const paper = paperNumbers(result.task, ctx.family);
  return {
    task: result.task,
    n: result.n,
    classes: result.classes,
    metrics: result.metrics,
    paper: paper ?? null,
    paperSource: paper ? PAPER_SOURCE : null,
    model: ctx.model ?? null,
    command: ctx.command ?? null,
    date: (ctx.date ?? new Date()).toISOString(),
    confusionPng: ctx.confusionPng ?? null,
    details: result.details,
  };
}

export function renderMarkdown(result: EvalResult, ctx: ReportContext = {}): string {
  const d = result.details;
  const paper = paperNumbers(result.task, ctx.family);
  const out: string[] = [];
  out.push(`# ${d.title} — zero-shot evaluation (\`clap eval ${result.task}\`)`, '');
  const facts: [string, string][] = [
    ['split', d.split],
    ['clips', String(result.n)],
  ];
  if (result.classes) facts.push(['classes', String(result.classes)]);
  if (d.retrieval) facts.push(['texts', String(d.retrieval.texts)]);
  if (d.templates.length)
    facts.push([
      d.templates.length > 1 ? `prompt ensemble (${d.templates.length} templates)` : 'prompt template',
      d.templates.map((t) => `\`${t}\``).join(', '),
    ]);
  if (d.threshold !== undefined) facts.push(['F1 decision', `probability > ${d.threshold}`]);
  if (ctx.model) facts.push(['model', `\`${ctx.model}\``]);
  if (ctx.command) facts.push(['command', `\`${ctx.command}\``]);
  facts.push(['date', (ctx.date ?? new Date()).toISOString()]);
  for (const [k, v] of facts) out.push(`- **${k}**: ${v}`);
  const family = ctx.family ?? 'msclap-2023';
  const comparable = family === 'msclap-2023';
  out.push('', '## Results', '');
  if (comparable) {
    out.push('| metric | ours | paper (CLAP 2023) |', '| --- | ---: | ---: |');
    for (const [m, v] of Object.entries(result.metrics)) out.push(`| ${METRIC_NAMES[m] ?? m} | ${fmt(m, v)} | ${fmt(m, paper?.[m])} |`);
  } else {
    out.push('| metric | ours |', '| --- | ---: |');
    for (const [m, v] of Object.entries(result.metrics)) out.push(`| ${METRIC_NAMES[m] ?? m} | ${fmt(m, v)} |`);
  }
  out.push(
    '',
    !comparable
      ? "Percentages except CIDEr-D/SPIDEr. The paper's numbers are the msclap 2023 weights': not shown for this model's family."
      : paper
        ? `Percentages except CIDEr-D/SPIDEr. Paper: ${PAPER_SOURCE} (official 2023 weights).`
        : 'Percentages except CIDEr-D/SPIDEr. The paper lists no number for this task with the 2023 weights.',
  );
  if (d.retrieval) {
    out.push(
      '',
      '## Retrieval',
      '',
      '| direction | queries | R@1 | R@5 | R@10 | mAP@10 | median rank |',
      '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    );
    for (const [name, r] of [
      ['audio → text', d.retrieval.audioToText],
      ['text → audio', d.retrieval.textToAudio],
    ] as const) {
      const pc = (x: number): string => (100 * x).toFixed(1);
      out.push(`| ${name} | ${r.queries} | ${pc(r['R@1'])} | ${pc(r['R@5'])} | ${pc(r['R@10'])} | ${pc(r['mAP@10'])} | ${r.medianRank} |`);
    }
  }
  if (d.perClass) {
    out.push('', '## Per class', '');
    if (d.multiLabel) {
      out.push('| # | class | clips | AP | F1 |', '| ---: | --- | ---: | ---: | ---: |');
      d.perClass.forEach((c, i) => out.push(`| ${i} | ${esc(c.name)} | ${c.n} | ${fmt('ap', c.ap)} | ${fmt('f1', c.f1)} |`));
    } else {
      const confused = (i: number): string => {
        const row = d.confusion?.[i];
        if (!row) return '';
        let best = -1;
        row.forEach((v, j) => {
          if (j !== i && v > 0 && (best < 0 || v > row[best])) best = j;
        });
        return best < 0 ? '' : `${esc(d.classNames[best])} (${row[best]})`;
      };
      out.push('| # | class | clips | accuracy | AP | most often predicted instead |', '| ---: | --- | ---: | ---: | ---: | --- |');
      d.perClass.forEach((c, i) =>
        out.push(`| ${i} | ${esc(c.name)} | ${c.n} | ${fmt('accuracy', c.accuracy)} | ${fmt('ap', c.ap)} | ${confused(i)} |`),
      );
    }
  }
  if (ctx.confusionPng)
    out.push(
      '',
      '## Confusion matrix',
      '',
      `Rows: true class, columns: predicted class (numbered as above), shaded by row-normalised count.`,
      '',
      `![confusion matrix](${ctx.confusionPng})`,
    );
  const notes = [...d.notes];
  if (d.missing.length)
    notes.push(
      `${plural(d.missing.length, 'clip')} named by the metadata ${d.missing.length === 1 ? 'has' : 'have'} no audio file ` +
        `and ${d.missing.length === 1 ? 'was' : 'were'} left out.`,
    );
  if (d.skipped.length)
    notes.push(
      `${plural(d.skipped.length, 'clip')} could not be decoded and ${d.skipped.length === 1 ? 'was' : 'were'} left out: ${d.skipped
        .slice(0, 5)
        .map((s) => `\`${basename(s.path)}\``)
        .join(', ')}${d.skipped.length > 5 ? ', …' : ''}`,
    );
  if (d.cache)
    notes.push(
      `embedding cache \`${d.cache.dir}\`: audio ${d.cache.audioHits} found / ${d.cache.audioMisses} computed, ` +
        `text ${d.cache.textHits} found / ${d.cache.textMisses} computed.`,
    );
  if (notes.length) out.push('', '## Notes', '', ...notes.map((n) => `- ${n}`));
  return `${out.join('\n')}\n`;
}

/**
 * Writes `<out>` (Markdown), `<out stem>.json` and, for single-label classification, `<out
 * stem>.confusion.png`. Returns the paths written.
 */
export function writeReport(
  result: EvalResult,
  out: string,
  ctx: Omit<ReportContext, 'confusionPng'> = {},
): { markdown: string; json: string; png?: string } {
  makeDirs(dirname(out) || '.');
  const stem = extname(out).toLowerCase() === '.md' ? out.slice(0, -3) : out;
  const markdown = extname(out).toLowerCase() === '.md' ? out : `${out}.md`;
  let png: string | undefined;
  if (result.details.confusion && !result.details.multiLabel) {
    png = `${stem}.confusion.png`;
    writeFileSync(
      png,
      renderConfusionMatrix(result.details.confusion, result.details.classNames, `${result.details.title} (${result.task})`),
    );
  }
  const full = { ...ctx, confusionPng: png ? basename(png) : undefined };
  writeFileSync(markdown, renderMarkdown(result, full));
  const json = `${stem}.json`;
  writeFileSync(json, `${JSON.stringify(reportJson(result, full), null, 1)}\n`);
  return { markdown, json, png: png ? join(dirname(png), basename(png)) : undefined };
}
