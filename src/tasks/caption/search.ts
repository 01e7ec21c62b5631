/**
 * Caption decoding strategies over a step-wise language model, batched over files.
 *
 * beamSearch  msclap's `CLAPWrapper._generate_beam` step for step (quirk 22):
 *   - step 0: scores, tokens = topk(logp(prefix's last logits), beam); every beam has length 1;
 *   - step i ≥ 1: logp of each beam's next token; a stopped beam's row becomes −inf except token 0
 *     at 0; lengths of running beams +1 (stopped ones frozen); candidates (score + logp) / length over
 *     all beam×vocab pairs, topk(beam) with torch's CPU tie order (topk.ts); scores = average · length;
 *     a beam stops once it picks the stop token (220); all stopped → break;
 *   - at most `entryLength` model calls / tokens; final order: argsort(score / length, descending);
 *     each beam's text is decode(tokens[:length]) (stop token included).
 *   Stopped beams keep being fed (token 0) like msclap, so the model sees the same batch.
 * greedy      = beamSearch with beam size 1 (msclap's own `beam_size=1`, quirk 25).
 * sample      temperature / top-k / top-p sampling with a seeded PRNG per file (not in msclap).
 *
 * The language model (`CaptionLm`) is the clapcap GPT-2 with or without a KV cache (decoder.ts); any
 * model with the same contract works (tests use synthetic ones).
 */
import { beamTemperature, logProb, rowStats, type RowStats, statsFromSum } from './logprobs.js';
import { argsortDescending, TopkHeap, topkFallback } from './topk.js';
import { Rng } from '../rng.js';

/** Model state after a call: last-position logits of each row ([rows, vocab] row-major). */
export interface LmState {
  readonly logits: Float32Array;
  readonly rows: number;
  /**
   * Optional softmax statistics of logits / temperature per row (max, Σ exp(x − max), float32), when
   * the model computes them (vectorised) for the temperature the search uses; else computed here.
   */
  readonly stats?: { readonly temperature: number; readonly max: Float32Array; readonly sumExp: Float32Array };
}

/**
 * A step-wise decoder: `start` runs the prefixes of `count` files (one row each); `next` makes a new
 * batch whose row r continues row parents[r] of `state` with token tokens[r].
 */
export interface CaptionLm<S extends LmState = LmState> {
  readonly vocabSize: number;
  start(count: number): Promise<S>;
  next(state: S, parents: Int32Array, tokens: Int32Array): Promise<S>;
}

export interface RankedBeam {
  /** tokens[:length] (the stop token included when the beam stopped). */
  tokens: number[];
  /** Final score / length, as msclap ranks (float32). */
  score: number;
  length: number;
  /** Whether the beam ended with the stop token. */
  stopped: boolean;
  /** The beam's row in msclap's final `tokens` tensor (decode order). */
  beamIndex: number;
}

export interface SearchResult {
  /** Best first. One entry for greedy / sampling. */
  beams: RankedBeam[];
  /** Model calls this file took part in (msclap's GPT forward calls; the cache makes each cheap). */
  modelCalls: number;
}

export interface BeamOptions {
  beamSize: number;
  /** Most tokens per caption (msclap entry_length). */
  entryLength: number;
  temperature: number;
  stopToken: number;
}

interface BeamFile {
  tokens: number[][];
  scores: Float64Array;
  lengths: Float64Array;
  stopped: boolean[];
  done: boolean;
  calls: number;
  /** First row of this file's beams in the current model state. */
  row: number;
  /** For each beam, the row of the current model state it continues (its source beam's row). */
  parentRows: number[];
}

/** Margin (in nats) under which a candidate is evaluated exactly rather than rejected by its bound. */
function boundMargin(thr: number, s: number, xm: number, lnInv: number): number {
  return 1e-3 + 1e-5 * (Math.abs(thr) + Math.abs(s) + Math.abs(xm) + Math.abs(lnInv)) + (xm + lnInv < -80 ? 2 : 0);
}

