/** A ByteReader over a file on disk (Node only): read in place, so long WAV files stream. */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { ClapError } from '../errors.js';
import type { ByteReader } from './bytes.js';

export class FileReader implements ByteReader {
  readonly size: number;
  readonly name: string;
  private fd: number | null;

  /** `label` is what errors name (defaults to the path). */
  constructor(path: string, label: string = path) {
    const name = label;
    this.name = name;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (err) {
      throw fileError(name, err);
    }
    try {
      const st = fstatSync(fd);
      if (st.isDirectory()) throw new ClapError('is a directory, not an audio file', { subject: name });
      if (!st.isFile() && !st.isFIFO() && !st.isCharacterDevice()) throw new ClapError('is not a regular file', { subject: name });
      this.size = st.size;
    } catch (err) {
      closeSync(fd);
      throw err instanceof ClapError ? err : fileError(name, err);
    }
    this.fd = fd;
  }

  read(offset: number, length: number): Uint8Array {
    if (this.fd === null) throw new ClapError('read after close', { subject: this.name });
    const n = Math.max(0, Math.min(length, this.size - offset));
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    while (done < n) {
      let got: number;
      try {
        got = readSync(this.fd, out, done, n - done, offset + done);
      } catch (err) {
        throw fileError(this.name, err);
      }
      if (got === 0) throw new ClapError(`file shrank while reading (expected ${this.size} bytes)`, { subject: this.name });
      done += got;
    }
    return out;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }
}

/** A ClapError for a failed file-system call (ENOENT, EACCES, EISDIR, ...). */
export function fileError(name: string, err: unknown): ClapError {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  const why =
    code === 'ENOENT'
      ? 'file not found'
      : code === 'EISDIR'
        ? 'is a directory, not an audio file'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : `cannot read (${code ?? String(err)})`;
  return new ClapError(why, { subject: name, cause: err });
}
