/**
 * msclap's `AudioEncoder` (models/clap.py: HTSAT then a Projection) as one graph, → `audio_embed`
 * [B, d_proj], the projection output that msclap's get_audio_embeddings returns (not normalised). Its
 * input is either
 * - `logmel` [B, 965, 64], the frontend's dB log-mel (what the library feeds: its frontend is cheaper), or
 * - `waveform` [B, 308700], one mono 7 s window at 44.1 kHz, with HTSAT's own frontend in the graph
 *   (STFT, log-mel: htsat/spectrogram.ts) — what an exported model takes, so no runtime needs a frontend.
 */
import { ClapError } from '../../errors.js';
import { Graph, type Value } from '../../engine/index.js';
import { frameCount, MSCLAP_2023_WINDOW, REFERENCE_FRONTEND } from '../../audio/index.js';
import type { StateDict } from '../../weights/index.js';
import { buildHtsat, htsatInputFrames, htsatNumFeatures, logmelFrontend } from '../htsat/index.js';
import type { ClapConfig } from './config.js';
import { projection, projectionParams } from './projection.js';

/** What the audio encoder graph takes (see the file comment). */
export type AudioEncoderInput = 'logmel' | 'waveform';

export interface AudioEncoderGraphOptions {
  /** Default 'logmel'. */
  input?: AudioEncoderInput;
  /** Also output `latent` and `clipwise` (and every HTSAT stage, for parity tests). */
  debugOutputs?: boolean;
}

/** The graph's name for each input (each is compiled and cached on its own). */
export const AUDIO_ENCODER_GRAPHS: Readonly<Record<AudioEncoderInput, string>> = {
  logmel: 'clap_audio_encoder',
  waveform: 'clap_audio_encoder_waveform',
};

/** The `waveform` input, a 7 s window at 44.1 kHz, through HTSAT's frontend → log-mel [B, frames, mels]. */
function waveformLogmel(g: Graph, sd: StateDict, htsatPrefix: string, frames: number): Value {
  const samples = MSCLAP_2023_WINDOW.samples;
  if (frameCount(samples) !== frames)
    throw new ClapError(`HTSAT takes ${frames} frames, a ${samples}-sample window makes ${frameCount(samples)}`);
  return logmelFrontend(g, g.input('waveform', 'float32', ['B', samples]), sd, htsatPrefix, REFERENCE_FRONTEND);
}

export function buildAudioEncoderGraph(sd: StateDict, cfg: ClapConfig, options: AudioEncoderGraphOptions = {}): Graph {
  const input = options.input ?? 'logmel';
  const g = new Graph(AUDIO_ENCODER_GRAPHS[input]);
  const frames = htsatInputFrames(cfg.htsat);
  const htsatPrefix = `${cfg.audioPrefix}base.htsat.`;
  const logmel =
    input === 'waveform' ? waveformLogmel(g, sd, htsatPrefix, frames) : g.input('logmel', 'float32', ['B', frames, cfg.htsat.melBins]);
  const h = buildHtsat(g, logmel, sd, cfg.htsat, htsatPrefix);
  const proj = projectionParams(g, sd, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(cfg.htsat) });
  g.output('audio_embed', projection(proj, h.latent));
  if (options.debugOutputs) {
    g.output('latent', h.latent);
    g.output('clipwise', h.clipwise);
    for (const [name, v] of Object.entries(h.stages)) g.output(name, v);
  }
  return g;
}