/**
 * One topk over the candidates of `beams` rows (base row `row` of `logits`): beam b's candidate for
 * token j is (scores[b] + logp) / lengths[b] (lengths already advanced), flat index b·V + j, exactly
 * as msclap's `scores_sum_average.view(-1).topk(beam_size)`. Candidates that provably cannot beat the
 * current k-th best are skipped without computing their log-probability (they would not change the
 * heap: only a strictly greater value enters).
 */
function beamTopk(
  state: LmState,
  row: number,
  V: number,
  t: number,
  k: number,
  scores: Float64Array,
  lengths: Float64Array,
  stopped: readonly boolean[],
): { values: Float64Array; indices: Float64Array } {
  const logits = state.logits;
  const stats = state.stats && state.stats.temperature === t ? state.stats : undefined;
  const statsOf = (r: number): RowStats => (stats ? statsFromSum(stats.max[r], stats.sumExp[r]) : rowStats(logits, r * V, V, t));
  const beams = scores.length;
  const n = beams * V;
  if (k * 64 > n) {
    // Only the first step with a huge beam: evaluate everything (ties: see topkFallback).
    const all = new Float64Array(n);
    for (let b = 0; b < beams; b++) {
      const st = statsOf(row + b);
      for (let j = 0; j < V; j++) all[b * V + j] = candidate(logits[(row + b) * V + j], t, st, scores[b], lengths[b], stopped[b], j);
    }
    return topkFallback(all, k);
  }
  const heap = new TopkHeap(k);
  for (let b = 0; b < beams; b++) {
    const s = scores[b];
    const len = lengths[b];
    const o = (row + b) * V;
    if (stopped[b]) {
      // logits[is_stopped] = -inf; logits[is_stopped, 0] = 0
      heap.push(Math.fround(Math.fround(s + 0) / len), b * V);
      for (let j = 1; j < V && !heap.full; j++) heap.push(-Infinity, b * V + j);
      continue; // −inf never enters a full heap (strictly greater needed)
    }
    const st = statsOf(row + b);
    for (let j = 0; j < V; j++) {
      const x = t === 1 ? logits[o + j] : Math.fround(logits[o + j] / t);
      if (heap.full) {
        const thr = heap.top * len;
        const xm = x - st.max;
        const approx = s + xm + st.lnInv; // ≈ score + logp in float64
        if (approx < thr - boundMargin(thr, s, xm, st.lnInv)) continue;
      }
      heap.push(Math.fround(Math.fround(s + logProb(x, st)) / len), b * V + j);
    }
  }
  return heap.result();
}

function candidate(logit: number, t: number, st: RowStats, s: number, len: number, stopped: boolean, j: number): number {
  if (stopped) return j === 0 ? Math.fround(Math.fround(s + 0) / len) : -Infinity;
  const x = t === 1 ? logit : Math.fround(logit / t);
  return Math.fround(Math.fround(s + logProb(x, st)) / len);
}

