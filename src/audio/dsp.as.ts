/**
 * The frontend's inner loops in AssemblyScript, compiled to WebAssembly SIMD (`npm run wasm`; loaded by
 * dsp.ts). Every lane pair of an f64x2 vector runs the same scalar arithmetic on a different item —
 * two STFT frames, or two resampler blocks — in exactly the order the scalar algorithm would (WebAssembly
 * has no fused multiply-add, so nothing is contracted): results are bit-for-bit those of the scalar
 * float64 code, twice as many per instruction.
 *
 * Pointers are byte offsets into linear memory, laid out by dsp.ts; nothing here allocates.
 */

// ------------------------------------------------------------------------------------------------
// Real FFT power spectrum (radix-2 n/2-point complex FFT of the even/odd-interleaved frame, then the
// split into the one-sided bins), two frames at a time.
//
// plan (built by fft.ts): rev u32[m] · twRe f64[m] · twIm f64[m] · splitCos f64[m+1] · splitSin f64[m+1],
// m = n/2; twRe/twIm hold e^{-2πik/size} for each stage size ≥ 8, k < size/2, stage after stage.

/**
 * Sample 2·rev[q] + odd of frames a and b (float32 at xa, xb), times the window, as float64:
 * the real (odd = 0) or imaginary (odd = 1) part of position q of the packed complex input.
 */
function windowed(xa: usize, xb: usize, win: usize, rev: usize, q: i32, odd: i32): v128 {
  const e = ((<usize>load<u32>(rev + ((<usize>q) << 2))) << 1) + <usize>odd;
  const v = f32x4.replace_lane(f32x4.splat(load<f32>(xa + (e << 2))), 1, load<f32>(xb + (e << 2)));
  return f64x2.mul(f64x2.promote_low_f32x4(v), v128.load64_splat(win + (e << 3)));
}

/** Re(b·w) of complex b = (br, bi), w = (wr, wi). */
function mulRe(br: v128, bi: v128, wr: v128, wi: v128): v128 {
  return f64x2.sub(f64x2.mul(br, wr), f64x2.mul(bi, wi));
}

/** Im(b·w). */
function mulIm(br: v128, bi: v128, wr: v128, wi: v128): v128 {
  return f64x2.add(f64x2.mul(br, wi), f64x2.mul(bi, wr));
}

/** One radix-2 butterfly in place: (a, b) ← (a + w·b, a − w·b), pa/pb byte offsets into re and im. */
function butterfly(re: usize, im: usize, pa: usize, pb: usize, wr: v128, wi: v128): void {
  const br = v128.load(re + pb);
  const bi = v128.load(im + pb);
  const xr = mulRe(br, bi, wr, wi);
  const xi = mulIm(br, bi, wr, wi);
  const ar = v128.load(re + pa);
  const ai = v128.load(im + pa);
  v128.store(re + pb, f64x2.sub(ar, xr));
  v128.store(im + pb, f64x2.sub(ai, xi));
  v128.store(re + pa, f64x2.add(ar, xr));
  v128.store(im + pa, f64x2.add(ai, xi));
}

/**
 * |X_k|² for k < bins of the two frames at float32 pointers xa and xb (n samples each, times the
 * window `win`), into pair[k] (lane 0: frame a, lane 1: frame b). re/im: scratch f64x2[m] each.
 */
