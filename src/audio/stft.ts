/**
 * torchlibrosa's STFT power spectrogram (`Spectrogram(n_fft, hop, win_length, window='hann', center=True,
 * pad_mode='reflect', power=2)`), as HTSAT runs it.
 *
 * Two algorithms give the same numbers up to float32 rounding:
 * - `'fft'` (default): periodic Hann × frame, float64 radix-2 real FFT, |X|² — WebAssembly SIMD kernels
 *   (dsp.as.ts), two frames per vector, about 3 ms for 7 s;
 * - `'reference'`: a bit-exact emulation of what torchlibrosa really computes — conv1d of the padded
 *   signal with float32 DFT×window matrices (built exactly as numpy builds them), each output a
 *   sequential float32 fused multiply-add over the 1024 taps, then `re² + im²` in float32. It reproduces
 *   the fixtures' spectrogram bit-for-bit but costs ~1 G multiply-adds per 7 s clip (seconds). Use it for
 *   parity checks: in near-silent bins (≈ −90 dB and below) the reference's own float32 rounding noise
 *   reaches ~0.1 dB, which no exact algorithm reproduces.
 */
import { Dsp, type Layout } from './dsp.js';
import { fftPlan } from './fft.js';

export type StftAlgorithm = 'fft' | 'reference';

export interface StftConfig {
  nFft: number;
  hopLength: number;
  /** Window length; msclap uses nFft (the window is centre-padded to nFft otherwise). */
  winLength: number;
  /** Pad nFft/2 on each side (reflect) so frame t is centred on sample t·hop. */
  center: boolean;
}

/** Frames torchlibrosa produces for `length` samples. */
export function numFrames(length: number, cfg: StftConfig): number {
  const padded = cfg.center ? length + 2 * (cfg.nFft >> 1) : length;
  if (padded < cfg.nFft) throw new RangeError(`signal of ${length} samples is shorter than one ${cfg.nFft}-sample frame`);
  return Math.floor((padded - cfg.nFft) / cfg.hopLength) + 1;
}

/**
 * scipy.signal.get_window('hann', n, fftbins=True) in float64, computed as scipy does
 * (`0.5 + 0.5·cos(linspace(-π, π, n+1))`, last point dropped), centre-padded to nFft like librosa.
 */
export function periodicHann(winLength: number, nFft = winLength): Float64Array {
  const m = winLength + 1;
  const step = (Math.PI - -Math.PI) / (m - 1);
  const w = new Float64Array(nFft);
  const lpad = (nFft - winLength) >> 1;
  for (let i = 0; i < winLength; i++) {
    const fac = i * step + -Math.PI;
    w[lpad + i] = 0.5 + 0.5 * Math.cos(fac);
  }
  return w;
}

/** Reflect-pads (torch 'reflect': the edge sample is not repeated) by `pad` on both sides. */
export function reflectPad(x: Float32Array, pad: number): Float32Array {
  const out = new Float32Array(x.length + 2 * pad);
  readPadded(x, pad, 0, out);
  return out;
}

/** out[i] = sample `start + i` of x reflect-padded by `pad` on both sides. */
function readPadded(x: Float32Array, pad: number, start: number, out: Float32Array): void {
  const n = x.length;
  if (pad >= n) throw new RangeError(`reflect padding ${pad} needs more than ${pad} samples (got ${n})`);
  const end = start + out.length;
  const lo = Math.max(start, pad);
  const hi = Math.min(end, pad + n);
  if (hi > lo) out.set(x.subarray(lo - pad, hi - pad), lo - start);
  for (let i = start; i < Math.min(end, pad); i++) out[i - start] = x[pad - i];
  for (let i = Math.max(start, pad + n); i < end; i++) out[i - start] = x[2 * (n - 1) + pad - i];
}

function paddedInput(x: Float32Array, cfg: StftConfig): Float32Array {
  return cfg.center ? reflectPad(x, cfg.nFft >> 1) : x;
}

/** Where one chunk of frames lives in the kernels' memory (byte offsets; see dsp.as.ts). */
export interface FrameChunk {
  x: number;
  hop: number;
  frames: number;
  n: number;
  win: number;
  plan: number;
  re: number;
  im: number;
  pair: number;
}

/** Frames per kernel call: bounds the memory a long signal needs (≈ 7 s of audio at hop 320). */
const CHUNK_FRAMES = 1024;

/**
 * Runs a frame kernel of dsp.as.ts over every frame of x's STFT, CHUNK_FRAMES at a time: the padded
 * signal, window, FFT plan and scratch (spectra for `bins` bins) are placed in memory, then
 * `call(chunk, outOffset, layout)` fills `perFrame` values per frame of the chunk into `out`'s type.
 */
