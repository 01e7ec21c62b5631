/**
 * The storage interface of a sound index: files with their metadata and embeddings, optional per-window
 * embeddings, and a caption set for audio→text ranking. A store knows nothing about the model: it keeps
 * vectors of a fixed width and an opaque model id per row, and answers nearest-neighbour queries by
 * cosine similarity. LanceStore (lance.ts) is the default; another backend implements this interface.
 */

/** What an index records about one audio file. */
export interface FileInfo {
  /** Absolute path as found (symlinks not resolved), the key of the file. */
  path: string;
  /** sha256 of the file's bytes, hex. */
  hash: string;
  size: number;
  mtimeMs: number;
  /** Seconds, of the source. */
  duration: number;
  /** The file's own sample rate and channel count. */
  sampleRate: number;
  channels: number;
}

export interface WindowVector {
  /** Seconds in the file. */
  start: number;
  end: number;
  embedding: Float32Array;
}

/** A file with its embeddings: what is written, and what `getFiles` returns. */
export interface FileRecord extends FileInfo {
  /** The model id the vectors were made with. */
  model: string;
  /** One vector for the file (mean of the windows in sliding mode). */
  embedding: Float32Array;
  /** Per-window vectors, in sliding mode. */
  windows?: WindowVector[];
}

export interface SearchFilter {
  /** Path glob (see glob.ts). */
  glob?: string;
  minDuration?: number;
  maxDuration?: number;
  /** Paths left out of the results (e.g. the query file of an audio→audio search). */
  excludePaths?: readonly string[];
}

/** 'auto' uses the vector index when there is one; 'exact' scans every vector; 'ann' requires the index. */
export type SearchMode = 'auto' | 'exact' | 'ann';

export interface VectorSearch {
  vector: Float32Array;
  top: number;
  /** Search the per-file vectors or the per-window vectors (best window per file). */
  level: 'file' | 'window';
  filter?: SearchFilter;
  mode?: SearchMode;
  /** ANN tuning: partitions probed, and the refine factor (re-rank top×refine candidates exactly). */
  nprobes?: number;
  refineFactor?: number;
}

export interface SearchHit {
  path: string;
  /** Cosine similarity. */
  score: number;
  /** The best window's span, for window-level searches. */
  start?: number;
  end?: number;
}

export interface CaptionHit {
  text: string;
  score: number;
}

/** Which ANN index a store builds: 'auto' = the store's choice once it holds `annThreshold` vectors. */
export type AnnKind = 'auto' | 'none' | 'ivf-pq' | 'hnsw';
export const ANN_KINDS: readonly AnnKind[] = ['auto', 'none', 'ivf-pq', 'hnsw'];

export interface MaintainOptions {
  ann?: AnnKind;
  /** Vectors (at the searched level) from which 'auto' builds an index. */
  annThreshold?: number;
  /** Which level the vector index serves. */
  level?: 'file' | 'window';
  /** Compact and drop old versions (default true); false only builds a missing vector index. */
  compact?: boolean;
}

export interface StoreCounts {
  files: number;
  windows: number;
  captions: number;
}

export interface VectorIndexInfo {
  kind: string;
  /** Rows the index does not cover yet (searched by a scan and merged). */
  unindexed: number;
}

export interface VectorStore {
  readonly backend: string;
  readonly dim: number;
  /** Every file's metadata (no vectors), for incremental updates. */
  listFiles(): Promise<(FileInfo & { model: string })[]>;
  /** The stored records of the given paths, vectors included. */
  getFiles(paths: readonly string[]): Promise<FileRecord[]>;
  /**
   * One atomic change: the given files' entries (file and windows) are replaced by `put`, and the
   * files in `remove` are dropped. A crash leaves either all of it or none of it.
   */
  commit(put: readonly FileRecord[], remove?: readonly string[]): Promise<void>;
  /** Bulk import of files known to be absent (no replace check): one atomic commit, cheaper than `commit`. */
  append(records: readonly FileRecord[]): Promise<void>;
  search(query: VectorSearch): Promise<SearchHit[]>;
  /** Adds captions (a text already present is replaced), or replaces the whole set. */
  putCaptions(texts: readonly string[], vectors: readonly Float32Array[], replace?: boolean): Promise<void>;
  searchCaptions(vector: Float32Array, top: number): Promise<CaptionHit[]>;
  counts(): Promise<StoreCounts>;
  /** Bytes the store occupies on disk. */
  bytes(): Promise<number>;
  /** Compacts, drops old versions, and builds or refreshes the vector index as `options` say. */
  maintain(options?: MaintainOptions): Promise<VectorIndexInfo | null>;
  vectorIndex(): Promise<VectorIndexInfo | null>;
  close(): Promise<void>;
}

export function normSquared(v: Float32Array): number {
  let s = 0;
  for (const x of v) s += x * x;
  return s;
}
