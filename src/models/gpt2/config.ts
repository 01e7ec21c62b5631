/** GPT-2's hyper-parameters (Hugging Face `GPT2Config`): the `gpt2` preset, config.json, and what a checkpoint's shapes reveal. */
import { ClapError } from '../../errors.js';
import type { StateDict } from '../../weights/index.js';

export interface Gpt2Config {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  layerNormEpsilon: number;
}

/** The official msclap 2023 text encoder / clapcap decoder: the `gpt2` checkpoint's geometry. */
export const GPT2_BASE: Gpt2Config = { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12, layerNormEpsilon: 1e-5 };

/** Reads a Hugging Face style config (`n_embd`, `n_layer`, … as in the fixtures' config.json). */
export function gpt2ConfigFromJson(json: Record<string, unknown>): Gpt2Config {
  const num = (key: string, fallback?: number): number => {
    const v = json[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new ClapError(`GPT-2 config: ${key} must be a number`, { subject: key });
    return v;
  };
  return {
    vocabSize: num('vocab_size', 50257),
    nPositions: num('n_positions', 1024),
    nEmbd: num('n_embd'),
    nLayer: num('n_layer'),
    nHead: num('n_head'),
    layerNormEpsilon: num('layer_norm_epsilon', 1e-5),
  };
}

/** The Hugging Face config layout `gpt2ConfigFromJson` reads. */
export function gpt2ConfigToJson(c: Gpt2Config): Record<string, unknown> {
  return {
    vocab_size: c.vocabSize,
    n_positions: c.nPositions,
    n_embd: c.nEmbd,
    n_layer: c.nLayer,
    n_head: c.nHead,
    layer_norm_epsilon: c.layerNormEpsilon,
  };
}

/** Infers n_embd / n_layer / vocab / n_positions from the checkpoint under `prefix` (n_head and eps cannot be). */
export function inferGpt2Config(weights: StateDict, prefix: string, nHead: number, layerNormEpsilon = 1e-5): Gpt2Config {
  const wte = weights.get(`${prefix}wte.weight`);
  const wpe = weights.get(`${prefix}wpe.weight`);
  if (wte?.shape.length !== 2) throw new ClapError('missing from the checkpoint (or not 2-D)', { subject: `${prefix}wte.weight` });
  if (wpe?.shape.length !== 2) throw new ClapError('missing from the checkpoint (or not 2-D)', { subject: `${prefix}wpe.weight` });
  let nLayer = 0;
  while (weights.has(`${prefix}h.${nLayer}.ln_1.weight`)) nLayer++;
  return { vocabSize: wte.shape[0], nPositions: wpe.shape[0], nEmbd: wte.shape[1], nLayer, nHead, layerNormEpsilon };
}
