/** Reading small text and JSON files with one-line errors that name the file (base layer, used by every other). */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
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

/**
 * `mkdir -p` with a one-line error naming the folder (`flag`, e.g. '--out', says which option to change when a
 * file is in the way). Not `mkdirSync(dir, { recursive: true })`: Node 20's loops forever where mkdir answers
 * ENOENT under a parent that exists (/proc, /sys).
 */
export function makeDirs(dir: string, flag?: string): void {
  try {
    makeDirsOf(resolve(dir));
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? `is a file, not a folder${flag ? `: choose another ${flag}` : ''}`
        : `cannot create this folder (${code ?? (e as Error).message})`;
    throw new ClapError(why, { subject: dir });
  }
}

function makeDirsOf(path: string): void {
  try {
    if (statSync(path).isDirectory()) return;
  } catch {
    const parent = dirname(path);
    if (parent !== path) makeDirsOf(parent);
  }
  try {
    mkdirSync(path);
  } catch (e) {
    // Another process made it in between (two commands sharing the model cache).
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST' || !statSync(path).isDirectory()) throw e;
  }
}

/** `makeDirs`, then a file written and removed there: an output folder that cannot take files fails before the work. */
export function makeWritableDir(dir: string, flag?: string): void {
  makeDirs(dir, flag);
  const probe = join(dir, `.clap-write-test-${process.pid}`);
  try {
    writeFileSync(probe, '');
    rmSync(probe, { force: true });
  } catch (e) {
    throw new ClapError(`cannot write into this folder (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`, { subject: dir });
  }
}
