/**
 * `clap convert IN.pth OUT.safetensors`: re-encode a checkpoint's tensors as safetensors.
 */
import { loadCheckpoint, type LoadOptions } from './load.js';
import { saveSafetensors } from './safetensors.js';

export interface ConvertResult {
  tensors: number;
  /** Bytes of tensor data written. */
  bytes: number;
  /** The `__metadata__` written. */
  metadata: Record<string, string>;
}

/**
 * Reads `inPath` (.pth or .safetensors, by content) and writes its tensors to `outPath` as safetensors,
 * atomically. Scalar metadata (strings, numbers, booleans) is kept as strings in `__metadata__`,
 * with `format: 'pt'` as PyTorch-origin files carry. Writing over the input is safe.
 */
export async function convertToSafetensors(inPath: string, outPath: string, opts: LoadOptions = {}): Promise<ConvertResult> {
  const ckpt = await loadCheckpoint(inPath, opts);
  const metadata: Record<string, string> = { format: 'pt' };
  for (const [k, v] of Object.entries(ckpt.metadata)) {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') metadata[k] = String(v);
  }
  await saveSafetensors(outPath, ckpt.tensors, metadata);
  let bytes = 0;
  for (const t of ckpt.tensors.values()) bytes += t.data.byteLength;
  return { tensors: ckpt.tensors.size, bytes, metadata };
}
