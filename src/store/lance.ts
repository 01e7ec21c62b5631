/**
 * The default store: LanceDB (embedded, columnar, versioned). Every write is one Lance commit — a new
 * manifest made visible by an atomic rename — so a process killed at any moment leaves the table at its
 * last commit: files written for an unfinished commit are never referenced, and are cleaned up later.
 *
 * One table `entries` holds a row per file (`win` = -1, its embedding) and a row per sliding window
 * (`win` = 0, 1, …), all carrying the file's metadata so filters apply at both levels; replacing a batch
 * of files is one merge-insert keyed on `id` that also deletes the files' rows it does not re-insert.
 * Table `captions` holds texts and their embeddings.
 */
import type { Dirent } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type * as Lance from '@lancedb/lancedb';
import { ClapError } from '../errors.js';
import { globToRegex } from './glob.js';
import type {
  AnnKind,
  CaptionHit,
  FileInfo,
  FileRecord,
  MaintainOptions,
  SearchHit,
  StoreCounts,
  VectorIndexInfo,
  VectorSearch,
  VectorStore,
} from './store.js';

type LanceModule = typeof Lance;

const ENTRIES = 'entries';
const CAPTIONS = 'captions';
/** Separates a path from a window number in row ids (cannot occur in a path). */
const ID_SEP = '\u0000';
/** Paths per delete predicate. */
const REMOVE_CHUNK = 500;

/** Vectors (at the searched level) from which `ann: 'auto'` builds an index. */
export const DEFAULT_ANN_THRESHOLD = 20_000;
/** An explicitly requested ANN index waits for this many vectors. */
export const MIN_ANN_VECTORS = 256;

let lanceModule: Promise<LanceModule> | undefined;
/** LanceDB's native module loads on first use only, so commands that never open an index do not pay for it. */
function lance(): Promise<LanceModule> {
  // Index statistics without the centroids (Lance's future default; also silences its warning).
  process.env.LANCE_INCLUDE_VECTOR_CENTROIDS ??= 'false';
  lanceModule ??= import('@lancedb/lancedb');
  return lanceModule;
}

export function sqlString(s: string): string {
  return `'${s.replace(/'/g, "''")}'`;
}

function inList(paths: readonly string[]): string {
  return `path IN (${paths.map(sqlString).join(', ')})`;
}

interface EntryRow {
  id: string;
  path: string;
  win: number;
  start: number;
  end: number;
  hash: string;
  size: number;
  mtime: number;
  duration: number;
  sample_rate: number;
  channels: number;
  model: string;
  vector: Float32Array;
}

const META_COLUMNS = ['path', 'hash', 'size', 'mtime', 'duration', 'sample_rate', 'channels', 'model'];

function rowsOf(rec: FileRecord): EntryRow[] {
  const base = {
    path: rec.path,
    hash: rec.hash,
    size: rec.size,
    mtime: rec.mtimeMs,
    duration: rec.duration,
    sample_rate: rec.sampleRate,
    channels: rec.channels,
    model: rec.model,
  };
  const rows: EntryRow[] = [{ id: rec.path, win: -1, start: 0, end: rec.duration, vector: rec.embedding, ...base }];
  rec.windows?.forEach((w, i) =>
    rows.push({ id: `${rec.path}${ID_SEP}${i}`, win: i, start: w.start, end: w.end, vector: w.embedding, ...base }),
  );
  return rows;
}

function infoOf(r: Record<string, unknown>): FileInfo & { model: string } {
  return {
    path: String(r.path),
    hash: String(r.hash),
    size: Number(r.size),
    mtimeMs: Number(r.mtime),
    duration: Number(r.duration),
    sampleRate: Number(r.sample_rate),
    channels: Number(r.channels),
    model: String(r.model),
  };
}

function toFloat32(v: unknown): Float32Array {
  if (v instanceof Float32Array) return v.slice();
  if (v && typeof (v as { toArray?: unknown }).toArray === 'function')
    return Float32Array.from((v as { toArray(): ArrayLike<number> }).toArray());
  return Float32Array.from(v as ArrayLike<number>);
}

