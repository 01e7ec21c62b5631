/**
 * Which files the server may read: those inside the index's roots or the roots given with --allow,
 * after resolving `..` and symlinks. A path is checked twice: as written (so nothing outside is even
 * looked at) and as its real path (so a symlink cannot lead out of the roots).
 */
import { realpath, stat } from 'node:fs/promises';
import { isAbsolute, resolve, sep } from 'node:path';
import { HttpError } from './http-error.js';

function isUnder(path: string, root: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}

async function realOrNull(path: string): Promise<string | null> {
  try {
    return await realpath(path);
  } catch {
    return null;
  }
}

export class PathGuard {
  /**
   * @param allowed roots given with --allow (files may be read and folders added under them)
   * @param indexRoots the index's current roots (read on every check: they change as folders are added)
   */
  constructor(
    readonly allowed: readonly string[],
    private readonly indexRoots: () => readonly string[],
  ) {}

  /** Every root, as written and as real paths (a root that is itself a symlink counts both ways). */
  private async roots(withIndex: boolean): Promise<{ written: string[]; real: string[] }> {
    const written = [...this.allowed, ...(withIndex ? this.indexRoots() : [])].map((r) => resolve(r));
    const real = (await Promise.all(written.map(realOrNull))).filter((r): r is string => r !== null);
    return { written, real };
  }

  /** `value` as an absolute, normalised path; 400 when it is not a usable path at all. */
  private static parse(value: unknown, what: string): string {
    if (typeof value !== 'string' || value === '') throw new HttpError(400, `give the ${what} as an absolute path`);
    if (value.includes('\0')) throw new HttpError(400, `the ${what} contains a NUL character`);
    if (!isAbsolute(value)) throw new HttpError(400, `the ${what} must be an absolute path, got '${value}'`);
    return resolve(value);
  }

  /**
   * The real path of `value` when it lies inside the roots (and really is there, symlinks resolved);
   * 403 outside them (before touching the file system), 404 when it does not exist.
   */
  private async inside(value: unknown, what: string, withIndex: boolean): Promise<{ path: string; real: string }> {
    const path = PathGuard.parse(value, what);
    const roots = await this.roots(withIndex);
    const outside = (): HttpError =>
      new HttpError(
        403,
        `${path} is outside the library (only files under the indexed folders${this.allowed.length ? ' and --allow roots' : ''} are served)`,
      );
    if (!roots.written.some((r) => isUnder(path, r)) && !roots.real.some((r) => isUnder(path, r))) throw outside();
    const real = await realOrNull(path);
    if (real === null) throw new HttpError(404, `${path}: no such file or folder`);
    if (!roots.real.some((r) => isUnder(real, r))) throw outside();
    return { path, real };
  }

  /**
   * A regular file the server may read (audio, peaks, a "more like this" query): the path as written
   * (as the index knows it) and its real path (what is opened).
   */
  async file(value: unknown): Promise<{ path: string; real: string }> {
    const found = await this.inside(value, 'file', true);
    if (!(await stat(found.real)).isFile()) throw new HttpError(400, `${found.path} is not a file`);
    return found;
  }

  /** A file or folder that may be added to the index: under an --allow root or an indexed root. Returns it as written. */
  async addable(value: unknown): Promise<string> {
    return (await this.inside(value, 'folder', true)).path;
  }

  /** A path to remove from the index: any path under its roots (it may be gone from disk already). */
  removable(value: unknown): string {
    const path = PathGuard.parse(value, 'path');
    if (!this.indexRoots().some((r) => isUnder(path, resolve(r)))) throw new HttpError(400, `${path} is not in the index`);
    return path;
  }
}
