/**
 * Finding the audio files under the paths given to `index add`: folders are walked recursively,
 * following symlinks but never twice into the same real folder (loops end there); what cannot be read
 * is reported, not fatal. In folders only files with an audio extension are taken; a file named
 * explicitly is always tried (its format is sniffed when it is decoded).
 */
import type { Stats } from 'node:fs';
import { readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { hasAudioExtension } from '../audio/extensions.js';

export interface FoundFile {
  /** Absolute path as reached (not symlink-resolved). */
  path: string;
  size: number;
  mtimeMs: number;
}

export interface SkippedPath {
  path: string;
  reason: string;
}

export interface WalkResult {
  files: FoundFile[];
  skipped: SkippedPath[];
  /** Files in walked folders without an audio extension (not reported one by one). */
  ignored: number;
}

function reason(e: unknown): string {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOENT') return 'no such file or directory';
  if (code === 'ELOOP') return 'symlink loop';
  return code ?? (e as Error).message;
}

export interface WalkOptions {
  /** Folders never entered, compared by real path (the index's own folder, when it lies inside a walked one). */
  exclude?: readonly string[];
  /**
   * Files and folders left out when the walk reaches them from a folder above, compared by the path as
   * reached (paths removed from an index). A path given to walk is walked even when it is listed here.
   */
  removed?: readonly string[];
  /** Stops the walk early (the result then holds what was found so far). */
  signal?: AbortSignal;
}

export async function walkAudio(paths: readonly string[], options: WalkOptions = {}): Promise<WalkResult> {
  const out: WalkResult = { files: [], skipped: [], ignored: 0 };
  const removed = new Set(options.removed);
  const excluded = new Set<string>();
  for (const e of options.exclude ?? []) {
    try {
      excluded.add(await realpath(e));
    } catch {
      /* not there yet */
    }
  }
  const seenDirs = new Set<string>();
  const seenFiles = new Set<string>();

  const addFile = async (path: string, size: number, mtimeMs: number): Promise<void> => {
    let real: string;
    try {
      real = await realpath(path);
    } catch (e) {
      out.skipped.push({ path, reason: reason(e) });
      return;
    }
    if (seenFiles.has(real)) return; // the same file reached twice (symlinks, overlapping arguments)
    seenFiles.add(real);
    out.files.push({ path, size, mtimeMs });
  };

  const walkDir = async (dir: string): Promise<void> => {
    let real: string;
    try {
      real = await realpath(dir);
    } catch (e) {
      out.skipped.push({ path: dir, reason: reason(e) });
      return;
    }
    if (excluded.has(real)) return;
    if (seenDirs.has(real)) {
      if (dir !== real) out.skipped.push({ path: dir, reason: `symlink loop or repeat (already walked ${real})` });
      return;
    }
    seenDirs.add(real);
    let names: string[];
    try {
      names = (await readdir(dir)).sort();
    } catch (e) {
      out.skipped.push({ path: dir, reason: reason(e) });
      return;
    }
    for (const name of names) {
      if (options.signal?.aborted) return;
      const p = join(dir, name);
      if (removed.has(p)) continue;
      let st: Stats;
      try {
        st = await stat(p); // follows symlinks
      } catch (e) {
        out.skipped.push({ path: p, reason: reason(e) === 'no such file or directory' ? 'broken symlink' : reason(e) });
        continue;
      }
      if (st.isDirectory()) await walkDir(p);
      else if (st.isFile()) {
        if (hasAudioExtension(name)) await addFile(p, st.size, st.mtimeMs);
        else out.ignored++;
      }
    }
  };

  for (const given of paths) {
    if (options.signal?.aborted) break;
    const p = resolve(given);
    let st: Stats;
    try {
      st = await stat(p);
    } catch (e) {
      out.skipped.push({ path: p, reason: reason(e) });
      continue;
    }
    if (st.isDirectory()) await walkDir(p);
    else if (st.isFile()) await addFile(p, st.size, st.mtimeMs);
    else out.skipped.push({ path: p, reason: 'not a regular file' });
  }
  return out;
}
