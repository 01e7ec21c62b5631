/**
 * Evaluation metrics of the CLAP paper's benchmark (arXiv 2309.05767, Table 2), each written to match
 * the reference definition it names:
 *
 * - accuracy: top-1 over a single-label task;
 * - average precision / mAP: scikit-learn's `average_precision_score` (step-wise, no interpolation;
 *   tied scores form one threshold; a class with no positive counts as 0, as sklearn returns);
 * - F1: DCASE2017 task 4 subtask A (audio tagging), instance-based: TP/FP/FN summed over every
 *   (clip, class) pair, so F1 is the harmonic mean of the overall precision and recall;
 * - retrieval: R@K and mAP@10 with several relevant items per query (several captions per clip);
 *   each query is ranked against every candidate by score (ties keep the candidates' order).
 */

/** Index of the largest value (the first one on ties). */
export function argmax(row: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
  return best;
}

/** Fraction of rows whose argmax is the true class. */
export function accuracy(scores: readonly ArrayLike<number>[], truth: readonly number[]): number {
  checkRows(scores, truth.length);
  if (truth.length === 0) return NaN;
  let hit = 0;
  scores.forEach((row, i) => {
    if (argmax(row) === truth[i]) hit++;
  });
  return hit / truth.length;
}

/** counts[true][predicted] from score rows (argmax) and true class indices. */
export function confusionMatrix(scores: readonly ArrayLike<number>[], truth: readonly number[], numClasses: number): number[][] {
  checkRows(scores, truth.length);
  const m = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  scores.forEach((row, i) => {
    m[truth[i]][argmax(row)]++;
  });
  return m;
}

/**
 * Average precision of one binary task, exactly as sklearn.metrics.average_precision_score:
 * AP = Σₙ (Rₙ − Rₙ₋₁) Pₙ over the distinct score thresholds in decreasing order (all items tied at a
 * threshold enter together). 0 when there is no positive (sklearn warns and returns 0 too).
 */
export function averagePrecision(truth: ArrayLike<number | boolean>, scores: ArrayLike<number>): number {
  const n = scores.length;
  if (truth.length !== n) throw new RangeError(`averagePrecision: ${truth.length} labels for ${n} scores`);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b] - scores[a]);
  let positives = 0;
  for (let i = 0; i < n; i++) if (truth[i]) positives++;
  if (positives === 0) return 0;
  let tp = 0;
  let fp = 0;
  let prevRecall = 0;
  let ap = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k];
    if (truth[i]) tp++;
    else fp++;
    // a threshold ends where the next score differs (or at the end)
    if (k + 1 < n && scores[order[k + 1]] === scores[i]) continue;
    const recall = tp / positives;
    ap += (recall - prevRecall) * (tp / (tp + fp));
    prevRecall = recall;
    if (tp === positives) break; // sklearn stops at full recall
  }
  return ap;
}

/**
 * Macro mAP over classes (sklearn `average_precision_score(Y, S, average='macro')`): `truth[i][c]` is
 * 1 when clip i has class c, `scores[i][c]` its score. Also returns the per-class APs.
 */
export function meanAveragePrecision(
  truth: readonly ArrayLike<number | boolean>[],
  scores: readonly ArrayLike<number>[],
): { mAP: number; perClass: number[] } {
  checkRows(scores, truth.length);
  if (truth.length === 0) return { mAP: NaN, perClass: [] };
  const k = truth[0].length;
  const perClass: number[] = [];
  const t = new Array<number>(truth.length);
  const s = new Array<number>(truth.length);
  for (let c = 0; c < k; c++) {
    for (let i = 0; i < truth.length; i++) {
      t[i] = truth[i][c] ? 1 : 0;
      s[i] = scores[i][c];
    }
    perClass.push(averagePrecision(t, s));
  }
  return { mAP: perClass.reduce((a, b) => a + b, 0) / k, perClass };
}

/** One-hot rows [n][numClasses] from class indices (multi-class) or index lists (multi-label). */
export function oneHot(labels: readonly (number | readonly number[])[], numClasses: number): Uint8Array[] {
  return labels.map((l) => {
    const row = new Uint8Array(numClasses);
    for (const c of typeof l === 'number' ? [l] : l) row[c] = 1;
    return row;
  });
}