function framePairPower(xa: usize, xb: usize, n: i32, win: usize, plan: usize, re: usize, im: usize, pair: usize, bins: i32): void {
  const m = n >> 1;
  const rev = plan;
  const twRe = rev + ((<usize>m) << 2);
  const twIm = twRe + ((<usize>m) << 3);
  const splitCos = twIm + ((<usize>m) << 3);
  const splitSin = splitCos + ((<usize>(m + 1)) << 3);

  // Windowed even samples → re, odd → im, in bit-reversed order (position q holds sample pair rev[q]),
  // and the stages of sizes 2 and 4 on each group of 4 positions: radix-4 butterflies with trivial
  // twiddles (1, −i).
  for (let q = 0; q < m; q += 4) {
    const ra = windowed(xa, xb, win, rev, q, 0);
    const ia = windowed(xa, xb, win, rev, q, 1);
    const rb = windowed(xa, xb, win, rev, q + 1, 0);
    const ib = windowed(xa, xb, win, rev, q + 1, 1);
    const rc = windowed(xa, xb, win, rev, q + 2, 0);
    const ic = windowed(xa, xb, win, rev, q + 2, 1);
    const rd = windowed(xa, xb, win, rev, q + 3, 0);
    const id = windowed(xa, xb, win, rev, q + 3, 1);
    const r0 = f64x2.add(ra, rb);
    const i0 = f64x2.add(ia, ib);
    const r1 = f64x2.sub(ra, rb);
    const i1 = f64x2.sub(ia, ib);
    const r2 = f64x2.add(rc, rd);
    const i2 = f64x2.add(ic, id);
    const r3 = f64x2.sub(rc, rd);
    const i3 = f64x2.sub(ic, id);
    const p = (<usize>q) << 4;
    v128.store(re + p, f64x2.add(r0, r2));
    v128.store(im + p, f64x2.add(i0, i2));
    v128.store(re + p + 32, f64x2.sub(r0, r2));
    v128.store(im + p + 32, f64x2.sub(i0, i2));
    // (r3 + i·i3)·(−i) = i3 − i·r3
    v128.store(re + p + 16, f64x2.add(r1, i3));
    v128.store(im + p + 16, f64x2.sub(i1, r3));
    v128.store(re + p + 48, f64x2.sub(r1, i3));
    v128.store(im + p + 48, f64x2.add(i1, r3));
  }

  // Stages of size 8 … m. Two at a time (sizes s and 2s) over groups of 2s points: the same butterflies
  // with the same twiddles as stage after stage, each point loaded and stored once per pair of stages.
  let o = 0; // twiddles of the current stage start at twRe/twIm[o]
  let size = 8;
  for (; 2 * size <= m; size <<= 2) {
    const h = size >> 1;
    const hb = (<usize>h) << 4;
    const sb = (<usize>size) << 4;
    for (let start = 0; start < m; start += 2 * size) {
      for (let k = 0; k < h; k++) {
        // points p, p + h (first stage's pair) and p + s, p + s + h, kept in registers
        const p = (<usize>(start + k)) << 4;
        let r0 = v128.load(re + p);
        let i0 = v128.load(im + p);
        let r1 = v128.load(re + p + hb);
        let i1 = v128.load(im + p + hb);
        let r2 = v128.load(re + p + sb);
        let i2 = v128.load(im + p + sb);
        let r3 = v128.load(re + p + sb + hb);
        let i3 = v128.load(im + p + sb + hb);
        const w1 = (<usize>(o + k)) << 3;
        let wr = v128.load64_splat(twRe + w1);
        let wi = v128.load64_splat(twIm + w1);
        // stage s: (0, 1) and (2, 3) with the same twiddle
        let xr = mulRe(r1, i1, wr, wi);
        let xi = mulIm(r1, i1, wr, wi);
        r1 = f64x2.sub(r0, xr);
        i1 = f64x2.sub(i0, xi);
        r0 = f64x2.add(r0, xr);
        i0 = f64x2.add(i0, xi);
        xr = mulRe(r3, i3, wr, wi);
        xi = mulIm(r3, i3, wr, wi);
        r3 = f64x2.sub(r2, xr);
        i3 = f64x2.sub(i2, xi);
        r2 = f64x2.add(r2, xr);
        i2 = f64x2.add(i2, xi);
        // stage 2s: (0, 2) with twiddle k, (1, 3) with twiddle k + h
        const w2 = (<usize>(o + h + k)) << 3;
        wr = v128.load64_splat(twRe + w2);
        wi = v128.load64_splat(twIm + w2);
        xr = mulRe(r2, i2, wr, wi);
        xi = mulIm(r2, i2, wr, wi);
        v128.store(re + p + sb, f64x2.sub(r0, xr));
        v128.store(im + p + sb, f64x2.sub(i0, xi));
        v128.store(re + p, f64x2.add(r0, xr));
        v128.store(im + p, f64x2.add(i0, xi));
        const w3 = w2 + (hb >> 1);
        wr = v128.load64_splat(twRe + w3);
        wi = v128.load64_splat(twIm + w3);
        xr = mulRe(r3, i3, wr, wi);
        xi = mulIm(r3, i3, wr, wi);
        v128.store(re + p + sb + hb, f64x2.sub(r1, xr));
        v128.store(im + p + sb + hb, f64x2.sub(i1, xi));
        v128.store(re + p + hb, f64x2.add(r1, xr));
        v128.store(im + p + hb, f64x2.add(i1, xi));
      }
    }
    o += h + size;
  }
  if (size <= m) {
    const h = size >> 1;
    const hb = (<usize>h) << 4;
    for (let start = 0; start < m; start += size) {
      for (let k = 0; k < h; k++) {
        const w = (<usize>(o + k)) << 3;
        const pa = (<usize>(start + k)) << 4;
        butterfly(re, im, pa, pa + hb, v128.load64_splat(twRe + w), v128.load64_splat(twIm + w));
      }
    }
  }

  const r0 = v128.load(re);
  const i0 = v128.load(im);
  const dc = f64x2.add(r0, i0);
  v128.store(pair, f64x2.mul(dc, dc));
  if (bins > m) {
    const ny = f64x2.sub(r0, i0);
    v128.store(pair + ((<usize>m) << 4), f64x2.mul(ny, ny));
  }
  // Bins k and m − k share their inputs (the conjugate-symmetric halves of the packed spectrum).
  const half = f64x2.splat(0.5);
  const minusHalf = f64x2.splat(-0.5);
  for (let k = 1; k <= m >> 1; k++) {
    const j = m - k;
    if (k >= bins && j >= bins) break;
    const pk = (<usize>k) << 4;
    const pj = (<usize>j) << 4;
    const ar = v128.load(re + pk);
    const ai = v128.load(im + pk);
    const br = v128.load(re + pj);
    const bi = v128.load(im + pj);
    // bin k: even part (er, ei), odd part (or, oi); bin j has (er, −ei), (or, −oi) — exactly, as
    // a − b = −(b − a) in floating point.
    const er = f64x2.mul(half, f64x2.add(ar, br));
    const ei = f64x2.mul(half, f64x2.sub(ai, bi));
    const or = f64x2.mul(half, f64x2.add(ai, bi));
    const oi = f64x2.mul(minusHalf, f64x2.sub(ar, br));
    if (k < bins) v128.store(pair + pk, splitPower(er, ei, or, oi, splitCos, splitSin, k));
    if (j < bins && j !== k) v128.store(pair + pj, splitPower(er, f64x2.neg(ei), or, f64x2.neg(oi), splitCos, splitSin, j));
  }
}

