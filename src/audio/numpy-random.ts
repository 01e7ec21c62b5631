/**
 * numpy's legacy global generator (`np.random.seed(s)` then `np.random.randint` / `np.random.choice`),
 * enough of it to replay the random choices of Hugging Face's ClapFeatureExtractor: its crop offsets,
 * fusion chunk starts and the clip it marks `is_longer`.
 */
import { Mt19937 } from './mt19937.js';

export class NumpyRandomState {
  private readonly mt = new Mt19937();

  /** `np.random.seed(seed)` for an integer seed in [0, 2³²): init_genrand. */
  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff)
      throw new RangeError(`numpy seeds are integers in [0, 2^32), got ${seed}`);
    this.mt.initGenrand(seed);
  }

  /**
   * `np.random.randint(low, high)` (high exclusive, int64): the legacy masked rejection sampler — draw
   * 32 bits, keep the smallest all-ones mask covering high − 1 − low, retry while above it; a one-value
   * range consumes no draw. Ranges up to 2³² only (all the extractor needs).
   */
  randint(low: number, high: number): number {
    const range = high - 1 - low;
    if (!Number.isInteger(low) || !Number.isInteger(high) || range < 0) throw new RangeError(`randint(${low}, ${high}): empty range`);
    if (range > 0xffffffff) throw new RangeError(`randint(${low}, ${high}): ranges over 2^32 are not supported`);
    if (range === 0) return low;
    if (range === 0xffffffff) return low + this.mt.nextUint32();
    let mask = range;
    mask |= mask >>> 1;
    mask |= mask >>> 2;
    mask |= mask >>> 4;
    mask |= mask >>> 8;
    mask |= mask >>> 16;
    for (;;) {
      const v = (this.mt.nextUint32() & mask) >>> 0;
      if (v <= range) return low + v;
    }
  }

  /** `np.random.choice(values)` (uniform, one draw): `values[randint(0, len)]`. */
  choice<T>(values: readonly T[]): T {
    return values[this.randint(0, values.length)]!;
  }
}
