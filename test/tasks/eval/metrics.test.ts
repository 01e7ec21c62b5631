/**
 * Metrics against values worked out by hand (shown in the comments) or by independent formulas.
 * sklearn reference behaviour reproduced: average_precision_score is step-wise over distinct
 * thresholds (tied scores enter together) and returns 0 for a class without positives.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accuracy,
  averagePrecision,
  averagePrecisionAtK,
  bidirectionalRetrieval,
  confusionMatrix,
  f1Dcase2017,
  meanAveragePrecision,
  oneHot,
  relevantRanks,
  retrievalMetrics,
  thresholdDecisions,
} from '../../../src/tasks/eval/metrics.js';
import { ciderD, spider, tokenizeCaption } from '../../../src/tasks/eval/cider.js';

const close = (a: number, b: number, tol = 1e-12, msg?: string): void => assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} ${a} vs ${b}`);

test('accuracy and confusion matrix (argmax, first index on ties)', () => {
  const scores = [
    [0.7, 0.2, 0.1],
    [0.1, 0.3, 0.6],
    [0.4, 0.4, 0.2],
    [0.2, 0.5, 0.3],
  ];
  const truth = [0, 2, 1, 1];
  // predictions 0, 2, 0 (tie → first), 1 → 3 of 4 right
  assert.equal(accuracy(scores, truth), 0.75);
  assert.deepEqual(confusionMatrix(scores, truth, 3), [
    [1, 0, 0],
    [1, 1, 0],
    [0, 0, 1],
  ]);
  assert.throws(() => accuracy(scores, [0]), /4 score rows for 1 labels/);
});

test('average precision matches sklearn on its documented example and on tied scores', () => {
  // sklearn docs: average_precision_score([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]) = 0.8333…
  // thresholds 0.8: P=1 R=.5; 0.4: P=.5 R=.5; 0.35: P=2/3 R=1 → .5·1 + .5·2/3
  close(averagePrecision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 5 / 6);
  // all tied: one threshold, P = 2/4, R = 1 → 0.5 (an order-dependent implementation gives 0.5–1)
  close(averagePrecision([1, 0, 1, 0], [0.5, 0.5, 0.5, 0.5]), 0.5);
  // y=[1,0,0,1,1], s=[.9,.7,.7,.7,.2]: 0.9 → P=1 R=1/3; 0.7 (three tied) → P=2/4 R=2/3; 0.2 → P=3/5 R=1
  close(averagePrecision([1, 0, 0, 1, 1], [0.9, 0.7, 0.7, 0.7, 0.2]), (1 + 0.5 + 0.6) / 3);
  // the same ranking with the tie broken the other way would give (1 + 1 + 0.6)/3: ties must group
  assert.notEqual(averagePrecision([1, 0, 0, 1, 1], [0.9, 0.7, 0.7, 0.7, 0.2]), (1 + 1 + 0.6) / 3);
  // no positive: sklearn returns 0
  assert.equal(averagePrecision([0, 0, 0], [0.3, 0.2, 0.1]), 0);
  assert.equal(averagePrecision([1, 1], [0.3, 0.2]), 1);
});

test('without ties, AP equals the textbook mean of precision at each positive (independent formula)', () => {
  let seed = 7;
  const rnd = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  for (let trial = 0; trial < 20; trial++) {
    const n = 5 + Math.floor(rnd() * 40);
    const scores = Array.from({ length: n }, (_, i) => rnd() + i * 1e-9);
    const truth = scores.map(() => (rnd() < 0.3 ? 1 : 0));
    if (!truth.some(Boolean)) truth[0] = 1;
    const order = scores.map((_, i) => i).sort((a, b) => scores[b] - scores[a]);
    let hits = 0,
      sum = 0;
    order.forEach((i, k) => {
      if (truth[i]) {
        hits++;
        sum += hits / (k + 1);
      }
    });
    close(averagePrecision(truth, scores), sum / hits, 1e-12, `trial ${trial}`);
  }
});

test('macro mAP averages per-class AP over all classes (a class without positives counts 0)', () => {
  const truth = [
    [0, 1, 0],
    [0, 0, 0],
    [1, 1, 0],
    [1, 0, 0],
  ];
  const scores = [
    [0.1, 0.5, 0.9],
    [0.4, 0.5, 0.1],
    [0.35, 0.5, 0.2],
    [0.8, 0.1, 0.3],
  ];
  const { mAP, perClass } = meanAveragePrecision(truth, scores);
  close(perClass[0], 5 / 6); // the sklearn docs example
  close(perClass[1], 2 / 3); // three tied at 0.5 holding both positives: P=2/3 at R=1
  assert.equal(perClass[2], 0);
  close(mAP, (5 / 6 + 2 / 3) / 3);
  assert.deepEqual(
    oneHot([1, [0, 2]], 3).map((r) => Array.from(r)),
    [
      [0, 1, 0],
      [1, 0, 1],
    ],
  );
});

test('F1 as DCASE2017 task 4 subtask A: instance-based over all (clip, class) pairs', () => {
  const truth = [
    [1, 0, 1],
    [0, 1, 0],
    [0, 0, 0],
  ];
  const probs = [
    [0.9, 0.6, 0.2],
    [0.1, 0.7, 0.5],
    [0.3, 0.2, 0.8],
  ];
  const dec = thresholdDecisions(probs, 0.5); // 0.5 itself is not > 0.5
  assert.deepEqual(
    dec.map((r) => Array.from(r)),
    [
      [1, 1, 0],
      [0, 1, 0],
      [0, 0, 1],
    ],
  );
  // TP: (0,0),(1,1) = 2; FP: (0,1),(2,2) = 2; FN: (0,2) = 1 → P = 1/2, R = 2/3, F1 = 4/7
  const r = f1Dcase2017(truth, dec);
  close(r.precision, 0.5);
  close(r.recall, 2 / 3);
  close(r.f1, 4 / 7);
  // class-wise: c0 tp1 → 1; c1 tp1 fp1 → 2/3; c2 fp1 fn1 → 0
  r.perClass.forEach((v, i) => close(v, [1, 2 / 3, 0][i]));
  close(r.macroF1, (1 + 2 / 3) / 3);
  // the overall F1 is the harmonic mean of overall P and R (as in the DCASE2017 results tables)
  close(r.f1, (2 * r.precision * r.recall) / (r.precision + r.recall));
  assert.equal(f1Dcase2017([[0, 0]], [[0, 0]]).f1, 0);
});

test('retrieval R@K and mAP@10 with several captions per clip, both directions (hand-worked)', () => {
  // clips a0, a1, a2; captions t0,t1 → a0; t2,t3 → a1; t4,t5 → a2. sim[a][t]:
  const sim = [
    [0.9, 0.1, 0.5, 0.2, 0.3, 0.0],
    [0.2, 0.3, 0.1, 0.8, 0.4, 0.6],
    [0.1, 0.7, 0.6, 0.2, 0.3, 0.05],
  ];
  const { audioToText: a2t, textToAudio: t2a } = bidirectionalRetrieval(sim, [0, 0, 1, 1, 2, 2]);
  // a0: t0 rank 1, t1 rank 5 → AP = (1/1 + 2/5)/2 = .7; a1: t3 1, t2 6 → (1 + 2/6)/2; a2: t4 3, t5 6 → (1/3 + 2/6)/2
  close(a2t['R@1'], 2 / 3);
  close(a2t['R@5'], 1);
  close(a2t['R@10'], 1);
  close(a2t['mAP@10'], (0.7 + 2 / 3 + 1 / 3) / 3);
  assert.equal(a2t.medianRank, 1);
  assert.equal(a2t.queries, 3);
  // t→a ranks of the caption's clip: t0 1, t1 3, t2 3, t3 1, t4 3 (tie 0.3 with a0, earlier candidate first), t5 2
  close(t2a['R@1'], 2 / 6);
  close(t2a['R@5'], 1);
  close(t2a['mAP@10'], (1 + 1 / 3 + 1 / 3 + 1 + 1 / 3 + 1 / 2) / 6);
  assert.equal(t2a.medianRank, 2.5);
  assert.equal(t2a.queries, 6);
});

test('AP@K: 1/rank for one relevant item, normalised by min(R, K), zero past K', () => {
  close(averagePrecisionAtK([4]), 0.25);
  assert.equal(averagePrecisionAtK([11]), 0);
  close(averagePrecisionAtK([1, 3, 20]), (1 + 2 / 3) / 3);
  close(averagePrecisionAtK(Array.from({ length: 12 }, (_, i) => i + 1)), 1);
  assert.deepEqual(relevantRanks([0.1, 0.9, 0.5, 0.9], [3, 0]), [2, 4]);
  // the sorted path (many relevant items) agrees with the direct count
  const scores = Array.from({ length: 60 }, (_, i) => Math.sin(i * 1.7));
  const rel = Array.from({ length: 20 }, (_, i) => i * 3);
  const direct = rel.map((r) => relevantRanks(scores, [r])[0]).sort((a, b) => a - b);
  assert.deepEqual(relevantRanks(scores, rel), direct);
  assert.throws(() => retrievalMetrics([[1]], [[]]), /no relevant/);
});

test('merged identical captions: a text relevant to several clips', () => {
  const sim = [
    [0.9, 0.1],
    [0.8, 0.2],
    [0.1, 0.7],
  ];
  // text 0 describes clips 0 and 1, text 1 clip 2
  const { audioToText, textToAudio } = bidirectionalRetrieval(sim, [[0, 1], 2]);
  assert.equal(textToAudio['R@1'], 1);
  close(textToAudio['mAP@10'], 1); // text 0: ranks 1, 2 → (1 + 1)/2
  assert.equal(audioToText['R@1'], 1);
  assert.equal(audioToText.queries, 3);
});

test('CIDEr-D matches the pycocoevalcap computation (reference values) and 10 for exact matches', () => {
  // two clips, candidates identical to their single reference, disjoint vocabularies:
  // idf = log 2 for every n-gram, cosine 1 at each n, no length penalty → mean 1, × 10
  close(ciderD(['a b c d e', 'f g h i j'], [['a b c d e'], ['f g h i j']], { tokenize: false }).score, 10, 1e-12);
  // a single clip: log(#clips) = 0 makes every tf-idf weight 0
  assert.equal(ciderD(['a b'], [['a b']], { tokenize: false }).score, 0);
  // values from a line-by-line port of pycocoevalcap's CiderScorer (numpy), incl. the bigram "length" quirk
  const cands = ['a dog barks in the distance', 'rain falls on a metal roof', 'a man speaks while cars pass by'];
  const refs = [
    ['a dog is barking far away', 'dog barking in the distance', 'a dog barks loudly'],
    ['rain falling on a roof', 'heavy rain hits a tin roof', 'water drips onto metal'],
    ['a man talks as traffic passes', 'cars drive by while a man is speaking', 'a person speaks near a road'],
  ];
  const r = ciderD(cands, refs, { tokenize: false });
  close(r.score, 1.695380727841691, 1e-12);
  [2.7050236689648366, 1.2446778573474164, 1.13644065721282].forEach((v, i) => close(r.perClip[i], v, 1e-12));
  const q = ciderD(
    ['a b c', 'a b c d e f g h'],
    [
      ['a b c d', 'x y'],
      ['a b c d e f g h i j k l m n o p', 'a b'],
    ],
    { tokenize: false },
  );
  assert.equal(q.perClip[0], 0);
  close(q.perClip[1], 1.1867789579574415, 1e-12);
  // tokenisation: lower case, punctuation dropped, clitics split as PTB does
  assert.deepEqual(tokenizeCaption("A dog barks, then it's quiet."), ['a', 'dog', 'barks', 'then', 'it', "'s", 'quiet']);
  assert.deepEqual(tokenizeCaption('Rain doesn\'t stop: "heavy" (very).'), ['rain', 'does', "n't", 'stop', 'heavy', 'very']);
  close(ciderD(['A dog barks.'], [['a dog barks']]).score, 0); // single clip → 0, but tokenisation must not throw
  assert.equal(spider(0.5), undefined);
  assert.equal(spider(0.5, 0.1), 0.3);
});
