/**
 * On-disk embedding cache, so that re-running a task (another prompt set, another metric, a run that
 * was interrupted) embeds nothing twice.
 *
 * Keys:
 * - model: SHA-256 over the weights' content (the file's bytes, hashed once per file version, or an
 *   in-memory state dict's tensors) and the resolved config; for texts also the text pooling (read
 *   off the model by embedding a probe text whose pooled token depends on it);
 * - audio: SHA-256 of the file's bytes (moving or renaming a dataset keeps its cache), in a shard per
 *   set of audio options (channels, crop, sliding, …) that change the embedding;
 * - text: SHA-256 of the exact prompt text.
 *
 * Layout: `<dir>/<model>/audio-<options>.bin` and `text-<pooling>.bin`, each an 8-byte magic, the
 * dimension (uint32), then fixed-size records (32-byte key, dim × float32) appended one batch per
 * write. A torn last record (an interrupted run) is ignored on load.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, closeSync, openSync, readFileSync, truncateSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Clap } from '../clap.js';
import { makeDirs } from '../../files.js';

const MAGIC = Buffer.from('CLAPEMB1', 'ascii');
const HEADER = MAGIC.length + 4;
const KEY_BYTES = 32;

/** $CLAP_CACHE_DIR, else $XDG_CACHE_HOME/clap-ts, else ~/.cache/clap-ts; embeddings go in `eval/`. */
export function defaultCacheDir(): string {
  const env = process.env.CLAP_CACHE_DIR;
  if (env) return join(env, 'eval');
  const xdg = process.env.XDG_CACHE_HOME;
  return join(xdg || join(homedir(), '.cache'), 'clap-ts', 'eval');
}

export function sha256(data: Uint8Array | string): Buffer {
  return createHash('sha256').update(data).digest();
}

/** One file of cached vectors of one dimension. */
export class CacheShard {
  private readonly map = new Map<string, Float32Array>();
  hits = 0;
  misses = 0;

  constructor(
    readonly file: string,
    readonly dim: number,
  ) {
    let buf: Buffer | undefined;
    try {
      buf = readFileSync(file);
    } catch {
      buf = undefined;
    }
    const record = KEY_BYTES + dim * 4;
    if (buf && buf.length >= HEADER && buf.subarray(0, MAGIC.length).equals(MAGIC) && buf.readUInt32LE(MAGIC.length) === dim) {
      for (let o = HEADER; o + record <= buf.length; o += record) {
        const key = buf.subarray(o, o + KEY_BYTES).toString('hex');
        const vec = new Float32Array(dim);
        Buffer.from(vec.buffer).set(buf.subarray(o + KEY_BYTES, o + record));
        this.map.set(key, vec);
      }
      // a torn tail (interrupted append) is cut off so the next record starts aligned
      const whole = HEADER + Math.floor((buf.length - HEADER) / record) * record;
      if (whole !== buf.length) {
        truncateSync(file, whole);
      }
    } else {
      makeDirs(join(file, '..'));
      const fd = openSync(file, 'w');
      try {
        const head = Buffer.alloc(HEADER);
        MAGIC.copy(head);
        head.writeUInt32LE(dim, MAGIC.length);
        writeSync(fd, head);
      } finally {
        closeSync(fd);
      }
    }
  }

  get size(): number {
    return this.map.size;
  }

  get(key: Buffer | string): Float32Array | undefined {
    const v = this.map.get(typeof key === 'string' ? key : key.toString('hex'));
    if (v) this.hits++;
    else this.misses++;
    return v;
  }

  /** Stores vectors and appends them to the file in one write. */
  put(entries: readonly [Buffer | string, Float32Array][]): void {
    const fresh = entries.filter(([k]) => !this.map.has(typeof k === 'string' ? k : k.toString('hex')));
    if (fresh.length === 0) return;
    const record = KEY_BYTES + this.dim * 4;
    const out = Buffer.alloc(record * fresh.length);
    fresh.forEach(([k, v], i) => {
      if (v.length !== this.dim) throw new RangeError(`cache entry of dimension ${v.length}, expected ${this.dim}`);
      const key = typeof k === 'string' ? Buffer.from(k, 'hex') : k;
      key.copy(out, i * record);
      Buffer.from(v.buffer, v.byteOffset, v.byteLength).copy(out, i * record + KEY_BYTES);
      this.map.set(key.toString('hex'), v.slice());
    });
    appendFileSync(this.file, out);
  }
}

const modelKeys = new WeakMap<Clap, Promise<string>>();

/** Hex SHA-256 identity of a model (memoised per instance): its weights' identity and its config. */
export function modelKey(clap: Clap): Promise<string> {
  let k = modelKeys.get(clap);
  if (!k) {
    k = clap.weightsHash().then((weights) =>
      createHash('sha256')
        .update(`weights\u0000${weights}\u0000${JSON.stringify(clap.config)}`)
        .digest('hex'),
    );
    modelKeys.set(clap, k);
  }
  return k;
}

const poolingKeys = new WeakMap<Clap, Promise<string>>();

/**
 * A short fingerprint of how the model pools text: signs of the first 64 dimensions of a probe text
 * whose '!' characters move the pooled token under msclap's 'reference' pooling but not 'fixed'.
 * (Signs are robust to last-bit differences between runs.)
 */
export function textPoolingKey(clap: Clap): Promise<string> {
  let k = poolingKeys.get(clap);
  if (!k) {
    k = clap.embedText(['a dog barks!!']).then(([e]) => {
      let bits = '';
      for (let i = 0; i < Math.min(64, e.length); i++) bits += e[i] >= 0 ? '1' : '0';
      return sha256(bits).toString('hex').slice(0, 16);
    });
    poolingKeys.set(clap, k);
  }
  return k;
}

/** A cache rooted at `dir` (default defaultCacheDir()). */
export class EmbeddingCache {
  private readonly shards = new Map<string, CacheShard>();

  constructor(readonly dir: string = defaultCacheDir()) {}

  shard(model: string, name: string, dim: number): CacheShard {
    const file = join(this.dir, model.slice(0, 24), `${name}.bin`);
    let s = this.shards.get(file);
    if (!s) {
      s = new CacheShard(file, dim);
      this.shards.set(file, s);
    }
    return s;
  }

  /** Shard for audio embeddings of `clap` under the given embedding-relevant options. */
  async audio(clap: Clap, options: Record<string, unknown>): Promise<CacheShard> {
    const canonical = Object.keys(options)
      .sort()
      .map((k) => `${k}=${JSON.stringify(options[k] ?? null)}`)
      .join('&');
    const opts = sha256(canonical).toString('hex').slice(0, 16);
    return this.shard(await modelKey(clap), `audio-${opts}`, clap.config.dProj);
  }

  async text(clap: Clap): Promise<CacheShard> {
    return this.shard(await modelKey(clap), `text-${await textPoolingKey(clap)}`, clap.config.dProj);
  }
}
