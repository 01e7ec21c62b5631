/**
 * Child process of the index bench, one store size per process (so peak RSS is that size's own):
 *   index-scale-child.ts N build             builds the cached store if needed; prints its BuildFigures and bytes
 *   index-scale-child.ts N query P1,P2,...   top-10 queries, exact and ANN at each nprobes (refine as tuned);
 *                                            prints latencies (median ms), recall@10 against exact, peak RSS
 */
import { annTuning } from '../src/store/lance.js';
import { benchRecord, benchStore, DIM, peakRssMb, VectorSource } from './vectors.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

const [nArg, mode, probesArg] = process.argv.slice(2);
const n = Number(nArg);
const log = (m: string): void => {
  process.stderr.write(`${m}\n`);
};
const { store, figures } = await benchStore(n, log);
try {
  if (mode === 'build') {
    process.stdout.write(`${JSON.stringify({ ...figures, bytes: await store.bytes() })}\n`);
  } else {
    const tuning = annTuning(n, DIM);
    const probes = (probesArg ?? String(tuning.nprobes)).split(',').map(Number);
    const qsrc = new VectorSource(999);
    // Exact scans read every vector: fewer queries at the large sizes.
    const nq = n >= 1_000_000 ? 10 : 20;
    const queries = Array.from({ length: nq }, () => qsrc.next());
    const search = (vector: Float32Array, nprobes?: number) =>
      store.search({ vector, top: 10, level: 'file', mode: nprobes === undefined ? 'exact' : 'ann', nprobes, refineFactor: tuning.refine });
    const exactMs: number[] = [];
    const truth: Set<string>[] = [];
    for (const q of queries) {
      const t = performance.now();
      truth.push(new Set((await search(q)).map((h) => h.path)));
      exactMs.push(performance.now() - t);
    }
    const sweep = [];
    for (const nprobes of probes) {
      await search(queries[0], nprobes); // warm-up
      const ms: number[] = [];
      let hits = 0;
      for (let i = 0; i < nq; i++) {
        const t = performance.now();
        const ann = await search(queries[i], nprobes);
        ms.push(performance.now() - t);
        hits += ann.filter((h) => truth[i].has(h.path)).length;
      }
      sweep.push({ nprobes, refine: tuning.refine, ann_ms: median(ms), recall_at_10: hits / (10 * nq) });
    }
    const queryPeak = peakRssMb();
    // A committer's batch at this size: 16 files replaced in one commit (the same vectors again, so the store stays as built).
    const again = new VectorSource(1);
    const batch = Array.from({ length: 16 }, (_, i) => benchRecord(i, again.next()));
    const commitMs: number[] = [];
    for (let k = 0; k < 5; k++) {
      const t = performance.now();
      await store.commit(batch);
      commitMs.push(performance.now() - t);
    }
    const line = { n, queries: nq, tuning, exact_ms: median(exactMs), sweep, query_peak_rss_mb: queryPeak, commit_16_ms: median(commitMs) };
    process.stdout.write(`${JSON.stringify(line)}\n`);
  }
} finally {
  await store.close();
}
