/** What every dataset adapter produces, and the helpers they share (layout checks, file lookup). */
import { type Dirent, existsSync, readdirSync, statSync } from 'node:fs';
import { basename, extname, join, relative } from 'node:path';
import { ClapError } from '../../../errors.js';
import { hasAudioExtension } from '../../../audio/index.js';
import { DEFAULT_TEMPLATE } from '../../clap.js';

export interface EvalItem {
  /** Path of the audio file. */
  path: string;
  /** Short identifier (file name) for reports. */
  id: string;
  /** Class indices: one for single-label tasks, several for multi-label, none for an unlabelled row. */
  labels: number[];
  /** Reference captions (retrieval and captioning tasks). */
  captions?: string[];
}

export interface Classification {
  /** Class names as the dataset's metadata spells them (reports, confusion matrix). */
  classes: string[];
  /** The text each class puts into the prompt template (e.g. '_' → ' '). */
  prompts: string[];
  /** Sigmoid per class and mAP/F1 (true), or softmax across classes and accuracy (false). */
  multiLabel: boolean;
}

export interface EvalDataset {
  /** Task id as given to `clap eval` (e.g. 'esc50'). */
  task: string;
  /** Human name (e.g. 'ESC-50'). */
  title: string;
  classification?: Classification;
  /** Items carry captions: text ↔ audio retrieval. */
  retrieval?: boolean;
  /** Items carry reference captions to score generated captions against. */
  captioning?: boolean;
  /**
   * Retrieval queries: false (default, the DCASE protocol) makes every caption its own text query
   * relevant to its clip only; true merges identical caption texts into one query relevant to every
   * clip that has it (manifests where many clips share a caption).
   */
  mergeIdenticalCaptions?: boolean;
  items: EvalItem[];
  /** Default prompt template (msclap's 'this is the sound of '). */
  template: string;
  /** Which part of the dataset: 'all', 'fold 1', 'test', ... */
  split: string;
  /** Metadata entries whose audio was absent (only with allowMissing). */
  missing: string[];
  notes: string[];
}

export interface AdapterOptions {
  /** Restrict to one fold (ESC-50, UrbanSound8K, TUT2017 development). */
  fold?: number;
  /** Which split (tasks with several: e.g. test/validation). */
  split?: string;
  /** Skip metadata entries whose audio file is absent instead of failing. */
  allowMissing?: boolean;
  /** Keep an evenly spaced sample of at most N items (quick checks). */
  limit?: number;
  /** Generic manifest adapter: column names and label handling. */
  labelColumn?: string;
  captionColumn?: string;
  pathColumn?: string;
  multiLabel?: boolean;
  labelSeparator?: string;
}

export type TaskKind = 'multi-class' | 'multi-label' | 'retrieval' | 'captioning';

export interface DatasetAdapter {
  task: string;
  aliases?: string[];
  title: string;
  kind: TaskKind;
  /** The official layout in one line (help text and errors). */
  layout: string;
  load(dir: string, options: AdapterOptions): EvalDataset;
}

/** '_' → ' ' (msclap's ESC-50 example turns class names into prompt text this way). */
export function labelText(name: string): string {
  return name.replace(/_/g, ' ').replace(/\s+/g, ' ').trim();
}

export function layoutError(dir: string, title: string, expected: string, detail?: string): ClapError {
  return new ClapError(`does not look like ${title}${detail ? ` (${detail})` : ''}: expected ${expected}`, { subject: dir });
}

export function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export function isFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/**
 * The folder under which `marker` exists: `dir` itself, or one of its sub-folders up to `depth`
 * levels down (a user may point at the extracted archive's parent). Null when none.
 */
export function findRoot(dir: string, marker: string | ((root: string) => boolean), depth = 2): string | null {
  const test = typeof marker === 'string' ? (r: string) => existsSync(join(r, marker)) : marker;
  const queue: [string, number][] = [[dir, 0]];
  while (queue.length) {
    const [d, level] = queue.shift()!;
    if (test(d)) return d;
    if (level >= depth) continue;
    for (const e of entriesOf(d)) if (!e.name.startsWith('.') && entryIsDir(d, e)) queue.push([join(d, e.name), level + 1]);
  }
  return null;
}

