/**
 * Random clapcap decoder weights under clapcap.pth's key names and shapes (benchmarks and tests at full
 * size without the real checkpoint): `gpt.transformer.*` + the tied `gpt.lm_head.weight` (the same
 * tensor object, as torch.save stores one storage) and the TransformerMapper `clap_project.*`.
 * Values are uniform with GPT-2 / PyTorch-default-like scales; the clapcap audio encoder (`clap.*`)
 * is not included.
 */
import type { HostTensor } from '../../engine/index.js';
import { GPT2_BASE, type Gpt2Config } from '../../models/gpt2.js';
import { MAPPER_HEADS } from '../../models/mapper.js';

export interface RandomClapCapOptions {
  gpt?: Gpt2Config;
  /** d_proj (1024 in the 2023 model). */
  prefixDim?: number;
  prefixLength?: number;
  clipLength?: number;
  numLayers?: number;
  seed?: number;
}

/** The official 2023 geometry: GPT-2 124M, d_proj 1024, prefix/clip length 40, 8 mapper layers. */
export const CLAPCAP_2023 = { gpt: GPT2_BASE, prefixDim: 1024, prefixLength: 40, clipLength: 40, numLayers: 8 } as const;

/** Deterministic uniform floats in [0, 1) (mulberry32). */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomClapCapWeights(o: RandomClapCapOptions = {}): Map<string, HostTensor> {
  const c = o.gpt ?? CLAPCAP_2023.gpt;
  const dIn = o.prefixDim ?? CLAPCAP_2023.prefixDim;
  const P = o.prefixLength ?? CLAPCAP_2023.prefixLength;
  const clip = o.clipLength ?? CLAPCAP_2023.clipLength;
  const layers = o.numLayers ?? CLAPCAP_2023.numLayers;
  if (c.nEmbd % MAPPER_HEADS !== 0) throw new Error(`n_embd ${c.nEmbd} must be a multiple of the mapper's ${MAPPER_HEADS} heads`);
  const rand = rng(o.seed ?? 1);
  const sd = new Map<string, HostTensor>();
  const f = (key: string, shape: number[], std: number, mean = 0): HostTensor => {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const half = std * Math.sqrt(3);
    for (let i = 0; i < n; i++) data[i] = mean + (2 * rand() - 1) * half;
    const t: HostTensor = { dtype: 'float32', shape, data };
    sd.set(key, t);
    return t;
  };
  const n = c.nEmbd;
  const g = 'gpt.transformer.';
  sd.set('gpt.lm_head.weight', f(`${g}wte.weight`, [c.vocabSize, n], 0.02));
  f(`${g}wpe.weight`, [c.nPositions, n], 0.01);
  for (let i = 0; i < c.nLayer; i++) {
    const h = `${g}h.${i}.`;
    f(`${h}ln_1.weight`, [n], 0.02, 1);
    f(`${h}ln_1.bias`, [n], 0.02);
    f(`${h}attn.c_attn.weight`, [n, 3 * n], 0.02);
    f(`${h}attn.c_attn.bias`, [3 * n], 0.02);
    f(`${h}attn.c_proj.weight`, [n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    f(`${h}attn.c_proj.bias`, [n], 0.02);
    f(`${h}ln_2.weight`, [n], 0.02, 1);
    f(`${h}ln_2.bias`, [n], 0.02);
    f(`${h}mlp.c_fc.weight`, [n, 4 * n], 0.02);
    f(`${h}mlp.c_fc.bias`, [4 * n], 0.02);
    f(`${h}mlp.c_proj.weight`, [4 * n, n], 0.02 / Math.sqrt(2 * c.nLayer));
    f(`${h}mlp.c_proj.bias`, [n], 0.02);
  }
  f(`${g}ln_f.weight`, [n], 0.02, 1);
  f(`${g}ln_f.bias`, [n], 0.02);
  // TransformerMapper (nn.Linear default init: U(±1/√fan_in), i.e. std 1/√(3·fan_in))
  const m = 'clap_project.';
  const lin = (key: string, out: number, inp: number, bias = true): void => {
    f(`${key}.weight`, [out, inp], 1 / Math.sqrt(3 * inp));
    if (bias) f(`${key}.bias`, [out], 1 / Math.sqrt(3 * inp));
  };
  f(`${m}prefix_const`, [P, n], 1);
  for (let i = 0; i < layers; i++) {
    const l = `${m}transformer.layers.${i}.`;
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
  lin(`${m}linear`, clip * n, dIn);
  return sd;
}
