/**
 * Python's `random` module generator (MT19937, seeded like `random.seed(int)`), enough of it to
 * reproduce msclap's crop: `random.randrange(n)`. With the seed msclap's caller set
 * (`random.seed(s)`), `new PyRandom(s).randrange(len - 308700)` gives the same offset as the reference.
 */
export class PyRandom {
  private readonly mt = new Uint32Array(624);
  private index = 625;

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
    this.initByArray(key);
  }

  private initGenrand(s: number): void {
    const mt = this.mt;
    mt[0] = s >>> 0;
    for (let i = 1; i < 624; i++) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.index = 624;
  }

  private initByArray(key: number[]): void {
    const mt = this.mt;
    this.initGenrand(19650218);
    let i = 1;
    let j = 0;
    for (let k = Math.max(624, key.length); k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1664525)) + key[j] + j) >>> 0;
      i++;
      j++;
      if (i >= 624) {
        mt[0] = mt[623];
        i = 1;
      }
      if (j >= key.length) j = 0;
    }
    for (let k = 623; k > 0; k--) {
      const prev = mt[i - 1] ^ (mt[i - 1] >>> 30);
      mt[i] = ((mt[i] ^ Math.imul(prev, 1566083941)) - i) >>> 0;
      i++;
      if (i >= 624) {
        mt[0] = mt[623];
        i = 1;
      }
    }
    mt[0] = 0x80000000;
    this.index = 624;
  }

  /** genrand_uint32 */
  nextUint32(): number {
    const mt = this.mt;
    if (this.index >= 624) {
      for (let k = 0; k < 624; k++) {
        const y = (mt[k] & 0x80000000) | (mt[(k + 1) % 624] & 0x7fffffff);
        mt[k] = mt[(k + 397) % 624] ^ (y >>> 1) ^ (y & 1 ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    let y = mt[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
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