/** Directory entries sorted by name ([] when unreadable); no stat per entry. */
function entriesOf(d: string): Dirent[] {
  try {
    return readdirSync(d, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  } catch {
    return [];
  }
}

function entryIsDir(d: string, e: Dirent): boolean {
  return e.isDirectory() || (e.isSymbolicLink() && isDir(join(d, e.name)));
}

function entryIsFile(d: string, e: Dirent): boolean {
  return e.isFile() || (e.isSymbolicLink() && isFile(join(d, e.name)));
}

/**
 * Like findRoot but throws: 'no such folder', or the layout error with `detail` (for a file marker,
 * default `no MARKER`).
 */
export function requireRoot(
  dir: string,
  title: string,
  marker: string | ((root: string) => boolean),
  expected: string,
  detail = typeof marker === 'string' ? `no ${marker}` : undefined,
  depth?: number,
): string {
  if (!isDir(dir)) throw new ClapError('no such folder', { subject: dir });
  const root = findRoot(dir, marker, depth);
  if (!root) throw layoutError(dir, title, expected, detail);
  return root;
}

/** Class names ordered by their numeric id (`idColumn`), from metadata rows that repeat them. */
export function classesById(rows: readonly Record<string, string>[], idColumn: string, nameColumn: string): string[] {
  const byId = new Map<number, string>();
  for (const r of rows) byId.set(Number(r[idColumn]), r[nameColumn]);
  return [...byId.entries()].sort((a, b) => a[0] - b[0]).map(([, c]) => c);
}

/** Audio files directly in `dir` (sorted), by extension. */
export function audioFilesIn(dir: string): string[] {
  return entriesOf(dir)
    .filter((e) => !e.name.startsWith('.') && hasAudioExtension(e.name) && entryIsFile(dir, e))
    .map((e) => join(dir, e.name));
}

/** Audio files anywhere under `dir` (sorted), up to `depth` levels. */
export function audioFilesUnder(dir: string, depth = 4): string[] {
  const out: string[] = [];
  const walk = (d: string, level: number): void => {
    for (const e of entriesOf(d)) {
      if (e.name.startsWith('.')) continue;
      if (hasAudioExtension(e.name) && entryIsFile(d, e)) out.push(join(d, e.name));
      else if (level < depth && entryIsDir(d, e)) walk(join(d, e.name), level + 1);
    }
  };
  walk(dir, 0);
  return out;
}

/**
 * An index of the audio files under `dir` by file stem, for datasets whose audio users download
 * themselves (AudioCaps, AudioSet, DCASE2017 task 4), which tools name `<id>.wav` or `Y<id>.wav`.
 */
export class AudioIndex {
  private readonly byStem = new Map<string, string>();

  constructor(
    readonly dir: string,
    depth = 4,
  ) {
    for (const p of audioFilesUnder(dir, depth)) {
      const stem = basename(p, extname(p));
      if (!this.byStem.has(stem)) this.byStem.set(stem, p);
      if (stem.startsWith('Y') && !this.byStem.has(stem.slice(1))) this.byStem.set(stem.slice(1), p);
    }
  }

  get size(): number {
    return this.byStem.size;
  }

  find(keys: readonly string[]): string | undefined {
    for (const k of keys) {
      const p = this.byStem.get(k);
      if (p) return p;
    }
    return undefined;
  }
}

/**
 * Checks that every item's audio exists. Absent files fail the load with their names, unless
 * `allowMissing`, when they are dropped and listed in `missing`.
 */
export function checkAudio(
  items: EvalItem[],
  options: AdapterOptions,
  title: string,
  root: string,
): { items: EvalItem[]; missing: string[] } {
  const present: EvalItem[] = [];
  const missing: string[] = [];
  for (const it of items) (isFile(it.path) ? present : missing).push(it as never);
  const missingPaths = (missing as unknown as EvalItem[]).map((m) => m.path);
  if (missingPaths.length && !options.allowMissing) {
    const shown = missingPaths
      .slice(0, 3)
      .map((p) => relative(root, p) || p)
      .join(', ');
    throw new ClapError(
      `${missingPaths.length} of ${items.length} ${title} audio files named by the metadata are absent ` +
        `(${shown}${missingPaths.length > 3 ? ', …' : ''}); ` +
        'check the folder layout, or pass --allow-missing to evaluate the rest',
      { subject: root },
    );
  }
  return { items: present, missing: missingPaths };
}

/** At most `limit` items, evenly spaced over the list (keeps every part of a sorted metadata file). */
export function sample<T>(items: T[], limit?: number): T[] {
  if (limit === undefined || items.length <= limit) return items;
  if (!Number.isInteger(limit) || limit < 1) throw new ClapError(`limit must be a positive integer, got ${limit}`);
  return Array.from({ length: limit }, (_, i) => items[Math.floor((i * items.length) / limit)]);
}

/** Builds the dataset after the common steps (absent files, limit, empty check). */
export function finish(
  base: Omit<EvalDataset, 'missing' | 'template' | 'notes' | 'split'> & Partial<Pick<EvalDataset, 'template' | 'notes' | 'split'>>,
  options: AdapterOptions,
  root: string,
): EvalDataset {
  for (const it of base.items) it.labels = [...new Set(it.labels)].sort((a, b) => a - b);
  // caption scoring compares texts only: the audio need not be there
  const { items, missing } =
    base.captioning && !base.retrieval && !base.classification
      ? { items: base.items, missing: [] as string[] }
      : checkAudio(base.items, options, base.title, root);
  const kept = sample(items, options.limit);
  if (kept.length === 0)
    throw new ClapError(`no ${base.title} clips to evaluate${base.split ? ` in ${base.split}` : ''}`, { subject: root });
  return { template: DEFAULT_TEMPLATE, notes: [], split: 'all', ...base, items: kept, missing };
}

/** Class index lookup that names the file and the unknown class. */
export function classIndex(classes: readonly string[], name: string, where: string): number {
  const i = classes.indexOf(name);
  if (i < 0)
    throw new ClapError(`unknown class '${name}' (known: ${classes.slice(0, 12).join(', ')}${classes.length > 12 ? ', …' : ''})`, {
      subject: where,
    });
  return i;
}

export function parseFold(options: AdapterOptions, allowed: readonly number[], title: string): number | undefined {
  if (options.fold === undefined) return undefined;
  if (!allowed.includes(options.fold))
    throw new ClapError(`${title} has folds ${allowed.join(', ')}; got ${options.fold}`, { subject: 'fold' });
  return options.fold;
}

export function pickSplit(options: AdapterOptions, allowed: readonly string[], fallback: string, title: string): string {
  const s = options.split ?? fallback;
  if (!allowed.includes(s)) throw new ClapError(`${title} splits are ${allowed.join(', ')}; got '${s}'`, { subject: 'split' });
  return s;
}
