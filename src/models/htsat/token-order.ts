/**
 * The token stream's order. HTSAT's token stream is kept in *window order* of the block that reads it
 * (token t = window·ws² + pos, windows row-major over the possibly rolled grid), so the reference's
 * window_partition, window_reverse and torch.roll never appear as ops: between blocks one Gather
 * re-orders the tokens. An order maps stream position → raster index (i·W + j) of the H×W grid.
 */
import { type Graph, type HostTensor, ops, type Value } from '../../engine/index.js';

/**
 * Window order of an H×W grid: order[t] = raster index (i·W + j) of the token at stream position t,
 * t = (wr·(W/ws) + wc)·ws² + r·ws + c, for windows of side ws over the grid rolled by −shift
 * (torch.roll(x, (−shift, −shift))), i.e. the reference's window_partition(roll(x)).
 */
export function windowOrder(h: number, w: number, ws: number, shift: number): Int32Array {
  const order = new Int32Array(h * w);
  const nwc = w / ws;
  let t = 0;
  for (let wr = 0; wr < h / ws; wr++) {
    for (let wc = 0; wc < nwc; wc++) {
      for (let r = 0; r < ws; r++) {
        for (let c = 0; c < ws; c++) {
          const i = (wr * ws + r + shift) % h;
          const j = (wc * ws + c + shift) % w;
          order[t++] = i * w + j;
        }
      }
    }
  }
  return order;
}

/** raster index → stream position. */
export function invert(order: Int32Array): Int32Array {
  const inv = new Int32Array(order.length);
  order.forEach((raster, t) => {
    inv[raster] = t;
  });
  return inv;
}

function isIdentity(idx: ArrayLike<number>): boolean {
  for (let i = 0; i < idx.length; i++) if (idx[i] !== i) return false;
  return true;
}

/** Per clip x[idx] for a stream [B·N, C] (N = idx.length); a no-op when idx is the identity. */
export function gatherTokens(g: Graph, x: Value, idx: ArrayLike<number>, hint: string): Value {
  if (isIdentity(idx)) return x;
  const C = x.shape[1] as number;
  const t: HostTensor = { dtype: 'int64', shape: [idx.length], data: BigInt64Array.from(Array.from(idx), (v) => BigInt(v)) };
  return ops.reshape(ops.gather(ops.reshape(x, [-1, idx.length, C]), g.constant(t, hint), 1), [-1, C]);
}

/** Re-orders a stream from `from` order to `to` order (both: position → raster index). */
export function reorder(g: Graph, x: Value, from: Int32Array, to: Int32Array, hint: string): Value {
  const inv = invert(from);
  return gatherTokens(
    g,
    x,
    to.map((raster) => inv[raster]),
    hint,
  );
}

/** A stream [B·N, C] in `order` as [B, N, C] in raster order (the reference's layout). */
export function toRaster(g: Graph, x: Value, order: Int32Array): Value {
  const n = order.length;
  return ops.reshape(
    reorder(
      g,
      x,
      order,
      Int32Array.from({ length: n }, (_, i) => i),
      'to_raster',
    ),
    [-1, n, x.shape[1] as number],
  );
}

/** A stream of tokens [B·N, C] (2-D so that ORT fuses each Linear into one Gemm) and its order. */
export interface TokenStream {
  x: Value;
  order: Int32Array;
  /** Grid side (the grid is H×H). */
  side: number;
  /** Channels. */
  dim: number;
}
