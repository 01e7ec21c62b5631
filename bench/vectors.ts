/**
 * Synthetic stored vectors for the index bench, with the structure of real embeddings that makes ANN
 * meaningful: a low-dimensional latent (16-d Gaussian) mapped through a fixed random 16×1024 matrix,
 * plus isotropic noise, normalised — so neighbourhoods exist and recall is not the coin toss it is on
 * i.i.d. noise. Each size's store (vectors + ANN index) is built once and cached in os.tmpdir().
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LanceStore } from '../src/store/lance.js';
import type { FileRecord } from '../src/store/store.js';

export const DIM = 1024;
const LATENT = 16;
/** Bumped when the vectors or the index parameters change (the cached stores are rebuilt). */
const CACHE_VERSION = 2;

/** xorshift32 + Box–Muller: deterministic Gaussians. */
function gaussians(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

export class VectorSource {
  private readonly g: () => number;
  private readonly proj: Float32Array;
  constructor(seed: number) {
    const p = gaussians(12345);
    this.proj = Float32Array.from({ length: LATENT * DIM }, p);
    this.g = gaussians(seed);
  }

  next(): Float32Array {
    const v = new Float32Array(DIM);
    for (let k = 0; k < LATENT; k++) {
      const z = this.g();
      const row = k * DIM;
      for (let i = 0; i < DIM; i++) v[i] += z * this.proj[row + i];
    }
    let n = 0;
    for (let i = 0; i < DIM; i++) {
      v[i] += this.g();
      n += v[i] * v[i];
    }
    n = Math.sqrt(n);
    for (let i = 0; i < DIM; i++) v[i] /= n;
    return v;
  }
}

export function benchRecord(i: number, embedding: Float32Array): FileRecord {
  return { path: `/bench/${i}.wav`, hash: '', size: 0, mtimeMs: 0, duration: 7, sampleRate: 44100, channels: 1, model: 'bench', embedding };
}

/** How a cached store was built: seconds to write the vectors and to build the ANN index, peak RSS (MB). */
export interface BuildFigures {
  n: number;
  buildS: number;
  indexS: number;
  buildPeakRssMb: number;
}

export function storeDir(n: number): string {
  return join(tmpdir(), `clap-ts-bench-vectors-v${CACHE_VERSION}-${n}`);
}

export function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

/** The cached store of `n` vectors with its ANN index (as `maintain` builds it for that size); built on first use. */
export async function benchStore(n: number, log: (m: string) => void): Promise<{ store: LanceStore; figures: BuildFigures }> {
  const dir = storeDir(n);
  const done = join(dir, 'complete');
  if (existsSync(done)) return { store: await LanceStore.open(dir, { dim: DIM }), figures: JSON.parse(readFileSync(done, 'utf8')) };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  building ${n} vectors in ${dir} (once)…`);
  const t0 = performance.now();
  const store = await LanceStore.open(dir, { dim: DIM });
  const src = new VectorSource(1);
  const chunk = 50_000;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    await store.append(Array.from({ length: m }, (_, j) => benchRecord(i + j, src.next())));
  }
  const buildS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await store.maintain({ ann: 'ivf-pq' });
  const figures: BuildFigures = { n, buildS, indexS: (performance.now() - t1) / 1000, buildPeakRssMb: peakRssMb() };
  writeFileSync(done, JSON.stringify(figures));
  return { store, figures };
}
