/** Reading small text and JSON files with one-line errors that name the file (base layer, used by every other). */
import { readFileSync } from 'node:fs';
import { ClapError } from './errors.js';

/** A UTF-8 text file (`what` names it in errors). */
export function readText(path: string, what: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new ClapError(`cannot read ${what} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: path });
  }
}

/** A JSON file (`what` names it in errors); unreadable or invalid JSON is a ClapError naming the file. */
export function readJson(path: string, what: string): unknown {
  const text = readText(path, what);
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw new ClapError(`not valid JSON (${(e as Error).message})`, { subject: path });
  }
}