/** msclap `_generate_beam` for `count` files at once (see the file header). */
export async function beamSearch<S extends LmState>(lm: CaptionLm<S>, count: number, o: BeamOptions): Promise<SearchResult[]> {
  const V = lm.vocabSize;
  const k = o.beamSize;
  if (!Number.isInteger(k) || k < 1 || k > V) throw new Error(`beam size must be an integer in 1..${V}, got ${k}`);
  if (!Number.isInteger(o.entryLength) || o.entryLength < 1)
    throw new Error(`entry length must be a positive integer, got ${o.entryLength}`);
  const t = beamTemperature(o.temperature);
  let state = await lm.start(count);
  const files: BeamFile[] = [];
  // step 0: topk of each prefix's log-probabilities
  for (let f = 0; f < count; f++) {
    const { values, indices } = beamTopk(state, f, V, t, k, new Float64Array(1), Float64Array.of(1), [false]);
    const tokens = Array.from(indices, (q) => [q]);
    const stopped = tokens.map((tk) => tk[0] === o.stopToken);
    files.push({
      tokens,
      scores: Float64Array.from(values),
      lengths: new Float64Array(k).fill(1),
      stopped,
      done: stopped.every(Boolean),
      calls: 1,
      row: f,
      parentRows: new Array<number>(k).fill(f),
    });
  }
  for (let i = 1; i < o.entryLength; i++) {
    const active = files.filter((fl) => !fl.done);
    if (active.length === 0) break;
    // the new batch: every active file's beams, continuing the row each beam came from
    const parents = new Int32Array(active.length * k);
    const tokens = new Int32Array(active.length * k);
    active.forEach((fl, a) => {
      for (let b = 0; b < k; b++) {
        parents[a * k + b] = fl.parentRows[b];
        tokens[a * k + b] = fl.tokens[b][fl.tokens[b].length - 1];
      }
      fl.row = a * k;
    });
    state = await lm.next(state, parents, tokens);
    for (const fl of active) {
      fl.calls++;
      const lengths = Float64Array.from(fl.lengths, (len, b) => (fl.stopped[b] ? len : len + 1));
      const { values, indices } = beamTopk(state, fl.row, V, t, k, fl.scores, lengths, fl.stopped);
      const src = Array.from(indices, (q) => Math.floor(q / V));
      const next = Array.from(indices, (q) => q % V);
      fl.tokens = src.map((s, b) => [...fl.tokens[s], next[b]]);
      fl.parentRows = src.map((s) => fl.row + s);
      fl.lengths = Float64Array.from(src, (s) => lengths[s]);
      fl.scores = Float64Array.from(values, (v, b) => Math.fround(v * fl.lengths[b]));
      fl.stopped = src.map((s, b) => fl.stopped[s] || next[b] === o.stopToken);
      fl.done = fl.stopped.every(Boolean);
    }
  }
  return files.map((fl) => {
    const avg = Array.from(fl.scores, (s, b) => Math.fround(s / fl.lengths[b]));
    const beams = argsortDescending(avg).map((b) => ({
      tokens: fl.tokens[b].slice(0, fl.lengths[b]),
      score: avg[b],
      length: fl.lengths[b],
      stopped: fl.stopped[b],
      beamIndex: b,
    }));
    return { beams, modelCalls: fl.calls };
  });
}

// ------------------------------------------------------------------------------------------ sampling

export interface SampleOptions {
  /** Most tokens per caption. */
  entryLength: number;
  /** Softmax temperature; 0 = argmax (greedy on the raw logits). */
  temperature: number;
  /** Keep the k most likely tokens (0 = all). */
  topK: number;
  /** Keep the smallest set of most likely tokens whose probability reaches p (1 = all). */
  topP: number;
  /** PRNG seed; file f uses its own stream (seed, streamOffset + f), so results do not depend on the batch. */
  seed: number;
  streamOffset?: number;
  stopToken: number;
}

/** A seeded stream of doubles in [0, 1) (53 bits each); `stream` separates files sharing a seed. */
export function seededRandom(seed: number, stream = 0): () => number {
  const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca77)) >>> 0);
  return () => rng.next53();
}

/**
 * Draws one token from a logits row: softmax(logits / temperature), then top-k (keeps every token at
 * least as likely as the k-th, like Hugging Face's TopKLogitsWarper), then top-p (the most likely
 * tokens until their mass reaches p, the one crossing it included), then one uniform draw. Temperature
 * 0 is argmax (lowest id on ties).
 */
