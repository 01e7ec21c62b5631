/**
 * msclap's `AudioEncoder` (models/clap.py: HTSAT then a Projection) as one graph: `logmel` [B, 965, 64]
 * (the frontend's dB log-mel) → `audio_embed` [B, d_proj], the projection output that msclap's
 * get_audio_embeddings returns (not normalised).
 */
import { Graph } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { buildHtsat } from '../htsat/htsat.js';
import { htsatInputFrames, htsatNumFeatures } from '../htsat/config.js';
import type { ClapConfig } from './config.js';
import { projection, projectionParams } from './projection.js';

export interface AudioEncoderGraphOptions {
  /** Also output `latent` and `clipwise` (and every HTSAT stage, for parity tests). */
  debugOutputs?: boolean;
}

export function buildAudioEncoderGraph(sd: StateDict, cfg: ClapConfig, options: AudioEncoderGraphOptions = {}): Graph {
  const g = new Graph('clap_audio_encoder');
  const logmel = g.input('logmel', 'float32', ['B', htsatInputFrames(cfg.htsat), cfg.htsat.melBins]);
  const h = buildHtsat(g, logmel, sd, cfg.htsat, `${cfg.audioPrefix}base.htsat.`);
  const proj = projectionParams(g, sd, `${cfg.audioPrefix}projection.`, { inDim: htsatNumFeatures(cfg.htsat) });
  g.output('audio_embed', projection(proj, h.latent));
  if (options.debugOutputs) {
    g.output('latent', h.latent);
    g.output('clipwise', h.clipwise);
    for (const [name, v] of Object.entries(h.stages)) g.output(name, v);
  }
  return g;
}
