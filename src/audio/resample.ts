/**
 * Band-limited sinc resampling, numerically identical to `torchaudio.functional.resample` /
 * `torchaudio.transforms.Resample` (0.13) with their defaults: Hann-windowed sinc
 * ("sinc_interpolation", renamed "sinc_interp_hann" in 2.x), lowpass_filter_width 6, rolloff 0.99.
 *
 * How torchaudio does it (`_get_sinc_resample_kernel` / `_apply_sinc_resample_kernel`):
 * - both rates are divided by their gcd → `orig`, `new`; `base = min(orig, new) * rolloff`;
 *   `width = ceil(lpw * orig / base)`; one filter ("phase") per output position modulo `new`,
 *   each with `K = 2*width + orig` taps;
 * - tap k of phase i sits at `t = (-i/new + (k - width)/orig) * base`, clamped to ±lpw; the weight is
 *   `sinc(π t) · cos(π t / lpw / 2)² · base/orig`, computed in float64 and cast to float32.
 *   Quirk reproduced: `torch.arange(0, -new, -1)` is int64, so `-i/new` is divided in the default
 *   dtype (float32) before being added to the float64 `(k - width)/orig` term;
 * - the input is zero-padded by `width` on the left and `width + orig` on the right, convolved with
 *   stride `orig` (conv1d: output block b, phase i = Σ_k kernel[i][k] · x[b*orig + k - width]), and cut
 *   to `ceil(new * length / orig)` samples.
 *
 * The conv1d of the reference accumulates each output with sequential float32 fused multiply-adds in
 * tap order (verified bit-exact on the fixtures), which is what `resampleRange` emulates:
 * `acc = fround(acc + w·x)` (w·x of two float32 values is exact in float64). Taps that are exactly 0 in
 * float32 (everything outside |t| < lpw) are skipped; they leave a float32 accumulator unchanged.
 * The loop runs in WebAssembly SIMD (dsp.as.ts `resampleBlocks`), 16 blocks of one phase at a time.
 */
import { Dsp } from './dsp.js';
import type { Signal } from './signal.js';

export interface ResampleOptions {
  /** Zero crossings of the sinc on each side (torchaudio default 6). */
  lowpassFilterWidth?: number;
  /** Cut-off as a fraction of the lower Nyquist (torchaudio default 0.99). */
  rolloff?: number;
}

