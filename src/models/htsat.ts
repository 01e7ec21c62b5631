/**
 * HTSAT (HTSAT_Swin_Transformer with `enable_tscam`), the audio encoder of msclap 2023, traced into an
 * engine graph: log-mel [B, T, mel] → bn0 → bicubic time resize → 256×256 image → Swin → tscam head.
 *
 * Layout choices (all exact re-orderings of the reference's computation, not approximations):
 * - The token stream is kept in *window order* of the block that reads it (token t = window·ws² + pos,
 *   windows row-major over the (possibly rolled) grid), so window partition, reverse and the cyclic shift
 *   never appear as separate ops: between blocks one Gather re-orders the tokens (unshifted ↔ shifted
 *   windows), and PatchMerging's four strided slices + concat are one Gather that also produces the next
 *   stage's window order. Per-token ops (LayerNorm, MLP, residual adds) do not care about the order.
 * - The bicubic resize 965 → 1024 frames is banded (4 taps per row): one Gather of overlapping input
 *   windows and a [16, 64, 64] batched MatMul instead of a dense [1024, 965] one.
 * - Patch embedding (Conv 4×4 stride 4) is a reshape/transpose of the resized spectrogram into
 *   [B, 4096, 16] patches (already in window order) and one MatMul.
 * - The stream is 2-D [B·N, C] so ORT fuses every Linear's MatMul + bias into one Gemm.
 * - Window attention is batched over all windows: q/k/v come from three Gemms (the reference's
 *   q·head_dim^-0.5 folded into q's weight and bias), scores [B, nW, heads, 64, 64] get one constant per
 *   block holding the relative-position bias (gathered once here) + the shifted-window mask.
 * - Denormals: the reference's −100 mask makes softmax return ~1e-44 for masked pairs; as MatMul inputs
 *   these subnormal floats are ~30× slower on x86, so they are flushed to 0 right after the softmax
 *   (they cannot change a float32 sum). See `HtsatBuildOptions.shiftMask`.
 */
import { bicubicResizeMatrix } from '../audio/bicubic.js';
import { ClapError } from '../errors.js';
import { type Graph, type HostTensor, ops, type Value } from '../engine/index.js';
import {
  applyLayerNorm,
  applyLinear,
  asFloat32,
  f32Tensor,
  type LayerNormParams,
  type LinearParams,
  requireTensor,
  type StateDict,
  stateDictGet,
  stateDictHas,
  torchLayerNorm,
  torchLinear,
  torchParam,
} from './layers.js';

/** HTSAT hyper-parameters (names follow the reference's constructor arguments). */
export interface HtsatConfig {
  /** Side of the square Swin input image (256). */
  specSize: number;
  /** Patch-embedding kernel = stride (4). */
  patchSize: number;
  /** Mel bins of the log-mel input (64). */
  melBins: number;
  /** Time chunks folded into the image's rows: specSize·freqRatio frames, specSize/freqRatio mels (4). */
  freqRatio: number;
  embedDim: number;
  depths: number[];
  numHeads: number[];
  windowSize: number;
  mlpRatio: number;
  numClasses: number;
  /** LayerNorm eps. */
  eps: number;
  /** bn0 eps. */
  bnEps: number;
  /** Additive value of masked (cross-region) pairs in shifted windows (−100 in the reference). */
  maskValue: number;
}

/** The official msclap 2023 HTSAT (class defaults of HTSAT_Swin_Transformer; the yaml is ignored). */
export const HTSAT_2023: Readonly<HtsatConfig> = Object.freeze({
  specSize: 256,
  patchSize: 4,
  melBins: 64,
  freqRatio: 4,
  embedDim: 96,
  depths: [2, 2, 6, 2],
  numHeads: [4, 8, 16, 32],
  windowSize: 8,
  mlpRatio: 4,
  numClasses: 527,
  eps: 1e-5,
  bnEps: 1e-5,
  maskValue: -100,
});

/** Width of the HTSAT output (`latent_output`): embedDim · 2^(stages−1). */
export function htsatNumFeatures(cfg: HtsatConfig): number {
  return cfg.embedDim * 2 ** (cfg.depths.length - 1);
}

