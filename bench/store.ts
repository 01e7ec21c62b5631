/**
 * Bench sections for the sound index (issues 6, 16):
 * - indexing throughput: `ClapIndex.add` on a folder of 7 s clips with the full-size model (random weights);
 * - queue overhead: the same folder indexed through Redis by one `clap worker` vs locally, same run;
 * - top-10 search over 10k / 100k / 1M / 5M stored 1024-d vectors (bench/vectors.ts), exact and ANN (IVF-PQ
 *   as `maintain` tunes it for the size), with recall@10 against exact, build times, disk size and peak RSS;
 *   each size runs in its own process (bench/index-scale-child.ts). The stores are built once and cached in
 *   CLAP_BENCH_STORE_DIR or os.tmpdir() (5M: ~21 GB); CLAP_BENCH_INDEX_SIZES=10000,100000 limits the sweep. A size
 *   whose store is not cached and would not fit on that disk (twice its final size, for compaction) is skipped, saying so.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { synthWav } from '../src/audio/index.js';
import type { Clap } from '../src/tasks/clap.js';
import { ClapIndex, type IndexReport } from '../src/tasks/clap-index.js';
import { runQueueWorker } from '../src/tasks/queue/worker.js';
import { fullSizeClap } from './model.js';
import type { Section } from './sections.js';
import { fmt, timeCpu } from './util.js';
import { type BuildFigures, DIM, storeSpaceShortfall } from './vectors.js';

const CHILD = fileURLToPath(new URL('./index-scale-child.ts', import.meta.url));

function child<T>(args: string[]): T {
  const out = execFileSync(process.execPath, ['--import', 'tsx', CHILD, ...args], {
    encoding: 'utf8',
    maxBuffer: 16 << 20,
    stdio: ['ignore', 'pipe', process.argv.includes('--json') ? 'ignore' : 'inherit'],
  });
  return JSON.parse(out.trim().split('\n').at(-1)!) as T;
}

/** What `index-scale-child.ts N query` prints. */
interface QueryFigures {
  queries: number;
  tuning: { partitions: number; subVectors: number; nprobes: number };
  exact_queries: number;
  exact_ms: number;
  exact_cpu_ms: number;
  exact_recall_at_10: number;
  exact_load: number;
  sweep: { nprobes: number; refine: number; ann_ms: number; ann_cpu_ms: number; recall_at_10: number }[];
  query_peak_rss_mb: number;
  exact_peak_rss_mb: number;
  append_16: { ms: number; cpu_ms: number };
  commit_16_ms: number;
  commit_16: { ms: number; cpu_ms: number };
}

const searchSection: Section = {
  name: 'index: top-10 search latency over stored 1024-d vectors, exact and ANN (IVF-PQ)',
  async run(result, rows) {
    const sizes = (process.env.CLAP_BENCH_INDEX_SIZES ?? '10000,100000,1000000,5000000')
      .split(',')
      .map(Number)
      .filter((x) => x > 0);
    const out: Record<string, unknown> = {};
    for (const n of sizes) {
      const key = n >= 1_000_000 ? `${n / 1_000_000}m` : `${n / 1000}k`;
      const shortfall = storeSpaceShortfall(n);
      if (shortfall) {
        out[key] = { skipped: shortfall };
        rows.push({ what: `search top-10, ${key} vectors`, value: `skipped: ${shortfall}` });
        continue;
      }
      const build = child<BuildFigures & { bytes: number }>([String(n), 'build']);
      const q = child<QueryFigures>([String(n), 'query']);
      const [ann] = q.sweep;
      out[key] = {
        exact_ms: q.exact_ms,
        exact_cpu_ms: q.exact_cpu_ms,
        ann_ms: ann.ann_ms,
        ann_cpu_ms: ann.ann_cpu_ms,
        recall_at_10: ann.recall_at_10,
        queries: q.queries,
        exact_queries: q.exact_queries,
        exact_recall_at_10: q.exact_recall_at_10,
        ...q.tuning,
        refine: ann.refine,
        write_s: build.write.s,
        write_cpu_s: build.write.cpuS,
        compact_s: build.compact.s,
        ann_build_s: build.index.s,
        ann_build_cpu_s: build.index.cpuS,
        build_load: build.index.load,
        bytes: build.bytes,
        live_bytes: build.liveBytes,
        build_peak_rss_mb: build.buildPeakRssMb,
        query_peak_rss_mb: q.query_peak_rss_mb,
        exact_peak_rss_mb: q.exact_peak_rss_mb,
        append_16_ms: q.append_16.ms,
        commit_16_ms: q.commit_16_ms,
        commit_16_cpu_ms: q.commit_16.cpu_ms,
        query_load: q.exact_load,
      };
      rows.push({
        what: `search top-10, ${key} vectors (ms)`,
        value:
          `exact ${fmt(q.exact_ms)} (${fmt(q.exact_cpu_ms)} CPU), IVF-PQ ${fmt(ann.ann_ms)} (${fmt(ann.ann_cpu_ms)} CPU; ` +
          `${q.tuning.partitions} partitions, nprobes ${ann.nprobes}, refine ${ann.refine}), recall@10 ${ann.recall_at_10.toFixed(3)}; ` +
          `load ${fmt(q.exact_load)}`,
      });
      rows.push({
        what: `index of ${key} vectors: build, disk, RSS, commits`,
        value:
          `written in ${fmt(build.write.s)} s (${fmt(build.write.cpuS)} CPU-s), compacted ${fmt(build.compact.s)} s, ` +
          `ANN ${fmt(build.index.s)} s (${fmt(build.index.cpuS)} CPU-s, load ${fmt(build.index.load)}); ` +
          `${fmt(build.liveBytes / 2 ** 30)} GiB; peak RSS ${fmt(build.buildPeakRssMb)} MB building, ${fmt(q.query_peak_rss_mb)} MB searching ` +
          `(${fmt(q.exact_peak_rss_mb)} MB after exact scans); ` +
          `16-file commit: append ${fmt(q.append_16.ms)} ms, replace ${fmt(q.commit_16_ms)} ms (${fmt(q.commit_16.cpu_ms)} CPU)`,
      });
    }
    result.index_search = { dim: DIM, sizes: out };
  },
};

