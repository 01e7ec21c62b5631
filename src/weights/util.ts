/**
 * Shared plumbing of the weights layer: reading a whole file once, atomic writes, CRC-32,
 * typed-array views over file bytes, and quoting untrusted text in one-line error messages.
 */
import { constants as bufferConstants } from 'node:buffer';
import * as fsp from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { endianness } from 'node:os';
import { ClapError } from '../errors.js';
import { BYTES_PER_ELEMENT, type AnyTypedArray, type DType } from '../engine/tensor.js';

/** Quotes untrusted text for an error message: one line, control characters escaped, at most `max` characters. */
export function quote(text: string, max = 120): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut).replace(/[\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16)}`);
}

/** `text` as is when it is short printable ASCII, otherwise quoted. */
export function safeName(text: string): string {
  return /^[\x20-\x7e]{0,200}$/.test(text) ? text : quote(text);
}

/** One line of at most `max` characters from a foreign message (control characters become spaces). */
export function oneLine(text: string, max = 200): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this removes
  const flat = text.replace(/[\x00-\x1f\x7f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max)}…` : flat;
}

/**
 * Runs `fn`, turning any error that is not already a ClapError (a bug or an engine limit such as
 * RangeError) into a one-line ClapError about `file`, so hostile input never escapes as a crash.
 */
export function asClapError<T>(file: string, doing: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof ClapError) throw err;
    throw new ClapError(`${doing}: ${oneLine(err instanceof Error ? `${err.name}: ${err.message}` : String(err))}`, {
      subject: file,
      cause: err,
    });
  }
}

/** Formats a shape as `[a, b, c]`. */
export function fmtShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function errnoMessage(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory, expected a weight file';
    case 'ENOTDIR':
      return 'a component of the path is not a directory';
    case 'ENOSPC':
      return 'no space left on device';
    case 'EROFS':
      return 'read-only file system';
    default:
      return oneLine(err instanceof Error ? err.message : String(err));
  }
}

/** A ClapError about `file` for an fs failure. */
export function fsError(file: string, err: unknown, doing: string): ClapError {
  if (err instanceof ClapError) return err;
  return new ClapError(`${doing}: ${errnoMessage(err)}`, { subject: file, cause: err });
}

const READ_CHUNK = 1 << 30;

/**
 * Reads a whole file into one Buffer (no pooling, offset 0, so views into it are 8-byte aligned
 * wherever the file is). Works past fs.readFile's 2 GiB limit up to Buffer's maximum length.
 * Errors (directory, missing, empty) are ClapErrors naming the file.
 */
export async function readWholeFile(file: string, opts: { allowEmpty?: boolean } = {}): Promise<Buffer> {
  let handle: fsp.FileHandle;
  try {
    const st = await fsp.stat(file);
    if (st.isDirectory()) throw new ClapError('is a directory, expected a weight file (.pth or .safetensors)', { subject: file });
    if (!st.isFile()) throw new ClapError('is not a regular file', { subject: file });
    handle = await fsp.open(file, 'r');
  } catch (err) {
    throw fsError(file, err, 'cannot open');
  }
  try {
    const { size } = await handle.stat();
    if (size === 0 && !opts.allowEmpty) throw new ClapError('file is empty (0 bytes), expected a weight file', { subject: file });
    if (size > bufferConstants.MAX_LENGTH) {
      throw new ClapError(`file is ${size} bytes, more than this Node.js can hold in one buffer (${bufferConstants.MAX_LENGTH})`, {
        subject: file,
      });
    }
    const buf = Buffer.allocUnsafeSlow(size);
    let pos = 0;
    while (pos < size) {
      const { bytesRead } = await handle.read(buf, pos, Math.min(READ_CHUNK, size - pos), pos);
      if (bytesRead === 0) throw new ClapError(`file shrank while being read (got ${pos} of ${size} bytes)`, { subject: file });
      pos += bytesRead;
    }
    return buf;
  } catch (err) {
    throw fsError(file, err, 'cannot read');
  } finally {
    await handle.close().catch(() => undefined);
  }
}

/**
 * Writes `chunks` to `file` atomically: a temporary file beside it, fsync, then rename over the target.
 * On failure the temporary file is removed and a ClapError naming `file` is thrown.
 */
export async function writeFileAtomic(file: string, chunks: readonly Uint8Array[]): Promise<void> {
  const tmp = join(dirname(file), `.${basename(file)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  let handle: fsp.FileHandle | undefined;
  try {
    try {
      const st = await fsp.stat(file);
      if (st.isDirectory()) throw new ClapError('is a directory, cannot write a weight file there', { subject: file });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    handle = await fsp.open(tmp, 'wx');
    let pos = 0;
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.byteLength) {
        const n = Math.min(chunk.byteLength - done, READ_CHUNK);
        const { bytesWritten } = await handle.write(chunk, done, n, pos);
        done += bytesWritten;
        pos += bytesWritten;
      }
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await fsp.rename(tmp, file);
  } catch (err) {
    if (handle) await handle.close().catch(() => undefined);
    await fsp.unlink(tmp).catch(() => undefined);
    throw fsError(file, err, 'cannot write');
  }
}

// ---------------------------------------------------------------- typed arrays over bytes

/** Weight files are little-endian and tensors are views of their bytes: refuse a big-endian host. */
export function assertLittleEndianHost(file: string): void {
  if (endianness() !== 'LE') throw new ClapError('reading weight files needs a little-endian machine', { subject: file });
}

type TypedArrayCtor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): AnyTypedArray;
  new (length: number): AnyTypedArray;
};

export const TYPED_ARRAY_OF: Record<DType, TypedArrayCtor> = {
  float32: Float32Array,
  float64: Float64Array,
  float16: Uint16Array,
  bfloat16: Uint16Array,
  int64: BigInt64Array,
  int32: Int32Array,
  int8: Int8Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

/**
 * `count` elements of `dtype` starting at `bytes[start]`: a zero-copy view when the address is aligned
 * for the element size (and the host is little-endian, as the files are), otherwise an aligned copy.
 */
export function typedView(bytes: Uint8Array, start: number, count: number, dtype: DType): AnyTypedArray {
  const size = BYTES_PER_ELEMENT[dtype];
  const ctor = TYPED_ARRAY_OF[dtype];
  const abs = bytes.byteOffset + start;
  if (abs % size === 0) return new ctor(bytes.buffer, abs, count);
  const copy = new ArrayBuffer(count * size);
  new Uint8Array(copy).set(bytes.subarray(start, start + count * size));
  return new ctor(copy, 0, count);
}

/** The bytes of a typed array (a view, no copy). */
export function bytesOf(data: AnyTypedArray): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Whether `data` is the typed array that holds `dtype` (float16/bfloat16 as Uint16Array, bool as Uint8Array). */
export function isArrayFor(dtype: DType, data: AnyTypedArray): boolean {
  return data instanceof TYPED_ARRAY_OF[dtype];
}

/** Number of elements of a shape, as a safe integer (throws on a non-integer or negative dimension). */
export function checkedNumel(shape: readonly unknown[]): number | undefined {
  let n = 1;
  for (const d of shape) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) return undefined;
    n *= d;
    if (!Number.isSafeInteger(n)) return undefined;
  }
  return n;
}
