/**
 * Random weights with the official key names and shapes: benchmarks and tests at full size without the
 * real checkpoints (which cannot be downloaded here). Each model folder has its own `random.ts` built on
 * these two helpers; values are deterministic per seed, scales follow the reference's initialisation so
 * activations look like a real model's.
 */
import type { HostTensor } from '../engine/index.js';

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

/** Adds `randomTensor`s under `prefix` to `sd`, with seeds counting up from `seed`; returns the tensor added. */
export function randomPut(sd: Map<string, HostTensor>, prefix: string, seed: number) {
  let s = seed;
  return (key: string, shape: number[], std: number, offset = 0): HostTensor => {
    const t = randomTensor(shape, std, s++, offset);
    sd.set(prefix + key, t);
    return t;
  };
}
