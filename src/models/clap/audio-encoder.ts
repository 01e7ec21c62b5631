/**
 * msclap's `AudioEncoder` (models/clap.py: an audio model then a Projection) as one graph, for each audio
 * encoder a CLAP config names — and Hugging Face's audio tower (hf-clap/) for its layout — → `audio_embed`
 * [B, d_proj], the projection output (not normalised, as msclap's get_audio_embeddings). Its input:
 * - `logmel` [B, frames, mel], the frontend's dB log-mel, for msclap's encoders (what the library feeds:
 *   its frontend is cheaper);
 * - `waveform` [B, samples], for msclap's encoders on request: one mono window at the model's rate (2023:
 *   7 s, 2022: 5 s at 44.1 kHz) with the torchlibrosa frontend in the graph (STFT with the checkpoint's DFT
 *   matrices, log-mel: htsat/spectrogram.ts) — what an exported model takes;
 * - `input_features` [B, 1|4, 1001, mel] and, fused, `is_longer` [B] for Hugging Face's encoder
 *   (ClapFeatureExtractor's output).
 * The tower itself (`clapAudioEmbedding`) builds into any graph; the contrastive training graph uses it with
 * `training`, so training differentiates the graph inference runs.
 */
import { ClapError } from '../../errors.js';
import { type BufferUpdate, Graph, type Value } from '../../engine/index.js';
import { frameCount } from '../../audio/index.js';
import type { StateDict } from '../../weights/index.js';
import { buildCnn14 } from '../cnn14/cnn14.js';
import { buildHtsat, logmelFrontend } from '../htsat/index.js';
import { buildHfClapAudioGraph, hfClapAudioEmbedding } from '../hf-clap/clap-model.js';
import { audioEncoderPrefix, audioFeatures, audioInputShape, audioProjectionPrefix, type ClapConfig } from './config.js';
import { projection, projectionParams } from './projection.js';

/** What an msclap audio encoder graph takes (see the file comment). */
export type AudioEncoderInput = 'logmel' | 'waveform';

export interface AudioEncoderGraphOptions {
  /** msclap's encoders (HTSAT, Cnn14) only; default 'logmel'. */
  input?: AudioEncoderInput;
  /** Also output the encoder's stages (and `latent`/`clipwise` or `embedding`) for parity tests. */
  debugOutputs?: boolean;
}

/** HTSAT's graph name for each input (each is compiled and cached on its own). */
export const AUDIO_ENCODER_GRAPHS: Readonly<Record<AudioEncoderInput, string>> = {
  logmel: 'clap_audio_encoder',
  waveform: 'clap_audio_encoder_waveform',
};

/** The name of the audio graph a config compiles to (graph-versions.ts lists each). */
export function audioGraphName(cfg: ClapConfig, input: AudioEncoderInput = 'logmel'): string {
  if (cfg.audio.type === 'htsat') return AUDIO_ENCODER_GRAPHS[input];
  if (cfg.audio.type === 'cnn14') return input === 'waveform' ? 'clap_audio_encoder_cnn14_waveform' : 'clap_audio_encoder_cnn14';
  if (input !== 'logmel') throw new ClapError("Hugging Face CLAP's audio encoder takes ClapFeatureExtractor's output, not a waveform");
  return 'hf_clap_audio_encoder';
}

/** The `waveform` input, one window of msclap's frontend, through the torchlibrosa frontend → log-mel [B, frames, mels]. */
function waveformLogmel(g: Graph, sd: StateDict, cfg: ClapConfig, frames: number): Value {
  if (cfg.frontend.type !== 'msclap') throw new ClapError('internal: a waveform input needs msclap’s frontend');
  const { logmel, window } = cfg.frontend;
  const made = frameCount(window.samples, logmel);
  if (made !== frames) throw new ClapError(`the encoder takes ${frames} frames, a ${window.samples}-sample window makes ${made}`);
  // HTSAT keeps torchlibrosa's modules under its own prefix; Cnn14 has them beside its blocks.
  return logmelFrontend(g, g.input('waveform', 'float32', ['B', window.samples]), sd, audioEncoderPrefix(cfg), logmel);
}

export interface ClapAudioEmbedding {
  /** audio_embed [B, d_proj]: the projection's output, not normalised. */
  embed: Value;
  /** The encoder's intermediate tensors and outputs (parity tests). */
  stages: Record<string, Value>;
  /** Training path: the BatchNorms' running statistics after the batch (the train step's buffers); else empty. */
  updates: BufferUpdate[];
}

/**
 * The audio tower of any family in `g` on its encoder input — `input` the log-mel [B, frames, mel] (msclap) or
 * input_features [B, 1|4, 1001, mel] with `isLonger` (Hugging Face, fused) — up to the projection. `training`:
 * the training path of the same graph (HTSAT: bias tables and bn0's weights as params, bn0's statistics kept;
 * Cnn14: BatchNorms in training mode; Hugging Face: HTSAT's and the AFF block's, hf-clap/).
 */
export function clapAudioEmbedding(
  g: Graph,
  sd: StateDict,
  cfg: ClapConfig,
  input: Value,
  isLonger: Value | undefined,
  training = false,
): ClapAudioEmbedding {
  const a = cfg.audio;
  if (a.type === 'clap-audio') {
    const t = hfClapAudioEmbedding(g, sd, { audio: a.clapAudio, projectionDim: cfg.dProj }, input, isLonger, training);
    return { embed: t.embed, stages: { pooler_output: t.pooler, ...t.stages }, updates: [] };
  }
  const prefix = audioEncoderPrefix(cfg);
  let latent: Value;
  const stages: Record<string, Value> = {};
  const updates: BufferUpdate[] = [];
  if (a.type === 'htsat') {
    const h = buildHtsat(g, input, sd, a.htsat, prefix, { trainable: training });
    latent = h.latent;
    Object.assign(stages, { latent: h.latent, clipwise: h.clipwise }, h.stages);
  } else {
    const c = buildCnn14(g, input, sd, a.cnn14, prefix, { training });
    latent = c.embedding;
    updates.push(...c.updates);
    Object.assign(stages, { embedding: c.embedding, clipwise: c.clipwise }, c.stages);
  }
  const proj = projectionParams(g, sd, audioProjectionPrefix(cfg), { inDim: audioFeatures(a) });
  return { embed: projection(proj, latent), stages, updates };
}

export function buildAudioEncoderGraph(sd: StateDict, cfg: ClapConfig, options: AudioEncoderGraphOptions = {}): Graph {
  const a = cfg.audio;
  const input = options.input ?? 'logmel';
  const name = audioGraphName(cfg, input);
  if (a.type === 'clap-audio') return buildHfClapAudioGraph(sd, { audio: a.clapAudio, projectionDim: cfg.dProj }, options);
  const g = new Graph(name);
  const [frames, mels] = audioInputShape(cfg);
  const logmel = input === 'waveform' ? waveformLogmel(g, sd, cfg, frames) : g.input('logmel', 'float32', ['B', frames, mels]);
  const t = clapAudioEmbedding(g, sd, cfg, logmel, undefined);
  g.output('audio_embed', t.embed);
  if (options.debugOutputs) for (const [n, v] of Object.entries(t.stages)) g.output(n, v);
  return g;
}
