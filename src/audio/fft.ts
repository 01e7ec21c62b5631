/**
 * Radix-2 FFT of a real signal in float64: an n/2-point complex FFT of the even/odd-interleaved input,
 * then the usual split into the n/2+1 one-sided bins.
 */
export class RealFft {
  readonly n: number;
  private readonly half: number;
  private readonly rev: Uint32Array;
  /** Twiddles e^{-2πik/size} for every stage size ≥ 8, k < size/2, stage after stage. */
  private readonly twRe: Float64Array;
  private readonly twIm: Float64Array;
  /** cos/sin(2πk/n) for the real split, k ≤ n/2. */
  private readonly splitCos: Float64Array;
  private readonly splitSin: Float64Array;
  private readonly re: Float64Array;
  private readonly im: Float64Array;

  constructor(n: number) {
    if (!Number.isInteger(n) || n < 8 || (n & (n - 1)) !== 0) throw new RangeError(`FFT size must be a power of two ≥ 8 (got ${n})`);
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
    this.twRe = new Float64Array(m);
    this.twIm = new Float64Array(m);
    let o = 0;
    for (let size = 8; size <= m; size <<= 1) {
      for (let k = 0; k < size >> 1; k++, o++) {
        this.twRe[o] = Math.cos((2 * Math.PI * k) / size);
        this.twIm[o] = -Math.sin((2 * Math.PI * k) / size);
      }
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

  /** Forward complex FFT (e^{-2πi jk/m}) of this.re/this.im, already in bit-reversed order. */
  private complexFft(): void {
    const { re, im, twRe, twIm } = this;
    const m = this.half;
    // sizes 2 and 4 together: radix-4 butterflies with trivial twiddles (1, −i)
    for (let a = 0; a < m; a += 4) {
      const r0 = re[a] + re[a + 1],
        i0 = im[a] + im[a + 1];
      const r1 = re[a] - re[a + 1],
        i1 = im[a] - im[a + 1];
      const r2 = re[a + 2] + re[a + 3],
        i2 = im[a + 2] + im[a + 3];
      const r3 = re[a + 2] - re[a + 3],
        i3 = im[a + 2] - im[a + 3];
      re[a] = r0 + r2;
      im[a] = i0 + i2;
      re[a + 2] = r0 - r2;
      im[a + 2] = i0 - i2;
      // (r3 + i·i3)·(−i) = i3 − i·r3
      re[a + 1] = r1 + i3;
      im[a + 1] = i1 - r3;
      re[a + 3] = r1 - i3;
      im[a + 3] = i1 + r3;
    }
    let o = 0;
    for (let size = 8; size <= m; size <<= 1) {
      const h = size >> 1;
      for (let start = 0; start < m; start += size) {
        for (let k = 0; k < h; k++) {
          const wr = twRe[o + k];
          const wi = twIm[o + k];
          const a = start + k;
          const b = a + h;
          const br = re[b];
          const bi = im[b];
          const xr = br * wr - bi * wi;
          const xi = br * wi + bi * wr;
          const ar = re[a];
          const ai = im[a];
          re[b] = ar - xr;
          im[b] = ai - xi;
          re[a] = ar + xr;
          im[a] = ai + xi;
        }
      }
      o += h;
    }
  }

  /**
   * |X_k|² for k = 0..n/2 of the real signal `x[offset + j] · window[j]` (j < n; window optional)
   * into `out[outOffset + k]`.
   */
  power(x: ArrayLike<number>, out: Float64Array, offset = 0, window?: Float64Array, outOffset = 0): void {
    const m = this.half;
    const { re, im, rev, splitCos, splitSin } = this;
    if (window) {
      for (let j = 0; j < m; j++) {
        const r = rev[j];
        re[r] = x[offset + 2 * j] * window[2 * j];
        im[r] = x[offset + 2 * j + 1] * window[2 * j + 1];
      }
    } else {
      for (let j = 0; j < m; j++) {
        const r = rev[j];
        re[r] = x[offset + 2 * j];
        im[r] = x[offset + 2 * j + 1];
      }
    }
    this.complexFft();
    const dc = re[0] + im[0];
    const ny = re[0] - im[0];
    out[outOffset] = dc * dc;
    out[outOffset + m] = ny * ny;
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
      out[outOffset + k] = xr * xr + xi * xi;
    }
  }
}
