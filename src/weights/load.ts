/**
 * One entry point for weight files: the format is chosen by content, not by extension.
 */
import { extname } from 'node:path';
import { ClapError } from '../errors.js';
import { readPth, type PthLoadOptions } from './pth.js';
import { readSafetensors } from './safetensors.js';
import type { Checkpoint, StateDict } from './state-dict.js';
import { readWholeFile } from './util.js';

export type WeightFormat = 'pth' | 'safetensors';

/** The format of a weight file from its first bytes (and, for a hopeless header, its extension). */
export function detectFormat(buf: Uint8Array, file = '<buffer>'): WeightFormat {
  if (buf.length === 0) throw new ClapError('file is empty (0 bytes), expected a weight file', { subject: file });
  // "PK\x03\x04" (a zip's first local header) or "PK\x05\x06" (an empty zip's end record).
  if (buf.length >= 4 && buf[0] === 0x50 && buf[1] === 0x4b && ((buf[2] === 3 && buf[3] === 4) || (buf[2] === 5 && buf[3] === 6)))
    return 'pth';
  if (buf[0] === 0x80 && buf.length > 1 && buf[1] >= 2 && buf[1] <= 5) return 'pth'; // legacy torch.save pickle: readPth explains
  if (buf.length >= 9 && buf[8] === 0x7b /* '{' */) return 'safetensors';
  if (extname(file).toLowerCase() === '.safetensors') return 'safetensors';
  throw new ClapError('unrecognised weight file format (expected a PyTorch .pth/.pt zip checkpoint or a .safetensors file)', {
    subject: file,
  });
}

export interface LoadOptions {
  /** .pth only: the top-level key holding the state dict (default: unwrap `model`/`state_dict`). */
  key?: PthLoadOptions['key'];
  /** .pth only: verify every entry's CRC-32. */
  verifyCrc?: boolean;
}

/** Parses a weight file already in memory. */
export function readWeights(buf: Uint8Array, file = '<buffer>', opts: LoadOptions = {}): Checkpoint {
  return detectFormat(buf, file) === 'pth' ? readPth(buf, file, opts) : readSafetensors(buf, file);
}

/** Loads a .pth or .safetensors file (by content) with its metadata. The file is read once; tensors are views into it. */
export async function loadCheckpoint(path: string, opts: LoadOptions = {}): Promise<Checkpoint> {
  return readWeights(await readWholeFile(path), path, opts);
}

/** Loads a .pth or .safetensors file (by content): flat name → tensor map. */
export async function loadWeights(path: string, opts: LoadOptions = {}): Promise<StateDict> {
  return (await loadCheckpoint(path, opts)).tensors;
}

export interface LoadTiming {
  format: WeightFormat;
  tensors: number;
  /** File size. */
  bytes: number;
  /** Bytes held by tensors that are copies rather than views into the file. */
  copiedBytes: number;
  readMs: number;
  parseMs: number;
  totalMs: number;
}

/** Loads `path` and reports how long reading and parsing took (for the bench). */
export async function timeLoad(path: string, opts: LoadOptions = {}): Promise<LoadTiming> {
  const t0 = performance.now();
  const buf = await readWholeFile(path);
  const t1 = performance.now();
  const ckpt = readWeights(buf, path, opts);
  const t2 = performance.now();
  let copiedBytes = 0;
  for (const t of ckpt.tensors.values()) if (t.data.buffer !== buf.buffer) copiedBytes += t.data.byteLength;
  return {
    format: ckpt.format,
    tensors: ckpt.tensors.size,
    bytes: buf.length,
    copiedBytes,
    readMs: t1 - t0,
    parseMs: t2 - t1,
    totalMs: t2 - t0,
  };
}
