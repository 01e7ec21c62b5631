/**
 * Synthetic stored vectors for the index bench, with the structure of real embeddings that makes ANN
 * meaningful: a low-dimensional latent (16-d Gaussian) mapped through a fixed random 16×1024 matrix,
 * plus isotropic noise, normalised — so neighbourhoods exist and recall is not the coin toss it is on
 * i.i.d. noise. Each size's store (vectors + ANN index) is built once and cached in CLAP_BENCH_STORE_DIR
 * (default os.tmpdir()). The vectors are written straight into Arrow columns (one Float32Array per batch of
 * 50 000 rows, the table's own schema) so millions are written at the speed of LanceDB, not of row objects.
 */
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import * as lancedb from '@lancedb/lancedb';
import type { Field as FieldT, Table as TableT, Utf8 as Utf8T } from 'apache-arrow';
import { LanceStore } from '../src/store/lance.js';
import type { FileRecord } from '../src/store/store.js';
import { cpuSeconds } from './util.js';

export const DIM = 1024;
const LATENT = 16;
/** Bumped when the vectors or the index parameters change (the cached stores are rebuilt). */
const CACHE_VERSION = 4;
/** Rows per written batch (a Lance fragment each until compaction). */
const CHUNK = 50_000;

/** xorshift32 + Box–Muller (both outputs of each pair): deterministic Gaussians. */
function gaussians(seed: number): () => number {
  let s = seed >>> 0 || 1;
  let spare = Number.NaN;
  const u = (): number => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return ((s >>> 0) + 0.5) / 4294967296;
  };
  return () => {
    if (!Number.isNaN(spare)) {
      const z = spare;
      spare = Number.NaN;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(u()));
    const a = 2 * Math.PI * u();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
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
    return this.fill(new Float32Array(DIM));
  }

  /** The next vector, written into `v` (DIM zeros). */
  fill(v: Float32Array): Float32Array {
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

/** How long a timed part took: wall and CPU seconds (this process, all threads), mean 1-min load average meanwhile. */
export interface Timed {
  s: number;
  cpuS: number;
  load: number;
}

/** Runs `fn`, sampling the load average every 10 s. */
export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; timed: Timed }> {
  const loads = [loadavg()[0]];
  const tick = setInterval(() => loads.push(loadavg()[0]), 10_000);
  const c0 = cpuSeconds();
  const t0 = performance.now();
  try {
    const value = await fn();
    loads.push(loadavg()[0]);
    const load = loads.reduce((a, b) => a + b, 0) / loads.length;
    return { value, timed: { s: (performance.now() - t0) / 1000, cpuS: cpuSeconds() - c0, load } };
  } finally {
    clearInterval(tick);
  }
}

/**
 * How a cached store was built: writing the vectors, compacting them (what maintenance does before indexing),
 * training and writing the ANN index; peak RSS (MB); bytes on disk with superseded versions removed.
 */
export interface BuildFigures {
  n: number;
  write: Timed;
  compact: Timed;
  index: Timed;
  buildPeakRssMb: number;
  liveBytes: number;
}

export function storeDir(n: number): string {
  return join(process.env.CLAP_BENCH_STORE_DIR ?? tmpdir(), `clap-ts-bench-vectors-v${CACHE_VERSION}-${n}`);
}

/**
 * Why the store of `n` vectors cannot be built here, or null: not cached, and less free disk than a build takes —
 * 4.25 KB per vector once built (measured at 5M: 19.8 GiB), about twice that until compaction's superseded versions
 * are removed.
 */
export function storeSpaceShortfall(n: number): string | null {
  const dir = storeDir(n);
  if (existsSync(join(dir, 'complete'))) return null;
  const { bavail, bsize } = statfsSync(dirname(dir));
  const [free, need] = [bavail * bsize, 2 * 4250 * n];
  if (free >= need) return null;
  const gb = (b: number): string => (b / 1e9).toFixed(1);
  return `needs ≈ ${gb(need)} GB free in ${dirname(dir)}, ${gb(free)} GB there (CLAP_BENCH_STORE_DIR=DIR puts it elsewhere)`;
}