/** An HtsatConfig from a config.json `htsat` section (snake_case, as the fixtures write it). */
export function htsatConfigFromJson(j: Record<string, unknown>, base: HtsatConfig = HTSAT_2023): HtsatConfig {
  const num = (k: string, d: number): number => {
    const v = j[k];
    if (v === undefined) return d;
    if (typeof v !== 'number' || !Number.isFinite(v))
      throw new ClapError(`expected a number, got ${JSON.stringify(v)}`, { subject: `htsat.${k}` });
    return v;
  };
  const arr = (k: string, d: number[]): number[] => {
    const v = j[k];
    if (v === undefined) return [...d];
    if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x)))
      throw new ClapError('expected a list of integers', { subject: `htsat.${k}` });
    return v as number[];
  };
  const patch = num('patch_size', base.patchSize);
  const stride = j.patch_stride;
  if (stride !== undefined && !(Array.isArray(stride) && stride.every((s) => s === patch)) && stride !== patch) {
    throw new ClapError(`patch_stride ${JSON.stringify(stride)} != patch_size ${patch} is not supported`, {
      subject: 'htsat.patch_stride',
    });
  }
  const cfg = {
    specSize: num('spec_size', base.specSize),
    patchSize: patch,
    melBins: num('mel_bins', base.melBins),
    freqRatio: num('freq_ratio', base.freqRatio),
    embedDim: num('embed_dim', base.embedDim),
    depths: arr('depths', base.depths),
    numHeads: arr('num_heads', base.numHeads),
    windowSize: num('window_size', base.windowSize),
    mlpRatio: num('mlp_ratio', base.mlpRatio),
    numClasses: num('num_classes', base.numClasses),
    eps: num('layer_norm_eps', base.eps),
    bnEps: num('bn_eps', base.bnEps),
    maskValue: num('swin_shift_mask_value', base.maskValue),
  };
  if (j.num_features !== undefined && j.num_features !== htsatNumFeatures(cfg)) {
    throw new ClapError(`${JSON.stringify(j.num_features)} != embed_dim·2^(stages−1) = ${htsatNumFeatures(cfg)}`, {
      subject: 'htsat.num_features',
    });
  }
  if (cfg.numHeads.length !== cfg.depths.length) {
    throw new ClapError(`${cfg.numHeads.length} entries for ${cfg.depths.length} stages (depths)`, { subject: 'htsat.num_heads' });
  }
  if (j.ape === true) throw new ClapError('absolute position embedding (ape) is not supported', { subject: 'htsat.ape' });
  if (j.patch_norm === false) throw new ClapError('patch_norm=false is not supported', { subject: 'htsat.patch_norm' });
  return cfg;
}

/**
 * Sizes read off the checkpoint (embed dim, depths, heads, window, mlp ratio, classes, patch size, mel
 * bins); spec size, freq ratio and eps are not stored and come from `base`.
 */
export function inferHtsatConfig(sd: StateDict, prefix: string, base: HtsatConfig = HTSAT_2023): HtsatConfig {
  const pe = requireTensor(sd, `${prefix}patch_embed.proj.weight`);
  if (pe.shape.length !== 4 || pe.shape[1] !== 1 || pe.shape[2] !== pe.shape[3]) {
    throw new ClapError(`has shape [${pe.shape.join(', ')}], expected [embed_dim, 1, patch, patch]`, {
      subject: `${prefix}patch_embed.proj.weight`,
    });
  }
  const embedDim = pe.shape[0];
  const depths: number[] = [];
  const numHeads: number[] = [];
  let windowSize = base.windowSize;
  let mlpRatio = base.mlpRatio;
  for (let s = 0; stateDictHas(sd, `${prefix}layers.${s}.blocks.0.norm1.weight`); s++) {
    let d = 0;
    while (stateDictHas(sd, `${prefix}layers.${s}.blocks.${d}.norm1.weight`)) d++;
    depths.push(d);
    const tableKey = `${prefix}layers.${s}.blocks.0.attn.relative_position_bias_table`;
    const table = requireTensor(sd, tableKey);
    if (table.shape.length !== 2)
      throw new ClapError(`has shape [${table.shape.join(', ')}], expected [(2w-1)^2, heads]`, { subject: tableKey });
    numHeads.push(table.shape[1]);
    if (s === 0) {
      const side = Math.round(Math.sqrt(table.shape[0]));
      if (side * side !== table.shape[0] || side % 2 !== 1)
        throw new ClapError(`has ${table.shape[0]} rows, not (2·window−1)²`, { subject: tableKey });
      windowSize = (side + 1) / 2;
      const fc1 = requireTensor(sd, `${prefix}layers.0.blocks.0.mlp.fc1.weight`);
      mlpRatio = fc1.shape[0] / embedDim;
    }
  }
  if (depths.length === 0)
    throw new ClapError('missing from the checkpoint (no Swin stages found)', { subject: `${prefix}layers.0.blocks.0.norm1.weight` });
  const tscam = requireTensor(sd, `${prefix}tscam_conv.weight`);
  const bn = requireTensor(sd, `${prefix}bn0.running_mean`);
  return {
    ...base,
    embedDim,
    patchSize: pe.shape[2],
    depths,
    numHeads,
    windowSize,
    mlpRatio,
    numClasses: tscam.shape[0],
    melBins: bn.shape[0],
  };
}

