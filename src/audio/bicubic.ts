/**
 * HTSAT's `reshape_wav2img` (msclap models/htsat.py l.815–831) as plain matrices:
 * `F.interpolate(mode='bicubic', align_corners=True)` of the time axis 965 → 1024 frames (the mel axis
 * is 64 → 64, skipped), then the fold into a 256×256 image.
 */

/** PyTorch's cubic convolution kernel, A = −0.75 (upsample_bicubic2d). */
const A = -0.75;
const cubic1 = (x: number): number => ((A + 2) * x - (A + 3)) * x * x + 1; // |x| ≤ 1
const cubic2 = (x: number): number => ((A * x - 5 * A) * x + 8 * A) * x - 4 * A; // 1 < |x| < 2

/**
 * The [outLen][inLen] float32 matrix R with `resized = R · x` along the interpolated axis, equal to
 * PyTorch's bicubic interpolation with align_corners=True: four taps at floor(pos)−1 … floor(pos)+2
 * clamped to the border (clamped taps add up), cubic-convolution weights of t = pos − floor(pos).
 *
 * Source positions: PyTorch (1.13, CPU) computes the scale `(in−1)/(out−1)` in float32 and the position
 * `scale·i` and the weights in double. Fitting the fixtures confirms it: with that rule the fold of the
 * expected bn0 matches wav2img.npy to ≤ 3.8e-6 (≈6e-7 of the max); an all-float64 scale gives 2.6e-5
 * (at i = 1023 the float32 scale puts the position just below 964, not on it), all-float32 1.7e-4.
 */
export function bicubicResizeMatrix(inLen = 965, outLen = 1024): Float32Array {
  if (!Number.isInteger(inLen) || !Number.isInteger(outLen) || inLen < 1 || outLen < 1) {
    throw new RangeError(`bicubic sizes must be positive integers (got ${inLen} → ${outLen})`);
  }
  const m = new Float64Array(outLen * inLen);
  const scale = outLen > 1 ? Math.fround((inLen - 1) / (outLen - 1)) : 0;
  for (let i = 0; i < outLen; i++) {
    const pos = scale * i;
    const x0 = Math.floor(pos);
    const t = pos - x0;
    const w = [cubic2(t + 1), cubic1(t), cubic1(1 - t), cubic2(2 - t)];
    for (let j = 0; j < 4; j++) {
      const src = Math.min(Math.max(x0 - 1 + j, 0), inLen - 1);
      m[i * inLen + src] += w[j];
    }
  }
  return Float32Array.from(m);
}

/** `R · x` for a time-major [inLen][width] array x → [outLen][width] (float64 accumulation). */
export function applyResizeMatrix(matrix: Float32Array, x: Float32Array, inLen: number, width: number): Float32Array {
  const outLen = matrix.length / inLen;
  if (!Number.isInteger(outLen) || x.length !== inLen * width) throw new RangeError('applyResizeMatrix: shape mismatch');
  const out = new Float32Array(outLen * width);
  const acc = new Float64Array(width);
  for (let i = 0; i < outLen; i++) {
    acc.fill(0);
    const row = i * inLen;
    for (let j = 0; j < inLen; j++) {
      const w = matrix[row + j];
      if (w === 0) continue;
      const base = j * width;
      for (let c = 0; c < width; c++) acc[c] += w * x[base + c];
    }
    out.set(acc, i * width);
  }
  return out;
}

/**
 * Index of the image pixel that receives resized[frame][mel] in reshape_wav2img's fold:
 * row = chunk·nMels + mel, column = frame within its chunk (chunk = frame ÷ chunkFrames).
 */
export function foldIndex(frame: number, mel: number, nMels = 64, chunkFrames = 256): { row: number; col: number } {
  const chunk = Math.floor(frame / chunkFrames);
  return { row: chunk * nMels + mel, col: frame - chunk * chunkFrames };
}

/**
 * reshape_wav2img's fold of a time-major [frames][nMels] array (frames = freqRatio·chunkFrames, 1024 for
 * HTSAT) into the [freqRatio·nMels][chunkFrames] image (256×256): four 256-frame chunks stacked vertically.
 */
export function foldToImage(resized: Float32Array, nMels = 64, freqRatio = 4): Float32Array {
  const frames = resized.length / nMels;
  if (!Number.isInteger(frames) || frames % freqRatio !== 0) throw new RangeError('foldToImage: frames must be a multiple of freqRatio');
  const chunkFrames = frames / freqRatio;
  const img = new Float32Array(resized.length);
  for (let f = 0; f < frames; f++) {
    const { row, col } = foldIndex(f, 0, nMels, chunkFrames);
    for (let m = 0; m < nMels; m++) img[(row + m) * chunkFrames + col] = resized[f * nMels + m];
  }
  return img;
}

/** reshape_wav2img on a time-major [inFrames][nMels] array (bn0 output): resize to 1024 frames, fold. */
export function wav2img(x: Float32Array, nMels = 64, targetFrames = 1024, freqRatio = 4): Float32Array {
  const inFrames = x.length / nMels;
  const r = inFrames === targetFrames ? x : applyResizeMatrix(bicubicResizeMatrix(inFrames, targetFrames), x, inFrames, nMels);
  return foldToImage(r, nMels, freqRatio);
}