export function sampleToken(
  logits: Float32Array,
  offset: number,
  V: number,
  o: Pick<SampleOptions, 'temperature' | 'topK' | 'topP'>,
  rand: () => number,
): number {
  if (o.temperature === 0) {
    let best = 0;
    for (let j = 1; j < V; j++) if (logits[offset + j] > logits[offset + best]) best = j;
    return best;
  }
  let max = -Infinity;
  for (let j = 0; j < V; j++) if (logits[offset + j] > max) max = logits[offset + j];
  const w = new Float64Array(V);
  for (let j = 0; j < V; j++) w[j] = Math.exp((logits[offset + j] - max) / o.temperature);
  let floor = 0; // tokens below this weight are out (top-k)
  if (o.topK > 0 && o.topK < V) {
    const heap = new TopkHeap(o.topK);
    for (let j = 0; j < V; j++) heap.push(w[j], j);
    floor = heap.result().values[o.topK - 1];
  }
  let mass = 0;
  for (let j = 0; j < V; j++) if (w[j] >= floor) mass += w[j];
  let pool: Int32Array | undefined;
  if (o.topP < 1) {
    // Only the most likely tokens can be in the nucleus: sort those above a threshold, lowering it
    // until they hold p of the mass (the sorted prefix is then the same as a full sort's).
    for (let tau = 1e-2; ; tau *= 1e-3) {
      const cut = Math.max(floor, tau > 1e-300 ? tau : 0);
      let above = 0;
      let count = 0;
      for (let j = 0; j < V; j++)
        if (w[j] >= cut) {
          above += w[j];
          count++;
        }
      if (above < o.topP * mass && cut > floor) continue;
      const ids = new Int32Array(count);
      for (let j = 0, c = 0; j < V; j++) if (w[j] >= cut) ids[c++] = j;
      const sorted = Array.from(ids).sort((a, b) => w[b] - w[a] || a - b);
      let cum = 0;
      let keep = 0;
      while (keep < sorted.length) {
        cum += w[sorted[keep++]];
        if (cum >= o.topP * mass) break;
      }
      pool = Int32Array.from(sorted.slice(0, Math.max(1, keep)));
      break;
    }
  }
  if (pool) {
    let total = 0;
    for (const j of pool) total += w[j];
    let u = rand() * total;
    for (const j of pool) {
      u -= w[j];
      if (u < 0) return j;
    }
    return pool[pool.length - 1];
  }
  let u = rand() * mass;
  let last = 0;
  for (let j = 0; j < V; j++) {
    if (w[j] < floor) continue;
    u -= w[j];
    last = j;
    if (u < 0) return j;
  }
  return last;
}

/** Sampling (or temperature-0 argmax) for `count` files at once; stops at the stop token. */
export async function sample<S extends LmState>(lm: CaptionLm<S>, count: number, o: SampleOptions): Promise<SearchResult[]> {
  const V = lm.vocabSize;
  if (!(o.temperature >= 0) || !Number.isFinite(o.temperature)) throw new Error(`temperature must be ≥ 0, got ${o.temperature}`);
  if (!Number.isInteger(o.topK) || o.topK < 0) throw new Error(`top-k must be an integer ≥ 0, got ${o.topK}`);
  if (!(o.topP > 0 && o.topP <= 1)) throw new Error(`top-p must be in (0, 1], got ${o.topP}`);
  const rands = Array.from({ length: count }, (_, f) => seededRandom(o.seed, (o.streamOffset ?? 0) + f));
  const tokens: number[][] = Array.from({ length: count }, () => []);
  const calls = new Array<number>(count).fill(0);
  let rowOf = Array.from({ length: count }, (_, f) => f);
  let active = Array.from({ length: count }, (_, f) => f);
  let state = await lm.start(count);
  for (let i = 0; ; i++) {
    const still: number[] = [];
    for (const f of active) {
      calls[f]++;
      const tok = sampleToken(state.logits, rowOf[f] * V, V, o, rands[f]);
      tokens[f].push(tok);
      if (tok !== o.stopToken && i + 1 < o.entryLength) still.push(f);
    }
    if (still.length === 0) break;
    const parents = Int32Array.from(still, (f) => rowOf[f]);
    const next = Int32Array.from(still, (f) => tokens[f][tokens[f].length - 1]);
    state = await lm.next(state, parents, next);
    rowOf = [];
    still.forEach((f, r) => {
      rowOf[f] = r;
    });
    active = still;
  }
  return tokens.map((tk, f) => ({
    beams: [{ tokens: tk, score: NaN, length: tk.length, stopped: tk[tk.length - 1] === o.stopToken, beamIndex: 0 }],
    modelCalls: calls[f],
  }));
}
