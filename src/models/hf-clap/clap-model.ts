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
 * read on the host (clapLogitScales). Each tower is also a function into any graph (`hfClapAudioEmbedding`,
 * `hfClapTextEmbedding`): the contrastive training graph is built from the same two.
 */
import { ClapError } from '../../errors.js';
import { Graph, type Value } from '../../engine/index.js';
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

type AudioTowerConfig = { audio: ClapAudioConfig; projectionDim: number };
type TextTowerConfig = { text: BertConfig; projectionDim: number };

/**
 * The audio tower in `g`: input_features [B, 1|4, 1001, mel] (and, fused, is_longer [B] bool) → `embed`
 * (audio_projection's output), `pooler`, `stages`; `trainable`: the training path (audio-encoder.ts).
 */
export function hfClapAudioEmbedding(
  g: Graph,
  sd: StateDict,
  cfg: AudioTowerConfig,
  features: Value,
  isLonger: Value | undefined,
  trainable = false,
): { embed: Value; pooler: Value; stages: Record<string, Value> } {
  const a = cfg.audio;
  const enc = buildClapAudioEncoder(g, features, isLonger, sd, a, 'audio_model.audio_encoder.', trainable);
  const proj = clapProjectionParams(g, sd, 'audio_projection.', htsatNumFeatures(a.htsat), cfg.projectionDim);
  return { embed: clapProjection(proj, enc.pooler), pooler: enc.pooler, stages: enc.stages };
}

/** The audio tower's graph; weights with ClapModel's keys (`audio_model.audio_encoder.`, `audio_projection.`). */
export function buildHfClapAudioGraph(sd: StateDict, cfg: AudioTowerConfig, options: HfClapGraphOptions = {}): Graph {
  const g = new Graph('hf_clap_audio_encoder');
  const a = cfg.audio;
  const features = g.input('input_features', 'float32', ['B', a.enableFusion ? 4 : 1, HF_CLAP_FRAMES, a.htsat.melBins]);
  const isLonger = a.enableFusion ? g.input('is_longer', 'bool', ['B']) : undefined;
  const t = hfClapAudioEmbedding(g, sd, cfg, features, isLonger);
  g.output('audio_embed', t.embed);
  if (options.debugOutputs) {
    g.output('pooler_output', t.pooler);
    for (const [name, v] of Object.entries(t.stages)) g.output(name, v);
  }
  return g;
}

/**
 * The text tower in `g`: input_ids, attention_mask [B, T] int64 → `embed` (text_projection's output), `hidden`
 * (last_hidden_state), `pooled` (ClapTextPooler's tanh(dense(h[:, 0]))).
 */
export function hfClapTextEmbedding(
  g: Graph,
  sd: StateDict,
  cfg: TextTowerConfig,
  ids: Value,
  mask: Value,
): { embed: Value; hidden: Value; pooled: Value } {
  const bert = bertParams(g, sd, 'text_model.', cfg.text, { pooler: true });
  const hidden = bertModel(bert, ids, mask, bertPositionIds(ids, 'roberta', cfg.text.padTokenId));
  const pooled = bertPooler(bert, hidden);
  const proj = clapProjectionParams(g, sd, 'text_projection.', cfg.text.hiddenSize, cfg.projectionDim);
  return { embed: clapProjection(proj, pooled), hidden, pooled };
}

/** The text tower's graph; weights under `text_model.` and `text_projection.`. */
export function buildHfClapTextGraph(sd: StateDict, cfg: TextTowerConfig, options: HfClapGraphOptions = {}): Graph {
  const g = new Graph('hf_clap_text_encoder');
  const ids = g.input('input_ids', 'int64', ['B', 'T']);
  const t = hfClapTextEmbedding(g, sd, cfg, ids, g.input('attention_mask', 'int64', ['B', 'T']));
  g.output('text_embed', t.embed);
  if (options.debugOutputs) {
    g.output('last_hidden_state', t.hidden);
    g.output('pooler_output', t.pooled);
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