export function peakRssMb(): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : process.resourceUsage().maxRSS / 1024;
}

/** A UTF-8 column of `strings`. */
function utf8Data(type: Utf8T, strings: string[]) {
  const bytes = Buffer.from(strings.join(''));
  const offsets = new Int32Array(strings.length + 1);
  for (let i = 0; i < strings.length; i++) offsets[i + 1] = offsets[i] + Buffer.byteLength(strings[i]);
  return makeData({ type, length: strings.length, nullCount: 0, valueOffsets: offsets, data: bytes });
}

// LanceDB reads Arrow tables with the CommonJS build of apache-arrow: tables made by the ES module build (another
// copy of the classes) pass its checks but are written as empty batches, so the columns are made with LanceDB's copy.
const { Field, FixedSizeList, Float32, Float64, makeData, RecordBatch, Schema, Struct, Table, Utf8 } = createRequire(import.meta.url)(
  'apache-arrow',
) as typeof import('apache-arrow');

/** LanceStore's entries table as makeArrowTable infers it from LanceStore's rows (numbers as Float64, all nullable). */
const SCHEMA = new Schema(
  ['id', 'win', 'start', 'end', 'vector', 'path', 'hash', 'size', 'mtime', 'duration', 'sample_rate', 'channels', 'model'].map((name) => {
    if (name === 'vector') return new Field(name, new FixedSizeList(DIM, new Field('item', new Float32(), true)), true);
    return new Field(name, ['id', 'path', 'hash', 'model'].includes(name) ? new Utf8() : new Float64(), true);
  }),
);

/** Rows `start … start+m-1` (benchRecord's values) as an Arrow table, the vectors `m × DIM` in `vectors`. */
function arrowRows(start: number, m: number, vectors: Float32Array): TableT {
  const schema = SCHEMA;
  const rec = benchRecord(0, vectors);
  const text: Record<string, (i: number) => string> = { id: (i) => `/bench/${i}.wav`, path: (i) => `/bench/${i}.wav` };
  const num: Record<string, number> = {
    win: -1,
    start: 0,
    end: rec.duration,
    size: rec.size,
    mtime: rec.mtimeMs,
    duration: rec.duration,
    sample_rate: rec.sampleRate,
    channels: rec.channels,
  };
  const column = (f: FieldT) => {
    if (f.name === 'vector') {
      const child = makeData({ type: f.type.children[0].type, length: m * DIM, nullCount: 0, data: vectors });
      return makeData({ type: f.type, length: m, nullCount: 0, child });
    }
    if (f.name in num) return makeData({ type: f.type, length: m, nullCount: 0, data: new Float64Array(m).fill(num[f.name]) });
    const value = text[f.name] ?? (() => String(rec[f.name as 'hash' | 'model']));
    return utf8Data(
      f.type as Utf8T,
      Array.from({ length: m }, (_, i) => value(start + i)),
    );
  };
  const data = makeData({ type: new Struct(schema.fields), length: m, nullCount: 0, children: schema.fields.map(column) });
  return new Table([new RecordBatch(schema, data)]);
}

/** The bench's queries: the first `count` vectors of their own source (same distribution as the stored ones). */
export function benchQueries(count: number): Float32Array[] {
  const src = new VectorSource(999);
  return Array.from({ length: count }, () => src.next());
}

/** Queries whose exact top-10 the build records, as ground truth for recall (an exact LanceDB scan of millions costs minutes). */
const TRUTH_QUERIES = 20;

/** The exact top-10 of each query among the vectors seen (dot product: all vectors are unit length). */
class ExactTopTen {
  private readonly best: { score: number; i: number }[][];
  constructor(private readonly queries: Float32Array[]) {
    this.best = queries.map(() => []);
  }

