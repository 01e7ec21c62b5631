import type { ClapCapModel, DecoderOutput, KvBlock, KvPool } from './model.js';

/**
 * The KV cache of a batch of files being decoded (beam search or sampling): a pool of key/value slots
 * per file and, for every row of the last call, which slots make up its history.
 *
 *   prefill(prefixes)       one row per file; its P positions fill slots 0..P−1
 *   step(parents, tokens)   row r continues row parents[r] of the previous call with tokens[r]; rows
 *                           of a file must be contiguous, in file order, R per file (files without
 *                           rows, e.g. finished ones, are padded with masked dummy rows so the batch
 *                           keeps its G × R layout, and their outputs dropped)
 * Each step writes every row's new key/value into the next free slots of its file and masks, per row,
 * everything but its ancestors' slots. Beams therefore never copy caches.
 */
export class ClapCapCache {
  readonly pool: KvPool;
  private readonly nextSlot: Int32Array;
  /** Per row of the last call: its file and the slots of its history (1 = visible). */
  private rowGroup = new Int32Array(0);
  private rowSeen: Uint8Array[] = [];
  private length = 0;

  /** `capacity`: slots per file (P + rows per file × steps; grows if exceeded). */
  constructor(
    readonly model: ClapCapModel,
    readonly groups: number,
    capacity: number,
    readonly temperature = 1,
  ) {
    if (!Number.isInteger(groups) || groups < 1) throw new Error(`groups must be a positive integer, got ${groups}`);
    this.pool = model.createPool(groups, Math.max(capacity, model.config.prefixLength + 1));
    this.nextSlot = new Int32Array(groups);
  }

  /** Positions decoded so far (prefix + tokens fed). */
  get positions(): number {
    return this.length;
  }

  /** The prefix embeddings of every file ([G, P, n] row-major) → the logits after each prefix (G rows). */
  async prefill(prefixEmbeds: Float32Array): Promise<DecoderOutput> {
    if (this.length !== 0) throw new Error('prefill must be the first call');
    const P = this.model.config.prefixLength;
    const G = this.groups;
    const cap = this.pool.capacity;
    const out = await this.model.forward(prefixEmbeds, P, {
      pool: this.pool,
      mask: new Uint8Array(G * P * cap).fill(1),
      temperature: this.temperature,
    });
    this.write(
      out.fresh,
      Int32Array.from({ length: G }, (_, g) => g),
      0,
    );
    this.nextSlot.fill(P);
    this.rowGroup = Int32Array.from({ length: G }, (_, g) => g);
    this.rowSeen = Array.from({ length: G }, () => {
      const seen = new Uint8Array(cap);
      seen.fill(1, 0, P);
      return seen;
    });
    this.length = P;
    return out;
  }