/** |E + e^{-2πik/n}·O|² of bin k from its even (er, ei) and odd (or, oi) parts. */
function splitPower(er: v128, ei: v128, or: v128, oi: v128, splitCos: usize, splitSin: usize, k: i32): v128 {
  const c = v128.load64_splat(splitCos + ((<usize>k) << 3));
  const s = f64x2.neg(v128.load64_splat(splitSin + ((<usize>k) << 3)));
  const xr = f64x2.add(er, f64x2.sub(f64x2.mul(or, c), f64x2.mul(oi, s)));
  const xi = f64x2.add(ei, f64x2.add(f64x2.mul(or, s), f64x2.mul(oi, c)));
  return f64x2.add(f64x2.mul(xr, xr), f64x2.mul(xi, xi));
}

/**
 * Power spectrogram: frames f < frames of the float32 signal x (frame f starts at sample f·hop) into
 * out f64[frames][n/2 + 1].
 */
export function stftPower(
  x: usize,
  hop: i32,
  frames: i32,
  n: i32,
  win: usize,
  plan: usize,
  re: usize,
  im: usize,
  pair: usize,
  out: usize,
): void {
  const bins = (n >> 1) + 1;
  for (let f = 0; f < frames; f += 2) {
    const g = f + 1 < frames ? f + 1 : f;
    framePairPower(x + ((<usize>(f * hop)) << 2), x + ((<usize>(g * hop)) << 2), n, win, plan, re, im, pair, bins);
    const oa = out + ((<usize>(f * bins)) << 3);
    const ob = out + ((<usize>(g * bins)) << 3);
    for (let k = 0; k < bins; k++) {
      const p = v128.load(pair + ((<usize>k) << 4));
      store<f64>(oa + ((<usize>k) << 3), f64x2.extract_lane(p, 0));
      store<f64>(ob + ((<usize>k) << 3), f64x2.extract_lane(p, 1));
    }
  }
}

