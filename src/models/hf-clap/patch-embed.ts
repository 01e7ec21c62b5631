/**
 * `ClapAudioPatchEmbed`: msclap's PatchEmbed (4×4 conv + LayerNorm) on channel 0 and, in the fused
 * checkpoints, the local path — channels 1–3 (front, middle and back 10 s chunks of a long clip) each
 * through `mel_conv2d` (kernel and stride 4×12 over the spectrogram image, no padding: 64×21 patches, the
 * image's last 4 columns unread), laid side by side (63 columns, zero-padded to 64), fused with the
 * global map by the AFF block before the LayerNorm. Clips not marked `is_longer` keep the global map.
 */
import { ClapError } from '../../errors.js';
import { type Graph, ops, type Value } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { applyLayerNorm, asFloat32, f32Tensor, requireTensor, torchLayerNorm, torchParam, transpose2d } from '../layers.js';
import { patchProjection, reorder, type TokenStream } from '../htsat/index.js';
import { affBlock, affBlockParams } from './aff-block.js';
import type { ClapAudioConfig } from './config.js';

export interface ClapPatchEmbedOutputs {
  stream: TokenStream;
  /** Debug tensors in the reference's layouts: patch_proj [B, C, S/ps, S/ps]; fused: local_conv [B, 3, C, rows, cols], fusion [B, C, S/ps, S/ps]. */
  stages: Record<string, Value>;
}

/**
 * The patch embedding of `resized` ([B, channels, specSize·freqRatio, mel]: each channel's time-resized
 * log-mel) under `prefix` (`…patch_embed.`); `isLonger` [B] bool selects the clips that are fused; `training`:
 * the training path's AFF block (aff-block.ts).
 */
export function clapPatchEmbed(
  g: Graph,
  resized: Value,
  isLonger: Value | undefined,
  sd: StateDict,
  prefix: string,
  cfg: ClapAudioConfig,
  training = false,
): ClapPatchEmbedOutputs {
  const h = cfg.htsat;
  const T = h.specSize * h.freqRatio;
  const M = h.melBins;
  const channel = (k: number): Value => ops.reshape(ops.slice(resized, 1, k, k + 1), [-1, T, M]);
  const C = h.embedDim;
  const grid = h.specSize / h.patchSize;
  const global = patchProjection(g, channel(0), sd, prefix, h);
  const rasterOrder = Int32Array.from({ length: grid * grid }, (_, i) => i);
  const N = grid * grid;
  const raster = (v: Value): Value =>
    ops.reshape(reorder(g, ops.reshape(v, [-1, C]), global.order, rasterOrder, 'window_to_raster'), [-1, N, C]);
  const toMap = (x: Value): Value => ops.transpose(ops.reshape(x, [-1, grid, grid, C]), [0, 3, 1, 2]);
  const norm = (x: Value): Value => applyLayerNorm(x, torchLayerNorm(g, sd, `${prefix}norm`, C, h.eps));
  if (!cfg.enableFusion) return { stream: { ...global, x: norm(global.x) }, stages: { patch_proj: toMap(raster(global.x)) } };
  if (!isLonger) throw new ClapError('internal: a fused ClapAudioPatchEmbed needs is_longer');
  const { local, conv } = melConv2d(g, resized, sd, prefix, cfg);
  const l = reorder(g, ops.reshape(local, [-1, C]), rasterOrder, global.order, 'local_to_window');
  const gb = ops.reshape(global.x, [-1, N, C]);
  const fused = affBlock(affBlockParams(g, sd, `${prefix}fusion_model.`, C, cfg.affBlockR, training), gb, ops.reshape(l, [-1, N, C]));
  const chosen = ops.where(ops.reshape(isLonger, [-1, 1, 1]), fused, gb);
  return {
    stream: { ...global, x: norm(ops.reshape(chosen, [-1, C])) },
    stages: { patch_proj: toMap(raster(global.x)), local_conv: conv, fusion: toMap(raster(fused)) },
  };
}

/**
 * mel_conv2d over channels 1–3 → the local map [B, grid·grid, C] in raster order (column = chunk·cols + j,
 * the last columns zero), and the conv output in the reference's layout [B, 3, C, rows, cols].
 */
function melConv2d(g: Graph, resized: Value, sd: StateDict, prefix: string, cfg: ClapAudioConfig): { local: Value; conv: Value } {
  const { specSize: S, patchSize: ps, melBins: M, freqRatio: fr, embedDim: C } = cfg.htsat;
  const kw = 3 * ps; // kernel and stride along the image's columns (time within a chunk)
  const cols = Math.floor(S / kw);
  const rowsPerChunk = M / ps;
  const rows = fr * rowsPerChunk;
  const grid = S / ps;
  if (3 * cols > grid) throw new ClapError(`fusion: 3×${cols} local columns do not fit a ${grid}-wide patch grid`);
  const w = asFloat32(requireTensor(sd, `${prefix}mel_conv2d.weight`, [C, 1, ps, kw]));
  const wt = g.param(`${prefix}mel_conv2d.weight^T`, f32Tensor([ps * kw, C], transpose2d(w, C, ps * kw)));
  const bias = torchParam(g, sd, `${prefix}mel_conv2d.bias`, [C]);
  // image row = chunk·M + mel, column = frame within the chunk; patch (pi, j) covers rows 4·pi…, columns 12·j…
  // locals [B, 3, fr·S, M] → [B, 3, chunk, j, b, mr, a] → [B, 3, chunk, mr, j, a, b] (pi = chunk·rowsPerChunk + mr)
  const locals = ops.slice(ops.reshape(ops.slice(resized, 1, 1, 4), [-1, 3, fr, S, M]), 3, 0, cols * kw);
  const patches = ops.transpose(ops.reshape(locals, [-1, 3, fr, cols, kw, rowsPerChunk, ps]), [0, 1, 2, 5, 3, 6, 4]);
  const out = ops.add(ops.matmul(ops.reshape(patches, [-1, 3, rows, cols, ps * kw]), wt), bias); // [B, 3, rows, cols, C]
  // [B, rows, 3, cols, C] → [B, rows, 3·cols, C], zero columns up to the grid, → raster tokens
  const side = ops.reshape(ops.transpose(out, [0, 2, 1, 3, 4]), [-1, rows, 3 * cols, C]);
  const padded = ops.pad(side, [0, 0, 0, 0, 0, 0, grid - 3 * cols, 0]);
  return { local: ops.reshape(padded, [-1, rows * grid, C]), conv: ops.transpose(out, [0, 1, 4, 2, 3]) };
}
