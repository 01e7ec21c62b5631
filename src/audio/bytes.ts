/**
 * Bytes of encoded audio, in memory: what the decoders read through. Browser-safe (no Node APIs); files on
 * disk are read by file-reader.ts.
 */

/** Random access to the bytes of a file or an in-memory buffer. */
export interface ByteReader {
  readonly name: string;
  readonly size: number;
  /** Up to `length` bytes from `offset` (fewer only at the end of the input). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

export class BufferReader implements ByteReader {
  readonly size: number;
  constructor(
    readonly name: string,
    readonly bytes: Uint8Array,
  ) {
    this.size = bytes.length;
  }
  read(offset: number, length: number): Uint8Array {
    return this.bytes.subarray(offset, Math.min(this.size, offset + length));
  }
  close(): void {}
}

export function ascii(bytes: Uint8Array, offset: number, length: number): string {
  let s = '';
  for (let i = offset; i < offset + length && i < bytes.length; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

/** Where the ASCII string `needle` first occurs in `bytes` at or after `from`, or -1 (Buffer.indexOf without Node). */
export function indexOfAscii(bytes: Uint8Array, needle: string, from = 0): number {
  const code = Uint8Array.from(needle, (c) => c.charCodeAt(0));
  for (let i = bytes.indexOf(code[0], from); i >= 0 && i + code.length <= bytes.length; i = bytes.indexOf(code[0], i + 1)) {
    if (code.every((b, k) => bytes[i + k] === b)) return i;
  }
  return -1;
}
