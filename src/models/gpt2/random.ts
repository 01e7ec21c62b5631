/** Random GPT-2 weights with Hugging Face's key names and shapes (tests and benchmarks at any size). */
import type { HostTensor } from '../../engine/index.js';
import { randomPut } from '../random.js';
import type { Gpt2Config } from './config.js';

/** Hugging Face GPT2Model weights under `prefix` (e.g. `caption_encoder.base.` or `gpt.transformer.`). */
export function randomGpt2StateDict(c: Gpt2Config, prefix: string, seed = 1): Map<string, HostTensor> {
  const sd = new Map<string, HostTensor>();
  const put = randomPut(sd, prefix, seed * 1000);
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