/**
 * Mel band powers: for each frame, band b = Σ_k power[start_b + k] · weight_b[k] (in k order, float64),
 * rounded to float32 into out f32[frames][nMels]. Bands: start i32[nMels], count i32[nMels], offset
 * i32[nMels] into weights f64[]; `bins` = one past the highest bin any band reads.
 */
export function melPower(
  x: usize,
  hop: i32,
  frames: i32,
  n: i32,
  win: usize,
  plan: usize,
  re: usize,
  im: usize,
  pair: usize,
  bins: i32,
  nMels: i32,
  start: usize,
  count: usize,
  offset: usize,
  weights: usize,
  out: usize,
): void {
  for (let f = 0; f < frames; f += 2) {
    const g = f + 1 < frames ? f + 1 : f;
    framePairPower(x + ((<usize>(f * hop)) << 2), x + ((<usize>(g * hop)) << 2), n, win, plan, re, im, pair, bins);
    const oa = out + ((<usize>(f * nMels)) << 2);
    const ob = out + ((<usize>(g * nMels)) << 2);
    for (let b = 0; b < nMels; b++) {
      const p = pair + ((<usize>load<i32>(start + ((<usize>b) << 2))) << 4);
      const w = weights + ((<usize>load<i32>(offset + ((<usize>b) << 2))) << 3);
      const len = load<i32>(count + ((<usize>b) << 2));
      let acc = f64x2.splat(0);
      for (let k = 0; k < len; k++)
        acc = f64x2.add(acc, f64x2.mul(v128.load(p + ((<usize>k) << 4)), v128.load64_splat(w + ((<usize>k) << 3))));
      const r = f32x4.demote_f64x2_zero(acc);
      store<f32>(oa + ((<usize>b) << 2), f32x4.extract_lane(r, 0));
      store<f32>(ob + ((<usize>b) << 2), f32x4.extract_lane(r, 1));
    }
  }
}

// ------------------------------------------------------------------------------------------------
// Polyphase sinc resampling (resample.ts): output block b, phase p = Σ_k taps_p[k] · x[b·orig + first_p + k],
// accumulated as a float32 in k order: acc = f32(acc + tap·x) with the product exact in float64.

/** One float32-rounded multiply-add per lane: f32(acc + t·x). */
function madd32(acc: v128, t: v128, x: v128): v128 {
  return f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.add(acc, f64x2.mul(t, x))));
}

/** Stores the two lanes of `acc` as float32 at o and o + stride. */
function store2(o: usize, acc: v128, stride: usize): void {
  const r = f32x4.demote_f64x2_zero(acc);
  store<f32>(o, f32x4.extract_lane(r, 0));
  store<f32>(o + stride, f32x4.extract_lane(r, 1));
}

/** Blocks processed together: 8 lane pairs hide the latency of the float32 rounding chain. */
export const RESAMPLE_GROUP: i32 = 16;

/**
 * Output blocks 0 … blocks − 1 (blocks a multiple of RESAMPLE_GROUP) of `newFreq` samples each, block b
 * reading the float32 input x from sample b·orig. x must hold blocks·orig + denseTaps + 1 samples; pairs
 * is scratch f64x2[(blocks − 1)·orig + denseTaps + 1]; out f32[blocks·newFreq]. Phases: first/count/offset i32[newFreq]
 * into taps f64[].
 */
