/**
 * The generic adapter: a CSV or JSON-lines manifest with an audio path column, a label column (its
 * distinct values become the zero-shot classes) and optionally a caption column (retrieval).
 * Relative paths are resolved against the manifest's folder. Rows naming the same file are merged.
 */
import { basename, dirname, extname, isAbsolute, join, resolve } from 'node:path';
import { ClapError, plural } from '../../../errors.js';
import { readCsv, readJsonl } from '../table.js';
import { type AdapterOptions, type EvalDataset, type EvalItem, finish, isFile, labelText } from './common.js';

/** Manifest columns looked for when no path column is named, in this order. */
export const PATH_COLUMNS = ['path', 'file', 'filename', 'file_name', 'audio', 'audio_path', 'wav'];
/** What a manifest evaluation does when an option is left out (the CLI's help shows these). */
export const MANIFEST_DEFAULTS = { labelSeparator: ';' } as const;

export const MANIFEST_LAYOUT =
  'a .csv (header row) or .jsonl file with a path column (path, file, filename, file_name, audio or --path-column) ' +
  'and the --label-column / --caption-column';

export function loadManifest(file: string, options: AdapterOptions): EvalDataset {
  if (!isFile(file)) throw new ClapError('no such manifest file (give --data FILE.csv or FILE.jsonl)', { subject: file });
  const ext = extname(file).toLowerCase();
  const { columns, rows } = ext === '.jsonl' || ext === '.ndjson' ? readJsonl(file) : readCsv(file, [], ext === '.tsv' ? '\t' : ',');
  const { labelColumn, captionColumn } = options;
  if (labelColumn === undefined && captionColumn === undefined)
    throw new ClapError('give a label column, a caption column, or both', { subject: file });
  for (const c of [labelColumn, captionColumn, options.pathColumn]) {
    if (c !== undefined && !columns.includes(c))
      throw new ClapError(`no column '${c}' (columns: ${columns.join(', ')})`, { subject: file });
  }
  const pathColumn = options.pathColumn ?? PATH_COLUMNS.find((c) => columns.includes(c));
  if (!pathColumn)
    throw new ClapError(`no audio path column (looked for ${PATH_COLUMNS.join(', ')}; name it with --path-column)`, { subject: file });
  const base = dirname(resolve(file));
  const sep = options.labelSeparator ?? MANIFEST_DEFAULTS.labelSeparator;
  const byPath = new Map<string, { item: EvalItem; labels: Set<string> }>();
  rows.forEach((r, i) => {
    const rel = r[pathColumn];
    if (!rel) throw new ClapError(`row ${i + 1} has an empty '${pathColumn}'`, { subject: file });
    const path = isAbsolute(rel) ? rel : join(base, rel);
    let entry = byPath.get(path);
    if (!entry) {
      entry = { item: { path, id: rel.length > 60 ? basename(rel) : rel, labels: [] }, labels: new Set() };
      byPath.set(path, entry);
    }
    if (labelColumn !== undefined) {
      const raw = r[labelColumn] ?? '';
      const labels = options.multiLabel ? raw.split(sep) : [raw];
      for (const l of labels.map((x) => x.trim()).filter(Boolean)) entry.labels.add(l);
    }
    if (captionColumn !== undefined && (r[captionColumn] ?? '').trim() !== '') {
      (entry.item.captions ??= []).push(r[captionColumn].trim());
    }
  });
  const entries = [...byPath.values()];
  if (!options.multiLabel) {
    const clash = entries.find((e) => e.labels.size > 1);
    if (clash)
      throw new ClapError(
        `${clash.item.id} has several '${labelColumn}' values (${[...clash.labels].join(', ')}): pass --multi-label for multi-label data`,
        { subject: file },
      );
  }
  const classes = [...new Set(entries.flatMap((e) => [...e.labels]))].sort();
  if (labelColumn !== undefined && classes.length < 2 && captionColumn === undefined) {
    throw new ClapError(
      `column '${labelColumn}' has ${classes.length} distinct label${classes.length === 1 ? '' : 's'}; zero-shot classification needs at least 2`,
      { subject: file },
    );
  }
  for (const e of entries) e.item.labels = [...e.labels].map((l) => classes.indexOf(l)).sort((a, b) => a - b);
  const items = entries.map((e) => e.item).filter((it) => it.labels.length > 0 || (it.captions?.length ?? 0) > 0);
  const retrieval = captionColumn !== undefined && items.some((it) => it.captions?.length);
  const notes: string[] = [];
  const unlabelled = items.filter((it) => it.labels.length === 0).length;
  if (labelColumn !== undefined && unlabelled)
    notes.push(`${plural(unlabelled, 'clip')} without a '${labelColumn}' value ${unlabelled === 1 ? 'is' : 'are'} used for retrieval only`);
  if (retrieval) notes.push('identical captions form one text query, relevant to every clip that has it');
  return finish(
    {
      task: 'manifest',
      title: `manifest ${basename(file)}`,
      items,
      split:
        labelColumn !== undefined
          ? `labels: ${labelColumn}${captionColumn ? `, captions: ${captionColumn}` : ''}`
          : `captions: ${captionColumn}`,
      classification:
        labelColumn !== undefined && classes.length >= 2
          ? { classes, prompts: classes.map(labelText), multiLabel: options.multiLabel === true }
          : undefined,
      retrieval,
      mergeIdenticalCaptions: true,
      notes,
    },
    options,
    base,
  );
}
