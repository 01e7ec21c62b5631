/** Validation metrics on embeddings: retrieval recall@k both ways and zero-shot accuracy. */

function normalize(v: Float32Array): Float64Array {
  let s = 0;
  for (const x of v) s += x * x;
  const n = Math.sqrt(s) || 1;
  return Float64Array.from(v, (x) => x / n);
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** Cosine similarity [audio][text]. */
export function cosineMatrix(audio: readonly Float32Array[], text: readonly Float32Array[]): number[][] {
  const a = audio.map(normalize);
  const t = text.map(normalize);
  return a.map((x) => t.map((y) => dot(x, y)));
}

/** Rank (0 = best) of the best-ranked relevant column in `row`. */
function bestRank(row: number[], relevant: readonly number[]): number {
  let best = Infinity;
  for (const j of relevant) {
    let rank = 0;
    for (let k = 0; k < row.length; k++) if (row[k] > row[j]) rank++;
    best = Math.min(best, rank);
  }
  return best;
}

export interface RetrievalMetrics {
  /** Audio → text: a clip's query hits when any of its captions ranks within k. */
  a2t_r1: number;
  a2t_r10: number;
  /** Text → audio: a caption's query hits when its clip ranks within k. */
  t2a_r1: number;
  t2a_r10: number;
  /** Expected a2t R@10 of a random ranking. */
  a2t_r10_random: number;
  t2a_r10_random: number;
}

/**
 * `sim` [clips][captions]; `captionClip[j]` is the clip caption j belongs to. Duplicate caption texts
 * across clips count as relevant to each of those clips (pass `captionTexts`).
 */
export function retrieval(sim: number[][], captionClip: readonly number[], captionTexts?: readonly string[]): RetrievalMetrics {
  const nA = sim.length;
  const nT = captionClip.length;
  const relevantOf: number[][] = Array.from({ length: nA }, () => []);
  const clipTexts: Set<string>[] = Array.from({ length: nA }, () => new Set());
  captionClip.forEach((c, j) => { if (captionTexts) clipTexts[c].add(captionTexts[j]); });
  for (let i = 0; i < nA; i++) {
    for (let j = 0; j < nT; j++) if (captionClip[j] === i || (captionTexts && clipTexts[i].has(captionTexts[j]))) relevantOf[i].push(j);
  }
  let a1 = 0, a10 = 0, randA = 0;
  for (let i = 0; i < nA; i++) {
    const r = bestRank(sim[i], relevantOf[i]);
    if (r < 1) a1++;
    if (r < 10) a10++;
    randA += hitProbability(nT, relevantOf[i].length, 10);
  }
  let t1 = 0, t10 = 0, randT = 0;
  for (let j = 0; j < nT; j++) {
    const col = sim.map((row) => row[j]);
    const rel: number[] = [];
    for (let i = 0; i < nA; i++) if (relevantOf[i].includes(j)) rel.push(i);
    const r = bestRank(col, rel);
    if (r < 1) t1++;
    if (r < 10) t10++;
    randT += hitProbability(nA, rel.length, 10);
  }
  return { a2t_r1: a1 / nA, a2t_r10: a10 / nA, t2a_r1: t1 / nT, t2a_r10: t10 / nT, a2t_r10_random: randA / nA, t2a_r10_random: randT / nT };
}

/** P(at least one of `rel` relevant items among the first k of a random permutation of n). */
export function hitProbability(n: number, rel: number, k: number): number {
  if (k >= n) return 1;
  let miss = 1;
  for (let i = 0; i < k; i++) miss *= (n - rel - i) / (n - i);
  return 1 - Math.max(0, miss);
}

/** Top-1 accuracy: `sim` [clips][classes], `truth[i]` the class index of clip i. */
export function zeroShotAccuracy(sim: number[][], truth: readonly number[]): number {
  let ok = 0;
  sim.forEach((row, i) => {
    let best = 0;
    for (let k = 1; k < row.length; k++) if (row[k] > row[best]) best = k;
    if (best === truth[i]) ok++;
  });
  return ok / sim.length;
}