  add(start: number, m: number, vectors: Float32Array): void {
    this.queries.forEach((q, k) => {
      const best = this.best[k];
      for (let j = 0; j < m; j++) {
        let dot = 0;
        for (let d = 0, o = j * DIM; d < DIM; d++) dot += q[d] * vectors[o + d];
        if (best.length === 10 && dot <= best[9].score) continue;
        best.push({ score: dot, i: start + j });
        best.sort((x, y) => y.score - x.score);
        if (best.length > 10) best.pop();
      }
    });
  }

  paths(): string[][] {
    return this.best.map((b) => b.map((h) => benchRecord(h.i, new Float32Array(0)).path));
  }
}

/**
 * Writes `n` vectors into a new store at `dir`, the first batch through LanceStore (which creates the table), the rest
 * as Arrow through a connection of its own (one writer at a time: each handle sees its own commits). Returns the exact
 * top-10 paths of the first TRUTH_QUERIES bench queries.
 */
async function writeVectors(dir: string, n: number, log: (m: string) => void): Promise<string[][]> {
  const src = new VectorSource(1);
  const truth = new ExactTopTen(benchQueries(TRUTH_QUERIES));
  const chunk = (start: number): Float32Array => {
    const m = Math.min(CHUNK, n - start);
    const vectors = new Float32Array(m * DIM);
    for (let j = 0; j < m; j++) src.fill(vectors.subarray(j * DIM, (j + 1) * DIM));
    truth.add(start, m, vectors);
    return vectors;
  };
  const first = chunk(0);
  const store = await LanceStore.open(dir, { dim: DIM });
  await store.append(Array.from({ length: first.length / DIM }, (_, i) => benchRecord(i, first.subarray(i * DIM, (i + 1) * DIM))));
  await store.close();
  const db = await lancedb.connect(dir);
  const table = await db.openTable('entries');
  for (let i = CHUNK; i < n; i += CHUNK) {
    const vectors = chunk(i);
    await table.add(arrowRows(i, vectors.length / DIM, vectors) as unknown as lancedb.Data);
    if ((i / CHUNK) % 10 === 0) log(`  ${i + vectors.length / DIM} vectors written`);
  }
  table.close();
  db.close();
  return truth.paths();
}

/** The cached store of `n` vectors with its ANN index (as `maintain` builds it for that size); built on first use. */
export async function benchStore(
  n: number,
  log: (m: string) => void,
): Promise<{ store: LanceStore; figures: BuildFigures; truth: string[][] }> {
  const dir = storeDir(n);
  const done = join(dir, 'complete');
  const truthFile = join(dir, 'truth.json');
  if (existsSync(done)) {
    const [figures, truth] = [done, truthFile].map((f) => JSON.parse(readFileSync(f, 'utf8')));
    return { store: await LanceStore.open(dir, { dim: DIM }), figures, truth };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  log(`  building ${n} vectors in ${dir} (once)…`);
  const { value: truth, timed: write } = await timed(() => writeVectors(dir, n, log));
  writeFileSync(truthFile, JSON.stringify(truth));
  const store = await LanceStore.open(dir, { dim: DIM });
  log(`  written: ${JSON.stringify(write)}; compacting…`);
  const compact = (await timed(() => store.maintain({ ann: 'none' }))).timed;
  log(`  compacted: ${JSON.stringify(compact)}; building the ANN index…`);
  const index = (await timed(() => store.maintain({ ann: 'ivf-pq', compact: false }))).timed;
  log(`  indexed: ${JSON.stringify(index)}`);
  const buildPeakRssMb = peakRssMb();
  // The versions the compaction superseded, removed (as the next maintenance would): what the store holds for good.
  await store.maintain({ ann: 'none' });
  const figures: BuildFigures = { n, write, compact, index, buildPeakRssMb, liveBytes: await store.bytes() };
  writeFileSync(done, JSON.stringify(figures));
  return { store, figures, truth };
}