export function resampleBlocks(
  x: usize,
  blocks: i32,
  orig: i32,
  newFreq: i32,
  denseTaps: i32,
  first: usize,
  count: usize,
  offset: usize,
  taps: usize,
  pairs: usize,
  out: usize,
): void {
  // pairs[i] = (x[i], x[i + orig]): blocks b and b + 1 of one phase read one vector per tap.
  const len = (blocks - 1) * orig + denseTaps;
  const shift = (<usize>orig) << 2;
  for (let i = 0; i < len; i += 2) {
    const p = x + ((<usize>i) << 2);
    const v = i8x16.shuffle(v128.load64_zero(p), v128.load64_zero(p + shift), 0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
    v128.store(pairs + ((<usize>i) << 4), f64x2.promote_low_f32x4(v));
    v128.store(
      pairs + ((<usize>i) << 4) + 16,
      f64x2.promote_low_f32x4(i8x16.shuffle(v, v, 8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7)),
    );
  }
  const step = (<usize>(2 * orig)) << 4; // two blocks further
  const outBlock = (<usize>newFreq) << 2;
  for (let b = 0; b < blocks; b += RESAMPLE_GROUP) {
    for (let p = 0; p < newFreq; p++) {
      const n = load<i32>(count + ((<usize>p) << 2));
      const t0 = taps + ((<usize>load<i32>(offset + ((<usize>p) << 2))) << 3);
      const x0 = pairs + ((<usize>(b * orig + load<i32>(first + ((<usize>p) << 2)))) << 4);
      let a0 = f64x2.splat(0);
      let a1 = a0;
      let a2 = a0;
      let a3 = a0;
      let a4 = a0;
      let a5 = a0;
      let a6 = a0;
      let a7 = a0;
      for (let k = 0; k < n; k++) {
        const t = v128.load64_splat(t0 + ((<usize>k) << 3));
        const q = x0 + ((<usize>k) << 4);
        a0 = madd32(a0, t, v128.load(q));
        a1 = madd32(a1, t, v128.load(q + step));
        a2 = madd32(a2, t, v128.load(q + 2 * step));
        a3 = madd32(a3, t, v128.load(q + 3 * step));
        a4 = madd32(a4, t, v128.load(q + 4 * step));
        a5 = madd32(a5, t, v128.load(q + 5 * step));
        a6 = madd32(a6, t, v128.load(q + 6 * step));
        a7 = madd32(a7, t, v128.load(q + 7 * step));
      }
      const o = out + ((<usize>(b * newFreq + p)) << 2);
      store2(o, a0, outBlock);
      store2(o + 2 * outBlock, a1, outBlock);
      store2(o + 4 * outBlock, a2, outBlock);
      store2(o + 6 * outBlock, a3, outBlock);
      store2(o + 8 * outBlock, a4, outBlock);
      store2(o + 10 * outBlock, a5, outBlock);
      store2(o + 12 * outBlock, a6, outBlock);
      store2(o + 14 * outBlock, a7, outBlock);
    }
  }
}

/** First free byte of linear memory (the host lays out its buffers from here). */
export function heapBase(): usize {
  return __heap_base;
}

// ------------------------------------------------------------------------------------------------
// Power to decibels: out = f32(10 · f32(log10(max(x, amin)))) [then f32(· − refDb)], the same float32
// results as the TypeScript formula with Math.log10. log10 is computed here to ~1e-15 (relative); a value
// whose float32 rounding that error could change (within 1e-14·|y| of a rounding midpoint, or an input
// outside float32's normal range) is not trusted: its index goes to `uncertain` for the caller to redo
// with Math.log10 (about one value in 3 million).

const FLT_MIN: f64 = 1.1754943508222875e-38;
const FLT_MAX: f64 = 3.4028234663852886e38;

/** ln(m) for m in [√½, √2] (exact float64 m − 1 and m + 1 for float32-derived m): 2·atanh((m−1)/(m+1)). */
function lnNearOne(m: v128): v128 {
  const one = f64x2.splat(1);
  const s = f64x2.div(f64x2.sub(m, one), f64x2.add(m, one));
  const z = f64x2.mul(s, s);
  // Σ z^k / (2k + 1), k ≤ 12: |z| ≤ 0.0295, so the tail is below 1e-18
  let p = f64x2.splat(1.0 / 25);
  p = f64x2.add(f64x2.splat(1.0 / 23), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 21), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 19), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 17), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 15), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 13), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 11), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 9), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 7), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 5), f64x2.mul(z, p));
  p = f64x2.add(f64x2.splat(1.0 / 3), f64x2.mul(z, p));
  p = f64x2.add(one, f64x2.mul(z, p));
  return f64x2.mul(f64x2.add(s, s), p);
}