/**
 * Floating-point operations (2 per multiply-add) of one clip through buildHtsat's graph: every MatMul/Gemm
 * and the tscam Conv, including the banded bicubic resize (elementwise ops, softmax and norms not counted).
 */
export function htsatFlopsPerClip(cfg: HtsatConfig, frames = 965): number {
  const targetT = cfg.specSize * cfg.freqRatio;
  let f = 0;
  if (frames < targetT) {
    const bands = resizeBands(bicubicResizeMatrix(frames, targetT), targetT, frames);
    f += 2 * targetT * (bands ? bands.width : frames) * cfg.melBins;
  }
  let H = cfg.specSize / cfg.patchSize;
  let C = cfg.embedDim;
  f += 2 * H * H * cfg.patchSize ** 2 * C;
  cfg.depths.forEach((depth, s) => {
    const N = H * H;
    const L = Math.min(cfg.windowSize, H) ** 2;
    const hidden = Math.round(C * cfg.mlpRatio);
    f += depth * 2 * N * (3 * C * C + 2 * L * C + C * C + 2 * C * hidden);
    if (s < cfg.depths.length - 1) {
      f += 2 * (N / 4) * 4 * C * 2 * C;
      H /= 2;
      C *= 2;
    }
  });
  const cfb = H / cfg.freqRatio;
  return f + 2 * cfg.freqRatio * H * cfg.numClasses * C * cfb * 3;
}

// ------------------------------------------------------------------------------------------ resize

/** Output rows per band of the banded resize. */
const RESIZE_BAND = 64;

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

// ------------------------------------------------------------------------------------------ token orders

/**
 * Window order of an H×W grid: order[t] = raster index (i·W + j) of the token at stream position t,
 * t = (wr·(W/ws) + wc)·ws² + r·ws + c, for windows of side ws over the grid rolled by −shift
 * (torch.roll(x, (−shift, −shift))), i.e. the reference's window_partition(roll(x)).
 */
