/** Random clapcap decoder weights (clapcap.pth layout) for tests and benchmarks at any size. */
import type { HostTensor } from '../../engine/index.js';
import type { Gpt2Config } from '../gpt2/config.js';
import { randomGpt2StateDict } from '../gpt2/random.js';
import { randomPut } from '../random.js';
import { CLAPCAP_2023, MAPPER_HEADS } from './config.js';

export interface RandomClapCapOptions {
  gpt?: Gpt2Config;
  /** d_proj (1024 in the 2023 model). */
  prefixDim?: number;
  prefixLength?: number;
  clipLength?: number;
  numLayers?: number;
  seed?: number;
}

/**
 * clapcap decoder weights under clapcap.pth's key names and shapes: `gpt.transformer.*` + the tied
 * `gpt.lm_head.weight` (the same tensor object, as torch.save stores one storage) and the
 * TransformerMapper `clap_project.*`. The clapcap audio encoder (`clap.*`) is not included.
 */
export function randomClapCapStateDict(o: RandomClapCapOptions = {}): Map<string, HostTensor> {
  const c = o.gpt ?? CLAPCAP_2023.gpt;
  const dIn = o.prefixDim ?? CLAPCAP_2023.prefixDim;
  const P = o.prefixLength ?? CLAPCAP_2023.prefixLength;
  const clip = o.clipLength ?? CLAPCAP_2023.clipLength;
  const layers = o.numLayers ?? CLAPCAP_2023.numLayers;
  if (c.nEmbd % MAPPER_HEADS !== 0) throw new Error(`n_embd ${c.nEmbd} must be a multiple of the mapper's ${MAPPER_HEADS} heads`);
  const seed = o.seed ?? 1;
  const sd = randomGpt2StateDict(c, 'gpt.transformer.', seed);
  sd.set('gpt.lm_head.weight', sd.get('gpt.transformer.wte.weight')!);
  const n = c.nEmbd;
  const f = randomPut(sd, 'clap_project.', seed * 1000 + 500); // clear of the GPT-2 seeds
  // TransformerMapper (nn.Linear default init: U(±1/√fan_in), i.e. std 1/√(3·fan_in))
  const lin = (key: string, out: number, inp: number, bias = true): void => {
    f(`${key}.weight`, [out, inp], 1 / Math.sqrt(3 * inp));
    if (bias) f(`${key}.bias`, [out], 1 / Math.sqrt(3 * inp));
  };
  f('prefix_const', [P, n], 1);
  for (let i = 0; i < layers; i++) {
    const l = `transformer.layers.${i}.`;
    f(`${l}norm1.weight`, [n], 0.02, 1);
    f(`${l}norm1.bias`, [n], 0.02);
    lin(`${l}attn.to_queries`, n, n, false);
    lin(`${l}attn.to_keys_values`, 2 * n, n, false);
    lin(`${l}attn.project`, n, n);
    f(`${l}norm2.weight`, [n], 0.02, 1);
    f(`${l}norm2.bias`, [n], 0.02);
    lin(`${l}mlp.fc1`, 2 * n, n);
    lin(`${l}mlp.fc2`, n, 2 * n);
  }
  lin('linear', clip * n, dIn);
  return sd;
}
