/**
 * Bench sections for the sound index (issue 6):
 * - indexing throughput: `ClapIndex.add` on a folder of 7 s clips with the full-size model (random weights);
 * - top-10 search latency over 10k / 100k / 1M stored 1024-d vectors, exact (full scan) and ANN (IVF-PQ),
 *   with the ANN's recall@10 against exact.
 *
 * The synthetic vectors have the structure of real embeddings that makes ANN meaningful: a low-dimensional
 * latent (16-d Gaussian) mapped through a fixed random 16×1024 matrix, plus isotropic noise, normalised —
 * so neighbourhoods exist and recall is not the coin toss it is on i.i.d. noise. Each size's store
 * (vectors + IVF-PQ index) is built once and cached in os.tmpdir(); later runs only query it.
 * CLAP_BENCH_INDEX_SIZES=10000,100000 limits the sweep.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { synthWav } from '../src/audio/index.js';
import { DEFAULT_NPROBES, DEFAULT_REFINE, LanceStore } from '../src/store/lance.js';
import type { FileRecord } from '../src/store/store.js';
import { ClapIndex } from '../src/tasks/clap-index.js';
import { fullSizeClap } from './model.js';
import type { Section } from './sections.js';
import { fmt } from './util.js';

const DIM = 1024;
const LATENT = 16;
const CACHE_VERSION = 1;
const QUERIES = 20;
/** ANN query settings reported (see the recall they give). */
export const BENCH_NPROBES = DEFAULT_NPROBES;
export const BENCH_REFINE = DEFAULT_REFINE;

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