export function runFrameKernel<T extends Float32Array | Float64Array>(
  x: Float32Array,
  cfg: StftConfig,
  bins: number,
  out: T,
  perFrame: number,
  call: (chunk: FrameChunk, out: number, layout: Layout) => void,
): T {
  const { nFft: n, hopLength: hop } = cfg;
  const frames = numFrames(x.length, cfg);
  const pad = cfg.center ? n >> 1 : 0;
  const plan = fftPlan(n);
  const win = periodicHann(cfg.winLength, n);
  const dsp = Dsp.get();
  const outType = out instanceof Float32Array ? Float32Array : Float64Array;
  for (let f0 = 0; f0 < frames; f0 += CHUNK_FRAMES) {
    const count = Math.min(CHUNK_FRAMES, frames - f0);
    const layout = dsp.layout();
    const xr = layout.reserve(Float32Array, (count - 1) * hop + n);
    const winr = layout.reserve(Float64Array, n);
    const planr = layout.reserve(Uint8Array, plan.length);
    const re = layout.reserve(Float64Array, n);
    const im = layout.reserve(Float64Array, n);
    const pair = layout.reserve(Float64Array, 2 * bins);
    const outr = layout.reserve(outType, count * perFrame);
    const chunk = {
      x: xr.offset,
      hop,
      frames: count,
      n,
      win: winr.offset,
      plan: planr.offset,
      re: re.offset,
      im: im.offset,
      pair: pair.offset,
    };
    const xs = layout.view(xr);
    if (pad) readPadded(x, pad, f0 * hop, xs);
    else xs.set(x.subarray(f0 * hop, f0 * hop + xs.length));
    layout.view(winr).set(win);
    layout.view(planr).set(plan);
    call(chunk, outr.offset, layout);
    out.set(layout.view(outr), f0 * perFrame);
  }
  return out;
}

/** Power spectrogram [frames][nFft/2+1] (time-major) with the float64 FFT. */
export function powerSpectrogramFft(x: Float32Array, cfg: StftConfig): Float64Array {
  const bins = (cfg.nFft >> 1) + 1;
  const { kernels } = Dsp.get();
  return runFrameKernel(x, cfg, bins, new Float64Array(numFrames(x.length, cfg) * bins), bins, (c, out) =>
    kernels.stftPower(c.x, c.hop, c.frames, c.n, c.win, c.plan, c.re, c.im, c.pair, out),
  );
}

// ---------------------------------------------------------------------------------------------
// Bit-exact emulation of torchlibrosa's float32 conv1d STFT.

type C = [number, number];
const cmul = (a: C, b: C): C => [a[0] * b[0] - a[1] * b[1], a[0] * b[1] + a[1] * b[0]];

/** Exact product hi + lo = a·b (Dekker/Veltkamp; what glibc's mul_split gets with an FMA). */
function mulSplit(a: number, b: number): [number, number] {
  const hi = a * b;
  const SPLIT = 134217729; // 2^27 + 1
  let t = SPLIT * a;
  const ah = t - (t - a);
  const al = a - ah;
  t = SPLIT * b;
  const bh = t - (t - b);
  const bl = b - bh;
  const lo = ah * bh - hi + ah * bl + al * bh + al * bl;
  return [hi, lo];
}

/** glibc's __x2y2m1: x² + y² − 1 with extra precision (used by clog near the unit circle). */
function x2y2m1(x: number, y: number): number {
  const [xh, xl] = mulSplit(x, x);
  const [yh, yl] = mulSplit(y, y);
  const vals = [xl, xh, yl, yh, -1];
  const byAbs = (a: number, b: number): number => Math.abs(a) - Math.abs(b);
  vals.sort(byAbs);
  for (let i = 0; i <= 3; i++) {
    const hi = vals[i + 1] + vals[i];
    const lo = vals[i + 1] - hi + vals[i];
    vals[i + 1] = hi;
    vals[i] = lo;
    const rest = vals.slice(i + 1).sort(byAbs);
    for (let j = 0; j < rest.length; j++) vals[i + 1 + j] = rest[j];
  }
  return vals[4] + vals[3] + vals[2] + vals[1] + vals[0];
}

/** numpy's complex power a**n for an integer n ≥ 0 (binary powering below 100, else glibc cpow). */
function npComplexPow(a: C, n: number, logA: C): C {
  if (n === 0) return [1, 0];
  if (n === 1) return a;
  if (n === 2) return cmul(a, a);
  if (n === 3) return cmul(a, cmul(a, a));
  if (n < 100) {
    let aa: C = [1, 0];
    let p: C = a;
    let mask = 1;
    for (;;) {
      if (n & mask) aa = cmul(aa, p);
      mask <<= 1;
      if (n < mask) break;
      p = cmul(p, p);
    }
    return aa;
  }
  // cpow(a, n) = cexp(n · clog(a)); (n + 0i)·(lr + iθ) = (n·lr − 0·θ) + i(n·θ + 0·lr)
  const re = n * logA[0] - 0 * logA[1];
  const im = n * logA[1] + 0 * logA[0];
  const e = Math.exp(re);
  return [e * Math.cos(im), e * Math.sin(im)];
}

