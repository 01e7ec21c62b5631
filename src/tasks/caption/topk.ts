/**
 * `torch.topk(largest=True, sorted=True)` and `argsort(descending=True)` on CPU, ties included.
 *
 * msclap's beam search ranks every beam×vocab candidate with `topk`, so which of two EQUAL candidates
 * wins (ties: −inf log-probs at low temperature, identical beams, a stopped beam's frozen score) is
 * decided by PyTorch's CPU kernel (aten/src/ATen/native/TopKImpl.h): it fills a vector of
 * (value, index) pairs in index order and, when k·64 ≤ n, runs `std::partial_sort` with the
 * comparator `(isnan(a) && !isnan(b)) || a > b`. With libstdc++ (GCC; Debian's and the official
 * wheels' toolchain) partial_sort is a heap selection: `make_heap` of the first k pairs, then every
 * later pair that compares strictly greater than the heap's top replaces it (`__pop_heap` +
 * `__adjust_heap` + `__push_heap`), then `sort_heap`. The order of tied values in the result is
 * whatever that heap layout gives; `TopkHeap` reproduces those algorithms step by step (same
 * hole/child arithmetic), so it returns the same indices in the same order as torch, ties included.
 *
 * When k·64 > n torch uses `std::nth_element` + `std::sort` instead (introselect; not reproduced):
 * `topkFallback` returns the same set for distinct values and breaks ties by lower index. In msclap
 * that only happens for the first step with beam_size > vocab/64 (> 785 for GPT-2).
 *
 * `argsortDescending`: torch's CPU sort with `KeyValueCompDesc` is `std::sort`; for ≤ 16 elements
 * libstdc++'s std::sort is a plain insertion sort, i.e. stable, so equal scores keep their order
 * (msclap's final ranking of ≤ 16 beams). Larger inputs: we stay stable (torch's introsort is not).
 */

/** PyTorch's "largest" comparator: NaN above everything, then `>`. */
export function greaterNanFirst(a: number, b: number): boolean {
  return (Number.isNaN(a) && !Number.isNaN(b)) || a > b;
}

/**
 * The first `k` slots of libstdc++'s partial_sort buffer, as a heap ordered by `greaterNanFirst`
 * (so the top, slot 0, holds the smallest kept value).
 */
export class TopkHeap {
  readonly values: Float64Array;
  readonly indices: Float64Array;
  private filled = 0;

  constructor(readonly k: number) {
    if (!Number.isInteger(k) || k < 1) throw new Error(`topk: k must be a positive integer, got ${k}`);
    this.values = new Float64Array(k);
    this.indices = new Float64Array(k);
  }

  /** Whether the first k elements are in (the heap is built). */
  get full(): boolean {
    return this.filled === this.k;
  }

  /** The heap's top: the smallest kept value (valid once full). */
  get top(): number {
    return this.values[0];
  }

  /**
   * Feeds the next element in index order: the first k fill the buffer (then make_heap), later ones
   * replace the top when strictly greater.
   */
  push(value: number, index: number): void {
    if (this.filled < this.k) {
      this.values[this.filled] = value;
      this.indices[this.filled] = index;
      if (++this.filled === this.k) this.makeHeap();
    } else if (greaterNanFirst(value, this.values[0])) {
      // __pop_heap(first, middle, it): *it = *first (dropped), then __adjust_heap(first, 0, k, value)
      this.adjustHeap(0, this.k, value, index);
    }
  }

  /**
   * sort_heap of the buffer: values/indices in torch's output order (descending, its tie order).
   * Consumes the heap (call once, after the last push).
   */
  result(): TopkResult {
    if (this.filled < this.k) throw new Error(`topk: fewer than k=${this.k} elements`);
    // __sort_heap: while (last - first > 1) { --last; __pop_heap(first, last, last); }
    for (let last = this.k - 1; last > 0; last--) {
      const v = this.values[last];
      const i = this.indices[last];
      this.values[last] = this.values[0];
      this.indices[last] = this.indices[0];
      this.adjustHeap(0, last, v, i);
    }
    return { values: this.values.slice(), indices: this.indices.slice() };
  }

  private makeHeap(): void {
    const len = this.k;
    if (len < 2) return;
    for (let parent = Math.trunc((len - 2) / 2); ; parent--) {
      this.adjustHeap(parent, len, this.values[parent], this.indices[parent]);
      if (parent === 0) return;
    }
  }

  /** libstdc++ std::__adjust_heap followed by std::__push_heap, over slots [0, len). */
  private adjustHeap(holeIndex: number, len: number, value: number, index: number): void {
    const v = this.values;
    const ix = this.indices;
    const topIndex = holeIndex;
    let hole = holeIndex;
    let second = holeIndex;
    const half = Math.trunc((len - 1) / 2);
    while (second < half) {
      second = 2 * (second + 1);
      if (greaterNanFirst(v[second], v[second - 1])) second--;
      v[hole] = v[second];
      ix[hole] = ix[second];
      hole = second;
    }
    if ((len & 1) === 0 && second === Math.trunc((len - 2) / 2)) {
      second = 2 * (second + 1);
      v[hole] = v[second - 1];
      ix[hole] = ix[second - 1];
      hole = second - 1;
    }
    // __push_heap(first, hole, topIndex, value)
    let parent = Math.trunc((hole - 1) / 2);
    while (hole > topIndex && greaterNanFirst(v[parent], value)) {
      v[hole] = v[parent];
      ix[hole] = ix[parent];
      hole = parent;
      parent = Math.trunc((hole - 1) / 2);
    }
    v[hole] = value;
    ix[hole] = index;
  }
}

export interface TopkResult {
  values: Float64Array;
  indices: Float64Array;
}

/** k·64 > n: the same set (distinct values), ties by lower index (torch's introselect not reproduced). */
export function topkFallback(values: ArrayLike<number>, k: number): TopkResult {
  const order = Array.from({ length: values.length }, (_, i) => i);
  order.sort((a, b) => (greaterNanFirst(values[a], values[b]) ? -1 : greaterNanFirst(values[b], values[a]) ? 1 : a - b));
  const idx = Float64Array.from(order.slice(0, k));
  return { values: Float64Array.from(idx, (i) => values[i]), indices: idx };
}

/** `torch.topk(values, k)` of a 1-D float tensor on CPU (largest, sorted). */
export function torchTopk(values: ArrayLike<number>, k: number): TopkResult {
  const n = values.length;
  if (k > n) throw new Error(`topk: k=${k} > ${n} elements`);
  if (k * 64 > n) return topkFallback(values, k);
  const heap = new TopkHeap(k);
  for (let i = 0; i < n; i++) heap.push(values[i], i);
  return heap.result();
}

/** `argsort(descending=True)` as torch's CPU sort gives it for ≤ 16 elements (stable; see above). */
export function argsortDescending(values: ArrayLike<number>): number[] {
  const order = Array.from({ length: values.length }, (_, i) => i);
  // Array.prototype.sort is stable; comparator = KeyValueCompDesc (NaN first, then larger first).
  return order.sort((a, b) => (greaterNanFirst(values[a], values[b]) ? -1 : greaterNanFirst(values[b], values[a]) ? 1 : 0));
}