  /** One token per row; see the class comment. Returns logits/stats for exactly these rows. */
  async step(parents: ArrayLike<number>, tokens: ArrayLike<number>): Promise<Omit<DecoderOutput, 'fresh'>> {
    if (this.length === 0) throw new Error('step before prefill');
    if (parents.length !== tokens.length || parents.length === 0)
      throw new Error('parents and tokens must be non-empty and of equal length');
    const G = this.groups;
    const rows = parents.length;
    // rows per file: contiguous, file order, the same count R for every file present
    const groupOf = new Int32Array(rows);
    const count = new Int32Array(G);
    for (let r = 0; r < rows; r++) {
      const p = parents[r];
      if (!Number.isInteger(p) || p < 0 || p >= this.rowGroup.length)
        throw new Error(`parent ${p} is not a row of the previous call (${this.rowGroup.length} rows)`);
      groupOf[r] = this.rowGroup[p];
      if (r > 0 && groupOf[r] < groupOf[r - 1]) throw new Error('rows must be grouped by file, in file order');
      count[groupOf[r]]++;
    }
    const R = count[groupOf[0]];
    for (let g = 0; g < G; g++)
      if (count[g] !== 0 && count[g] !== R) throw new Error(`every file needs the same number of rows (${count[g]} vs ${R})`);
    this.ensureCapacity(R);
    const cap = this.pool.capacity;
    // the padded G × R batch: real rows where a file has them, dummies (token 0, nothing visible) elsewhere
    const full = G * R;
    const realRow = new Int32Array(full).fill(-1); // padded row → row of this call
    for (let r = 0, g0 = -1, j = 0; r < rows; r++) {
      if (groupOf[r] !== g0) {
        g0 = groupOf[r];
        j = 0;
      }
      realRow[g0 * R + j++] = r;
    }
    const fullTokens = new Int32Array(full);
    const mask = new Uint8Array(full * cap).fill(1);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      fullTokens[f] = tokens[r];
      const seen = this.rowSeen[parents[r]];
      const m = mask.subarray(f * cap, (f + 1) * cap);
      for (let s = 0; s < cap; s++) m[s] = seen[s] ? 0 : 1;
    }
    const out = await this.model.forward(this.model.tokenEmbeddings(fullTokens), 1, {
      pool: this.pool,
      mask,
      positionStart: this.length,
      temperature: this.temperature,
    });
    // new slots: file g's rows j = 0..R−1 take nextSlot[g] + j
    const slotOf = new Int32Array(full).fill(-1);
    const seenNext: Uint8Array[] = new Array(rows);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      const g = Math.floor(f / R);
      slotOf[f] = this.nextSlot[g] + (f % R);
      const seen = this.rowSeen[parents[r]].slice();
      seen[slotOf[f]] = 1;
      seenNext[r] = seen;
    }
    this.writeSlots(out.fresh, slotOf, R);
    for (let g = 0; g < G; g++) if (count[g]) this.nextSlot[g] += R;
    this.rowGroup = groupOf;
    this.rowSeen = seenNext;
    this.length += 1;
    // outputs of the real rows only
    const V = this.model.config.gpt.vocabSize;
    if (rows === full) return { logits: out.logits, stats: out.stats };
    const logits = new Float32Array(rows * V);
    const max = new Float32Array(rows);
    const sumExp = new Float32Array(rows);
    for (let f = 0; f < full; f++) {
      const r = realRow[f];
      if (r < 0) continue;
      logits.set(out.logits.subarray(f * V, (f + 1) * V), r * V);
      max[r] = out.stats.max[f];
      sumExp[r] = out.stats.sumExp[f];
    }
    return { logits, stats: { temperature: out.stats.temperature, max, sumExp } };
  }

  /** Writes a prefill's T positions of row g (one row per group) into slots from..from+T−1. */
  private write(fresh: KvBlock, groupOfRow: Int32Array, from: number): void {
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const T = fresh.length;
    const cap = this.pool.capacity;
    for (let i = 0; i < fresh.keys.length; i++) {
      for (const kind of ['keys', 'values'] as const) {
        const src = fresh[kind][i];
        const dst = this.pool[kind][i];
        for (let r = 0; r < groupOfRow.length; r++) {
          const g = groupOfRow[r];
          for (let h = 0; h < H; h++)
            dst.set(src.subarray((r * H + h) * T * hd, (r * H + h + 1) * T * hd), ((g * H + h) * cap + from) * hd);
        }
      }
    }
  }

  /** Writes each padded row's single new position into its slot (rows with slot −1 are skipped). */
  private writeSlots(fresh: KvBlock, slotOf: Int32Array, R: number): void {
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const cap = this.pool.capacity;
    for (let i = 0; i < fresh.keys.length; i++) {
      for (const kind of ['keys', 'values'] as const) {
        const src = fresh[kind][i];
        const dst = this.pool[kind][i];
        for (let f = 0; f < slotOf.length; f++) {
          const s = slotOf[f];
          if (s < 0) continue;
          const g = Math.floor(f / R);
          for (let h = 0; h < H; h++) dst.set(src.subarray((f * H + h) * hd, (f * H + h + 1) * hd), ((g * H + h) * cap + s) * hd);
        }
      }
    }
  }

  /** Grows every file's pool (copying its slots) when the next R slots would not fit. */
  private ensureCapacity(R: number): void {
    let need = 0;
    for (const s of this.nextSlot) need = Math.max(need, s + R);
    const cap = this.pool.capacity;
    if (need <= cap) return;
    const { nEmbd: n, nHead: H } = this.model.config.gpt;
    const hd = n / H;
    const grown = Math.max(need, Math.ceil(cap * 1.5));
    for (const kind of ['keys', 'values'] as const) {
      this.pool[kind] = this.pool[kind].map((old) => {
        const next = new Float32Array(this.groups * H * grown * hd);
        for (let gh = 0; gh < this.groups * H; gh++) next.set(old.subarray(gh * cap * hd, (gh + 1) * cap * hd), gh * grown * hd);
        return next;
      });
    }
    this.pool.capacity = grown;
    this.rowSeen = this.rowSeen.map((seen) => {
      const next = new Uint8Array(grown);
      next.set(seen);
      return next;
    });
  }
}
