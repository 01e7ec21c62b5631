/**
 * A small protocol-2 pickle writer: just the opcodes torch.save uses for a state dict.
 */

export class PickleWriter {
  private buf = new Uint8Array(1024);
  private len = 0;
  private memo = new Map<string, number>();

  constructor() {
    this.bytes(0x80, 2); // PROTO 2
  }

  private reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.len + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }

  bytes(...values: number[]): this {
    this.reserve(values.length);
    for (const v of values) this.buf[this.len++] = v;
    return this;
  }

  raw(data: Uint8Array): this {
    this.reserve(data.length);
    this.buf.set(data, this.len);
    this.len += data.length;
    return this;
  }

  private u32(v: number): void {
    this.bytes(v & 0xff, (v >>> 8) & 0xff, (v >>> 16) & 0xff, (v >>> 24) & 0xff);
  }

  /** BINPUT/LONG_BINPUT of the top of the stack under a fresh index; remembered as `key`. */
  private put(key: string): void {
    const idx = this.memo.size;
    this.memo.set(key, idx);
    if (idx < 256) this.bytes(0x71, idx);
    else {
      this.bytes(0x72);
      this.u32(idx);
    }
  }

  /** Pushes a memoised value (BINGET) if `key` was stored before; returns whether it did. */
  private getMemo(key: string): boolean {
    const idx = this.memo.get(key);
    if (idx === undefined) return false;
    if (idx < 256) this.bytes(0x68, idx);
    else {
      this.bytes(0x6a);
      this.u32(idx);
    }
    return true;
  }

  mark(): this {
    return this.bytes(0x28);
  }
  emptyDict(): this {
    return this.bytes(0x7d);
  }
  emptyTuple(): this {
    return this.bytes(0x29);
  }
  tuple(): this {
    return this.bytes(0x74);
  }
  tupleN(n: 0 | 1 | 2 | 3): this {
    return this.bytes([0x29, 0x85, 0x86, 0x87][n]);
  }
  reduce(): this {
    return this.bytes(0x52);
  }
  setitem(): this {
    return this.bytes(0x73);
  }
  setitems(): this {
    return this.bytes(0x75);
  }
  binpersid(): this {
    return this.bytes(0x51);
  }
  none(): this {
    return this.bytes(0x4e);
  }
  bool(v: boolean): this {
    return this.bytes(v ? 0x88 : 0x89);
  }
  stop(): this {
    return this.bytes(0x2e);
  }

  /** GLOBAL `module name`, memoised. */
  global(module: string, name: string): this {
    const key = `g:${module}\n${name}`;
    if (this.getMemo(key)) return this;
    this.bytes(0x63).raw(new TextEncoder().encode(`${module}\n${name}\n`));
    this.put(key);
    return this;
  }

  /** BINUNICODE; `memoize` stores it for reuse (repeated strings such as 'storage', 'cpu'). */
  str(s: string, memoize = false): this {
    const key = `s:${s}`;
    if (memoize && this.getMemo(key)) return this;
    const data = new TextEncoder().encode(s);
    this.bytes(0x58);
    this.u32(data.length);
    this.raw(data);
    if (memoize) this.put(key);
    return this;
  }

  /** The smallest int opcode for `v`. */
  int(v: number | bigint): this {
    if (typeof v === 'number' && !Number.isSafeInteger(v)) throw new RangeError(`pickle: ${v} is not a safe integer`);
    const n = BigInt(v);
    if (n >= 0n && n < 256n) return this.bytes(0x4b, Number(n));
    if (n >= 0n && n < 65536n) return this.bytes(0x4d, Number(n) & 0xff, Number(n) >> 8);
    if (n >= -(2n ** 31n) && n < 2n ** 31n) {
      this.bytes(0x4a);
      this.u32(Number(BigInt.asUintN(32, n)));
      return this;
    }
    // LONG1: little-endian two's complement, as few bytes as hold the sign.
    const out: number[] = [];
    let x = n;
    for (;;) {
      out.push(Number(x & 0xffn));
      x >>= 8n;
      const signBit = (out[out.length - 1] & 0x80) !== 0;
      if ((x === 0n && !signBit) || (x === -1n && signBit)) break;
    }
    return this.bytes(0x8a, out.length, ...out);
  }

  float(v: number): this {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setFloat64(0, v, false);
    return this.bytes(0x47).raw(b);
  }

  /** A tuple of ints (TUPLE1/2/3 or MARK … TUPLE). */
  ints(values: readonly number[]): this {
    if (values.length <= 3) {
      for (const v of values) this.int(v);
      return this.tupleN(values.length as 0 | 1 | 2 | 3);
    }
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  /** A scalar metadata value. */
  scalar(v: string | number | boolean | null): this {
    if (v === null) return this.none();
    if (typeof v === 'boolean') return this.bool(v);
    if (typeof v === 'string') return this.str(v);
    return Number.isSafeInteger(v) ? this.int(v) : this.float(v);
  }

  finish(): Uint8Array {
    return this.buf.slice(0, this.len);
  }
}