export interface DftWeights {
  bins: number;
  nFft: number;
  /** [bins][nFft] float32 values held as float64 */
  real: Float64Array;
  imag: Float64Array;
}

const dftCache = new Map<string, DftWeights>();

/**
 * torchlibrosa's conv weights: `W = omega ** outer(n, k)` with `omega = exp(-2πi/nFft)` (numpy complex
 * power), times the periodic Hann window, cast to float32 → `real`/`imag` [bins][nFft].
 */
export function torchlibrosaDftWeights(nFft: number, winLength = nFft): DftWeights {
  const key = `${nFft}:${winLength}`;
  const hit = dftCache.get(key);
  if (hit) return hit;
  const bins = (nFft >> 1) + 1;
  const theta0 = (-2 * Math.PI) / nFft;
  const omega: C = [Math.cos(theta0), Math.sin(theta0)];
  const ax = Math.abs(omega[0]);
  const ay = Math.abs(omega[1]);
  let lr: number;
  if (ax < 1 && ax >= 0.5 && ax * ax + ay * ay >= 0.5) lr = Math.log1p(x2y2m1(ax, ay)) / 2;
  else lr = Math.log(Math.hypot(ax, ay));
  const logOmega: C = [lr, Math.atan2(omega[1], omega[0])];
  const win = periodicHann(winLength, nFft);
  const real = new Float64Array(bins * nFft);
  const imag = new Float64Array(bins * nFft);
  for (let k = 0; k < bins; k++) {
    for (let n = 0; n < nFft; n++) {
      const w = npComplexPow(omega, n * k, logOmega);
      real[k * nFft + n] = Math.fround(w[0] * win[n]);
      imag[k * nFft + n] = Math.fround(w[1] * win[n]);
    }
  }
  const out = { bins, nFft, real, imag };
  dftCache.set(key, out);
  return out;
}

/**
 * Power spectrogram [frames][bins] exactly as torchlibrosa computes it in float32 (see the module doc).
 * `weights` defaults to `torchlibrosaDftWeights`; pass the checkpoint's `stft.conv_real/conv_imag` to
 * use those instead. Bins ≥ `binLimit` are left at 0 (a mel filterbank that stops below Nyquist does
 * not need them).
 */
export function powerSpectrogramReference(x: Float32Array, cfg: StftConfig, weights?: DftWeights, binLimit?: number): Float32Array {
  const { nFft, hopLength } = cfg;
  const W = weights ?? torchlibrosaDftWeights(nFft, cfg.winLength);
  const bins = W.bins;
  const used = Math.min(bins, binLimit ?? bins);
  const frames = numFrames(x.length, cfg);
  const padded = paddedInput(x, cfg);
  const out = new Float32Array(frames * bins);
  const fr = new Float64Array(nFft);
  const { real, imag } = W;
  const fround = Math.fround;
  for (let f = 0; f < frames; f++) {
    const off = f * hopLength;
    const o = f * bins;
    for (let i = 0; i < nFft; i++) fr[i] = padded[off + i];
    let k = 0;
    // Four bins at a time: eight independent float32 FMA chains keep the CPU's pipelines busy.
    for (; k + 3 < used; k += 4) {
      const r0 = k * nFft;
      const r1 = r0 + nFft;
      const r2 = r1 + nFft;
      const r3 = r2 + nFft;
      let a0 = 0,
        b0 = 0,
        a1 = 0,
        b1 = 0,
        a2 = 0,
        b2 = 0,
        a3 = 0,
        b3 = 0;
      for (let i = 0; i < nFft; i++) {
        const v = fr[i];
        a0 = fround(a0 + real[r0 + i] * v);
        b0 = fround(b0 + imag[r0 + i] * v);
        a1 = fround(a1 + real[r1 + i] * v);
        b1 = fround(b1 + imag[r1 + i] * v);
        a2 = fround(a2 + real[r2 + i] * v);
        b2 = fround(b2 + imag[r2 + i] * v);
        a3 = fround(a3 + real[r3 + i] * v);
        b3 = fround(b3 + imag[r3 + i] * v);
      }
      out[o + k] = fround(fround(a0 * a0) + fround(b0 * b0));
      out[o + k + 1] = fround(fround(a1 * a1) + fround(b1 * b1));
      out[o + k + 2] = fround(fround(a2 * a2) + fround(b2 * b2));
      out[o + k + 3] = fround(fround(a3 * a3) + fround(b3 * b3));
    }
    for (; k < used; k++) {
      const r0 = k * nFft;
      let a0 = 0,
        b0 = 0;
      for (let i = 0; i < nFft; i++) {
        const v = fr[i];
        a0 = fround(a0 + real[r0 + i] * v);
        b0 = fround(b0 + imag[r0 + i] * v);
      }
      out[o + k] = fround(fround(a0 * a0) + fround(b0 * b0));
    }
  }
  return out;
}