class VectorSource {
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

function record(i: number, embedding: Float32Array): FileRecord {
  return { path: `/bench/${i}.wav`, hash: '', size: 0, mtimeMs: 0, duration: 7, sampleRate: 44100, channels: 1, model: 'bench', embedding };
}

/** The cached store of `n` vectors with its IVF-PQ index; builds it on first use. */
async function benchStore(n: number, log: (m: string) => void): Promise<{ store: LanceStore; buildS?: number; indexS?: number }> {
  const dir = join(tmpdir(), `clap-ts-bench-vectors-v${CACHE_VERSION}-${n}`);
  const done = join(dir, 'complete');
  if (existsSync(done)) return { store: await LanceStore.open(dir, { dim: DIM }) };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  building ${n} vectors in ${dir} (once)…`);
  const t0 = performance.now();
  const store = await LanceStore.open(dir, { dim: DIM });
  const src = new VectorSource(1);
  const chunk = 50_000;
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    await store.append(Array.from({ length: m }, (_, j) => record(i + j, src.next())));
  }
  const buildS = (performance.now() - t0) / 1000;
  const t1 = performance.now();
  await store.maintain({ ann: 'ivf-pq' });
  const indexS = (performance.now() - t1) / 1000;
  writeFileSync(done, JSON.stringify({ n, buildS, indexS }));
  return { store, buildS, indexS };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const searchSection: Section = {
  name: 'index: top-10 search latency over stored 1024-d vectors, exact and ANN (IVF-PQ)',
  async run(result, rows) {
    const log = (m: string): void => {
      if (!process.argv.includes('--json')) process.stderr.write(`${m}\n`);
    };
    const sizes = (process.env.CLAP_BENCH_INDEX_SIZES ?? '10000,100000,1000000')
      .split(',')
      .map(Number)
      .filter((x) => x > 0);
    const out: Record<string, unknown> = {};
    for (const n of sizes) {
      const { store, buildS, indexS } = await benchStore(n, log);
      try {
        const qsrc = new VectorSource(999);
        // Exact scans are slow at 1M: fewer of them there (recall is then over those queries).
        const nq = n >= 1_000_000 ? 5 : QUERIES;
        const queries = Array.from({ length: nq }, () => qsrc.next());
        const exactMs: number[] = [];
        const annMs: number[] = [];
        let hits = 0;
        await store.search({ vector: queries[0], top: 10, level: 'file', mode: 'ann', nprobes: BENCH_NPROBES, refineFactor: BENCH_REFINE }); // warm-up
        for (const q of queries) {
          let t = performance.now();
          const exact = await store.search({ vector: q, top: 10, level: 'file', mode: 'exact' });
          exactMs.push(performance.now() - t);
          t = performance.now();
          const ann = await store.search({
            vector: q,
            top: 10,
            level: 'file',
            mode: 'ann',
            nprobes: BENCH_NPROBES,
            refineFactor: BENCH_REFINE,
          });
          annMs.push(performance.now() - t);
          const truth = new Set(exact.map((h) => h.path));
          hits += ann.filter((h) => truth.has(h.path)).length;
        }
        const recall = hits / (10 * nq);
        const key = n >= 1_000_000 ? `${n / 1_000_000}m` : `${n / 1000}k`;
        out[key] = {
          exact_ms: median(exactMs),
          ann_ms: median(annMs),
          recall_at_10: recall,
          queries: nq,
          ...(buildS !== undefined ? { build_s: buildS, ann_build_s: indexS } : {}),
        };
        rows.push({
          what: `search top-10, ${key} vectors (ms)`,
          value:
            `exact ${fmt(median(exactMs))}, IVF-PQ ${fmt(median(annMs))} (nprobes ${BENCH_NPROBES}, refine ${BENCH_REFINE}), recall@10 ${recall.toFixed(3)}` +
            `${buildS !== undefined ? `; built in ${fmt(buildS)} s + index ${fmt(indexS!)} s (cached for next runs)` : ''}`,
        });
      } finally {
        await store.close();
      }
    }
    result.index_search = { dim: DIM, nprobes: BENCH_NPROBES, refine: BENCH_REFINE, sizes: out };
  },
};

const indexingSection: Section = {
  name: 'index: indexing throughput, folder of 7 s clips, full-size model',
  async run(result, rows) {
    const clap = await fullSizeClap();
    const root = mkdtempSync(join(tmpdir(), 'clap-bench-index-'));
    try {
      const n = 24;
      const lib = join(root, 'lib');
      mkdirSync(lib);
      const kinds: [number, number][] = [
        [44100, 1],
        [48000, 2],
        [22050, 1],
        [16000, 1],
      ];
      for (let i = 0; i < n; i++) {
        const [sr, ch] = kinds[i % kinds.length];
        const wav = synthWav(sr, 7, ch);
        wav[wav.length - 1] ^= i; // distinct bytes per file
        writeFileSync(join(lib, `clip${i}.wav`), wav);
      }
      // Warm-up outside the timing (encoder compile, first runs, JIT): a small index of two clips, both ways.
      mkdirSync(join(root, 'warm'));
      for (let i = 0; i < 2; i++) writeFileSync(join(root, 'warm', `w${i}.wav`), synthWav(44100, 7));
      for (const decodeThreads of [0, 1]) {
        const warm = await ClapIndex.open(join(root, `db-warm${decodeThreads}`), { clap, create: true });
        await warm.add([join(root, 'warm')], { decodeThreads });
        await warm.close();
      }
      // Decoding on the main thread first, then in worker threads overlapped with the encoder.
      const inline = await ClapIndex.open(join(root, 'db-inline'), { clap, create: true });
      const r0 = await inline.add([lib], { decodeThreads: 0 });
      await inline.close();
      const index = await ClapIndex.open(join(root, 'db'), { clap, create: true });
      const r = await index.add([lib]);
      await index.close();
      const fps = r.added / r.seconds;
      const fps0 = r0.added / r0.seconds;
      result.index_files_per_s = fps;
      result.index_files_per_s_decode_inline = fps0;
      rows.push({
        what: `indexing ${n} × 7 s clips (files/s)`,
        value: `${fmt(fps)} with decode workers, ${fmt(fps0)} decoding on the main thread (hash, decode, encode, store)`,
      });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};

export const indexSections: Section[] = [indexingSection, searchSection];
