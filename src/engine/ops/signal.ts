import type { OpDef, Value } from '../graph.js';
import { apply } from './op.js';
import { constInts, unsqueeze } from './shape.js';

/**
 * ONNX STFT (opset 17) of a real signal [B, L, 1] with a window [n] (frame length = n) → one-sided
 * spectra [B, frames, n/2 + 1, 2] (real, imaginary), frames = ⌊(L − n) / hop⌋ + 1; float32 or float64.
 */
export const STFT: OpDef = {
  type: 'STFT',
  opset: 17,
  infer: ([x, step, window]) => {
    const [b, length, channels] = x.shape;
    const [n] = window.shape;
    if (x.rank !== 3 || channels !== 1) throw new Error('stft needs a real signal [B, L, 1]');
    if (typeof length !== 'number' || typeof n !== 'number') throw new Error('stft over a symbolic length');
    if (window.dtype !== x.dtype) throw new Error('stft window and signal differ in dtype');
    const [hop] = constInts(step);
    return [{ dtype: x.dtype, shape: [b, Math.floor((length - n) / hop) + 1, (n >> 1) + 1, 2] }];
  },
};

/** One-sided STFT of `x` [B, L] (no padding): frames of `window`'s length every `hop` samples → [B, frames, bins, 2]. */
export function stft(x: Value, hop: number, window: Value): Value {
  const step = x.graph.constant({ dtype: 'int64', shape: [], data: BigInt64Array.of(BigInt(hop)) }, 'stft_hop');
  return apply(STFT, [unsqueeze(x, [2]), step, window]);
}
