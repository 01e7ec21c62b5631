/**
 * msclap's next-token scores, `(logits / temperature).softmax(-1).log()` in float32, as PyTorch's CPU
 * softmax computes them (max, exp(x − max), sum, multiply by 1/sum), then log. NOT log_softmax: a
 * probability that underflows to 0 gives −inf (quirk 22; it happens at low temperatures), and such
 * candidates then tie, which `topk` resolves by its own order (see topk.ts).
 *
 * Every intermediate is rounded to float32 (Math.fround) like the reference; the exp/log themselves
 * are correctly rounded here while PyTorch's vectorised Sleef versions are within 1 ulp, and the sum is
 * accumulated in float64 then rounded (PyTorch sums float32 lanes) — or, faster, taken from the
 * runtime's vectorised float32 ReduceSum(Exp(x − max)) (`statsFromSum`). The results agree with
 * the reference to a few ulps, not bit for bit; beam decisions are identical unless two candidates are
 * within that distance (the fixtures are checked far from such ties, see the README).
 */

const MIN_NORMAL_F32 = 2 ** -126;
const SUBNORMAL_STEP_F32 = 2 ** -149;

/**
 * Math.fround that keeps float32 subnormals even when the CPU flushes them: the ORT sessions of this
 * package set flush-to-zero / denormals-are-zero (`set_denormal_as_zero`) and that mode also applies to
 * JavaScript on the same thread, where Math.fround(1e-40) then gives 0. PyTorch does not flush, so a
 * probability of 1e-44 is a subnormal (log ≈ −101), not 0 (log = −inf). Subnormals are rounded here
 * as multiples of 2^-149 (ties to even) with normal double arithmetic only.
 */
export function toFloat32(x: number): number {
  if (x !== 0 && Math.abs(x) < MIN_NORMAL_F32) {
    const k = x / SUBNORMAL_STEP_F32; // exact: a power-of-two scaling into normal range
    let r = Math.round(k);
    if (Math.abs(k - Math.trunc(k)) === 0.5) r = 2 * Math.round(k / 2); // ties to even
    return r * SUBNORMAL_STEP_F32; // |r| ≤ 2^23: a normal double, exact
  }
  return Math.fround(x);
}

/** float32(1 / float32(t)) scaling as torch's `logits / t` on a float32 tensor (t ≤ 0 means 1, as msclap). */
export function beamTemperature(t: number): number {
  if (!Number.isFinite(t)) throw new Error(`temperature must be a finite number, got ${t}`);
  return t > 0 ? Math.fround(t) : 1;
}

/** Softmax statistics of one row: its max and float32(1 / float32(Σ exp(x − max))). */
export interface RowStats {
  max: number;
  inv: number;
  /** ln(inv) in float64 (for cheap bounds). */
  lnInv: number;
}

/** The row `logits[offset .. offset+n)` divided by `t` (already float32-rounded; 1 = no division). */
export function rowStats(logits: Float32Array, offset: number, n: number, t: number): RowStats {
  let max = -Infinity;
  let nan = false;
  for (let j = 0; j < n; j++) {
    const x = t === 1 ? logits[offset + j] : Math.fround(logits[offset + j] / t);
    if (x > max) max = x;
    else if (Number.isNaN(x)) nan = true;
  }
  if (nan) max = NaN;
  let sum = 0;
  for (let j = 0; j < n; j++) {
    const x = t === 1 ? logits[offset + j] : Math.fround(logits[offset + j] / t);
    sum += toFloat32(Math.exp(Math.fround(x - max)));
  }
  const inv = Math.fround(1 / Math.fround(sum));
  return { max, inv, lnInv: Math.log(inv) };
}

/** Row stats from a max and a float32 Σ exp(x − max) computed elsewhere (e.g. by the runtime). */
export function statsFromSum(max: number, sumExp: number): RowStats {
  const inv = Math.fround(1 / Math.fround(sumExp));
  return { max, inv, lnInv: Math.log(inv) };
}

/** log(softmax) of one scaled logit `x` given its row's stats, in float32 (−inf on underflow). */
export function logProb(x: number, s: RowStats): number {
  const p = toFloat32(toFloat32(Math.exp(Math.fround(x - s.max))) * s.inv);
  return Math.fround(Math.log(p));
}

/** The whole row's log-probabilities (tests, sampling). */
export function rowLogProbs(logits: Float32Array, offset: number, n: number, t: number): Float32Array {
  const s = rowStats(logits, offset, n, t);
  const out = new Float32Array(n);
  for (let j = 0; j < n; j++) out[j] = logProb(t === 1 ? logits[offset + j] : Math.fround(logits[offset + j] / t), s);
  return out;
}