/** Binary decisions: score > threshold (sed_eval / DCASE baseline convention: strictly greater). */
export function thresholdDecisions(scores: readonly ArrayLike<number>[], threshold = 0.5): Uint8Array[] {
  return scores.map((row) => Uint8Array.from(Array.from(row, (v) => (v > threshold ? 1 : 0))));
}

export interface F1Result {
  /** Instance-based (micro) F1: the DCASE2017 task 4 subtask A ranking metric. */
  f1: number;
  precision: number;
  recall: number;
  /** Class-wise F1 (0 where a class has neither positives nor predictions), and their mean. */
  perClass: number[];
  macroF1: number;
}

/**
 * F1 as DCASE2017 task 4 subtask A (audio tagging) scores it: decisions and truth are 0/1 matrices
 * [clips][classes]; TP, FP and FN are counted over every (clip, class) pair, P = TP/(TP+FP),
 * R = TP/(TP+FN), F1 = 2PR/(P+R) (0 when undefined).
 */
export function f1Dcase2017(truth: readonly ArrayLike<number | boolean>[], decisions: readonly ArrayLike<number | boolean>[]): F1Result {
  checkRows(decisions, truth.length);
  const k = truth[0]?.length ?? 0;
  let TP = 0,
    FP = 0,
    FN = 0;
  const perClass: number[] = [];
  for (let c = 0; c < k; c++) {
    let tp = 0,
      fp = 0,
      fn = 0;
    for (let i = 0; i < truth.length; i++) {
      const t = Boolean(truth[i][c]);
      const d = Boolean(decisions[i][c]);
      if (t && d) tp++;
      else if (d) fp++;
      else if (t) fn++;
    }
    TP += tp;
    FP += fp;
    FN += fn;
    perClass.push(tp + fp + fn === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  }
  const precision = TP + FP === 0 ? 0 : TP / (TP + FP);
  const recall = TP + FN === 0 ? 0 : TP / (TP + FN);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { f1, precision, recall, perClass, macroF1: k ? perClass.reduce((a, b) => a + b, 0) / k : NaN };
}

/**
 * Ranks of the relevant candidates (1-based, ascending) for one query. Candidates are ordered by
 * score, highest first; equal scores keep candidate order (a stable sort).
 */
export function relevantRanks(scores: ArrayLike<number>, relevant: readonly number[]): number[] {
  const rel = new Set(relevant);
  const ranks: number[] = [];
  if (rel.size > 16) {
    const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    order.forEach((c, pos) => {
      if (rel.has(c)) ranks.push(pos + 1);
    });
    return ranks;
  }
  for (const r of rel) {
    const s = scores[r];
    let rank = 1;
    for (let j = 0; j < scores.length; j++) if (scores[j] > s || (scores[j] === s && j < r)) rank++;
    ranks.push(rank);
  }
  return ranks.sort((a, b) => a - b);
}

/**
 * AP@K of one ranked list with R relevant items: (1 / min(R, K)) Σ_{k ≤ K} P(k)·rel(k). With a single
 * relevant item this is 1/rank (0 beyond K): DCASE 2022 task 6b's mAP@10; with several (audio → the
 * clip's captions) it is the usual AP@K.
 */
export function averagePrecisionAtK(ranks: readonly number[], k = 10): number {
  if (ranks.length === 0) return 0;
  const sorted = [...ranks].sort((a, b) => a - b);
  let sum = 0;
  sorted.forEach((r, i) => {
    if (r <= k) sum += (i + 1) / r;
  });
  return sum / Math.min(sorted.length, k);
}

export interface RetrievalDirection {
  'R@1': number;
  'R@5': number;
  'R@10': number;
  'mAP@10': number;
  /** Median rank of the first relevant item. */
  medianRank: number;
  queries: number;
}

/**
 * Retrieval metrics for one direction: `scores[q][c]` is the score of candidate c for query q,
 * `relevant[q]` the candidates relevant to q. R@K = fraction of queries with a relevant candidate in
 * the top K; mAP@10 = mean of averagePrecisionAtK(·, 10).
 */
export function retrievalMetrics(scores: readonly ArrayLike<number>[], relevant: readonly (readonly number[])[]): RetrievalDirection {
  checkRows(scores, relevant.length);
  const first: number[] = [];
  let ap = 0;
  scores.forEach((row, q) => {
    if (relevant[q].length === 0) throw new RangeError(`query ${q} has no relevant candidate`);
    const ranks = relevantRanks(row, relevant[q]);
    first.push(ranks[0]);
    ap += averagePrecisionAtK(ranks, 10);
  });
  const n = scores.length;
  const recall = (k: number): number => first.filter((r) => r <= k).length / n;
  return { 'R@1': recall(1), 'R@5': recall(5), 'R@10': recall(10), 'mAP@10': ap / n, medianRank: median(first), queries: n };
}

/**
 * Both directions from one similarity matrix `sim[audio][text]` and the clip(s) each text describes
 * (`textToAudio[t]`: a clip index, or several when identical captions are merged): text → audio
 * (each text one query, its clip(s) relevant) and audio → text (each clip one query, all of its texts
 * relevant; clips without a text are not queries).
 */
export function bidirectionalRetrieval(
  sim: readonly ArrayLike<number>[],
  textToAudio: readonly (number | readonly number[])[],
): { audioToText: RetrievalDirection; textToAudio: RetrievalDirection } {
  const na = sim.length;
  const nt = textToAudio.length;
  const clipsOf = textToAudio.map((a) => (typeof a === 'number' ? [a] : [...a]));
  const textsOf: number[][] = Array.from({ length: na }, () => []);
  clipsOf.forEach((clips, t) => {
    for (const a of clips) {
      if (!(a >= 0 && a < na)) throw new RangeError(`text ${t} points to clip ${a} of ${na}`);
      textsOf[a].push(t);
    }
  });
  const withText = textsOf.map((ts, a) => (ts.length ? a : -1)).filter((a) => a >= 0);
  const a2t = retrievalMetrics(
    withText.map((a) => sim[a]),
    withText.map((a) => textsOf[a]),
  );
  const transposed = Array.from({ length: nt }, (_, t) => Float64Array.from({ length: na }, (_, a) => sim[a][t]));
  const t2a = retrievalMetrics(transposed, clipsOf);
  return { audioToText: a2t, textToAudio: t2a };
}

function median(xs: number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function checkRows(rows: readonly unknown[], n: number): void {
  if (rows.length !== n) throw new RangeError(`${rows.length} score rows for ${n} labels`);
}

/**
 * Text queries from the captions of each clip, identical texts merged: `texts[t]` is one query, relevant
 * to every clip `relevant[t]` that has it (a clip's repeated caption counts once). Pass `relevant` to
 * `bidirectionalRetrieval`: a clip then hits when ANY of its texts ranks within K, and clips sharing a
 * caption (class prompts) no longer tie with copies of themselves.
 */
export function mergeIdenticalTexts(captionsOf: readonly (readonly string[] | undefined)[]): { texts: string[]; relevant: number[][] } {
  const byText = new Map<string, number[]>();
  captionsOf.forEach((caps, a) => {
    for (const c of new Set(caps ?? [])) {
      let clips = byText.get(c);
      if (!clips) byText.set(c, (clips = []));
      clips.push(a);
    }
  });
  return { texts: [...byText.keys()], relevant: [...byText.values()] };
}

/**
 * R@K of a random ranking: P(at least one of `relevant` items among the first `k` of a uniformly random
 * permutation of `n` candidates) = 1 − C(n − relevant, k) / C(n, k).
 */
export function randomRecallAtK(n: number, relevant: number, k: number): number {
  if (relevant <= 0) return 0;
  if (k >= n) return 1;
  let miss = 1;
  for (let i = 0; i < k; i++) miss *= Math.max(0, n - relevant - i) / (n - i);
  return 1 - miss;
}

/** Expected R@K of a random ranking in both directions, for the queries `bidirectionalRetrieval` forms. */
export function randomRetrievalBaseline(
  numAudio: number,
  textToAudio: readonly (number | readonly number[])[],
  k = 10,
): { audioToText: number; textToAudio: number } {
  const clipsOf = textToAudio.map((a) => (typeof a === 'number' ? [a] : [...a]));
  const textsPerClip = new Array<number>(numAudio).fill(0);
  for (const clips of clipsOf) for (const a of clips) textsPerClip[a]++;
  const queries = textsPerClip.filter((n) => n > 0);
  const nt = clipsOf.length;
  const a2t = queries.reduce((s, r) => s + randomRecallAtK(nt, r, k), 0) / Math.max(1, queries.length);
  const t2a = clipsOf.reduce((s, c) => s + randomRecallAtK(numAudio, c.length, k), 0) / Math.max(1, nt);
  return { audioToText: a2t, textToAudio: t2a };
}
