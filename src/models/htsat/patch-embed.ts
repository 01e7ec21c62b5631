/**
 * HTSAT's `PatchEmbed` (Conv2d patch×patch, stride patch, then LayerNorm) on the spectrogram image. The
 * conv is a reshape/transpose of the time-resized log-mel straight into [B·tokens, patch²] patches, already
 * in the first stage's window order (no image is materialised), and one MatMul.
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, asFloat32, f32Tensor, requireTensor, torchLayerNorm, torchParam, transpose2d } from '../layers.js';
import type { HtsatConfig } from './config.js';
import { type TokenStream, windowOrder } from './token-order.js';

/** PatchEmbed at `prefix` (`…patch_embed.`) on `resized` [B, specSize·freqRatio, mel] → stage 0's token stream. */
export function patchEmbed(g: Graph, resized: Value, sd: StateDict, prefix: string, cfg: HtsatConfig): TokenStream {
  const s = patchProjection(g, resized, sd, prefix, cfg);
  return { ...s, x: applyLayerNorm(s.x, torchLayerNorm(g, sd, `${prefix}norm`, cfg.embedDim, cfg.eps)) };
}

/** PatchEmbed's conv (`proj`) alone, before its LayerNorm: [B·tokens, C] in stage 0's window order. */
export function patchProjection(g: Graph, resized: Value, sd: StateDict, prefix: string, cfg: HtsatConfig): TokenStream {
  const { specSize: S, patchSize: ps, melBins: M, freqRatio: fr, windowSize: win, embedDim: C0 } = cfg;
  const grid = S / ps;
  const ws0 = Math.min(win, grid);
  if (grid % ws0 !== 0) throw new ClapError(`patch grid ${grid} is not a multiple of window ${ws0}`);
  const peW = requireTensor(sd, `${prefix}proj.weight`, [C0, 1, ps, ps]);
  const peWt = g.param(`${prefix}proj.weight^T`, f32Tensor([ps * ps, C0], transpose2d(asFloat32(peW), C0, ps * ps)));
  const peB = torchParam(g, sd, `${prefix}proj.bias`, [C0]);
  // image patch (pi, pj), pixel (a, b): row pi·ps + a = chunk·M + mel, col pj·ps + b = frame − chunk·S.
  // pi = wr·ws + r with wr = chunk·(rowsPerChunk/ws) + wr2; pj = wc·ws + c.
  const rowsPerChunk = M / ps; // patch rows per time chunk
  if (rowsPerChunk % ws0 !== 0) throw new ClapError(`patch rows per chunk ${rowsPerChunk} is not a multiple of window ${ws0}`);
  const wr2n = rowsPerChunk / ws0;
  const wcn = grid / ws0;
  // resized [B, frame, mel] = [B, chunk, wc, c, b, wr2, r, a] → [B, chunk, wr2, wc, r, c, a, b]
  const patches = ops.reshape(ops.transpose(ops.reshape(resized, [0, fr, wcn, ws0, ps, wr2n, ws0, ps]), [0, 1, 5, 2, 6, 3, 7, 4]), [
    0,
    grid * grid,
    ps * ps,
  ]);
  const x = ops.add(ops.matmul(ops.reshape(patches, [-1, ps * ps]), peWt), peB);
  return { x, order: windowOrder(grid, grid, ws0, 0), side: grid, dim: C0 };
}
