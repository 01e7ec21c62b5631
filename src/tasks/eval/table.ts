/** Metadata readers for the dataset adapters: CSV (RFC 4180, any delimiter), TSV lines, JSON lines. */
import { ClapError } from '../../errors.js';
import { readText } from '../../files.js';

/** Parses delimited text with quoted fields ("" escapes a quote); returns rows of fields. */
export function parseDelimited(text: string, delimiter = ','): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  let i = 0;
  if (text.charCodeAt(0) === 0xfeff) i = 1; // BOM
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += ch;
    } else if (ch === '"' && field.trim() === '') {
      quoted = true;
      field = '';
    } // also after a space (", \"a,b\"")
    else if (ch === delimiter) {
      row.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += ch;
  }
  if (field !== '' || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0].trim() === ''));
}

export { readJson, readText } from '../../files.js';

export type Row = Record<string, string>;

/** A CSV file with a header row → objects keyed by column name. `required` columns must exist. */
export function readCsv(path: string, required: readonly string[] = [], delimiter = ','): { columns: string[]; rows: Row[] } {
  const all = parseDelimited(readText(path, 'CSV'), delimiter);
  if (all.length === 0) throw new ClapError('empty CSV file', { subject: path });
  const columns = all[0].map((c) => c.trim());
  for (const c of required) {
    if (!columns.includes(c)) throw new ClapError(`no column '${c}' (columns: ${columns.join(', ')})`, { subject: path });
  }
  const rows = all.slice(1).map((r) => Object.fromEntries(columns.map((c, j) => [c, (r[j] ?? '').trim()])));
  return { columns, rows };
}

/** JSON lines → objects with every value as a string (arrays joined by ';'). */
export function readJsonl(path: string): { columns: string[]; rows: Row[] } {
  const columns = new Set<string>();
  const rows: Row[] = [];
  readText(path, 'JSON lines')
    .split(/\r?\n/)
    .forEach((line, i) => {
      if (line.trim() === '') return;
      let obj: unknown;
      try {
        obj = JSON.parse(line);
      } catch (e) {
        throw new ClapError(`line ${i + 1} is not JSON (${(e as Error).message})`, { subject: path });
      }
      if (!obj || typeof obj !== 'object' || Array.isArray(obj))
        throw new ClapError(`line ${i + 1} is not a JSON object`, { subject: path });
      const row: Row = {};
      for (const [k, v] of Object.entries(obj)) {
        columns.add(k);
        row[k] = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(';') : String(v);
      }
      rows.push(row);
    });
  return { columns: [...columns], rows };
}