function windowOrder(h: number, w: number, ws: number, shift: number): Int32Array {
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

function invert(order: Int32Array): Int32Array {
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
function gatherTokens(g: Graph, x: Value, idx: ArrayLike<number>, hint: string): Value {
  if (isIdentity(idx)) return x;
  const C = x.shape[1] as number;
  const t: HostTensor = { dtype: 'int64', shape: [idx.length], data: BigInt64Array.from(Array.from(idx), (v) => BigInt(v)) };
  return ops.reshape(ops.gather(ops.reshape(x, [-1, idx.length, C]), g.constant(t, hint), 1), [-1, C]);
}

/** A stream [B·N, C] in `order` as [B, N, C] in raster order (the reference's layout). */
function toRaster(g: Graph, x: Value, order: Int32Array): Value {
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

/** Re-orders a stream from `from` order to `to` order (both: position → raster index). */
function reorder(g: Graph, x: Value, from: Int32Array, to: Int32Array, hint: string): Value {
  const inv = invert(from);
  return gatherTokens(
    g,
    x,
    to.map((raster) => inv[raster]),
    hint,
  );
}

// ------------------------------------------------------------------------------------------ model

export interface HtsatOutputs {
  /** `latent_output` [B, numFeatures] (msclap's audio 'embedding', the projection's input). */
  latent: Value;
  /** `clipwise_output` [B, numClasses] (sigmoid of the tscam logits averaged over time). */
  clipwise: Value;
  /**
   * Intermediate tensors in the reference's layouts, for parity tests (free unless used as graph
   * outputs): bn0 [B,T,mel], wav2img [B,S,S], patch_embed [B,tokens,C] raster order, stage{i} [B,tokens,C_i]
   * raster order (after PatchMerging), final_norm [B,64,8C], tscam_conv [B,classes,1,32].
   */
  stages: Record<string, Value>;
}

interface BlockParams {
  norm1: LayerNormParams;
  q: LinearParams;
  k: LinearParams;
  v: LinearParams;
  proj: LinearParams;
  norm2: LayerNormParams;
  fc1: LinearParams;
  fc2: LinearParams;
  /** relative-position bias (+ shift mask): [1 or nW, heads, ws², ws²] */
  bias: Value;
}

export interface HtsatBuildOptions {
  /**
   * How shifted windows mask cross-region pairs:
   * - 'reference' (default): the checkpoint's `attn_mask` (−100) added to the scores as in msclap; the
   *   resulting ~1e-44 probabilities are flushed to 0 after the softmax (subnormals, ~30× slower as MatMul
   *   inputs; below float32 resolution of any sum they enter). Faithful for any input.
   * - 'hard': masked pairs get −1e4 instead (softmax gives exact zeros, no flush pass): ~6% faster, and
   *   identical to the reference unless a masked logit exceeds its row's unmasked maximum by more than ~80.
   */
  shiftMask?: 'reference' | 'hard';
  /**
   * Training path (default false = inference, unchanged): everything trainable is a param built from
   * plain differentiable ops — bn0's weight/bias applied around the fixed running statistics (eval-mode
   * BatchNorm: the statistics are not updated), and each block's `relative_position_bias_table` as a
   * param gathered into the [heads, L, L] bias in the graph instead of a folded constant.
   */
  trainable?: boolean;
}

/**
 * Builds HTSAT on `logmel` ([B, T, melBins] float32, T ≤ specSize·freqRatio; msclap feeds T = 965).
 * `prefix` is the state-dict prefix of the HTSAT module, e.g. `audio_encoder.base.htsat.` (CLAP) or
 * `clap.base.htsat.` (clapcap). Every tensor is checked against `cfg`; a mismatch names the key.
 */
export function buildHtsat(
  g: Graph,
  logmel: Value,
  sd: StateDict,
  cfg: HtsatConfig,
  prefix: string,
  opts: HtsatBuildOptions = {},
): HtsatOutputs {
  const hardMask = (opts.shiftMask ?? 'reference') === 'hard';
  const P = (k: string): string => `${prefix}${k}`;
  const stages: Record<string, Value> = {};
  const { specSize: S, patchSize: ps, melBins: M, freqRatio: fr, windowSize: win, eps } = cfg;
  const nStages = cfg.depths.length;
  if (cfg.numHeads.length !== nStages)
    throw new ClapError(`num_heads has ${cfg.numHeads.length} entries for ${nStages} stages`, { subject: 'htsat config' });

  if (logmel.rank !== 3 || logmel.shape[2] !== M || typeof logmel.shape[1] !== 'number' || logmel.dtype !== 'float32') {
    throw new ClapError(
      `HTSAT input must be float32 [B, frames, ${M}] with a fixed frame count, got ${logmel.dtype} [${logmel.shape.join(', ')}]`,
    );
  }
  const T = logmel.shape[1];
  const targetT = S * fr;
  const targetF = S / fr;
  if (T > targetT) throw new ClapError(`${T} frames is more than HTSAT's ${targetT} (msclap never feeds more than 7 s)`);
  if (M !== targetF) throw new ClapError(`mel bins ${M} must equal spec_size/freq_ratio = ${targetF}`);
  const grid = S / ps;
  if (!Number.isInteger(grid) || S % ps !== 0 || (S / fr) % ps !== 0)
    throw new ClapError(`spec_size ${S} / freq_ratio ${fr} is not a multiple of patch ${ps}`);

  // ---- bn0 (eval): per-mel-bin scale/shift folded once here, in float64
  const bnW = asFloat32(requireTensor(sd, P('bn0.weight'), [M]));
  const bnB = asFloat32(requireTensor(sd, P('bn0.bias'), [M]));
  const bnMean = asFloat32(requireTensor(sd, P('bn0.running_mean'), [M]));
  const bnVar = asFloat32(requireTensor(sd, P('bn0.running_var'), [M]));
  const bnScale = new Float32Array(M);
  const bnShift = new Float32Array(M);
  for (let i = 0; i < M; i++) {
    const s = bnW[i] / Math.sqrt(bnVar[i] + cfg.bnEps);
    bnScale[i] = s;
    bnShift[i] = bnB[i] - bnMean[i] * s;
  }
  const bn = opts.trainable
    ? trainableBn0(g, logmel, sd, P, bnMean, bnVar, cfg.bnEps, M)
    : ops.add(ops.mul(logmel, g.constant(f32Tensor([M], bnScale), 'bn0_scale')), g.constant(f32Tensor([M], bnShift), 'bn0_shift'));
  stages.bn0 = bn;

  // ---- bicubic time resize T → S·fr (align_corners, A = −0.75, PyTorch's float32 scale; src/audio/bicubic.ts)
  const resized = T === targetT ? bn : bandedResize(g, bn, bicubicResizeMatrix(T, targetT), targetT, T);
  // image row = chunk·M + mel, column = frame within chunk (chunk = frame div S)
  stages.wav2img = ops.reshape(ops.transpose(ops.reshape(resized, [0, fr, S, M]), [0, 1, 3, 2]), [0, S, S]);

  // ---- patch embedding: patches straight into stage 0's window order
  const C0 = cfg.embedDim;
  const ws0 = Math.min(win, grid);
  if (grid % ws0 !== 0) throw new ClapError(`patch grid ${grid} is not a multiple of window ${ws0}`);
  const peW = requireTensor(sd, P('patch_embed.proj.weight'), [C0, 1, ps, ps]);
  const peWt = g.param(`${P('patch_embed.proj.weight')}^T`, f32Tensor([ps * ps, C0], transposeRows(asFloat32(peW), C0, ps * ps)));
  const peB = torchParam(g, sd, P('patch_embed.proj.bias'), [C0]);
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
  const peNorm = torchLayerNorm(g, sd, P('patch_embed.norm'), C0, eps);
  // the token stream: [B·N, C], N tokens per clip in `order` (position → raster index)
  let x = applyLayerNorm(ops.add(ops.matmul(ops.reshape(patches, [-1, ps * ps]), peWt), peB), peNorm);
  let order = windowOrder(grid, grid, ws0, 0);
  stages.patch_embed = toRaster(g, x, order);

  // ---- Swin stages
  let H = grid;
  let C = C0;
  for (let s = 0; s < nStages; s++) {
    const heads = cfg.numHeads[s];
    if (C % heads !== 0) throw new ClapError(`stage ${s}: dim ${C} not divisible by ${heads} heads`);
    const ws = Math.min(win, H);
    if (H % ws !== 0) throw new ClapError(`stage ${s}: grid ${H} is not a multiple of window ${ws}`);
    const nW = (H / ws) ** 2;
    const N = H * H;
    const hidden = Math.round(C * cfg.mlpRatio);
    for (let d = 0; d < cfg.depths[s]; d++) {
      const key = P(`layers.${s}.blocks.${d}.`);
      const shift = d % 2 === 1 && H > win ? Math.floor(win / 2) : 0;
      const blockOrder = windowOrder(H, H, ws, shift);
      x = reorder(g, x, order, blockOrder, `order_s${s}b${d}`);
      order = blockOrder;
      const p = loadBlock(g, sd, key, C, heads, ws, nW, hidden, shift, H, cfg, hardMask, opts.trainable === true);
      x = swinBlock(x, p, nW, ws * ws, heads, C, !hardMask && shift > 0);
    }
    if (s < nStages - 1) {
      // PatchMerging: cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]) → LayerNorm(4C) → Linear(4C→2C, no bias)
      const key = P(`layers.${s}.downsample.`);
      const H2 = H / 2;
      const ws2 = Math.min(win, H2);
      const nextOrder = windowOrder(H2, H2, ws2, 0);
      const inv = invert(order);
      const idx = new Int32Array(N);
      nextOrder.forEach((raster2, t) => {
        const i = Math.floor(raster2 / H2);
        const j = raster2 % H2;
        const src = [2 * i * H + 2 * j, (2 * i + 1) * H + 2 * j, 2 * i * H + 2 * j + 1, (2 * i + 1) * H + 2 * j + 1];
        for (let k = 0; k < 4; k++) idx[4 * t + k] = inv[src[k]];
      });
      const merged = ops.reshape(gatherTokens(g, x, idx, `merge_s${s}`), [-1, 4 * C]);
      const norm = torchLayerNorm(g, sd, `${key}norm`, 4 * C, eps);
      const red = torchLinear(g, sd, `${key}reduction`, { inFeatures: 4 * C, outFeatures: 2 * C, bias: false });
      x = applyLinear(applyLayerNorm(merged, norm), red);
      order = nextOrder;
      H = H2;
      C = 2 * C;
    } else if (stateDictHas(sd, P(`layers.${s}.downsample.reduction.weight`))) {
      throw new ClapError('the last stage has no PatchMerging in the reference', { subject: P(`layers.${s}.downsample.reduction.weight`) });
    }
    stages[`stage${s}`] = toRaster(g, x, order);
  }

  // ---- head: final norm (raster order), latent = token mean, tscam conv over the regrouped map
  x = toRaster(g, x, order);
  const normed = applyLayerNorm(x, torchLayerNorm(g, sd, P('norm'), C, eps));
  stages.final_norm = normed;
  const latent = ops.reduceMean(normed, [1]);
  // [B, H·H, C] → [B, C, H, H] rows = freq F, cols = time; F = fr·cfb → [B, C, cfb, fr·H] with col = g·H + t
  const cfb = H / fr;
  if (!Number.isInteger(cfb) || cfb < 1) throw new ClapError(`final grid ${H} is not a multiple of freq_ratio ${fr}`);
  const map = ops.reshape(ops.transpose(ops.reshape(normed, [0, fr, cfb, H, C]), [0, 4, 2, 1, 3]), [0, C, cfb, fr * H]);
  const convW = torchParam(g, sd, P('tscam_conv.weight'), [cfg.numClasses, C, cfb, 3]);
  const convB = torchParam(g, sd, P('tscam_conv.bias'), [cfg.numClasses]);
  const tscam = ops.conv2d(map, convW, convB, { pads: [0, 1, 0, 1] });
  stages.tscam_conv = tscam;
  const clipwise = ops.sigmoid(ops.reduceMean(tscam, [2, 3]));
  return { latent, clipwise, stages };
}

/** [rows, cols] → [cols, rows] (patch-embed conv weight [C, 1·ps·ps] → [ps·ps, C]). */
function transposeRows(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = data[r * cols + c];
  return out;
}

function loadBlock(
  g: Graph,
  sd: StateDict,
  key: string,
  C: number,
  heads: number,
  ws: number,
  nW: number,
  hidden: number,
  shift: number,
  H: number,
  cfg: HtsatConfig,
  hardMask: boolean,
  trainable = false,
): BlockParams {
  const hd = C / heads;
  const L = ws * ws;
  const span = 2 * ws - 1;
  // relative-position bias [heads, L, L] = table[index[p, q], h]
  const tableKey = `${key}attn.relative_position_bias_table`;
  const table = asFloat32(requireTensor(sd, tableKey, [span * span, heads]));
  const idxT = stateDictGet(sd, `${key}attn.relative_position_index`);
  let relIdx: Int32Array;
  if (idxT) {
    if (idxT.shape.length !== 2 || idxT.shape[0] !== L || idxT.shape[1] !== L) {
      throw new ClapError(`has shape [${idxT.shape.join(', ')}], expected [${L}, ${L}]`, { subject: `${key}attn.relative_position_index` });
    }
    relIdx = Int32Array.from(idxT.data as ArrayLike<number | bigint>, (v) => Number(v));
    for (const v of relIdx) {
      if (v < 0 || v >= span * span)
        throw new ClapError(`index ${v} outside the bias table`, { subject: `${key}attn.relative_position_index` });
    }
  } else {
    relIdx = swinRelativePositionIndex(ws);
  }
  let maskData: Float32Array | undefined;
  if (shift > 0) {
    const mk = `${key}attn_mask`;
    const m = stateDictGet(sd, mk);
    if (m) {
      if (m.shape.length !== 3 || m.shape[0] !== nW || m.shape[1] !== L || m.shape[2] !== L) {
        throw new ClapError(`has shape [${m.shape.join(', ')}], expected [${nW}, ${L}, ${L}]`, { subject: mk });
      }
      maskData = asFloat32(m);
    } else {
      maskData = swinShiftMask(H, ws, shift, cfg.maskValue);
    }
  }
  const nb = maskData ? nW : 1;
  const bias = new Float32Array(nb * heads * L * L);
  for (let w = 0; w < nb; w++) {
    for (let h = 0; h < heads; h++) {
      const o = (w * heads + h) * L * L;
      for (let pq = 0; pq < L * L; pq++) {
        let m = maskData ? maskData[w * L * L + pq] : 0;
        if (hardMask && m !== 0) m = HARD_MASK;
        bias[o + pq] = table[relIdx[pq] * heads + h] + m;
      }
    }
  }
  const scale = hd ** -0.5;
  return {
    norm1: torchLayerNorm(g, sd, `${key}norm1`, C, cfg.eps),
    // q, k, v split out of the fused qkv; the reference's q·head_dim^-0.5 folded into q's weight and bias
    q: torchLinear(g, sd, `${key}attn.qkv`, { inFeatures: C, outFeatures: 3 * C, rows: [0, C], scale }),
    k: torchLinear(g, sd, `${key}attn.qkv`, { inFeatures: C, outFeatures: 3 * C, rows: [C, 2 * C] }),
    v: torchLinear(g, sd, `${key}attn.qkv`, { inFeatures: C, outFeatures: 3 * C, rows: [2 * C, 3 * C] }),
    proj: torchLinear(g, sd, `${key}attn.proj`, { inFeatures: C, outFeatures: C }),
    norm2: torchLayerNorm(g, sd, `${key}norm2`, C, cfg.eps),
    fc1: torchLinear(g, sd, `${key}mlp.fc1`, { inFeatures: C, outFeatures: hidden }),
    fc2: torchLinear(g, sd, `${key}mlp.fc2`, { inFeatures: hidden, outFeatures: C }),
    bias: trainable
      ? trainableAttnBias(g, sd, tableKey, relIdx, maskData, nb, heads, L, hardMask)
      : g.constant(f32Tensor([nb, heads, L, L], bias), `attn_bias_${key}`),
  };
}

/** bn0 for the training path: (x − running_mean)/√(running_var + eps) · weight + bias, weight and bias params. */
function trainableBn0(
  g: Graph,
  x: Value,
  sd: StateDict,
  P: (k: string) => string,
  mean: Float32Array,
  variance: Float32Array,
  eps: number,
  M: number,
): Value {
  const inv = Float32Array.from(variance, (v) => 1 / Math.sqrt(v + eps));
  const normed = ops.mul(
    ops.sub(x, g.constant(f32Tensor([M], Float32Array.from(mean)), 'bn0_mean')),
    g.constant(f32Tensor([M], inv), 'bn0_invstd'),
  );
  return ops.add(ops.mul(normed, torchParam(g, sd, P('bn0.weight'), [M])), torchParam(g, sd, P('bn0.bias'), [M]));
}

/** The training path's attention bias: table param gathered in the graph ([nb, heads, L, L]), plus the constant shift mask. */
function trainableAttnBias(
  g: Graph,
  sd: StateDict,
  tableKey: string,
  relIdx: Int32Array,
  maskData: Float32Array | undefined,
  nb: number,
  heads: number,
  L: number,
  hardMask: boolean,
): Value {
  const table = torchParam(g, sd, tableKey);
  const idx = g.constant({ dtype: 'int64', shape: [L * L], data: BigInt64Array.from(relIdx, (v) => BigInt(v)) }, 'rel_idx');
  const bias = ops.reshape(ops.transpose(ops.gather(table, idx, 0), [1, 0]), [1, heads, L, L]);
  if (!maskData) return bias;
  const mask = Float32Array.from(maskData, (m) => (hardMask && m !== 0 ? HARD_MASK : m));
  return ops.add(bias, g.constant(f32Tensor([nb, 1, L, L], mask), 'shift_mask'));
}

/** Swin's relative_position_index for a ws×ws window (used when the checkpoint lacks the buffer). */
export function swinRelativePositionIndex(ws: number): Int32Array {
  const L = ws * ws;
  const idx = new Int32Array(L * L);
  for (let p = 0; p < L; p++) {
    for (let q = 0; q < L; q++) {
      const dh = Math.floor(p / ws) - Math.floor(q / ws) + ws - 1;
      const dw = (p % ws) - (q % ws) + ws - 1;
      idx[p * L + q] = dh * (2 * ws - 1) + dw;
    }
  }
  return idx;
}

/** Swin's shifted-window attention mask [nW, L, L]: maskValue between tokens of different regions. */
export function swinShiftMask(H: number, ws: number, shift: number, maskValue: number): Float32Array {
  const region = (v: number): number => (v < H - ws ? 0 : v < H - shift ? 1 : 2);
  const nwSide = H / ws;
  const L = ws * ws;
  const out = new Float32Array(nwSide * nwSide * L * L);
  for (let wr = 0; wr < nwSide; wr++) {
    for (let wc = 0; wc < nwSide; wc++) {
      const w = wr * nwSide + wc;
      const lab = new Int32Array(L);
      for (let p = 0; p < L; p++) lab[p] = region(wr * ws + Math.floor(p / ws)) * 3 + region(wc * ws + (p % ws));
      for (let p = 0; p < L; p++) for (let q = 0; q < L; q++) out[(w * L + p) * L + q] = lab[p] === lab[q] ? 0 : maskValue;
    }
  }
  return out;
}

/** Additive mask of the 'hard' shiftMask mode: exp underflows to exactly 0. */
const HARD_MASK = -1e4;

/** Smallest power of two that flushes subnormal softmax outputs: (p + 2^-100) − 2^-100 is 0 for p < 2^-124, p for p ≥ 2^-75. */
const FLUSH = 2 ** -100;

/**
 * One Swin block (x + attn(norm1(x)); y + mlp(norm2(y))) on a stream [B·N, C] already in this block's
 * window order: windows are consecutive runs of L tokens.
 */
function swinBlock(x: Value, p: BlockParams, nW: number, L: number, heads: number, C: number, flush: boolean): Value {
  const hd = C / heads;
  const h = applyLayerNorm(x, p.norm1);
  // [B·N, C] → [B, nW, L, heads, hd] → q, v: [B, nW, heads, L, hd]; k: [B, nW, heads, hd, L]
  const split = (t: Value): Value => ops.reshape(t, [-1, nW, L, heads, hd]);
  const q = ops.transpose(split(applyLinear(h, p.q)), [0, 1, 3, 2, 4]);
  const k = ops.transpose(split(applyLinear(h, p.k)), [0, 1, 3, 4, 2]);
  const v = ops.transpose(split(applyLinear(h, p.v)), [0, 1, 3, 2, 4]);
  const scores = ops.add(ops.matmul(q, k), p.bias); // [B, nW, heads, L, L] + [1|nW, heads, L, L]
  let attn = ops.softmax(scores, -1);
  if (flush) attn = ops.sub(ops.add(attn, FLUSH), FLUSH);
  const ctx = ops.matmul(attn, v); // [B, nW, heads, L, hd]
  const merged = ops.reshape(ops.transpose(ctx, [0, 1, 3, 2, 4]), [-1, C]);
  const y = ops.add(x, applyLinear(merged, p.proj));
  const m = applyLinear(ops.gelu(applyLinear(applyLayerNorm(y, p.norm2), p.fc1)), p.fc2);
  return ops.add(y, m);
}