export interface LanceStoreOptions {
  /** Vector width; required to create a new store, checked against an existing one. */
  dim: number;
}

export class LanceStore implements VectorStore {
  readonly backend = 'lancedb';
  private entries?: Lance.Table;
  private captions?: Lance.Table;
  /** The vector index's build record, once read (null: no index). */
  private built?: AnnBuild | null;

  private constructor(
    private readonly lancedb: LanceModule,
    private readonly db: Lance.Connection,
    readonly dir: string,
    readonly dim: number,
  ) {}

  static async open(dir: string, options: LanceStoreOptions): Promise<LanceStore> {
    const lancedb = await lance();
    let db: Lance.Connection;
    try {
      db = await lancedb.connect(dir);
    } catch (e) {
      throw new ClapError(`cannot open the index store (${(e as Error).message})`, { subject: dir, cause: e });
    }
    const store = new LanceStore(lancedb, db, dir, options.dim);
    const names = await db.tableNames();
    if (names.includes(ENTRIES)) store.entries = await db.openTable(ENTRIES);
    if (names.includes(CAPTIONS)) store.captions = await db.openTable(CAPTIONS);
    return store;
  }

  private table(data: Record<string, unknown>[]): Lance.Data {
    return this.lancedb.makeArrowTable(data);
  }

  private checkDim(v: Float32Array): void {
    if (v.length !== this.dim) throw new ClapError(`vector of width ${v.length} given to an index of width ${this.dim}`);
  }

  async listFiles(): Promise<(FileInfo & { model: string })[]> {
    if (!this.entries) return [];
    const rows = await this.entries.query().where('win < 0').select(META_COLUMNS).toArray();
    return rows.map((r) => infoOf(r as Record<string, unknown>));
  }

  async getFiles(paths: readonly string[]): Promise<FileRecord[]> {
    if (!this.entries || paths.length === 0) return [];
    const byPath = new Map<string, FileRecord>();
    const windows = new Map<string, { win: number; start: number; end: number; embedding: Float32Array }[]>();
    for (let i = 0; i < paths.length; i += REMOVE_CHUNK) {
      const rows = await this.entries
        .query()
        .where(inList(paths.slice(i, i + REMOVE_CHUNK)))
        .select([...META_COLUMNS, 'win', 'start', 'end', 'vector'])
        .toArray();
      for (const raw of rows) {
        const r = raw as Record<string, unknown>;
        const win = Number(r.win);
        const path = String(r.path);
        if (win < 0) byPath.set(path, { ...infoOf(r), embedding: toFloat32(r.vector) });
        else {
          const list = windows.get(path) ?? [];
          list.push({ win, start: Number(r.start), end: Number(r.end), embedding: toFloat32(r.vector) });
          windows.set(path, list);
        }
      }
    }
    for (const [path, list] of windows) {
      const rec = byPath.get(path);
      if (rec) rec.windows = list.sort((a, b) => a.win - b.win).map(({ start, end, embedding }) => ({ start, end, embedding }));
    }
    return paths.flatMap((p) => byPath.get(p) ?? []);
  }

  async commit(put: readonly FileRecord[], remove: readonly string[] = []): Promise<void> {
    const rows = put.flatMap(rowsOf);
    for (const r of rows) this.checkDim(r.vector);
    const putPaths = put.map((p) => p.path);
    const putSet = new Set(putPaths);
    const removeOnly = remove.filter((p) => !putSet.has(p));
    if (rows.length > 0) {
      if (!this.entries) {
        this.entries = await this.db.createTable(ENTRIES, this.table(rows as unknown as Record<string, unknown>[]), { existOk: false });
      } else {
        // Removals ride along in the same commit when the list is short.
        const inline = removeOnly.length <= REMOVE_CHUNK ? removeOnly : [];
        let merge = this.entries.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll();
        // Rows the new ones do not overwrite (removed files, windows of a longer earlier version) go in the same
        // commit. Finding them makes LanceDB read every column of the whole table (17-30 s at 5M rows against
        // 0.5 s for the upsert, which joins on the keys alone), so it is asked for only when there are any.
        if (inline.length > 0 || (await this.hasStaleWindows(put)))
          merge = merge.whenNotMatchedBySourceDelete({ where: inList([...putPaths, ...inline]) });
        await merge.execute(this.table(rows as unknown as Record<string, unknown>[]));
        if (inline.length === removeOnly.length) return;
      }
    }
    if (!this.entries) return;
    for (let i = 0; i < removeOnly.length; i += REMOVE_CHUNK) await this.entries.delete(inList(removeOnly.slice(i, i + REMOVE_CHUNK)));
  }

