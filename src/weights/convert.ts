/**
 * `clap convert IN OUT`: re-encode a checkpoint's tensors as .pth or .safetensors.
 */
import { extname } from 'node:path';
import { ClapError } from '../errors.js';
import { loadCheckpoint, type LoadOptions, type WeightFormat } from './load.js';
import { savePth } from './pth.js';
import { saveSafetensors } from './safetensors.js';

export interface ConvertResult {
  tensors: number;
  /** Bytes of tensor data written. */
  bytes: number;
  /** The scalar metadata written (safetensors: `__metadata__`; .pth: entries beside `model`). */
  metadata: Record<string, string>;
}

/** The format a file name asks for: .safetensors, or PyTorch's .pth / .pt / .bin; undefined for another extension. */
export function weightFormatOfName(path: string): WeightFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.safetensors') return 'safetensors';
  return ['.pth', '.pt', '.bin'].includes(ext) ? 'pth' : undefined;
}

/**
 * Reads `inPath` (.pth or .safetensors, by content) and writes its tensors to `outPath` atomically, in the
 * format `outPath`'s extension names (see {@link weightFormatOfName}; `format` overrides it). Scalar metadata
 * (strings, numbers, booleans) is kept as strings; safetensors carry `format: 'pt'` as PyTorch-origin files do,
 * .pth files wrap the state dict under `model` as msclap's checkpoints. Writing over the input is safe.
 */
export async function convertWeights(
  inPath: string,
  outPath: string,
  opts: LoadOptions & { format?: WeightFormat } = {},
): Promise<ConvertResult> {
  const format = opts.format ?? weightFormatOfName(outPath);
  if (!format) throw new ClapError('name the format to write by the extension: .pth or .safetensors', { subject: outPath });
  const ckpt = await loadCheckpoint(inPath, opts);
  const metadata: Record<string, string> = format === 'safetensors' ? { format: 'pt' } : {};
  for (const [k, v] of Object.entries(ckpt.metadata)) {
    if (format === 'pth' && (k === 'format' || k === 'model')) continue; // safetensors' marker; the state dict's key
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata[k] = String(v);
  }
  if (format === 'safetensors') await saveSafetensors(outPath, ckpt.tensors, metadata);
  else await savePth(outPath, ckpt.tensors, { extra: metadata });
  let bytes = 0;
  for (const t of ckpt.tensors.values()) bytes += t.data.byteLength;
  return { tensors: ckpt.tensors.size, bytes, metadata };
}

/** {@link convertWeights} to safetensors, whatever `outPath`'s extension. */
export function convertToSafetensors(inPath: string, outPath: string, opts: LoadOptions = {}): Promise<ConvertResult> {
  return convertWeights(inPath, outPath, { ...opts, format: 'safetensors' });
}
