/**
 * CIDEr-D as the captioning benchmarks compute it (pycocoevalcap `Cider`, used by the DCASE audio
 * captioning task and aac-metrics), and SPIDEr = (CIDEr-D + SPICE) / 2 when a SPICE score is given.
 * SPICE itself needs Java and Stanford CoreNLP and is not computed here.
 *
 * Reproduced details of the reference: n-grams up to 4, σ = 6; document frequencies over the
 * reference sets of the whole corpus (an n-gram counts once per clip); idf = log(#clips) −
 * log(max(1, df)); per n the clipped cosine Σ min(v_c, v_r)·v_r / (‖v_c‖‖v_r‖) with the Gaussian length
 * penalty exp(−δ²/2σ²), where the "length" is the number of **bigrams** (the reference's `if n == 1`
 * quirk); mean over n, averaged over the references, × 10.
 *
 * Tokenisation: the reference runs the Stanford PTB tokenizer (lower-cased, punctuation removed); here
 * a close approximation — lower case, punctuation split off and dropped, "n't" and "'s"-style clitics
 * split as PTB does. Pass pre-tokenised text (`tokenize: false`) to use your own.
 */

const PUNCTUATION = new Set(["''", "'", '``', '`', '-lrb-', '-rrb-', '-lcb-', '-rcb-', '.', '?', '!', ',', ':', '-', '--', '...', ';']);

/** PTB-like tokenisation, lower-cased, punctuation removed (as pycocoevalcap's PTBTokenizer output). */
export function tokenizeCaption(text: string): string[] {
  let s = ` ${text.toLowerCase()} `;
  s = s.replace(/(["“”])/g, ' $1 ');
  s = s.replace(/([,;:@#$%&?!()[\]{}<>])/g, ' $1 ');
  s = s.replace(/\.\.\./g, ' ... ');
  s = s.replace(/([^.])\.(\s|$)/g, '$1 . $2'); // a sentence-final or word-final period
  s = s.replace(/([a-z0-9])(n't)\b/g, '$1 $2');
  s = s.replace(/([a-z0-9])('(s|m|d|ll|re|ve))\b/g, '$1 $2');
  s = s.replace(/--/g, ' -- ');
  return s.split(/\s+/).filter((t) => t.length > 0 && !PUNCTUATION.has(t) && !/^["“”()[\]{}]$/.test(t));
}

type Counts = Map<string, number>;

function ngramCounts(words: readonly string[], n = 4): Counts {
  const counts: Counts = new Map();
  for (let k = 1; k <= n; k++) {
    for (let i = 0; i + k <= words.length; i++) {
      const g = `${k}\u0000${words.slice(i, i + k).join(' ')}`;
      counts.set(g, (counts.get(g) ?? 0) + 1);
    }
  }
  return counts;
}

interface Vec {
  vec: Map<string, number>[];
  norm: number[];
  length: number;
}

export interface CiderOptions {
  /** Tokenise with tokenizeCaption (default true); false: split on whitespace only. */
  tokenize?: boolean;
  n?: number;
  sigma?: number;
}

/**
 * Corpus CIDEr-D: `candidates[i]` is the caption produced for clip i, `references[i]` its reference
 * captions. Returns the mean and the per-clip scores.
 */
export function ciderD(
  candidates: readonly string[],
  references: readonly (readonly string[])[],
  options: CiderOptions = {},
): { score: number; perClip: number[] } {
  if (candidates.length !== references.length)
    throw new RangeError(`${candidates.length} candidates for ${references.length} reference sets`);
  if (candidates.length === 0) return { score: NaN, perClip: [] };
  const n = options.n ?? 4;
  const sigma = options.sigma ?? 6;
  const tok = options.tokenize === false ? (s: string) => s.split(/\s+/).filter(Boolean) : tokenizeCaption;
  const cands = candidates.map((c) => ngramCounts(tok(c), n));
  const refs = references.map((rs, i) => {
    if (rs.length === 0) throw new RangeError(`clip ${i} has no reference caption`);
    return rs.map((r) => ngramCounts(tok(r), n));
  });
  const df = new Map<string, number>();
  for (const rs of refs) {
    const seen = new Set<string>();
    for (const r of rs) for (const g of r.keys()) seen.add(g);
    for (const g of seen) df.set(g, (df.get(g) ?? 0) + 1);
  }
  const refLen = Math.log(refs.length);
  const toVec = (counts: Counts): Vec => {
    const vec = Array.from({ length: n }, () => new Map<string, number>());
    const norm = new Array<number>(n).fill(0);
    let length = 0;
    for (const [g, tf] of counts) {
      const k = Number(g.slice(0, g.indexOf('\u0000'))) - 1;
      const v = tf * (refLen - Math.log(Math.max(1, df.get(g) ?? 0)));
      vec[k].set(g, v);
      norm[k] += v * v;
      if (k === 1) length += tf; // the reference counts bigrams as the "length"
    }
    return { vec, norm: norm.map(Math.sqrt), length };
  };
  const sim = (h: Vec, r: Vec): number[] => {
    const delta = h.length - r.length;
    const val = new Array<number>(n).fill(0);
    for (let k = 0; k < n; k++) {
      for (const [g, v] of h.vec[k]) {
        const rv = r.vec[k].get(g) ?? 0;
        val[k] += Math.min(v, rv) * rv;
      }
      if (h.norm[k] !== 0 && r.norm[k] !== 0) val[k] /= h.norm[k] * r.norm[k];
      val[k] *= Math.exp(-(delta * delta) / (2 * sigma * sigma));
    }
    return val;
  };
  const perClip = cands.map((c, i) => {
    const hv = toVec(c);
    const total = new Array<number>(n).fill(0);
    for (const r of refs[i])
      sim(hv, toVec(r)).forEach((v, k) => {
        total[k] += v;
      });
    const mean = total.reduce((a, b) => a + b, 0) / n;
    return (mean / refs[i].length) * 10;
  });
  return { score: perClip.reduce((a, b) => a + b, 0) / perClip.length, perClip };
}

/** SPIDEr = (CIDEr-D + SPICE) / 2; undefined without a SPICE score. */
export function spider(cider: number, spice?: number): number | undefined {
  return spice === undefined ? undefined : (cider + spice) / 2;
}
