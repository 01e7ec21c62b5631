import { Mt19937 } from './mt19937.js';

/**
 * Python's `random` module generator (MT19937, seeded like `random.seed(int)`), enough of it to
 * reproduce msclap's crop: `random.randrange(n)`. With the seed msclap's caller set
 * (`random.seed(s)`), `new PyRandom(s).randrange(len - 308700)` gives the same offset as the reference.
 */
export class PyRandom {
  private readonly mt = new Mt19937();

  constructor(seed: number | bigint) {
    this.seed(seed);
  }

  /** random.seed(a) for an int a: init_by_array over |a|'s 32-bit words, least significant first. */
  seed(seed: number | bigint): void {
    let a = BigInt(seed);
    if (typeof seed === 'number' && !Number.isInteger(seed)) throw new RangeError('PyRandom seeds must be integers');
    if (a < 0n) a = -a;
    const key: number[] = [];
    while (a > 0n) {
      key.push(Number(a & 0xffffffffn));
      a >>= 32n;
    }
    if (key.length === 0) key.push(0);
    this.mt.initByArray(key);
  }

  /** genrand_uint32 */
  nextUint32(): number {
    return this.mt.nextUint32();
  }

  /** random.getrandbits(k), k ≤ 53 (32-bit words, least significant first, the last one shifted). */
  getrandbits(k: number): number {
    if (k <= 0) return 0;
    if (k <= 32) return this.nextUint32() >>> (32 - k);
    if (k > 53) throw new RangeError('getrandbits: k > 53 not supported');
    const lo = this.nextUint32();
    const hi = this.nextUint32() >>> (64 - k);
    return hi * 0x100000000 + lo;
  }

  /** random.randrange(n) for an integer n ≥ 1: rejection sampling on bit_length(n) bits. */
  randrange(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`empty range for randrange(${n})`);
    const k = n.toString(2).length;
    let r = this.getrandbits(k);
    while (r >= n) r = this.getrandbits(k);
    return r;
  }
}