/**
 * Decibels of `count` float32 powers at `x` into float32 `out`; returns how many indices it wrote to
 * `uncertain` (i32, room for `count`). `refDb` 0 skips the subtraction.
 */
export function decibels(x: usize, count: i32, amin: f32, refDb: f64, out: usize, uncertain: usize): i32 {
  let flagged = 0;
  const floor = f64x2.splat(<f64>amin);
  const expMask = i64x2.splat(0x7ff0000000000000);
  const mantMask = i64x2.splat(0x000fffffffffffff);
  const oneBits = i64x2.splat(0x3ff0000000000000);
  for (let i = 0; i < count; i += 2) {
    const v = f64x2.max(f64x2.promote_low_f32x4(v128.load64_zero(x + ((<usize>i) << 2))), floor);
    // v = 2^e · m, m in [1, 2) → [√½, √2)
    const e = f64x2.convert_low_i32x4_s(
      i32x4.sub(
        i8x16.shuffle(i64x2.shr_u(v, 52), v128.splat<i64>(0), 0, 1, 2, 3, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11),
        i32x4.splat(1023),
      ),
    );
    let m = v128.or(v128.and(v, mantMask), oneBits);
    const big = f64x2.gt(m, f64x2.splat(Math.SQRT2));
    m = v128.bitselect(f64x2.mul(m, f64x2.splat(0.5)), m, big);
    const ef = f64x2.add(e, v128.and(big, f64x2.splat(1)));
    const y = f64x2.mul(f64x2.add(f64x2.mul(ef, f64x2.splat(Math.LN2)), lnNearOne(m)), f64x2.splat(Math.LOG10E));
    // trusted when the float32 rounding of y is at least 1e-14·|y| away from a rounding midpoint
    const r = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(y));
    const halfUlp = f64x2.mul(v128.and(r, expMask), f64x2.splat(5.9604644775390625e-8)); // 2^E · 2^-24
    const margin = f64x2.sub(halfUlp, f64x2.abs(f64x2.sub(y, r)));
    const ok = v128.and(
      f64x2.gt(margin, f64x2.mul(f64x2.abs(y), f64x2.splat(1e-14))),
      v128.and(f64x2.ge(v, f64x2.splat(FLT_MIN)), f64x2.le(v, f64x2.splat(FLT_MAX))),
    );
    let db = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.mul(f64x2.splat(10), r)));
    if (refDb !== 0) db = f64x2.promote_low_f32x4(f32x4.demote_f64x2_zero(f64x2.sub(db, f64x2.splat(refDb))));
    const d = f32x4.demote_f64x2_zero(db);
    const o = out + ((<usize>i) << 2);
    store<f32>(o, f32x4.extract_lane(d, 0));
    if (i + 1 < count) store<f32>(o + 4, f32x4.extract_lane(d, 1));
    if (!i64x2.all_true(ok)) {
      if (i64x2.extract_lane(ok, 0) === 0) {
        store<i32>(uncertain + ((<usize>flagged) << 2), i);
        flagged++;
      }
      if (i + 1 < count && i64x2.extract_lane(ok, 1) === 0) {
        store<i32>(uncertain + ((<usize>flagged) << 2), i + 1);
        flagged++;
      }
    }
  }
  return flagged;
}
