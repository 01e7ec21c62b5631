/**
 * Radix-2 FFT of a real signal in float64: an n/2-point complex FFT of the even/odd-interleaved input,
 * then the usual split into the n/2+1 one-sided bins.
 */
export class RealFft {
  readonly n: number;
  private readonly half: number;
  private readonly rev: Uint32Array;
  /** cos/sin(2πj/half) for the complex stage, j < half/2. */
  private readonly cosTab: Float64Array;
  private readonly sinTab: Float64Array;
  /** cos/sin(2πk/n) for the real split, k ≤ half. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 4 || (n & (n - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 4 (got ${n})`);
    this.n = n;
    const m = n >> 1;
    this.half = m;
    const bits = Math.log2(m);
    this.rev = new Uint32Array(m);
    for (let i = 0; i < m; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.rev[i] = r;
    }
    this.cosTab = new Float64Array(m >> 1);
    this.sinTab = new Float64Array(m >> 1);
    for (let j = 0; j < m >> 1; j++) {
      this.cosTab[j] = Math.cos((2 * Math.PI * j) / m);
      this.sinTab[j] = Math.sin((2 * Math.PI * j) / m);
    }
    this.splitCos = new Float64Array(m + 1);
    this.splitSin = new Float64Array(m + 1);
    for (let k = 0; k <= m; k++) {
      this.splitCos[k] = Math.cos((2 * Math.PI * k) / n);
      this.splitSin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    this.re = new Float64Array(m);
    this.im = new Float64Array(m);
  }

  /** In-place forward complex FFT (e^{-2πi jk/m}) of this.re/this.im. */
  private complexFft(): void {
    const { re, im, rev, cosTab, sinTab } = this;
    const m = this.half;
    for (let i = 0; i < m; i++) {
      const j = rev[i];
      if (j > i) {
        let t = re[i]; re[i] = re[j]; re[j] = t;
        t = im[i]; im[i] = im[j]; im[j] = t;
      }
    }
    for (let size = 2; size <= m; size <<= 1) {
      const halfSize = size >> 1;
      const step = m / size;
      for (let start = 0; start < m; start += size) {
        for (let k = 0, t = 0; k < halfSize; k++, t += step) {
          const wr = cosTab[t];
          const wi = -sinTab[t];
          const a = start + k;
          const b = a + halfSize;
          const xr = re[b] * wr - im[b] * wi;
          const xi = re[b] * wi + im[b] * wr;
          re[b] = re[a] - xr;
          im[b] = im[a] - xi;
          re[a] += xr;
          im[a] += xi;
        }
      }
    }
  }

  /** |X_k|² for k = 0..n/2 of the real input `x` (length n) into `out` (length n/2+1). */
  power(x: Float64Array, out: Float64Array): void {
    const m = this.half;
    const { re, im, splitCos, splitSin } = this;
    for (let j = 0; j < m; j++) {
      re[j] = x[2 * j];
      im[j] = x[2 * j + 1];
    }
    this.complexFft();
    const dc = re[0] + im[0];
    const ny = re[0] - im[0];
    out[0] = dc * dc;
    out[m] = ny * ny;
    for (let k = 1; k < m; k++) {
      const ar = re[k];
      const ai = im[k];
      const br = re[m - k];
      const bi = im[m - k];
      const er = 0.5 * (ar + br);
      const ei = 0.5 * (ai - bi);
      const or = 0.5 * (ai + bi);
      const oi = -0.5 * (ar - br);
      // twiddle e^{-2πik/n}
      const c = splitCos[k];
      const s = -splitSin[k];
      const xr = er + (or * c - oi * s);
      const xi = ei + (or * s + oi * c);
      out[k] = xr * xr + xi * xi;
    }
  }
}