  /** Whether the table holds windows of `put`'s files beyond the windows they now have (a filtered scan of three columns). */
  private async hasStaleWindows(put: readonly FileRecord[]): Promise<boolean> {
    const windows = new Map(put.map((r) => [r.path, r.windows?.length ?? 0]));
    const paths = [...windows.keys()];
    for (let i = 0; i < paths.length; i += REMOVE_CHUNK) {
      const where = `(${inList(paths.slice(i, i + REMOVE_CHUNK))}) AND win >= 0`;
      for (const r of await this.entries!.query().where(where).select(['path', 'win']).toArray())
        if (Number(r.win) >= windows.get(String(r.path))!) return true;
    }
    return false;
  }

  async append(records: readonly FileRecord[]): Promise<void> {
    const rows = records.flatMap(rowsOf);
    if (rows.length === 0) return;
    for (const r of rows) this.checkDim(r.vector);
    const data = this.table(rows as unknown as Record<string, unknown>[]);
    if (!this.entries) this.entries = await this.db.createTable(ENTRIES, data, { existOk: false });
    else await this.entries.add(data);
  }

  private filterSql(q: VectorSearch): string {
    const parts = [q.level === 'window' ? 'win >= 0' : 'win < 0'];
    const f = q.filter ?? {};
    if (f.glob !== undefined) parts.push(`regexp_like(path, ${sqlString(globToRegex(f.glob))})`);
    if (f.minDuration !== undefined) parts.push(`duration >= ${Number(f.minDuration)}`);
    if (f.maxDuration !== undefined) parts.push(`duration <= ${Number(f.maxDuration)}`);
    if (f.excludePaths?.length) parts.push(`NOT (${inList(f.excludePaths)})`);
    return parts.join(' AND ');
  }

  async search(q: VectorSearch): Promise<SearchHit[]> {
    this.checkDim(q.vector);
    if (!this.entries || q.top <= 0) return [];
    const mode = q.mode ?? 'auto';
    if (mode === 'ann' && !(await this.vectorIndex()))
      throw new ClapError(
        'this index has no ANN vector index yet (it is built once the library is large, or with --ann-index); search without --ann',
      );
    const where = this.filterSql(q);
    const run = async (limit: number): Promise<Record<string, unknown>[]> => {
      let query = this.entries!.vectorSearch(q.vector)
        .distanceType('cosine')
        .where(where)
        .limit(limit)
        .select(['path', 'start', 'end', '_distance']);
      if (mode === 'exact') query = query.bypassVectorIndex();
      else {
        const tuned = await this.annBuild();
        query = query.nprobes(q.nprobes ?? tuned?.nprobes ?? MIN_NPROBES).refineFactor(q.refineFactor ?? DEFAULT_REFINE);
      }
      return (await query.toArray()) as Record<string, unknown>[];
    };
    const hit = (r: Record<string, unknown>): SearchHit =>
      q.level === 'window'
        ? { path: String(r.path), score: 1 - Number(r._distance), start: Number(r.start), end: Number(r.end) }
        : { path: String(r.path), score: 1 - Number(r._distance) };
    if (q.level === 'file') return (await run(q.top)).map(hit);
    // Best window per file: ask for more windows until `top` distinct files are found or none are left.
    for (let limit = Math.max(q.top * 4, 32); ; limit *= 4) {
      const rows = await run(limit);
      const best = new Map<string, SearchHit>();
      for (const r of rows) {
        const h = hit(r);
        const prev = best.get(h.path);
        if (!prev || h.score > prev.score) best.set(h.path, h);
      }
      if (best.size >= q.top || rows.length < limit) return [...best.values()].sort((a, b) => b.score - a.score).slice(0, q.top);
    }
  }

