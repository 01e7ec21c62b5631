/**
 * Child process of the index bench, one store size per process (so peak RSS is that size's own):
 *   index-scale-child.ts N build             builds the cached store if needed; prints its BuildFigures and bytes
 *   index-scale-child.ts N query P1,P2,...   top-10 queries, exact and ANN at each nprobes (the default refine);
 *                                            prints latencies (median ms), CPU per query, recall@10 against the
 *                                            exact top-10 computed while building, peak RSS (ANN search alone;
 *                                            then with the exact scans), a 16-file commit appending and replacing,
 *                                            the load average during each part
 */
import { annTuning, DEFAULT_REFINE } from '../src/store/lance.js';
import { benchQueries, benchRecord, benchStore, DIM, peakRssMb, timed, VectorSource } from './vectors.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const [nArg, mode, probesArg] = process.argv.slice(2);
const n = Number(nArg);
const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
const { store, figures, truth } = await benchStore(n, log);
try {
  if (mode === 'build') {
    process.stdout.write(`${JSON.stringify({ ...figures, bytes: await store.bytes() })}\n`);
  } else {
    const tuning = annTuning(n, DIM);
    const probes = (probesArg ?? String(tuning.nprobes)).split(',').map(Number);
    // Recall against the exact top-10 the build computed for every query; LanceDB's exact scan (which reads every
    // vector) is timed last, on a few of them, and checked against it.
    const nq = truth.length;
    const queries = benchQueries(nq);
    const search = (vector: Float32Array, nprobes?: number) =>
      store.search({
        vector,
        top: 10,
        level: 'file',
        mode: nprobes === undefined ? 'exact' : 'ann',
        nprobes,
        refineFactor: DEFAULT_REFINE,
      });
    const sweep = [];
    for (const nprobes of probes) {
      await search(queries[0], nprobes); // warm-up
      const ms: number[] = [];
      let hits = 0;
      const ann = await timed(async () => {
        for (let i = 0; i < nq; i++) {
          const t = performance.now();
          const found = await search(queries[i], nprobes);
          ms.push(performance.now() - t);
          hits += found.filter((h) => truth[i].includes(h.path)).length;
        }
      });
      const point = { nprobes, refine: DEFAULT_REFINE, ann_ms: median(ms), ann_cpu_ms: (1000 * ann.timed.cpuS) / nq, load: ann.timed.load };
      sweep.push({ ...point, recall_at_10: hits / (10 * nq) });
      log(`  nprobes ${nprobes}: ${JSON.stringify(sweep.at(-1))}`);
    }
    // Peak RSS of ANN search alone, before the commits and the exact scans (which read every vector) raise it.
    const queryPeak = peakRssMb();
    const commits = await commitCosts();
    const exactMs: number[] = [];
    let exactHits = 0;
    const nExact = n >= 1_000_000 ? 3 : 5;
    const exact = await timed(async () => {
      for (let i = 0; i < nExact; i++) {
        const t = performance.now();
        const found = await search(queries[i]);
        exactMs.push(performance.now() - t);
        exactHits += found.filter((h) => truth[i].includes(h.path)).length;
        log(`  exact query ${i + 1}/${nExact}: ${Math.round(exactMs.at(-1)!)} ms`);
      }
    });
    const line = {
      n,
      queries: nq,
      tuning,
      exact_queries: nExact,
      exact_ms: median(exactMs),
      exact_cpu_ms: (1000 * exact.timed.cpuS) / nExact,
      exact_recall_at_10: exactHits / (10 * nExact),
      exact_load: exact.timed.load,
      sweep,
      query_peak_rss_mb: queryPeak,
      exact_peak_rss_mb: peakRssMb(),
      ...commits,
    };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} finally {
  await store.close();
}

/**
 * A committer's batch at this size, median of 5: 16 new files appended (removed again afterwards), and 16 files
 * replaced in one commit (the same vectors again, so the store stays as built). Wall and CPU ms, load average.
 */
async function commitCosts() {
  const again = new VectorSource(1);
  const batch = Array.from({ length: 16 }, (_, i) => benchRecord(i, again.next()));
  const cost = async (fn: (k: number) => Promise<void>) => {
    const ms: number[] = [];
    const run = await timed(async () => {
      for (let k = 0; k < 5; k++) {
        const t = performance.now();
        await fn(k);
        ms.push(performance.now() - t);
      }
    });
    return { ms: median(ms), cpu_ms: (1000 * run.timed.cpuS) / 5, load: run.timed.load };
  };
  const fresh = (k: number) => batch.map((r, i) => ({ ...r, path: `/bench/new-${k}-${i}.wav` }));
  const append = await cost((k) => store.append(fresh(k)));
  await store.commit(
    [],
    [0, 1, 2, 3, 4].flatMap((k) => fresh(k).map((r) => r.path)),
  );
  log(`  append: ${JSON.stringify(append)}`);
  const replace = await cost(() => store.commit(batch));
  log(`  replace: ${JSON.stringify(replace)}`);
  return { commit_16_ms: replace.ms, commit_16: replace, append_16: append };
}
