/**
 * torchlibrosa's `Spectrogram` and `LogmelFilterBank` (HTSAT's `spectrogram_extractor` and
 * `logmel_extractor`) in the graph: waveform [B, L] → log-mel [B, frames, nMels] in dB, computed as msclap
 * computes it — reflect padding by nFft/2, the STFT as one strided convolution with the checkpoint's
 * DFT × window matrices (`stft.conv_real/conv_imag.weight`), re² + im², the filterbank (`melW`), then
 * 10·log10(max(x, amin)) − 10·log10(max(amin, ref)).
 *
 * Only the STFT bins the filterbank reads are computed (msclap's bands stop at 14 kHz of the 32 kHz
 * design, below bin 450 of 513): melW's other rows are zero, so the result is the same for less work.
 * A checkpoint without these buffers (they are not trained) gets the matrices the audio layer builds,
 * which equal torchlibrosa's.
 */
import { ClapError } from '../../errors.js';
import { type Graph, type HostTensor, ops, type Value } from '../../engine/index.js';
import { type FrontendConfig, melFilterbank, torchlibrosaDftWeights } from '../../audio/index.js';
import type { StateDict } from '../../weights/index.js';
import { asFloat32, requireTensor } from '../layers.js';

/** The STFT and filterbank matrices of an HTSAT checkpoint under `prefix` (or computed), trimmed to the bins used. */
interface FrontendMatrices {
  /** [2·bins, 1, 1, nFft]: the real rows, then the imaginary rows. */
  dft: HostTensor;
  /** [bins, nMels] */
  melW: HostTensor;
  bins: number;
}

function frontendMatrices(sd: StateDict, prefix: string, cfg: Readonly<FrontendConfig>): FrontendMatrices {
  const { nFft, nMels } = cfg;
  const allBins = (nFft >> 1) + 1;
  const stored = (k: string, shape: number[]): Float32Array | undefined =>
    sd.has(prefix + k) ? asFloat32(requireTensor(sd, prefix + k, shape)) : undefined;
  const real = stored('spectrogram_extractor.stft.conv_real.weight', [allBins, 1, nFft]);
  const imag = stored('spectrogram_extractor.stft.conv_imag.weight', [allBins, 1, nFft]);
  let melW = stored('logmel_extractor.melW', [allBins, nMels]);
  if (!melW) {
    const fb = melFilterbank(cfg);
    melW = new Float32Array(allBins * nMels);
    for (let m = 0; m < nMels; m++) fb.weights[m].forEach((w, k) => (melW![(fb.start[m] + k) * nMels + m] = w));
  }
  let bins = allBins;
  while (bins > 1 && melW.subarray((bins - 1) * nMels, bins * nMels).every((w) => w === 0)) bins--;
  const computed = real && imag ? undefined : torchlibrosaDftWeights(nFft, cfg.winLength);
  const dft = new Float32Array(2 * bins * nFft);
  dft.set((real ?? Float32Array.from(computed!.real)).subarray(0, bins * nFft));
  dft.set((imag ?? Float32Array.from(computed!.imag)).subarray(0, bins * nFft), bins * nFft);
  return {
    dft: { dtype: 'float32', shape: [2 * bins, 1, 1, nFft], data: dft },
    melW: { dtype: 'float32', shape: [bins, nMels], data: melW.slice(0, bins * nMels) },
    bins,
  };
}

/**
 * Log-mel [B, frames, nMels] of `waveform` [B, L] (float32), HTSAT's frontend with `cfg` (msclap:
 * REFERENCE_FRONTEND). `prefix` is the HTSAT module's state-dict prefix (`audio_encoder.base.htsat.`).
 */
export function logmelFrontend(g: Graph, waveform: Value, sd: StateDict, prefix: string, cfg: Readonly<FrontendConfig>): Value {
  if (!cfg.center) throw new ClapError('the graph frontend reproduces the centred STFT only (center: true)');
  if (cfg.topDb !== null) throw new ClapError('the graph frontend has no top_db clipping (msclap uses none)');
  if (cfg.winLength !== cfg.nFft) throw new ClapError('the graph frontend needs win_length = n_fft (as msclap)');
  const { dft, melW, bins } = frontendMatrices(sd, prefix, cfg);
  const half = cfg.nFft >> 1;
  const padded = ops.pad(waveform, [0, half, 0, half], 'reflect');
  const frames = ops.conv2d(ops.unsqueeze(padded, [1, 2]), g.constant(dft, 'stft_dft'), undefined, { stride: [1, cfg.hopLength] });
  const [re, im] = ops.split(ops.squeeze(frames, [2]), [bins, bins], 1);
  const power = ops.add(ops.mul(re, re), ops.mul(im, im));
  const mel = ops.matmul(ops.transpose(power, [0, 2, 1]), g.constant(melW, 'mel_w'));
  const db = ops.mul(ops.log(ops.maximum(mel, Math.fround(cfg.amin))), 10 / Math.LN10);
  const refDb = 10 * Math.log10(Math.max(cfg.amin, cfg.ref));
  return refDb === 0 ? db : ops.sub(db, refDb);
}