  async putCaptions(texts: readonly string[], vectors: readonly Float32Array[], replace = false): Promise<void> {
    if (texts.length !== vectors.length) throw new RangeError('texts and vectors differ in length');
    vectors.forEach((v) => this.checkDim(v));
    const rows = texts.map((text, i) => ({ text, vector: vectors[i] }));
    if (!this.captions) {
      if (rows.length) this.captions = await this.db.createTable(CAPTIONS, this.table(rows));
      return;
    }
    let merge = this.captions.mergeInsert('text').whenMatchedUpdateAll().whenNotMatchedInsertAll();
    if (replace) merge = merge.whenNotMatchedBySourceDelete();
    await merge.execute(this.table(rows));
  }

  async searchCaptions(vector: Float32Array, top: number): Promise<CaptionHit[]> {
    this.checkDim(vector);
    if (!this.captions) return [];
    const rows = await this.captions.vectorSearch(vector).distanceType('cosine').limit(top).select(['text', '_distance']).toArray();
    return rows.map((r) => ({
      text: String((r as Record<string, unknown>).text),
      score: 1 - Number((r as Record<string, unknown>)._distance),
    }));
  }

  async counts(): Promise<StoreCounts> {
    return {
      files: this.entries ? await this.entries.countRows('win < 0') : 0,
      windows: this.entries ? await this.entries.countRows('win >= 0') : 0,
      captions: this.captions ? await this.captions.countRows() : 0,
    };
  }

  async bytes(): Promise<number> {
    return dirBytes(this.dir);
  }

  async vectorIndex(): Promise<VectorIndexInfo | null> {
    if (!this.entries) return null;
    const idx = (await this.entries.listIndices()).find((i) => i.columns.includes('vector'));
    if (!idx) return null;
    const st = await this.entries.indexStats(idx.name);
    return { kind: idx.indexType, unindexed: st?.numUnindexedRows ?? 0 };
  }

  async maintain(options: MaintainOptions = {}): Promise<VectorIndexInfo | null> {
    const ann: AnnKind = options.ann ?? 'auto';
    for (const t of options.compact === false ? [] : [this.entries, this.captions]) {
      // Compaction, new rows folded into the vector index, and removal of versions superseded more than a few seconds ago.
      if (t) await t.optimize({ cleanupOlderThan: new Date(Date.now() - 5_000) });
    }
    if (!this.entries) return null;
    this.built = undefined; // another process may have rebuilt it
    let existing = await this.vectorIndex();
    const n = await this.entries.countRows(options.level === 'window' ? 'win >= 0' : 'win < 0');
    const threshold = options.annThreshold ?? DEFAULT_ANN_THRESHOLD;
    const want = ann === 'auto' ? (n >= threshold ? 'ivf-pq' : null) : ann === 'none' ? null : ann;
    const built = existing ? await this.annBuild() : null;
    // Trained on far fewer rows than there are now: too few partitions, so retrain for today's size.
    const outgrown = want !== null && built !== null && (await this.entries.countRows()) >= REBUILD_GROWTH * built.rows;
    // Too few vectors to train partitions and codebooks: exact search until there are enough.
    if (want && (!existing || outgrown) && n >= MIN_ANN_VECTORS) {
      const rows = await this.entries.countRows();
      const tuning = annTuning(rows, this.dim);
      try {
        await this.entries.createIndex('vector', { config: annConfig(this.lancedb, want, tuning, rows), replace: true });
      } catch (e) {
        throw new ClapError(
          `building the ${want} vector index failed (${(e as Error).message.split('\n')[0].replace(/, \/\S+:\d+:\d+/g, '')})`,
          { subject: this.dir, cause: e },
        );
      }
      this.built = { kind: want, rows, ...tuning };
      await writeFile(join(this.dir, ANN_FILE), `${JSON.stringify(this.built)}\n`);
      existing = await this.vectorIndex();
    }
    return existing;
  }

