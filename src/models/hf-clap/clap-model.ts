/**
 * `ClapModel` (modeling_clap.py) as two graphs, one per tower, each ending at its projection (not
 * normalised: `get_audio_features` / `get_text_features` normalise, and similarity does too):
 *
 * - audio: `input_features` [B, 1|4, 1001, 64] (ClapFeatureExtractor's log-mel) and, fused, `is_longer` [B]
 *   bool → ClapAudioEncoder → pooler (token mean) → audio_projection → `audio_embed` [B, projection_dim];
 * - text: `input_ids`, `attention_mask` [B, T] int64 (RoBERTa's positions from the ids, in the graph) →
 *   ClapTextModel → pooler `tanh(dense(h[:, 0]))` → text_projection → `text_embed`.
 *
 * The two logit scales (`logit_scale_a` for logits_per_audio, `logit_scale_t` for logits_per_text) are
 * read on the host (clapLogitScales).
 */
import { ClapError } from '../../errors.js';
import { Graph } from '../../engine/index.js';
import type { StateDict } from '../../weights/index.js';
import { bertModel, bertParams, bertPooler, bertPositionIds } from '../bert/index.js';
import { htsatNumFeatures } from '../htsat/index.js';
import { buildClapAudioEncoder } from './audio-encoder.js';
import { type ClapAudioConfig, HF_CLAP_FRAMES } from './config.js';
import type { BertConfig } from '../bert/index.js';
import { clapProjection, clapProjectionParams } from './projection-layer.js';

export interface HfClapGraphOptions {
  /** Also output every stage (tests). */
  debugOutputs?: boolean;
}

/** The audio tower; weights with ClapModel's keys (`audio_model.audio_encoder.`, `audio_projection.`). */
export function buildHfClapAudioGraph(
  sd: StateDict,
  cfg: { audio: ClapAudioConfig; projectionDim: number },
  options: HfClapGraphOptions = {},
): Graph {
  const g = new Graph('hf_clap_audio_encoder');
  const a = cfg.audio;
  const features = g.input('input_features', 'float32', ['B', a.enableFusion ? 4 : 1, HF_CLAP_FRAMES, a.htsat.melBins]);
  const isLonger = a.enableFusion ? g.input('is_longer', 'bool', ['B']) : undefined;
  const enc = buildClapAudioEncoder(g, features, isLonger, sd, a, 'audio_model.audio_encoder.');
  const proj = clapProjectionParams(g, sd, 'audio_projection.', htsatNumFeatures(a.htsat), cfg.projectionDim);
  g.output('audio_embed', clapProjection(proj, enc.pooler));
  if (options.debugOutputs) {
    g.output('pooler_output', enc.pooler);
    for (const [name, v] of Object.entries(enc.stages)) g.output(name, v);
  }
  return g;
}

/** The text tower; weights under `text_model.` and `text_projection.`. */
export function buildHfClapTextGraph(
  sd: StateDict,
  cfg: { text: BertConfig; projectionDim: number },
  options: HfClapGraphOptions = {},
): Graph {
  const g = new Graph('hf_clap_text_encoder');
  const bert = bertParams(g, sd, 'text_model.', cfg.text, { pooler: true });
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const positions = bertPositionIds(ids, 'roberta', cfg.text.padTokenId);
  const hidden = bertModel(bert, ids, g.input('attention_mask', 'int64', ['B', 'T']), positions);
  const pooled = bertPooler(bert, hidden);
  g.output('text_embed', clapProjection(clapProjectionParams(g, sd, 'text_projection.', cfg.text.hiddenSize, cfg.projectionDim), pooled));
  if (options.debugOutputs) {
    g.output('last_hidden_state', hidden);
    g.output('pooler_output', pooled);
  }
  return g;
}

/** exp(logit_scale_a) and exp(logit_scale_t), in float32 as torch computes them. */
export function clapLogitScales(sd: StateDict): { audio: number; text: number } {
  const scale = (key: string): number => {
    const t = sd.get(key);
    if (t?.data.length !== 1) throw new ClapError('missing from the checkpoint (or not a scalar)', { subject: key });
    return Math.fround(Math.exp(Number(t.data[0])));
  };
  return { audio: scale('logit_scale_a'), text: scale('logit_scale_t') };
}
