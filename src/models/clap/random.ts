/** Random CLAP weights (every family's layout: both towers, both projections, logit scales) for tests and benchmarks at any size. */
import type { HostTensor } from '../../engine/index.js';
import { randomBertStateDict } from '../bert/index.js';
import { randomCnn14StateDict } from '../cnn14/index.js';
import { randomGpt2StateDict } from '../gpt2/random.js';
import { randomHtsatStateDict } from '../htsat/random.js';
import { randomClapAudioStateDict } from '../hf-clap/random.js';
import { randomTensor } from '../random.js';
import {
  audioEncoderPrefix,
  audioFeatures,
  audioProjectionPrefix,
  type ClapConfig,
  textEncoderPrefix,
  textFeatures,
  textProjectionPrefix,
} from './config.js';

/** msclap Projection weights under `prefix` (`…projection.`). */
export function randomProjectionStateDict(dIn: number, dProj: number, prefix: string, seed = 1): Map<string, HostTensor> {
  return new Map([
    [`${prefix}linear1.weight`, randomTensor([dProj, dIn], 1 / Math.sqrt(dIn), seed)],
    [`${prefix}linear2.weight`, randomTensor([dProj, dProj], 1 / Math.sqrt(dProj), seed + 1)],
    [`${prefix}layer_norm.weight`, randomTensor([dProj], 0.02, seed + 2, 1)],
    [`${prefix}layer_norm.bias`, randomTensor([dProj], 0.02, seed + 3)],
  ]);
}

/** Hugging Face ClapProjectionLayer weights under `prefix` (`audio_projection.`). */
function randomClapProjectionStateDict(dIn: number, dProj: number, prefix: string, seed = 1): Map<string, HostTensor> {
  return new Map([
    [`${prefix}linear1.weight`, randomTensor([dProj, dIn], 1 / Math.sqrt(dIn), seed)],
    [`${prefix}linear1.bias`, randomTensor([dProj], 0.02, seed + 1)],
    [`${prefix}linear2.weight`, randomTensor([dProj, dProj], 1 / Math.sqrt(dProj), seed + 2)],
    [`${prefix}linear2.bias`, randomTensor([dProj], 0.02, seed + 3)],
  ]);
}

/** A whole model's state dict in the config's layout (encoders, projections, logit scales). */
export function randomClapStateDict(cfg: ClapConfig, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const add = (m: Map<string, HostTensor>): void => {
    for (const [k, v] of m) sd.set(k, v);
  };
  const a = cfg.audio;
  const prefix = audioEncoderPrefix(cfg);
  if (a.type === 'htsat') add(randomHtsatStateDict(a.htsat, prefix, { seed, withHead: true }));
  else if (a.type === 'cnn14') add(randomCnn14StateDict(a.cnn14, prefix, seed));
  else add(randomClapAudioStateDict(a.clapAudio, prefix, seed));
  const projection = cfg.layout === 'hf' ? randomClapProjectionStateDict : randomProjectionStateDict;
  add(projection(audioFeatures(a), cfg.dProj, audioProjectionPrefix(cfg), seed * 7));
  const t = cfg.text;
  if (t) {
    add(
      t.type === 'gpt2'
        ? randomGpt2StateDict(t.gpt2, textEncoderPrefix(cfg), seed)
        : randomBertStateDict(t.bert, textEncoderPrefix(cfg), seed),
    );
    add(projection(textFeatures(t), cfg.dProj, textProjectionPrefix(cfg), seed * 11));
  }
  const scale = (key: string, v: number): void => {
    sd.set(key, { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(v)) });
  };
  if (cfg.layout === 'hf') {
    scale('logit_scale_a', 1 / 0.07);
    scale('logit_scale_t', 1 / 0.07);
  } else scale('logit_scale', 1 / 0.07);
  return sd;
}