  /** How the current vector index was built (an index made before this was recorded counts as built on its indexed rows). */
  private async annBuild(): Promise<AnnBuild | null> {
    if (this.built !== undefined) return this.built;
    try {
      this.built = JSON.parse(await readFile(join(this.dir, ANN_FILE), 'utf8')) as AnnBuild;
    } catch {
      const idx = this.entries && (await this.entries.listIndices()).find((i) => i.columns.includes('vector'));
      const st = idx && (await this.entries!.indexStats(idx.name));
      this.built = st ? { kind: idx.indexType, rows: st.numIndexedRows, ...annTuning(st.numIndexedRows, this.dim) } : null;
    }
    return this.built;
  }

  async close(): Promise<void> {
    this.entries?.close();
    this.captions?.close();
    this.db.close();
  }
}

/**
 * ANN parameters for a table of `rows` vectors of width `dim`, chosen per size (docs/scale-out.md has the
 * measured curve). IVF-PQ with 4-bit codes over 8-d sub-vectors: training 16 centroids per sub-vector is
 * ~50x cheaper than 8-bit PQ on 2 cores (seconds, not minutes, for 50k × 1024), and the refine step (exact
 * re-rank of refineFactor × top candidates) recovers the precision. Partitions grow as √rows / 4, so each
 * holds ~4√rows vectors; queries probe a fixed share of them (NPROBE_SHARE, at least MIN_NPROBES), which
 * keeps recall@10 ≈ 0.98 as the table grows.
 */
export interface AnnTuning {
  partitions: number;
  subVectors: number;
  nprobes: number;
}

/** What `maintain` recorded about the vector index it built (ann.json beside the tables). */
interface AnnBuild extends AnnTuning {
  kind: string;
  rows: number;
}

const ANN_FILE = 'ann.json';
/** The index is retrained once the table holds this many times the rows it was trained on. */
export const REBUILD_GROWTH = 4;
const NPROBE_SHARE = 0.08;
const MIN_NPROBES = 20;
/**
 * Candidates re-ranked exactly, × top: a query-time setting, not recorded with the index. The misses left at
 * the tuned nprobes are 4-bit PQ error, which re-ranking more fixes and more probes hardly do: at 5M vectors
 * 100 (not 30) took recall@10 from 0.945 to 0.985 for 8% more time; at 2M 0.91 → 0.955 (docs/scale-out.md).
 */
export const DEFAULT_REFINE = 100;

export function annTuning(rows: number, dim: number): AnnTuning {
  const partitions = Math.max(1, Math.min(4096, Math.round(Math.sqrt(rows) / 4)));
  return {
    partitions,
    subVectors: dim % 8 === 0 ? dim / 8 : dim % 4 === 0 ? dim / 4 : 1,
    nprobes: Math.min(partitions, Math.max(MIN_NPROBES, Math.ceil(NPROBE_SHARE * partitions))),
  };
}

export function annConfig(lancedb: LanceModule, kind: 'ivf-pq' | 'hnsw', t: AnnTuning, rows: number): Lance.Index {
  if (kind === 'hnsw') return lancedb.Index.hnswSq({ distanceType: 'cosine', numPartitions: Math.max(1, Math.round(rows / 1_000_000)) });
  return lancedb.Index.ivfPq({
    distanceType: 'cosine',
    numPartitions: t.partitions,
    numSubVectors: t.subVectors,
    numBits: 4,
    sampleRate: 64,
    maxIterations: 10,
  });
}

async function dirBytes(dir: string): Promise<number> {
  let total = 0;
  let entries: Dirent[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) total += await dirBytes(p);
    else if (e.isFile()) total += (await stat(p)).size;
  }
  return total;
}