/** A precomputed polyphase kernel: `newFreq` phases, each a short run of nonzero float32 taps. */
export interface ResampleKernel {
  /** Rates after gcd reduction. */
  readonly origFreq: number;
  readonly newFreq: number;
  /** Left padding, in input samples. */
  readonly width: number;
  /** Taps per phase in torchaudio's dense kernel (2·width + origFreq). */
  readonly denseTaps: number;
  /** For phase p: its taps are taps[offset[p] .. offset[p] + count[p]) and the first is dense tap first[p]. */
  readonly first: Int32Array;
  readonly count: Int32Array;
  readonly offset: Int32Array;
  /** float32 values held as float64 (faster arithmetic, values identical). */
  readonly taps: Float64Array;
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** torchaudio's output length: `ceil(new * length / orig)` with the gcd-reduced rates (float64 math, as Python). */
export function resampledLength(length: number, origFreq: number, newFreq: number): number {
  if (origFreq === newFreq) return length;
  const g = gcd(origFreq, newFreq);
  return Math.ceil(((newFreq / g) * length) / (origFreq / g));
}

const kernelCache = new Map<string, ResampleKernel>();

/** Builds (or returns the cached) torchaudio sinc kernel for origFreq → newFreq (integer Hz). */
export function sincResampleKernel(origFreq: number, newFreq: number, options: ResampleOptions = {}): ResampleKernel {
  const lpw = options.lowpassFilterWidth ?? 6;
  const rolloff = options.rolloff ?? 0.99;
  if (!Number.isInteger(origFreq) || !Number.isInteger(newFreq) || origFreq <= 0 || newFreq <= 0) {
    throw new RangeError(`resample rates must be positive integers (got ${origFreq} → ${newFreq})`);
  }
  if (!(lpw > 0)) throw new RangeError('lowpassFilterWidth must be positive');
  const key = `${origFreq}:${newFreq}:${lpw}:${rolloff}`;
  const hit = kernelCache.get(key);
  if (hit) return hit;

  const g = gcd(origFreq, newFreq);
  const orig = origFreq / g;
  const nw = newFreq / g;
  const base = Math.min(orig, nw) * rolloff;
  const width = Math.ceil((lpw * orig) / base);
  const denseTaps = 2 * width + orig;
  const scale = base / orig;

  const first = new Int32Array(nw);
  const count = new Int32Array(nw);
  const offset = new Int32Array(nw);
  const chunks: Float64Array[] = [];
  let total = 0;
  const tmp = new Float64Array(denseTaps);
  for (let i = 0; i < nw; i++) {
    const shift = Math.fround(-i / nw); // float32 division (see the quirk above)
    // Nonzero taps satisfy |(shift + (k - width)/orig) * base| < lpw; evaluate a slightly wider range.
    const lo = Math.max(0, Math.floor(width + orig * (-shift - lpw / base)) - 2);
    const hi = Math.min(denseTaps - 1, Math.ceil(width + orig * (-shift + lpw / base)) + 2);
    let a = -1;
    let b = -1;
    for (let k = lo; k <= hi; k++) {
      let t = (shift + (k - width) / orig) * base;
      if (t < -lpw) t = -lpw;
      else if (t > lpw) t = lpw;
      const c = Math.cos((t * Math.PI) / lpw / 2);
      const window = c * c;
      const tp = t * Math.PI;
      const s = tp === 0 ? 1 : Math.sin(tp) / tp;
      const w = Math.fround(s * (window * scale));
      tmp[k] = w;
      if (w !== 0) {
        if (a < 0) a = k;
        b = k;
      }
    }
    if (a < 0) {
      first[i] = 0;
      count[i] = 0;
    } else {
      first[i] = a;
      count[i] = b - a + 1;
    }
    offset[i] = total;
    chunks.push(tmp.slice(first[i], first[i] + count[i]));
    total += count[i];
  }
  const taps = new Float64Array(total);
  for (let i = 0; i < nw; i++) taps.set(chunks[i], offset[i]);
  const kernel: ResampleKernel = { origFreq: orig, newFreq: nw, width, denseTaps, first, count, offset, taps };
  if (kernelCache.size >= 16) kernelCache.delete(kernelCache.keys().next().value as string);
  kernelCache.set(key, kernel);
  return kernel;
}

/**
 * Output samples [outStart, outStart + outCount) of `signal` resampled, reading only the input they need
 * (zeros stand for samples outside the signal). Identical to slicing the full resample: each output
 * depends only on its own input neighbourhood.
 */
export function resampleRange(kernel: ResampleKernel, signal: Signal, outStart: number, outCount: number): Float32Array {
  const out = new Float32Array(outCount);
  if (outCount <= 0) return out;
  const { origFreq: orig, newFreq: nw, width, denseTaps } = kernel;
  const b0 = Math.floor(outStart / nw);
  const b1 = Math.floor((outStart + outCount - 1) / nw);
  const dsp = Dsp.get();
  const group = dsp.resampleGroup;
  // Blocks per call: a multiple of the kernel's group, ≈ 1 M input samples at most (bounded memory).
  const chunk = Math.max(group, Math.floor(2 ** 20 / orig / group) * group);
  for (let c0 = 0; c0 <= b1 - b0; c0 += chunk) {
    const real = Math.min(chunk, b1 - b0 + 1 - c0);
    const blocks = Math.ceil(real / group) * group;
    const layout = dsp.layout();
    const xr = layout.reserve(Float32Array, blocks * orig + denseTaps + 1);
    const pairs = layout.reserve(Float64Array, 2 * ((blocks - 1) * orig + denseTaps + 1));
    const tables = [kernel.first, kernel.count, kernel.offset].map((t) => layout.reserve(Int32Array, t.length));
    const taps = layout.reserve(Float64Array, kernel.taps.length);
    const outr = layout.reserve(Float32Array, blocks * nw);
    // input samples [from, from + xs.length): the signal's where it has them, zeros elsewhere (also past the
    // chunk's last real block, whose outputs are dropped)
    const xs = layout.view(xr);
    const from = (b0 + c0) * orig - width;
    const lo = Math.max(0, from);
    const hi = Math.min(signal.length, from + (real - 1) * orig + denseTaps);
    xs.fill(0);
    if (hi > lo) xs.set(signal.read(lo, hi - lo), lo - from);
    [kernel.first, kernel.count, kernel.offset].forEach((t, i) => layout.view(tables[i]).set(t));
    layout.view(taps).set(kernel.taps);
    const [first, count, offset] = tables.map((t) => t.offset);
    dsp.kernels.resampleBlocks(xr.offset, blocks, orig, nw, denseTaps, first, count, offset, taps.offset, pairs.offset, outr.offset);
    // this chunk's outputs are [(b0 + c0)·nw, (b0 + c0 + real)·nw); keep those in [outStart, outStart + outCount)
    const oLo = Math.max(outStart, (b0 + c0) * nw);
    const oHi = Math.min(outStart + outCount, (b0 + c0 + real) * nw);
    out.set(layout.view(outr).subarray(oLo - (b0 + c0) * nw, oHi - (b0 + c0) * nw), oLo - outStart);
  }
  return out;
}

/** torchaudio.functional.resample(x, origFreq, newFreq) with the default filter, for a whole array. */
export function resample(x: Float32Array, origFreq: number, newFreq: number, options: ResampleOptions = {}): Float32Array {
  if (origFreq === newFreq) return x.slice();
  const kernel = sincResampleKernel(origFreq, newFreq, options);
  const signal: Signal = { length: x.length, read: (s, c) => x.subarray(s, s + c) };
  return resampleRange(kernel, signal, 0, resampledLength(x.length, origFreq, newFreq));
}
