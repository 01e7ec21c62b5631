/**
 * librosa 0.10 `filters.mel(sr, n_fft, n_mels, fmin, fmax, htk=False, norm='slaney')`, computed step by
 * step as librosa does in float64 — including its float32 storage: each triangle is written into a
 * float32 array, then multiplied in place by the float64 Slaney norm and rounded again.
 */

export interface MelFilterbankConfig {
  sampleRate: number;
  nFft: number;
  nMels: number;
  fmin: number;
  fmax: number;
}

/** Slaney (librosa htk=False) Hz → mel. */
export function hzToMelSlaney(f: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = (minLogHz - 0) / fSp;
  const logstep = Math.log(6.4) / 27;
  if (f >= minLogHz) return minLogMel + Math.log(f / minLogHz) / logstep;
  return (f - 0) / fSp;
}

/** Slaney mel → Hz. */
export function melToHzSlaney(m: number): number {
  const fSp = 200 / 3;
  const minLogHz = 1000;
  const minLogMel = (minLogHz - 0) / fSp;
  const logstep = Math.log(6.4) / 27;
  if (m >= minLogMel) return minLogHz * Math.exp(logstep * (m - minLogMel));
  return 0 + fSp * m;
}

/** numpy.linspace(start, stop, num) (endpoint=True), same float64 operations. */
export function linspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  const div = num - 1;
  const step = (stop - start) / div;
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  if (num > 1) out[num - 1] = stop;
  return out;
}

/** A mel filterbank stored sparsely: band m covers bins [start[m], start[m] + weights[m].length). */
export interface MelFilterbank {
  nMels: number;
  nBins: number;
  start: Int32Array;
  /** float32 values (held as float64). */
  weights: Float64Array[];
  /** Dense [nMels][nBins] float32 matrix (librosa layout; transpose for torchlibrosa's melW). */
  dense: Float32Array;
}

const cache = new Map<string, MelFilterbank>();

export function melFilterbank(cfg: MelFilterbankConfig): MelFilterbank {
  const key = `${cfg.sampleRate}:${cfg.nFft}:${cfg.nMels}:${cfg.fmin}:${cfg.fmax}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const { sampleRate: sr, nFft, nMels, fmin, fmax } = cfg;
  const nBins = 1 + (nFft >> 1);
  // np.fft.rfftfreq(n, d=1/sr): arange(0, n//2+1) * (1.0 / (n * d))
  const val = 1.0 / (nFft * (1.0 / sr));
  const fftFreqs = new Float64Array(nBins);
  for (let k = 0; k < nBins; k++) fftFreqs[k] = k * val;
  const mels = linspace(hzToMelSlaney(fmin), hzToMelSlaney(fmax), nMels + 2);
  const melF = mels.map(melToHzSlaney);
  const dense = new Float32Array(nMels * nBins);
  const start = new Int32Array(nMels);
  const weights: Float64Array[] = [];
  for (let i = 0; i < nMels; i++) {
    const fdiffLo = melF[i + 1] - melF[i];
    const fdiffHi = melF[i + 2] - melF[i + 1];
    const enorm = 2.0 / (melF[i + 2] - melF[i]);
    let first = -1;
    let last = -1;
    for (let k = 0; k < nBins; k++) {
      const lower = -(melF[i] - fftFreqs[k]) / fdiffLo;
      const upper = (melF[i + 2] - fftFreqs[k]) / fdiffHi;
      const tri = Math.fround(Math.max(0, Math.min(lower, upper)));
      const w = Math.fround(tri * enorm);
      dense[i * nBins + k] = w;
      if (w !== 0) {
        if (first < 0) first = k;
        last = k;
      }
    }
    start[i] = Math.max(first, 0);
    weights.push(first < 0 ? new Float64Array(0) : Float64Array.from(dense.subarray(i * nBins + first, i * nBins + last + 1)));
  }
  const fb: MelFilterbank = { nMels, nBins, start, weights, dense };
  cache.set(key, fb);
  return fb;
}
