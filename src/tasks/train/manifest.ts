/**
 * Training manifests: CSV (header row, RFC 4180 quoting) or JSONL. Columns read: `path` (relative to the
 * manifest's folder, or absolute), `caption` (JSONL: a string or a list), `captions` (JSONL list), `label`
 * (turned into a caption with the template when a row has no caption, and the class for zero-shot
 * accuracy), optional `split` (train / val). Several rows with the same path merge their captions.
 */
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { ClapError } from '../../errors.js';
import { applyTemplate } from '../clap.js';
import { Rng } from '../rng.js';

export interface ManifestItem {
  /** Absolute path of the audio file. */
  path: string;
  /** One or more captions (at least one). */
  captions: string[];
  /** The class, when the manifest has a `label` column. */
  label?: string;
  split?: string;
}

export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  const n = text.length;
  let any = false;
  while (i < n) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        quoted = false;
        i++;
        continue;
      }
      field += c;
      i++;
      continue;
    }
    if (c === '"') {
      quoted = true;
      any = true;
      i++;
      continue;
    }
    if (c === ',') {
      row.push(field);
      field = '';
      any = true;
      i++;
      continue;
    }
    if (c === '\r' || c === '\n') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      i++;
      if (any || field.length) {
        row.push(field);
        rows.push(row);
      }
      row = [];
      field = '';
      any = false;
      continue;
    }
    field += c;
    any = true;
    i++;
  }
  if (quoted) throw new Error('unterminated quoted field');
  if (any || field.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

function rawRows(file: string, text: string): Record<string, unknown>[] {
  const trimmed = text.trimStart();
  if (file.endsWith('.jsonl') || file.endsWith('.ndjson') || trimmed.startsWith('{')) {
    return text
      .split(/\r?\n/)
      .map((l, i) => [l, i] as const)
      .filter(([l]) => l.trim() !== '')
      .map(([l, i]) => {
        try {
          const v = JSON.parse(l) as unknown;
          if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('not an object');
          return v as Record<string, unknown>;
        } catch (e) {
          throw new ClapError(`line ${i + 1}: ${(e as Error).message}`, { subject: file });
        }
      });
  }
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (e) {
    throw new ClapError((e as Error).message, { subject: file });
  }
  if (rows.length === 0) throw new ClapError('empty manifest', { subject: file });
  const header = rows[0].map((h) => h.trim());
  return rows.slice(1).map((r) => Object.fromEntries(header.map((h, k) => [h, r[k] ?? ''])));
}

export interface ReadManifestOptions {
  /** Template for label-only rows (default msclap's 'this is the sound of '). */
  template?: string;
}

export function readManifest(file: string, options: ReadManifestOptions = {}): ManifestItem[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new ClapError(`cannot read manifest (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: file });
  }
  const root = dirname(resolve(file));
  const template = options.template ?? 'this is the sound of ';
  const byPath = new Map<string, ManifestItem>();
  rawRows(file, text).forEach((r, i) => {
    const p = r.path;
    if (typeof p !== 'string' || p.trim() === '') throw new ClapError(`row ${i + 1} has no path`, { subject: file });
    const abs = isAbsolute(p) ? p : resolve(root, p);
    const caps: string[] = [];
    for (const k of ['caption', 'captions']) {
      const v = r[k];
      if (typeof v === 'string' && v.trim() !== '') caps.push(v.trim());
      else if (Array.isArray(v)) for (const c of v) if (typeof c === 'string' && c.trim() !== '') caps.push(c.trim());
    }
    const label = typeof r.label === 'string' && r.label.trim() !== '' ? r.label.trim() : undefined;
    if (caps.length === 0 && label) caps.push(applyTemplate(template, label));
    if (caps.length === 0) throw new ClapError(`row ${i + 1} (${p}) has neither a caption nor a label`, { subject: file });
    const split = typeof r.split === 'string' && r.split.trim() !== '' ? r.split.trim() : undefined;
    const item = byPath.get(abs);
    if (item) {
      for (const c of caps) if (!item.captions.includes(c)) item.captions.push(c);
      item.label ??= label;
    } else {
      byPath.set(abs, { path: abs, captions: caps, ...(label ? { label } : {}), ...(split ? { split } : {}) });
    }
  });
  if (byPath.size === 0) throw new ClapError('no rows', { subject: file });
  return [...byPath.values()];
}

export interface SplitOptions {
  /** Fraction held out for validation (default 0.1). */
  fraction: number;
  /** 'clip' (random clips) or 'label' (whole classes held out: zero-shot on unseen classes). */
  by: 'clip' | 'label';
  seed: number;
}

/** Train/validation split: the manifest's own `split` column when present, else a seeded random split. */
export function splitItems(items: ManifestItem[], o: SplitOptions, rand: () => number): { train: ManifestItem[]; val: ManifestItem[] } {
  if (items.some((it) => it.split)) {
    return {
      train: items.filter((it) => !it.split || it.split === 'train'),
      val: items.filter((it) => it.split === 'val' || it.split === 'valid' || it.split === 'validation' || it.split === 'test'),
    };
  }
  const shuffle = <T>(xs: T[]): T[] => {
    for (let i = xs.length - 1; i > 0; i--) {
      const j = Math.floor(rand() * (i + 1));
      [xs[i], xs[j]] = [xs[j], xs[i]];
    }
    return xs;
  };
  if (o.fraction <= 0) return { train: items, val: [] };
  if (o.by === 'label') {
    const labels = shuffle([...new Set(items.map((it) => it.label ?? ''))].sort());
    const nVal = Math.max(1, Math.round(labels.length * o.fraction));
    const held = new Set(labels.slice(0, nVal));
    return { train: items.filter((it) => !held.has(it.label ?? '')), val: items.filter((it) => held.has(it.label ?? '')) };
  }
  const order = shuffle(items.map((_, i) => i));
  const nVal = Math.max(1, Math.round(items.length * o.fraction));
  const val = new Set(order.slice(0, nVal));
  return { train: items.filter((_, i) => !val.has(i)), val: items.filter((_, i) => val.has(i)) };
}

/** Labelled items → train / held-out split (a `split` column, --val, or a seeded stratified split by clip). */
export function labelledSplit(
  items: ManifestItem[],
  val: ManifestItem[] | undefined,
  fraction: number,
  seed: number,
): { train: ManifestItem[]; val: ManifestItem[] } {
  const unlabelled = items.find((it) => it.label === undefined);
  if (unlabelled) throw new ClapError('every row needs a label', { subject: unlabelled.path });
  if (val) return { train: items, val };
  if (items.some((it) => it.split)) return splitItems(items, { fraction, by: 'clip', seed }, () => 0);
  // stratified: the same fraction of every class (at least one clip kept for training)
  const rng = new Rng((seed ^ 0x9e3779b9) >>> 0);
  const train: ManifestItem[] = [];
  const held: ManifestItem[] = [];
  const byLabel = new Map<string, ManifestItem[]>();
  for (const it of items) byLabel.set(it.label!, [...(byLabel.get(it.label!) ?? []), it]);
  for (const label of [...byLabel.keys()].sort()) {
    const xs = rng.shuffle([...byLabel.get(label)!]);
    const k = xs.length > 1 ? Math.min(xs.length - 1, Math.max(1, Math.round(xs.length * fraction))) : 0;
    held.push(...xs.slice(0, k));
    train.push(...xs.slice(k));
  }
  return { train, val: held };
}
