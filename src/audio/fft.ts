/**
 * Tables of the real FFT that dsp.as.ts runs (float64, radix 2): an n/2-point complex FFT of the
 * even/odd-interleaved input, then the usual split into the n/2 + 1 one-sided bins.
 */

/**
 * The plan for size n, as the bytes dsp.as.ts reads (m = n/2): the bit-reversal permutation u32[m], the
 * twiddles e^{-2πik/size} (re f64[m], im f64[m]) for every stage size ≥ 8, k < size/2, stage after
 * stage, and cos/sin(2πk/n) f64[m + 1] each for the split.
 */
export function fftPlan(n: number): Uint8Array {
  let plan = plans.get(n);
  if (plan) return plan;
  if (!Number.isInteger(n) || n < 8 || (n & (n - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 8 (got ${n})`);
  const m = n >> 1;
  plan = new Uint8Array(m * 4 + m * 16 + (m + 1) * 16);
  const rev = new Uint32Array(plan.buffer, 0, m);
  const twRe = new Float64Array(plan.buffer, m * 4, m);
  const twIm = new Float64Array(plan.buffer, m * 12, m);
  const splitCos = new Float64Array(plan.buffer, m * 20, m + 1);
  const splitSin = new Float64Array(plan.buffer, m * 28 + 8, m + 1);
  const bits = Math.log2(m);
  for (let i = 0; i < m; i++) {
    let r = 0;
    for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
    rev[i] = r;
  }
  let o = 0;
  for (let size = 8; size <= m; size <<= 1) {
    for (let k = 0; k < size >> 1; k++, o++) {
      twRe[o] = Math.cos((2 * Math.PI * k) / size);
      twIm[o] = -Math.sin((2 * Math.PI * k) / size);
    }
  }
  for (let k = 0; k <= m; k++) {
    splitCos[k] = Math.cos((2 * Math.PI * k) / n);
    splitSin[k] = Math.sin((2 * Math.PI * k) / n);
  }
  plans.set(n, plan);
  return plan;
}

const plans = new Map<number, Uint8Array>();
