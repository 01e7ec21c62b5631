/**
 * torchlibrosa's `Spectrogram` and `LogmelFilterBank` (HTSAT's `spectrogram_extractor` and
 * `logmel_extractor`) in the graph: waveform [B, L] → log-mel [B, frames, nMels] in dB — reflect padding by
 * nFft/2, a periodic-Hann STFT, re² + im², the filterbank (`melW`), then 10·log10(max(x, amin)) −
 * 10·log10(max(amin, ref)).
 *
 * The STFT, power and filterbank run in float64 (ONNX STFT), as the library's own frontend does (audio/
 * logmel.ts 'fft'): msclap's float32 conv STFT (the checkpoint's DFT × window matrices) leaves rounding
 * noise in near-silent bins (≲ −90 dB) that only the same summation order reproduces. A float32 Conv
 * matched it where onnxruntime runs a direct convolution (x64 'all' optimisations: 8e-7 of the embedding
 * on msclap 2022's full-scale float chirp) but not where it runs im2col + GEMM (WASM: 1.5e-4; lower
 * optimisation levels: 9.8e-5); the float64 STFT gives 9.3e-5 on every runtime, the reference's own
 * float32 noise, and ≤ 1.7e-6 on ordinary audio. The checkpoint's DFT matrices (frozen, not trained) are
 * therefore not read; its `melW` is, when present.
 *
 * Only the STFT bins the filterbank reads are kept (msclap's bands stop at 14 kHz of the 32 kHz design,
 * below bin 450 of 513): melW's other rows are zero.
 */
import { ClapError } from '../../errors.js';
import { type Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
import { type FrontendConfig, melFilterbank, periodicHann } from '../../audio/index.js';
import type { StateDict } from '../../weights/index.js';
import { asFloat32, requireTensor } from '../layers.js';

/** The checkpoint's filterbank under `prefix` (or computed) in float64, trimmed to the bins it reads: [bins, nMels]. */
function melMatrix(sd: StateDict, prefix: string, cfg: Readonly<FrontendConfig>): HostTensor {
  const { nFft, nMels } = cfg;
  const allBins = (nFft >> 1) + 1;
  const key = `${prefix}logmel_extractor.melW`;
  let melW: Float32Array;
  if (sd.has(key)) melW = asFloat32(requireTensor(sd, key, [allBins, nMels]));
  else {
    const fb = melFilterbank(cfg);
    melW = new Float32Array(allBins * nMels);
    for (let m = 0; m < nMels; m++) fb.weights[m].forEach((w, k) => (melW[(fb.start[m] + k) * nMels + m] = w));
  }
  let bins = allBins;
  while (bins > 1 && melW.subarray((bins - 1) * nMels, bins * nMels).every((w) => w === 0)) bins--;
  return { dtype: 'float64', shape: [bins, nMels], data: Float64Array.from(melW.subarray(0, bins * nMels)) };
}

/**
 * Log-mel [B, frames, nMels] of `waveform` [B, L] (float32), HTSAT's frontend with `cfg` (msclap:
 * REFERENCE_FRONTEND). `prefix` is the HTSAT module's state-dict prefix (`audio_encoder.base.htsat.`).
 */
export function logmelFrontend(g: Graph, waveform: Value, sd: StateDict, prefix: string, cfg: Readonly<FrontendConfig>): Value {
  if (!cfg.center) throw new ClapError('the graph frontend reproduces the centred STFT only (center: true)');
  if (cfg.topDb !== null) throw new ClapError('the graph frontend has no top_db clipping (msclap uses none)');
  if (cfg.winLength !== cfg.nFft) throw new ClapError('the graph frontend needs win_length = n_fft (as msclap)');
  const melW = melMatrix(sd, prefix, cfg);
  const half = cfg.nFft >> 1;
  const padded = ops.cast(ops.pad(waveform, [0, half, 0, half], 'reflect'), 'float64');
  const window = g.constant({ dtype: 'float64', shape: [cfg.nFft], data: periodicHann(cfg.winLength, cfg.nFft) }, 'stft_window');
  const spectra = ops.slice(ops.stft(padded, cfg.hopLength, window), 2, 0, melW.shape[0]); // [B, frames, bins, 2]
  const power = ops.reduceSum(ops.mul(spectra, spectra), [3]);
  const mel = ops.cast(ops.matmul(power, g.constant(melW, 'mel_w')), 'float32');
  const db = ops.mul(ops.log(ops.maximum(mel, Math.fround(cfg.amin))), 10 / Math.LN10);
  const refDb = 10 * Math.log10(Math.max(cfg.amin, cfg.ref));
  return refDb === 0 ? db : ops.sub(db, refDb);
}
