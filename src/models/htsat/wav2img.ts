/**
 * `HTSAT_Swin_Transformer.reshape_wav2img`: the log-mel [B, T, mel] resized along time to specSize·freqRatio
 * frames (bicubic, align_corners) and folded into a specSize × specSize image, freqRatio time chunks
 * stacked along the rows.
 *
 * The bicubic resize 965 → 1024 frames is banded (4 taps per row): one Gather of overlapping input
 * windows and a [16, 64, 64] batched MatMul instead of a dense [1024, 965] one.
 */
import { bicubicResizeMatrix } from '../../audio/bicubic.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import { f32Tensor } from '../layers.js';
import type { HtsatConfig } from './config.js';

/** Output rows per band of the banded resize. */
const RESIZE_BAND = 64;

export interface SpecImage {
  /** The time-resized log-mel [B, specSize·freqRatio, mel] (what PatchEmbed reads, in our layout). */
  resized: Value;
  /** The reference's image [B, specSize, specSize]: row = chunk·mel + mel bin, column = frame within the chunk. */
  image: Value;
}

/** reshape_wav2img on bn0's output x [B, T, mel] (T ≤ specSize·freqRatio). */
export function reshapeWav2Img(g: Graph, x: Value, cfg: HtsatConfig): SpecImage {
  const { specSize: S, freqRatio: fr, melBins: M } = cfg;
  const T = x.shape[1] as number;
  const targetT = S * fr;
  // bicubic time resize T → S·fr (align_corners, A = −0.75, PyTorch's float32 scale; src/audio/bicubic.ts)
  const resized = T === targetT ? x : bandedResize(g, x, bicubicResizeMatrix(T, targetT), targetT, T);
  // image row = chunk·M + mel, column = frame within chunk (chunk = frame div S)
  const image = ops.reshape(ops.transpose(ops.reshape(resized, [0, fr, S, M]), [0, 1, 3, 2]), [0, S, S]);
  return { resized, image };
}

/**
 * `R @ x` for x [B, T, M] and a banded [outT, T] resize matrix R (4 taps per row), as one Gather of
 * overlapping input windows and one batched MatMul: output rows in chunks of RESIZE_BAND, each chunk
 * reading the `width` consecutive input rows that hold all its taps. The same nonzero products as the dense
 * MatMul (only exact-zero terms are skipped), ~15× fewer FLOPs. Falls back to the dense MatMul if R is
 * not banded enough.
 */
function bandedResize(g: Graph, x: Value, R: Float32Array, outT: number, T: number): Value {
  const layout = resizeBands(R, outT, T);
  if (!layout) return ops.matmul(g.constant(f32Tensor([outT, T], R), 'resize'), x);
  const { width, starts } = layout;
  const nb = starts.length;
  const idx = new BigInt64Array(nb * width);
  const band = new Float32Array(nb * RESIZE_BAND * width);
  starts.forEach((start, k) => {
    for (let j = 0; j < width; j++) idx[k * width + j] = BigInt(start + j);
    for (let r = 0; r < RESIZE_BAND; r++) {
      const i = k * RESIZE_BAND + r;
      for (let j = 0; j < width; j++) band[(k * RESIZE_BAND + r) * width + j] = R[i * T + start + j];
    }
  });
  const M = x.shape[2] as number;
  const windows = ops.reshape(ops.gather(x, g.constant({ dtype: 'int64', shape: [nb * width], data: idx }, 'resize_rows'), 1), [
    -1,
    nb,
    width,
    M,
  ]);
  const y = ops.matmul(g.constant(f32Tensor([nb, RESIZE_BAND, width], band), 'resize_band'), windows); // [B, nb, band, M]
  return ops.reshape(y, [-1, outT, M]);
}

/** First input row of each RESIZE_BAND-row chunk and the common window width, or null if R is not banded. */
function resizeBands(R: Float32Array, outT: number, T: number): { width: number; starts: number[] } | null {
  if (outT % RESIZE_BAND !== 0) return null;
  const nb = outT / RESIZE_BAND;
  const lo = new Array<number>(nb).fill(T);
  const hi = new Array<number>(nb).fill(-1);
  for (let i = 0; i < outT; i++) {
    const k = Math.floor(i / RESIZE_BAND);
    for (let j = 0; j < T; j++) {
      if (R[i * T + j] !== 0) {
        lo[k] = Math.min(lo[k], j);
        hi[k] = Math.max(hi[k], j);
      }
    }
  }
  const width = Math.max(1, ...hi.map((h, k) => h - lo[k] + 1));
  if (width * 2 > T) return null;
  return { width, starts: lo.map((l) => Math.min(Math.max(l, 0), T - width)) };
}