const indexingSection: Section = {
  name: 'index: indexing throughput, folder of 7 s clips, full-size model; the same through the queue (one worker)',
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
      // The file→embedding pipeline on the same files right before (same moment, same load): what indexing
      // adds on top of it (hashing, walking, commits) is the gap between the two.
      const files = readdirSync(lib).map((f) => join(lib, f));
      await clap.embedAudio(files.slice(0, 2)); // its workers started
      const pipe = await timeCpu(() => clap.embedAudio(files), 1, 0);
      const local = await timedAdd(join(root, 'db'), clap, lib);
      const fps = local.report.added / local.report.seconds;
      const fps0 = r0.added / r0.seconds;
      result.index_files_per_s = fps;
      result.index_files_per_s_decode_inline = fps0;
      const ratio = pipe.wall / local.report.seconds;
      const ratioCpu = pipe.cpu / local.cpuS;
      result.index_vs_pipeline = ratio;
      result.index_vs_pipeline_cpu = ratioCpu;
      rows.push({
        what: `indexing ${n} × 7 s clips (files/s)`,
        value: `${fmt(fps)} with decode workers, ${fmt(fps0)} decoding on the main thread (hash, decode, encode, store)`,
      });
      rows.push({
        what: 'indexing ÷ file→embedding pipeline (same files)',
        value:
          `${fmt(100 * ratio)}% of ${fmt(n / pipe.wall)} files/s; ` +
          `per CPU-second ${fmt(100 * ratioCpu)}% (${fmt(local.cpuS / n)} vs ${fmt(pipe.cpu / n)} CPU-s per file)`,
      });
      await queueOverhead(result, rows, { root, clap, lib, n, local });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  },
};

/** Rounds of local vs queued indexing of the same files, alternating (the load drifts; the median round is reported). */
const QUEUE_ROUNDS = 3;

/**
 * Through Redis: one worker (in this process, same model, same decode threads) and the committer, against local
 * indexing of the same files in the same round. CPU counts this process (committer and worker) and redis-server.
 */
async function queueOverhead(
  result: Record<string, unknown>,
  rows: { what: string; value: string }[],
  { root, clap, lib, n, local }: { root: string; clap: Clap; lib: string; n: number; local: { report: IndexReport; cpuS: number } },
): Promise<void> {
  const { startRedis } = await import('../test/helpers/redis.js');
  const redis = await startRedis();
  const stop = new AbortController();
  const worker = runQueueWorker({ url: redis.url, clap, signal: stop.signal });
  try {
    const rounds: { wallMs: number; cpuMs: number; redisCpuMs: number; filesPerS: number }[] = [];
    for (let r = 0; r < QUEUE_ROUNDS; r++) {
      const here = r === 0 ? local : await timedAdd(join(root, `db-local${r}`), clap, lib);
      const redisCpu = redis.cpuSeconds();
      const queued = await timedAdd(join(root, `db-queue${r}`), clap, lib, redis.url);
      const redisCpuMs = ((redis.cpuSeconds() - redisCpu) / n) * 1000;
      rounds.push({
        wallMs: ((queued.report.seconds - here.report.seconds) / n) * 1000,
        cpuMs: ((queued.cpuS - here.cpuS) / n) * 1000 + redisCpuMs,
        redisCpuMs,
        filesPerS: queued.report.added / queued.report.seconds,
      });
    }
    const mid = <K extends keyof (typeof rounds)[0]>(k: K) => rounds.map((x) => x[k]).sort((x, y) => x - y)[rounds.length >> 1];
    result.queue_files_per_s = mid('filesPerS');
    result.queue_overhead_ms_per_file = mid('wallMs');
    result.queue_overhead_cpu_ms_per_file = mid('cpuMs');
    result.queue_overhead_rounds = rounds;
    rows.push({
      what: `indexing through the queue, 1 worker (files/s)`,
      value:
        `${fmt(mid('filesPerS'))}: ${fmt(mid('wallMs'))} ms wall, ${fmt(mid('cpuMs'))} ms CPU (Redis ${fmt(mid('redisCpuMs'))}) ` +
        `more per file than local (median of ${QUEUE_ROUNDS} rounds: ${rounds.map((x) => fmt(x.cpuMs)).join(', ')} ms CPU)`,
    });
  } finally {
    stop.abort();
    await worker;
    await redis.stop();
  }
}

/** A fresh index of `lib`, locally or through the queue at `url`; its report and this process's CPU seconds. */
async function timedAdd(db: string, clap: Clap, lib: string, url?: string): Promise<{ report: IndexReport; cpuS: number }> {
  const index = await ClapIndex.open(db, { clap, create: true });
  try {
    const cpu = process.cpuUsage();
    const report = await index.add([lib], url ? { queue: { url } } : {});
    const used = process.cpuUsage(cpu);
    return { report, cpuS: (used.user + used.system) / 1e6 };
  } finally {
    await index.close();
  }
}

export const indexSections: Section[] = [indexingSection, searchSection];
