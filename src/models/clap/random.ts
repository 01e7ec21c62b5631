/** Random CLAP weights (clap.pth layout: both towers, both projections, logit_scale) for tests and benchmarks at any size. */
import type { HostTensor } from '../../engine/index.js';
import { randomGpt2StateDict } from '../gpt2/random.js';
import { htsatNumFeatures } from '../htsat/config.js';
import { randomHtsatStateDict } from '../htsat/random.js';
import { randomTensor } from '../random.js';
import type { ClapConfig } from './config.js';

/** msclap Projection weights under `prefix` (`…projection.`). */
export function randomProjectionStateDict(dIn: number, dProj: number, prefix: string, seed = 1): Map<string, HostTensor> {
  return new Map([
    [`${prefix}linear1.weight`, randomTensor([dProj, dIn], 1 / Math.sqrt(dIn), seed)],
    [`${prefix}linear2.weight`, randomTensor([dProj, dProj], 1 / Math.sqrt(dProj), seed + 1)],
    [`${prefix}layer_norm.weight`, randomTensor([dProj], 0.02, seed + 2, 1)],
    [`${prefix}layer_norm.bias`, randomTensor([dProj], 0.02, seed + 3)],
  ]);
}

/** A whole clap.pth-like state dict (audio encoder, text encoder, projections, logit_scale). */
export function randomClapStateDict(cfg: ClapConfig, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const add = (m: Map<string, HostTensor>): void => {
    for (const [k, v] of m) sd.set(k, v);
  };
  add(randomHtsatStateDict(cfg.htsat, `${cfg.audioPrefix}base.htsat.`, { seed, withHead: true }));
  add(randomProjectionStateDict(htsatNumFeatures(cfg.htsat), cfg.dProj, `${cfg.audioPrefix}projection.`, seed * 7));
  if (cfg.textPrefix) {
    add(randomGpt2StateDict(cfg.text, `${cfg.textPrefix}base.`, seed));
    add(randomProjectionStateDict(cfg.text.nEmbd, cfg.dProj, `${cfg.textPrefix}projection.`, seed * 11));
  }
  sd.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return sd;
}
