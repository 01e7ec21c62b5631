/** Validation metrics on embeddings: retrieval recall@k both ways and zero-shot accuracy. */
import { bidirectionalRetrieval, mergeIdenticalTexts, randomRecallAtK, randomRetrievalBaseline } from '../eval/metrics.js';

export interface RetrievalMetrics {
  /** Audio → text: a clip's query hits when ANY of its captions ranks within k. */
  a2t_r1: number;
  a2t_r10: number;
  /** Text → audio: a (de-duplicated) caption's query hits when any clip having it ranks within k. */
  t2a_r1: number;
  t2a_r10: number;
  /** Expected R@10 of a random ranking over the same queries and candidates. */
  a2t_r10_random: number;
  t2a_r10_random: number;
  /** Distinct caption texts (text queries / audio→text candidates). */
  val_texts: number;
}

/**
 * `sim` [clips][captions]; `captionClip[j]` is the clip caption j belongs to. With `captionTexts`,
 * identical caption texts are merged into one text (the eval harness's manifest mode:
 * `mergeIdenticalTexts`), relevant to every clip having it — identical texts no longer tie with each
 * other, and the random baseline is computed over the distinct texts.
 */
export function retrieval(sim: number[][], captionClip: readonly number[], captionTexts?: readonly string[]): RetrievalMetrics {
  const nA = sim.length;
  let columns: number[];
  let relevant: number[][];
  if (captionTexts) {
    const first = new Map<string, number>();
    captionTexts.forEach((t, j) => {
      if (!first.has(t)) first.set(t, j);
    });
    const captionsOf: string[][] = Array.from({ length: nA }, () => []);
    captionClip.forEach((a, j) => captionsOf[a].push(captionTexts[j]));
    const m = mergeIdenticalTexts(captionsOf);
    columns = m.texts.map((t) => first.get(t)!);
    relevant = m.relevant;
  } else {
    columns = captionClip.map((_, j) => j);
    relevant = captionClip.map((a) => [a]);
  }
  const merged = sim.map((row) => columns.map((j) => row[j]));
  const r = bidirectionalRetrieval(merged, relevant);
  const rand = randomRetrievalBaseline(nA, relevant, 10);
  return {
    a2t_r1: r.audioToText['R@1'],
    a2t_r10: r.audioToText['R@10'],
    t2a_r1: r.textToAudio['R@1'],
    t2a_r10: r.textToAudio['R@10'],
    a2t_r10_random: rand.audioToText,
    t2a_r10_random: rand.textToAudio,
    val_texts: columns.length,
  };
}

/** P(at least one of `rel` relevant items among the first k of a random permutation of n). */
export const hitProbability = randomRecallAtK;

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
