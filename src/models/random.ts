/**
 * Random weights with the official key names and shapes: benchmarks and tests at full size without the
 * real checkpoints (which cannot be downloaded here). Deterministic per seed; scales follow the
 * reference's initialisation so activations look like a real model's.
 */
import type { HostTensor } from '../engine/index.js';
import { type ClapConfig } from './clap.js';
import type { Gpt2Config } from './gpt2.js';
import { htsatNumFeatures } from './htsat.js';
import { randomHtsatStateDict } from './htsat-random.js';

/** Uniform values with standard deviation `std` around `offset` (LCG: fast enough for 124M values). */
export function randomTensor(shape: number[], std: number, seed: number, offset = 0): HostTensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  const k = (std * Math.sqrt(3)) / 2 ** 31;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = offset + (s - 2 ** 31) * k;
  }
  return { dtype: 'float32', shape, data };
}

/** Hugging Face GPT2Model weights under `prefix` (e.g. `caption_encoder.base.` or `gpt.transformer.`). */
export function randomGpt2StateDict(c: Gpt2Config, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  let s = seed * 1000;
  const put = (key: string, shape: number[], std: number, offset = 0): void => {
    sd.set(prefix + key, randomTensor(shape, std, s++, offset));
  };
  const n = c.nEmbd;
  put('wte.weight', [c.vocabSize, n], 0.02);
  put('wpe.weight', [c.nPositions, n], 0.01);
  for (let i = 0; i < c.nLayer; i++) {
    const h = `h.${i}.`;
    put(`${h}ln_1.weight`, [n], 0.02, 1);
    put(`${h}ln_1.bias`, [n], 0.02);
    put(`${h}attn.c_attn.weight`, [n, 3 * n], 0.02);
    put(`${h}attn.c_attn.bias`, [3 * n], 0.02);
    put(`${h}attn.c_proj.weight`, [n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}attn.c_proj.bias`, [n], 0.02);
    put(`${h}ln_2.weight`, [n], 0.02, 1);
    put(`${h}ln_2.bias`, [n], 0.02);
    put(`${h}mlp.c_fc.weight`, [n, 4 * n], 0.02);
    put(`${h}mlp.c_fc.bias`, [4 * n], 0.02);
    put(`${h}mlp.c_proj.weight`, [4 * n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    put(`${h}mlp.c_proj.bias`, [n], 0.02);
  }
  put('ln_f.weight', [n], 0.02, 1);
  put('ln_f.bias', [n], 0.02);
  return sd;
}

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
  const add = (m: Map<string, HostTensor>): void => { for (const [k, v] of m) sd.set(k, v); };
  add(randomHtsatStateDict(cfg.htsat, `${cfg.audioPrefix}base.htsat.`, { seed, withHead: true }));
  add(randomProjectionStateDict(htsatNumFeatures(cfg.htsat), cfg.dProj, `${cfg.audioPrefix}projection.`, seed * 7));
  if (cfg.textPrefix) {
    add(randomGpt2StateDict(cfg.text, `${cfg.textPrefix}base.`, seed));
    add(randomProjectionStateDict(cfg.text.nEmbd, cfg.dProj, `${cfg.textPrefix}projection.`, seed * 11));
  }
  sd.set('logit_scale', { dtype: 'float32', shape: [], data: Float32Array.of(Math.log(1 / 0.07)) });
  return sd;
}
